# SPDX-License-Identifier: GPL-2.0
#
# hmm-mirror: out-of-tree build of hmm_core.ko and hmm_dummy.ko, and the
# project's check, demo and install targets.
#
#   make                   build both modules against KDIR
#   make KDIR=/path        build against another kernel build tree
#   make check             lint, then every test in a QEMU guest of each kernel,
#                          the debug-kernel lane, and the DKMS install path
#   make check KERNELS=6.1 the same, one stock kernel line (CHECK_DEBUG=0:
#                          without the debug-kernel lane)
#   make check-debug       the debug-kernel lane: lockdep, KASAN, kmemleak, KUnit
#   make matrix            build and run the suite on every kernel line (table)
#   make demo              a narrated demo in a 6.12 guest
#   make bench             benchmarks beside their baselines, in a 6.12 guest,
#                          (two-pass invalidation) a 6.12 and a 7.3 guest and
#                          (test_hmm side by side) a bench-kernel guest;
#                          BENCH_FIGURES=twophase runs that figure alone
#   make bench-plot        the charts (doc/bench/*.png) and
#                          doc/performance.rst, from the last make bench
#   make htmldocs          doc/ as HTML in build/doc/html (Sphinx, kernel-doc)
#   make lint              the static gates (checkpatch, W=1, sparse, ...)
#   make tests             the guest test programs (static binaries)
#   make stress SECONDS=N  the coherence stress test, N s in a guest of each
#                          kernel (KERNELS=...; SEED=S to replay a run)
#   make mutation-check    the coherence suite must fail on a broken driver
#                          (KERNELS=debug: the debug lane must report a
#                          lockless walk of hmm_core's mirror list)
#   sudo make install      install the modules into the running kernel's tree
#   sudo make sign         sign the built modules with the DKMS MOK key
#   sudo make dkms-install sources to /usr/src/hmm-mirror-VERSION, dkms add/build/install
#   sudo make dkms-remove  dkms remove this version, delete its sources

KDIR ?= /lib/modules/$(shell uname -r)/build
# make check's kernel lines (CI runs make check): the oldest, 6.1; 6.1-gup,
# the same kernel with hmm_core on its get_user_pages fallback (about 3
# minutes more); bookworm's 6.12; trixie's 6.12 and sid's 7.2, so a Debian
# kernel update that breaks the build fails CI and not only make matrix;
# and the newest, 7.3 (trixie-backports). The trixie and sid lines build in
# a chroot of their suite. Each stock line costs about 3 minutes warm; a
# cold fresh-clone CI run took 31 of its 90 minutes before the two were
# added (doc/compat.rst, "The kernel lines").
KERNELS ?= 6.1 6.1-gup 6.12 6.12-trixie 7.2 7.3
# make check also runs the debug-kernel lane (scripts/check-debug) after the
# stock lines: the whole of it takes about 22 minutes on 2 cores with the
# kernels built, about half an hour from a fresh clone (doc/testing.rst,
# "The debug-kernel lane"). CHECK_DEBUG=0 leaves it out.
CHECK_DEBUG ?= 1
SRC := $(CURDIR)
GENERATED := $(SRC)/compat/generated

# Extra kbuild arguments, e.g. W=1 or C=2.
KBUILD_ARGS ?=

.PHONY: all modules example conftest clean check lint demo tests install help
.PHONY: dkms-source dkms-install dkms-remove sign
.PHONY: stress mutation-check bench bench-plot htmldocs

all: modules

help:
	@sed -n 's/^#   //p' $(firstword $(MAKEFILE_LIST))

# Feature probes against the target kernel, run before every build: their
# result is a header per build, so the sources never test version numbers.
conftest:
	@$(SRC)/compat/conftest.sh "$(KDIR)" "$(GENERATED)"

modules: conftest
	$(MAKE) -C "$(KDIR)" M="$(SRC)" $(KBUILD_ARGS) modules

# examples/hmm_example, built as a third-party driver is: against hmm_core's
# Module.symvers and public headers laid out as the SDK dkms keeps
# (scripts/dkms-post-build), here under build/sdk. The guests get it as
# /tests/hmm_example.ko (scripts/vm-run); nothing installs it.
EXAMPLE_SDK := $(SRC)/build/sdk

example: modules
	@mkdir -p "$(EXAMPLE_SDK)/include"
	@cp "$(SRC)/Module.symvers" "$(EXAMPLE_SDK)/"
	@cp "$(SRC)/hmm_core/include/hmm_mirror.h" "$(GENERATED)/hmm_mirror_ns.h" \
		"$(EXAMPLE_SDK)/include/"
	$(MAKE) -C "$(KDIR)" M="$(SRC)/examples/hmm_example" \
		HMM_MIRROR_SDK="$(EXAMPLE_SDK)" $(KBUILD_ARGS) modules

install: modules
	$(MAKE) -C "$(KDIR)" M="$(SRC)" modules_install
	depmod -a "$$(sed -n 's/^\#define UTS_RELEASE "\(.*\)"/\1/p' \
		"$(KDIR)/include/generated/utsrelease.h")"

clean:
	@if [ -d "$(KDIR)" ]; then $(MAKE) -C "$(KDIR)" M="$(SRC)" clean; \
		$(MAKE) -C "$(KDIR)" M="$(SRC)/examples/hmm_example" clean; fi
	rm -rf "$(GENERATED)" build
	find "$(SRC)/hmm_core" "$(SRC)/hmm_dummy_drv" \
		\( -name '*.o' -o -name '*.ko' -o -name '*.mod' -o \
		   -name '*.mod.c' -o -name '.*.cmd' \) -delete
	rm -f Module.symvers modules.order

tests:
	$(MAKE) -C tests

check:
	@CHECK_DEBUG=$(CHECK_DEBUG) scripts/check $(KERNELS)

.PHONY: check-debug
check-debug:
	@scripts/check-debug

# Every kernel line of scripts/fetch-kernel (MATRIX="6.1 7.3" for some).
.PHONY: matrix
matrix:
	@scripts/matrix $(MATRIX)

lint:
	@scripts/lint

bench:
	@scripts/bench

bench-plot:
	@scripts/bench-plot

htmldocs:
	@scripts/install-deps
	@LSRC="$$(scripts/fetch-linux-source)" sphinx-build -E -W -q -b html \
		-d build/doc/doctrees doc build/doc/html

demo:
	@scripts/demo

# SECONDS is also bash's clock: the recipe reads make's value, STRESS_SECONDS.
STRESS_SECONDS := $(if $(SECONDS),$(SECONDS),600)
stress:
	@set -e; $(MAKE) -s -C tests; for k in $(filter-out %-gup,$(KERNELS)); do \
		scripts/fetch-kernel $$k >/dev/null; \
		scripts/build-modules $$k >/dev/null; \
		echo "=== stress: $$k, $(STRESS_SECONDS) s"; \
		scripts/vm-run --kernel $$k --timeout $$(($(STRESS_SECONDS) + 600)) \
			--log .cache/logs/stress-$$k.log -- \
			/tests/stress --seconds $(STRESS_SECONDS) $(if $(SEED),--seed $(SEED)); \
	done

mutation-check:
	@scripts/mutation-check $(filter-out %-gup,$(KERNELS))

# DKMS (doc/packaging.rst, "DKMS"). VERSION is the version's one source:
# dkms.conf says #MODULE_VERSION#, filled in when the sources are installed.
DKMS_VERSION := $(shell cat "$(SRC)/VERSION" 2>/dev/null)
DKMS_NAME := hmm-mirror
DKMS_SRC := /usr/src/$(DKMS_NAME)-$(DKMS_VERSION)
# Kernels dkms-install builds for: the running one unless told otherwise.
DKMS_KERNELS ?= $(shell uname -r)
# The key and certificate make sign uses: the ones dkms signs with.
MOK_KEY ?= /var/lib/dkms/mok.key
MOK_CERT ?= /var/lib/dkms/mok.pub

# The DKMS source tree into DKMS_DEST: the build files and both module
# directories, build products and generated headers left out.
dkms-source:
	@test -n "$(DKMS_DEST)" || { echo "dkms-source: set DKMS_DEST=DIR" >&2; exit 1; }
	@test -n "$(DKMS_VERSION)" || { echo "dkms-source: no VERSION file" >&2; exit 1; }
	rm -rf "$(DKMS_DEST)"
	mkdir -p "$(DKMS_DEST)"
	cd "$(SRC)" && { printf '%s\0' Makefile Kbuild VERSION scripts/dkms-post-build; \
		find hmm_core hmm_dummy_drv compat -path compat/generated -prune -o -type f \
		! -name '*.o' ! -name '*.ko' ! -name '*.mod' ! -name '*.mod.c' \
		! -name '.*.cmd' ! -name '.*.d' ! -name '*.a' ! -name '*.symvers' \
		! -name '*.order' ! -name '*.orig' ! -name '*.rej' ! -name '*~' \
		-print0; } | xargs -0 cp --parents -t "$(DKMS_DEST)"
	sed 's/#MODULE_VERSION#/$(DKMS_VERSION)/' "$(SRC)/dkms.conf" >"$(DKMS_DEST)/dkms.conf"

dkms-install:
	@if dpkg-query -W -f='$${db:Status-Status}' $(DKMS_NAME)-dkms 2>/dev/null | \
		grep -qx installed; then \
		echo "dkms-install: the $(DKMS_NAME)-dkms package is installed: remove it first" >&2; \
		exit 1; \
	fi
	@if [ -n "$$(dkms status -m $(DKMS_NAME) -v $(DKMS_VERSION))" ]; then \
		echo "dkms remove $(DKMS_NAME)/$(DKMS_VERSION) --all"; \
		dkms remove $(DKMS_NAME)/$(DKMS_VERSION) --all; \
	fi
	$(MAKE) --no-print-directory dkms-source DKMS_DEST="$(DKMS_SRC)"
	dkms add $(DKMS_NAME)/$(DKMS_VERSION)
	@set -e; for k in $(DKMS_KERNELS); do \
		echo "dkms build $(DKMS_NAME)/$(DKMS_VERSION) -k $$k"; \
		dkms build $(DKMS_NAME)/$(DKMS_VERSION) -k "$$k"; \
		echo "dkms install $(DKMS_NAME)/$(DKMS_VERSION) -k $$k"; \
		dkms install $(DKMS_NAME)/$(DKMS_VERSION) -k "$$k"; \
	done

dkms-remove:
	@if dpkg-query -W -f='$${db:Status-Status}' $(DKMS_NAME)-dkms 2>/dev/null | \
		grep -qx installed; then \
		echo "dkms-remove: the $(DKMS_NAME)-dkms package owns it: apt-get remove $(DKMS_NAME)-dkms" >&2; \
		exit 1; \
	fi
	@if [ -n "$$(dkms status -m $(DKMS_NAME) -v $(DKMS_VERSION))" ]; then \
		echo "dkms remove $(DKMS_NAME)/$(DKMS_VERSION) --all"; \
		dkms remove $(DKMS_NAME)/$(DKMS_VERSION) --all; \
	fi
	rm -rf "$(DKMS_SRC)"

# Sign hand-built modules (make, then sudo make sign, then sudo make install)
# with KDIR's scripts/sign-file and the hash its config names. A module that
# already carries a signature is left alone.
sign:
	@set -e; \
	for f in "$(MOK_KEY)" "$(MOK_CERT)"; do \
		[ -r "$$f" ] || { echo "sign: cannot read $$f (see README.md, Secure Boot)" >&2; exit 1; }; \
	done; \
	hash=$$(sed -n 's/^CONFIG_MODULE_SIG_HASH="\{0,1\}\([^"]*\)"\{0,1\}$$/\1/p' \
		"$(KDIR)/include/config/auto.conf"); \
	for ko in hmm_core.ko hmm_dummy.ko; do \
		[ -f "$(SRC)/$$ko" ] || { echo "sign: no $$ko: run make first" >&2; exit 1; }; \
		if tail -c 28 "$(SRC)/$$ko" | grep -q 'Module signature appended'; then \
			echo "sign: $$ko is already signed"; continue; \
		fi; \
		echo "sign-file $${hash:-sha512} $(MOK_KEY) $(MOK_CERT) $$ko"; \
		"$(KDIR)/scripts/sign-file" "$${hash:-sha512}" "$(MOK_KEY)" "$(MOK_CERT)" "$(SRC)/$$ko"; \
	done
