# SPDX-License-Identifier: GPL-2.0
#
# hmm-mirror: out-of-tree build of hmm_core.ko and hmm_dummy.ko, and the
# project's check, demo and install targets.
#
#   make                   build both modules against KDIR
#   make KDIR=/path        build against another kernel build tree
#   make check             lint, then every test in a QEMU guest of each kernel
#   make check KERNELS=6.1 the same, one kernel line
#   make matrix            build and run the suite on every kernel line (table)
#   make demo              a narrated demo in a 6.12 guest
#   make lint              the static gates (checkpatch, W=1, sparse, ...)
#   make tests             the guest test programs (static binaries)
#   make stress SECONDS=N  the coherence stress test, N s in a guest of each
#                          kernel (KERNELS=...; SEED=S to replay a run)
#   make mutation-check    the coherence suite must fail on a broken driver
#   sudo make install      install the modules into the running kernel's tree

KDIR ?= /lib/modules/$(shell uname -r)/build
KERNELS ?= 6.1 6.12
SRC := $(CURDIR)
GENERATED := $(SRC)/hmm_core/generated

# Extra kbuild arguments, e.g. W=1 or C=2.
KBUILD_ARGS ?=

.PHONY: all modules conftest clean check lint demo tests install help
.PHONY: stress mutation-check

all: modules

help:
	@sed -n 's/^#   //p' $(firstword $(MAKEFILE_LIST))

# Feature probes against the target kernel, run before every build: their
# result is a header per build, so the sources never test version numbers.
conftest:
	@$(SRC)/hmm_core/compat/conftest.sh "$(KDIR)" "$(GENERATED)"

modules: conftest
	$(MAKE) -C "$(KDIR)" M="$(SRC)" $(KBUILD_ARGS) modules

install: modules
	$(MAKE) -C "$(KDIR)" M="$(SRC)" modules_install
	depmod -a "$$(sed -n 's/^\#define UTS_RELEASE "\(.*\)"/\1/p' \
		"$(KDIR)/include/generated/utsrelease.h")"

clean:
	@if [ -d "$(KDIR)" ]; then $(MAKE) -C "$(KDIR)" M="$(SRC)" clean; fi
	rm -rf "$(GENERATED)" build
	find "$(SRC)/hmm_core" "$(SRC)/hmm_dummy_drv" \
		\( -name '*.o' -o -name '*.ko' -o -name '*.mod' -o \
		   -name '*.mod.c' -o -name '.*.cmd' \) -delete
	rm -f Module.symvers modules.order

tests:
	$(MAKE) -C tests

check:
	@scripts/check $(KERNELS)

# Every kernel line of scripts/fetch-kernel (MATRIX="6.1 7.3" for some).
.PHONY: matrix
matrix:
	@scripts/matrix $(MATRIX)

lint:
	@scripts/lint

demo:
	@scripts/demo

# SECONDS is also bash's clock: the recipe reads make's value, STRESS_SECONDS.
STRESS_SECONDS := $(if $(SECONDS),$(SECONDS),600)
stress:
	@set -e; $(MAKE) -s -C tests; for k in $(KERNELS); do \
		scripts/fetch-kernel $$k >/dev/null; \
		scripts/build-modules $$k >/dev/null; \
		echo "=== stress: $$k, $(STRESS_SECONDS) s"; \
		scripts/vm-run --kernel $$k --timeout $$(($(STRESS_SECONDS) + 600)) \
			--log .cache/logs/stress-$$k.log -- \
			/tests/stress --seconds $(STRESS_SECONDS) $(if $(SEED),--seed $(SEED)); \
	done

mutation-check:
	@scripts/mutation-check $(KERNELS)
