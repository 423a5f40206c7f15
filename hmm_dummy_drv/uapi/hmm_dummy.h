/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * hmm_dummy.h - user-space interface of the hmm_dummy reference driver
 *
 * Each /dev/hmm_dummyN is a simulated device with its own MMU. Opening it
 * binds the file to the opener's address space (a mirror is registered on
 * it); the device page table of that file then holds, per virtual page, the
 * pfn the device may access and its permission, and is kept coherent with
 * the CPU page table by invalidations. Only the opener's address space can
 * be used: an ioctl from a process with another address space (the file
 * inherited over fork or passed over a socket) fails with EPERM. The nodes
 * are root-only (mode 0600) unless an administrator gives them to a group
 * (the udev rule hmm_dummy_drv/udev/60-hmm-dummy.rules).
 *
 * Every struct has a fixed size and layout on all ABIs, explicit padding,
 * a flags field and reserved fields: unknown flags and non-zero reserved
 * fields fail with EINVAL, so they can be given a meaning later.
 *
 * Ranges: @addr must be page aligned, 1 <= @npages <= HMM_DUMMY_MAX_PAGES,
 * and the range may not wrap nor leave user space (EINVAL).
 *
 * Device accesses (FAULT, READ, WRITE, SNAPSHOT) read the CPU page table
 * through hmm_core, 512 pages at a time. Each such step has one deadline,
 * one second from its first read, for all its reads of the CPU page table
 * and all its retries of the commit: when invalidations overlapping the
 * mirror keep it from reading a stable view and committing it before then,
 * the call fails with EBUSY. A mirror
 * of the whole address space overlaps every change of it: other threads
 * mapping, unmapping or changing protections anywhere count. EBUSY is
 * transient: the call may be made again (FAULT, READ and WRITE say in @done
 * how far they got, as for any failure).
 *
 * A file's device page table holds at most max_entries entries (a module
 * parameter, default 2^20; its memory is charged to the opener's memory
 * cgroup): a FAULT, READ or WRITE that would add one more fails with
 * ENOSPC, @done saying how far it got.
 */
#ifndef _UAPI_HMM_DUMMY_H
#define _UAPI_HMM_DUMMY_H

#include <linux/const.h>
#include <linux/ioctl.h>
#include <linux/types.h>

/* Most pages one call takes: 1 GiB of 4 KiB pages. */
#define HMM_DUMMY_MAX_PAGES		_BITULL(18)

/**
 * struct hmm_dummy_fault - HMM_DUMMY_IOC_FAULT: a device fault
 * @addr: first virtual address, page aligned
 * @npages: number of pages
 * @flags: HMM_DUMMY_FAULT_WRITE to fault for writing
 * @reserved0: must be zero
 * @done: out: pages now in the device page table
 * @reserved: must be zero
 *
 * Faults the CPU pages in as a device fault would (for writing: breaking
 * copy-on-write) and populates the device page table. Fails with EFAULT if a
 * page is unmapped or not readable, EPERM if a write is asked of a read-only
 * mapping; @done then tells how many pages from @addr were populated.
 */
struct hmm_dummy_fault {
	__u64 addr;
	__u64 npages;
	__u32 flags;
	__u32 reserved0;
	__u64 done;
	__u64 reserved[2];
};

#define HMM_DUMMY_FAULT_WRITE		_BITUL(0)

/**
 * struct hmm_dummy_rw - HMM_DUMMY_IOC_READ and HMM_DUMMY_IOC_WRITE
 * @addr: first virtual address of the process memory, page aligned
 * @ptr: user buffer of @npages pages
 * @npages: number of pages
 * @flags: must be zero
 * @reserved0: must be zero
 * @done: out: pages copied
 * @faults: out: device faults taken on the way
 * @reserved: must be zero
 *
 * Copies between the process memory, as the device sees it through its page
 * table, and @ptr. A page with no entry, or (WRITE) a read-only one, is a
 * device fault: the device page table is populated and the copy goes on.
 * Fails with EFAULT if a page cannot be read (unmapped, PROT_NONE) or @ptr is
 * bad, EPERM if WRITE meets a read-only mapping; @done then counts the pages
 * copied before the failing one.
 */
struct hmm_dummy_rw {
	__u64 addr;
	__u64 ptr;
	__u64 npages;
	__u32 flags;
	__u32 reserved0;
	__u64 done;
	__u64 faults;
	__u64 reserved[2];
};

/**
 * struct hmm_dummy_snapshot - HMM_DUMMY_IOC_SNAPSHOT: read the CPU page table
 * @addr: first virtual address, page aligned
 * @ptr: user buffer of @npages bytes, out: one HMM_DUMMY_SNAP_* set per page
 * @npages: number of pages
 * @flags: must be zero
 * @reserved0: must be zero
 * @reserved: must be zero
 *
 * What the CPU page table says of each page now, without faulting anything
 * and without touching the device page table. The flags are a set: a
 * writable page is READ | WRITE, a huge one READ | HUGE (| WRITE).
 */
struct hmm_dummy_snapshot {
	__u64 addr;
	__u64 ptr;
	__u64 npages;
	__u32 flags;
	__u32 reserved0;
	__u64 reserved[2];
};

#define HMM_DUMMY_SNAP_NONE		0x00	/* not mapped now */
#define HMM_DUMMY_SNAP_READ		0x01	/* mapped, readable */
#define HMM_DUMMY_SNAP_WRITE		0x02	/* ... and writable */
#define HMM_DUMMY_SNAP_HUGE		0x04	/* mapped by a huge page */
#define HMM_DUMMY_SNAP_ZERO		0x08	/* the shared zero page */
#define HMM_DUMMY_SNAP_ERROR		0x80	/* no vma, no access, or I/O */

/**
 * struct hmm_dummy_pte - one entry of the device page table
 * @va: virtual address of the page
 * @pfn: page frame number the device accesses
 * @perm: HMM_DUMMY_PERM_READ, with HMM_DUMMY_PERM_WRITE if writable
 * @order: order of the CPU mapping the page was found in (0: 4 KiB,
 *	9: 2 MiB on x86-64)
 */
struct hmm_dummy_pte {
	__u64 va;
	__u64 pfn;
	__u32 perm;
	__u32 order;
};

#define HMM_DUMMY_PERM_READ		_BITUL(0)
#define HMM_DUMMY_PERM_WRITE		_BITUL(1)

/**
 * struct hmm_dummy_dump - HMM_DUMMY_IOC_DUMP: list the device page table
 * @addr: first virtual address, page aligned
 * @npages: number of pages to look at
 * @ptr: user array of @max_entries &struct hmm_dummy_pte
 * @max_entries: room in @ptr
 * @nr_entries: out: entries written, in increasing @va order
 * @flags: must be zero
 * @reserved0: must be zero
 * @reserved: must be zero
 *
 * Needs CAP_SYS_ADMIN: it shows physical page frame numbers. If the range
 * holds more than @max_entries entries, the first @max_entries are written;
 * call again from the next @va to go on.
 */
struct hmm_dummy_dump {
	__u64 addr;
	__u64 npages;
	__u64 ptr;
	__u64 max_entries;
	__u64 nr_entries;
	__u32 flags;
	__u32 reserved0;
	__u64 reserved[2];
};

/**
 * struct hmm_dummy_range - HMM_DUMMY_IOC_SET_RANGE: mirror one range only
 * @addr: first virtual address, page aligned
 * @npages: number of pages, at least 1
 * @flags: must be zero
 * @reserved0: must be zero
 * @reserved: must be zero
 *
 * A file mirrors all of its opener's address space from open. This makes it
 * mirror [@addr, @addr + @npages pages) instead: the device page table is
 * emptied, changes of the CPU page table outside the range no longer reach
 * the device, and calls on pages outside it fail with EINVAL. It may be
 * called again. The range may not wrap nor leave user space (EINVAL);
 * HMM_DUMMY_MAX_PAGES does not apply. If the new range cannot be registered
 * (ENOMEM), the file mirrors nothing and every later call fails with EPERM.
 */
struct hmm_dummy_range {
	__u64 addr;
	__u64 npages;
	__u32 flags;
	__u32 reserved0;
	__u64 reserved[2];
};

/* Why the CPU page table changed, as counted in &struct hmm_dummy_counters. */
enum hmm_dummy_event {
	HMM_DUMMY_EVENT_UNMAP,		/* munmap(), mremap() */
	HMM_DUMMY_EVENT_CLEAR,		/* madvise(), page replaced, ... */
	HMM_DUMMY_EVENT_PROTECTION_VMA,	/* mprotect() */
	HMM_DUMMY_EVENT_PROTECTION_PAGE,	/* write-protect: fork, writeback */
	HMM_DUMMY_EVENT_SOFT_DIRTY,	/* clear_refs */
	HMM_DUMMY_EVENT_RELEASE,	/* address space torn down */
	HMM_DUMMY_EVENT_MIGRATE,	/* page migration */
	HMM_DUMMY_EVENT_EXCLUSIVE,	/* device-exclusive access */
	HMM_DUMMY_EVENT_OTHER,		/* anything a newer kernel adds */
	HMM_DUMMY_NR_EVENTS,
};

/**
 * struct hmm_dummy_counters - HMM_DUMMY_IOC_COUNTERS: this file's counters
 * @device_faults: device faults taken (FAULT calls and READ/WRITE misses)
 * @pages_populated: entries committed to the device page table
 * @pages_invalidated: entries removed by invalidations
 * @retries: commits abandoned because an invalidation ran meanwhile
 * @releases: times the address space was torn down (0 or 1)
 * @invalidations: invalidations received, by enum hmm_dummy_event
 * @reserved: zero for now
 */
struct hmm_dummy_counters {
	__u64 device_faults;
	__u64 pages_populated;
	__u64 pages_invalidated;
	__u64 retries;
	__u64 releases;
	__u64 invalidations[16];
	__u64 reserved[8];
};

#define HMM_DUMMY_IOC_MAGIC		0xDA

#define HMM_DUMMY_IOC_FAULT	_IOWR(HMM_DUMMY_IOC_MAGIC, 0x00, struct hmm_dummy_fault)
#define HMM_DUMMY_IOC_READ	_IOWR(HMM_DUMMY_IOC_MAGIC, 0x01, struct hmm_dummy_rw)
#define HMM_DUMMY_IOC_WRITE	_IOWR(HMM_DUMMY_IOC_MAGIC, 0x02, struct hmm_dummy_rw)
#define HMM_DUMMY_IOC_SNAPSHOT	_IOW(HMM_DUMMY_IOC_MAGIC, 0x03, struct hmm_dummy_snapshot)
#define HMM_DUMMY_IOC_DUMP	_IOWR(HMM_DUMMY_IOC_MAGIC, 0x04, struct hmm_dummy_dump)
#define HMM_DUMMY_IOC_COUNTERS	_IOR(HMM_DUMMY_IOC_MAGIC, 0x05, struct hmm_dummy_counters)
#define HMM_DUMMY_IOC_SET_RANGE	_IOW(HMM_DUMMY_IOC_MAGIC, 0x06, struct hmm_dummy_range)

/* HMM_DUMMY_IOC_TLB: flags of &struct hmm_dummy_tlb_ctl */
#define HMM_DUMMY_TLB_SET		0x01 /* apply latency_us and the passes */
#define HMM_DUMMY_TLB_TWO_PHASE		0x02 /* two-pass invalidation */
#define HMM_DUMMY_TLB_MAX_LATENCY_US	100000

/**
 * struct hmm_dummy_tlb_ctl - HMM_DUMMY_IOC_TLB: the simulated device TLB
 * @latency_us: how long a flush of the TLB takes to complete, in
 *	microseconds, at most %HMM_DUMMY_TLB_MAX_LATENCY_US (0, the default:
 *	it completes at once); in with %HMM_DUMMY_TLB_SET, and out. Other than
 *	0 it needs CAP_SYS_ADMIN (EPERM): every invalidation of the process's
 *	memory, reclaim's included, waits for it
 * @flags: in: %HMM_DUMMY_TLB_SET to apply @latency_us and the passes, with
 *	%HMM_DUMMY_TLB_TWO_PHASE for two-pass invalidation (one-pass without);
 *	out: %HMM_DUMMY_TLB_TWO_PHASE if the mirror is two-pass
 * @hits: out: device accesses the TLB served
 * @flushes: out: flushes started (one per invalidation of the file)
 * @waits: out: second passes that waited for a flush (two-pass only)
 * @fallbacks: out: flushes waited for in the first pass for want of memory
 * @reserved: must be zero
 *
 * Device accesses (READ, WRITE, the dmirror ABI's) go through a small TLB
 * in front of the device page table. An invalidation clears the entries
 * and flushes the TLB; until the flush completes, the device keeps using
 * its cached translations. A one-pass mirror waits for its flush in its
 * callback; a two-pass one starts it in its first pass and waits in its
 * second, after every overlapping mirror's first pass. Changing the passes
 * registers the mirror again over the same range: the device page table and
 * the TLB are emptied.
 */
struct hmm_dummy_tlb_ctl {
	__u32 latency_us;
	__u32 flags;
	__u64 hits;
	__u64 flushes;
	__u64 waits;
	__u64 fallbacks;
	__u64 reserved[2];
};

#define HMM_DUMMY_IOC_TLB	_IOWR(HMM_DUMMY_IOC_MAGIC, 0x07, struct hmm_dummy_tlb_ctl)

#endif /* _UAPI_HMM_DUMMY_H */
