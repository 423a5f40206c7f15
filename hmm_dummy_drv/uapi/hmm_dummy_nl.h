/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * hmm_dummy_nl.h - the hmm_dummy generic netlink family
 *
 * Written to match hmm_dummy_drv/netlink/hmm_dummy.yaml, the source of
 * truth: its attribute sets, operations and multicast group, in the order
 * and with the numbers the spec gives them (attributes and commands count
 * from 1). The family is strict: a request carrying an attribute its
 * command does not take, or one of the wrong type or length, fails with
 * EINVAL; an unknown command fails with EOPNOTSUPP.
 *
 * Every u64 attribute is 64-bit aligned with the set's PAD attribute.
 *
 * Who sees a mirror (DEV_GET's MIRRORS count, MIRROR_GET): a caller with
 * CAP_SYS_ADMIN sees them all; any other caller sees only those whose owner
 * (the opener's process) it may read as it may read the owner's /proc files
 * (the credential checks of ptrace read access with its filesystem uid
 * and gid: the same user, holding every capability the owner may hold; or
 * CAP_SYS_PTRACE; the owner's dumpability is not checked). A mirror whose
 * owner has exited is seen with CAP_SYS_ADMIN only. A dump leaves the
 * others out; a do naming one fails with ENOENT, as for a mirror that does
 * not exist.
 */
#ifndef _UAPI_HMM_DUMMY_NL_H
#define _UAPI_HMM_DUMMY_NL_H

#define HMM_DUMMY_FAMILY_NAME		"hmm_dummy"
#define HMM_DUMMY_FAMILY_VERSION	1

/* Multicast group of the *_NTF messages; joining it needs CAP_NET_ADMIN. */
#define HMM_DUMMY_MCGRP_EVENTS		"events"

/* Which ioctl set a device answers (HMM_DUMMY_A_DEV_ABI). */
enum hmm_dummy_dev_abi {
	HMM_DUMMY_DEV_ABI_NATIVE,	/* /dev/hmm_dummyN: hmm_dummy.h */
	HMM_DUMMY_DEV_ABI_DMIRROR,	/* /dev/hmm_dmirrorN: lib/test_hmm.c's */
};

/* A device (HMM_DUMMY_CMD_DEV_GET). */
enum {
	HMM_DUMMY_A_DEV_INDEX = 1,	/* u32 */
	HMM_DUMMY_A_DEV_NAME,		/* string: the device node's name */
	HMM_DUMMY_A_DEV_ABI,		/* u32: enum hmm_dummy_dev_abi */
	HMM_DUMMY_A_DEV_MIRRORS,	/* u32: files open on it now that the
					 * caller may see
					 */

	__HMM_DUMMY_A_DEV_MAX,
	HMM_DUMMY_A_DEV_MAX = (__HMM_DUMMY_A_DEV_MAX - 1)
};

/*
 * Invalidations counted by reason: attribute type = enum hmm_dummy_event
 * (hmm_dummy.h) + 1, each a u64. Nested in the mirror and stats sets.
 */
enum {
	HMM_DUMMY_A_COUNTS_UNMAP = 1,
	HMM_DUMMY_A_COUNTS_CLEAR,
	HMM_DUMMY_A_COUNTS_PROTECTION_VMA,
	HMM_DUMMY_A_COUNTS_PROTECTION_PAGE,
	HMM_DUMMY_A_COUNTS_SOFT_DIRTY,
	HMM_DUMMY_A_COUNTS_RELEASE,
	HMM_DUMMY_A_COUNTS_MIGRATE,
	HMM_DUMMY_A_COUNTS_EXCLUSIVE,
	HMM_DUMMY_A_COUNTS_OTHER,
	HMM_DUMMY_A_COUNTS_PAD,

	__HMM_DUMMY_A_COUNTS_MAX,
	HMM_DUMMY_A_COUNTS_MAX = (__HMM_DUMMY_A_COUNTS_MAX - 1)
};

/*
 * A mirror: one open file of a device (HMM_DUMMY_CMD_MIRROR_GET). The dump
 * takes no attribute; the do takes ID and answers with that one mirror.
 */
enum {
	HMM_DUMMY_A_MIRROR_ID = 1,		/* u32, from 1, never reused while open */
	HMM_DUMMY_A_MIRROR_TGID,		/* u32: the opener, in the caller's
						 * pid ns; 0 if not in it, or exited
						 */
	HMM_DUMMY_A_MIRROR_DEV_INDEX,		/* u32 */
	HMM_DUMMY_A_MIRROR_DEV_NAME,		/* string */
	HMM_DUMMY_A_MIRROR_START,		/* u64: first mirrored address */
	HMM_DUMMY_A_MIRROR_END,			/* u64: first address past it */
	HMM_DUMMY_A_MIRROR_PAGES,		/* u64: device page-table entries now */
	HMM_DUMMY_A_MIRROR_DEVICE_FAULTS,	/* u64 */
	HMM_DUMMY_A_MIRROR_PAGES_POPULATED,	/* u64 */
	HMM_DUMMY_A_MIRROR_PAGES_INVALIDATED,	/* u64 */
	HMM_DUMMY_A_MIRROR_RETRIES,		/* u64 */
	HMM_DUMMY_A_MIRROR_RELEASED,		/* flag: the address space is gone */
	HMM_DUMMY_A_MIRROR_INVALIDATIONS,	/* nest: HMM_DUMMY_A_COUNTS_* */
	HMM_DUMMY_A_MIRROR_PAD,

	__HMM_DUMMY_A_MIRROR_MAX,
	HMM_DUMMY_A_MIRROR_MAX = (__HMM_DUMMY_A_MIRROR_MAX - 1)
};

/*
 * A device page-table entry (HMM_DUMMY_CMD_PTE_GET). The request carries
 * MIRROR_ID (required) and START/END (optional, page aligned, inside the
 * mirrored range: all of it by default); each reply carries MIRROR_ID, ADDR, PFN, ORDER and
 * WRITE if writable.
 */
enum {
	HMM_DUMMY_A_PTE_MIRROR_ID = 1,	/* u32 */
	HMM_DUMMY_A_PTE_START,		/* u64 */
	HMM_DUMMY_A_PTE_END,		/* u64 */
	HMM_DUMMY_A_PTE_ADDR,		/* u64: virtual address of the page */
	HMM_DUMMY_A_PTE_PFN,		/* u64 */
	HMM_DUMMY_A_PTE_WRITE,		/* flag */
	HMM_DUMMY_A_PTE_ORDER,		/* u32: CPU map order */
	HMM_DUMMY_A_PTE_PAD,

	__HMM_DUMMY_A_PTE_MAX,
	HMM_DUMMY_A_PTE_MAX = (__HMM_DUMMY_A_PTE_MAX - 1)
};

/* hmm_core's global counters and the family's own (HMM_DUMMY_CMD_STATS_GET). */
enum {
	HMM_DUMMY_A_STATS_MMS = 1,		/* u64: mms with a mirror now */
	HMM_DUMMY_A_STATS_MIRRORS,		/* u64: mirrors registered now */
	HMM_DUMMY_A_STATS_INVALIDATIONS,	/* nest: HMM_DUMMY_A_COUNTS_* */
	HMM_DUMMY_A_STATS_NONBLOCK_FAILURES,	/* u64 */
	HMM_DUMMY_A_STATS_RETRIES,		/* u64 */
	HMM_DUMMY_A_STATS_EVENTS_SENT,		/* u64: event messages delivered */
	HMM_DUMMY_A_STATS_EVENTS_DROPPED,	/* u64: ... not delivered */
	HMM_DUMMY_A_STATS_PAD,

	__HMM_DUMMY_A_STATS_MAX,
	HMM_DUMMY_A_STATS_MAX = (__HMM_DUMMY_A_STATS_MAX - 1)
};

/*
 * An event of the "events" group. SEQ counts every event the family tried
 * to send (from 1, since load): a gap in it is an event a listener lost.
 */
enum {
	HMM_DUMMY_A_EVENT_SEQ = 1,	/* u64 */
	HMM_DUMMY_A_EVENT_MIRROR_ID,	/* u32 */
	HMM_DUMMY_A_EVENT_TGID,		/* u32: REGISTER_NTF only; initial
					 * pid ns (listeners have CAP_NET_ADMIN)
					 */
	HMM_DUMMY_A_EVENT_DEV_NAME,	/* string: REGISTER_NTF only */
	HMM_DUMMY_A_EVENT_START,	/* u64: INVALIDATE_NTF only */
	HMM_DUMMY_A_EVENT_END,		/* u64: INVALIDATE_NTF only */
	HMM_DUMMY_A_EVENT_REASON,	/* u32: enum hmm_dummy_event */
	HMM_DUMMY_A_EVENT_BLOCKABLE,	/* flag: INVALIDATE_NTF only */
	HMM_DUMMY_A_EVENT_PAD,

	__HMM_DUMMY_A_EVENT_MAX,
	HMM_DUMMY_A_EVENT_MAX = (__HMM_DUMMY_A_EVENT_MAX - 1)
};

enum {
	HMM_DUMMY_CMD_DEV_GET = 1,	/* dump */
	HMM_DUMMY_CMD_MIRROR_GET,	/* dump, or do with an ID */
	HMM_DUMMY_CMD_PTE_GET,		/* dump; CAP_NET_ADMIN and CAP_SYS_ADMIN */
	HMM_DUMMY_CMD_STATS_GET,	/* do */
	HMM_DUMMY_CMD_INVALIDATE_NTF,	/* event */
	HMM_DUMMY_CMD_REGISTER_NTF,	/* event */
	HMM_DUMMY_CMD_UNREGISTER_NTF,	/* event */
	HMM_DUMMY_CMD_RELEASE_NTF,	/* event */

	__HMM_DUMMY_CMD_MAX,
	HMM_DUMMY_CMD_MAX = (__HMM_DUMMY_CMD_MAX - 1)
};

#endif /* _UAPI_HMM_DUMMY_NL_H */
