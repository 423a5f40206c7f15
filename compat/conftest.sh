#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# conftest.sh KDIR OUTDIR - probe the target kernel's API, write what the
# compat layer (compat/compat.h) and the build read.
#
# Each probe is a snippet compiled against KDIR's own headers by KDIR's own
# kbuild, or a look at KDIR's Module.symvers for an export. Distribution
# kernels backport features, so version numbers are never consulted. All
# snippets build in one kbuild run (make -k); a probe is true when its object
# was produced. The results land in OUTDIR/compat_probes.h (COMPAT_HAVE_*,
# read by compat.h, which kbuild force-includes), OUTDIR/compat.mk (the
# same for Kbuild, which picks objects by them) and OUTDIR/hmm_mirror_ns.h
# (the per-kernel part of hmm_core's public header: its namespace macros and
# the layout of struct hmm_mirror_finish), each rewritten only
# when it changes.
#
# HMM_CORE_FORCE_GUP=1 in the environment hides hmm_range_fault(), so the
# get_user_pages_remote() fallback can be built and tested on any kernel.
set -euo pipefail

kdir=${1:?usage: conftest.sh KDIR OUTDIR}
out=${2:?usage: conftest.sh KDIR OUTDIR}

if [ ! -f "$kdir/Makefile" ]; then
	echo "conftest: $kdir is not a kernel build tree (no Makefile)" >&2
	echo "conftest: install the headers of the target kernel or pass KDIR=" >&2
	exit 1
fi
autoconf=$kdir/include/generated/autoconf.h
if ! grep -q '^#define CONFIG_MMU_NOTIFIER 1' "$autoconf" 2>/dev/null; then
	echo "hmm-mirror: kernel in $kdir has no CONFIG_MMU_NOTIFIER; hmm_core cannot work there" >&2
	exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# probe NAME: C source on stdin, compiled as a module object.
probes=()
probe() {
	probes+=("$1")
	{
		echo '#include <linux/module.h>'
		cat
	} > "$tmp/$1.c"
}

# Always compiles: if it does not, kbuild itself is broken and no other
# probe's answer means anything.
probe sanity <<'C'
MODULE_LICENSE("GPL");
C

# Before 6.13 the namespace macros stringify a bare identifier; from 6.13 on
# they take a string literal, and a bare identifier no longer compiles.
probe ns_is_identifier <<'C'
MODULE_IMPORT_NS(HMM_MIRROR);
C

# 6.5 dropped the vmas argument of get_user_pages_remote().
probe gup_remote_has_vmas <<'C'
#include <linux/mm.h>
long conftest(struct mm_struct *mm, struct page **pages)
{
	return get_user_pages_remote(mm, 0, 1, 0, pages, NULL, NULL);
}
C

# hmm_dummy's netlink family. 6.2 moved a dump's parsed attributes into a
# struct genl_info reached with genl_info_dump().
probe genl_info_dump <<'C'
#include <net/genetlink.h>
const struct genl_info *conftest(struct netlink_callback *cb)
{
	return genl_info_dump(cb);
}
C

# A multicast group only CAP_NET_ADMIN may join (6.7; stable backports).
probe genl_mcast_cap <<'C'
#include <net/genetlink.h>
u8 conftest = GENL_MCAST_CAP_NET_ADMIN;
C

# Split ops (6.2): a family's do and dump of a command as two entries,
# each with its own policy; what ynl-gen-c.py's ops table is made of.
probe genl_split_ops <<'C'
#include <net/genetlink.h>
static const struct genl_split_ops conftest_ops[] = {
	{ .cmd = 1, .flags = GENL_CMD_CAP_DUMP },
};
struct genl_family conftest = {
	.split_ops = conftest_ops,
	.n_split_ops = ARRAY_SIZE(conftest_ops),
};
C

# The family's bind callback, called as a socket joins a group (not in 6.1).
probe genl_family_bind <<'C'
#include <net/genetlink.h>
static int conftest_bind(int group)
{
	return group;
}
struct genl_family conftest = { .bind = conftest_bind };
C

# hmm_dummy's simulated device memory (hmm_dummy_devmem.c): ZONE_DEVICE
# private pages and the migrate_device API (6.3+; the kernel must have
# CONFIG_DEVICE_PRIVATE, which Debian's 6.1 and 6.12 do not).
probe device_memory <<'C'
#include <linux/memremap.h>
#include <linux/migrate.h>
#ifndef CONFIG_DEVICE_PRIVATE
#error no device-private memory
#endif
int conftest(unsigned long *src)
{
	return migrate_device_range(src, 0, 1);
}
C

# 7.x: ->folio_free() replaced ->page_free().
probe pgmap_folio_free <<'C'
#include <linux/memremap.h>
static void conftest_free(struct folio *folio)
{
}
struct dev_pagemap_ops conftest = { .folio_free = conftest_free };
C

# 7.x: zone_device_page_init() takes the pgmap and an order.
probe zone_device_page_init_pgmap <<'C'
#include <linux/memremap.h>
void conftest(struct page *page)
{
	zone_device_page_init(page, NULL, 0);
}
C

# 6.15: page_pgmap() instead of page->pgmap.
probe page_pgmap <<'C'
#include <linux/mm.h>
struct dev_pagemap *conftest(struct page *page)
{
	return page_pgmap(page);
}
C

# 6.15: make_device_exclusive() of one page replaced
# make_device_exclusive_range().
probe make_device_exclusive <<'C'
#include <linux/rmap.h>
struct page *conftest(struct mm_struct *mm, struct folio **folio)
{
	return make_device_exclusive(mm, 0, NULL, folio);
}
C

# 7.1: two-pass interval notifiers, ->invalidate_start() handing back a
# struct mmu_interval_notifier_finish and ->invalidate_finish().
probe interval_finish <<'C'
#include <linux/mmu_notifier.h>
static void conftest_finish(struct mmu_interval_notifier_finish *finish)
{
}
struct mmu_interval_notifier_ops conftest = {
	.invalidate_finish = conftest_finish,
};
C

printf 'obj-m += %s.o\n' "${probes[@]}" > "$tmp/Kbuild"
make -k -C "$kdir" M="$tmp" MODVERDIR= KBUILD_MODPOST_NOFINAL=1 \
	"${probes[@]/%/.o}" > "$tmp/log" 2>&1 || true

have() { [ -f "$tmp/$1.o" ]; }

if ! have sanity; then
	echo "conftest: cannot compile against $kdir; kbuild said:" >&2
	cat "$tmp/log" >&2
	exit 1
fi

# hmm_dummy's event group is for CAP_NET_ADMIN only: by the group's flag,
# or failing it (compat.h) by the family's bind callback.
if ! have genl_mcast_cap && ! have genl_family_bind; then
	echo "conftest: $kdir can restrict a genl multicast group neither by flag nor by bind callback" >&2
	exit 1
fi

exported() {
	grep -q "^0x[0-9a-f]*[[:space:]]$1[[:space:]]*vmlinux" \
		"$kdir/Module.symvers" 2>/dev/null
}

new=$tmp/compat_probes.h
{
	echo '/* SPDX-License-Identifier: GPL-2.0 */'
	echo '/* Generated by compat/conftest.sh: do not edit. */'
	echo '#ifndef _COMPAT_PROBES_H'
	echo '#define _COMPAT_PROBES_H'
	if exported hmm_range_fault && [ "${HMM_CORE_FORCE_GUP:-0}" != 1 ]; then
		echo '#define COMPAT_HAVE_HMM_RANGE_FAULT 1'
	fi
	if have gup_remote_has_vmas; then
		echo '#define COMPAT_GUP_REMOTE_HAS_VMAS 1'
	fi
	if have genl_info_dump; then
		echo '#define COMPAT_HAVE_GENL_INFO_DUMP 1'
	fi
	if have genl_mcast_cap; then
		echo '#define COMPAT_HAVE_GENL_MCAST_CAP 1'
	fi
	if have genl_family_bind; then
		echo '#define COMPAT_HAVE_GENL_FAMILY_BIND 1'
	fi
	if have genl_split_ops; then
		echo '#define COMPAT_HAVE_GENL_SPLIT_OPS 1'
	fi
	if have device_memory && exported memremap_pages &&
		exported migrate_vma_setup && exported migrate_device_range &&
		exported zone_device_page_init; then
		echo '#define COMPAT_HAVE_DEVICE_MEMORY 1'
	fi
	if have pgmap_folio_free; then
		echo '#define COMPAT_HAVE_PGMAP_FOLIO_FREE 1'
	fi
	if have zone_device_page_init_pgmap; then
		echo '#define COMPAT_HAVE_ZONE_DEVICE_PAGE_INIT_PGMAP 1'
	fi
	if have page_pgmap; then
		echo '#define COMPAT_HAVE_PAGE_PGMAP 1'
	fi
	if have interval_finish; then
		echo '#define COMPAT_HAVE_INTERVAL_FINISH 1'
	fi
	if have make_device_exclusive && exported make_device_exclusive; then
		echo '#define COMPAT_HAVE_MAKE_DEVICE_EXCLUSIVE 1'
	elif exported make_device_exclusive_range; then
		echo '#define COMPAT_HAVE_MAKE_DEVICE_EXCLUSIVE_RANGE 1'
	fi
	echo '#endif'
} > "$new"

ns=$tmp/hmm_mirror_ns.h
{
	echo '/* SPDX-License-Identifier: GPL-2.0 */'
	echo '/* Generated by compat/conftest.sh: do not edit. */'
	echo '#ifndef _HMM_MIRROR_NS_H'
	echo '#define _HMM_MIRROR_NS_H'
	if have ns_is_identifier; then
		echo '#define HMM_MIRROR_NS HMM_MIRROR'
	else
		echo '#define HMM_MIRROR_NS "HMM_MIRROR"'
	fi
	echo '#define HMM_MIRROR_IMPORT_NS() MODULE_IMPORT_NS(HMM_MIRROR_NS)'
	# The layout of struct hmm_mirror_finish: every driver built against
	# the installed SDK must see the one hmm_core was built with.
	if have interval_finish; then
		echo '#define HMM_MIRROR_KERNEL_FINISH 1'
	fi
	echo '#endif'
} > "$ns"

# The probes Kbuild picks objects by: make syntax, "y" or unset.
mk=$tmp/compat.mk
{
	echo '# SPDX-License-Identifier: GPL-2.0'
	echo '# Generated by compat/conftest.sh: do not edit.'
	sed -n 's/^#define \(COMPAT_HAVE_[A-Z_]*\) 1$/\1 := y/p' "$new"
	if grep -q '^#define COMPAT_HAVE_MAKE_DEVICE_EXCLUSIVE' "$new"; then
		echo 'COMPAT_HAVE_DEVICE_EXCLUSIVE := y'
	fi
} > "$mk"

mkdir -p "$out"
for f in "$new" "$ns" "$mk"; do
	cmp -s "$f" "$out/${f##*/}" || cp "$f" "$out/${f##*/}"
done
