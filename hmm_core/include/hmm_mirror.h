/* SPDX-License-Identifier: GPL-2.0 */
/*
 * hmm_mirror.h - mirror a process address space into a device page table
 *
 * A device that walks a process's page tables through its own MMU (a GPU, a
 * NIC, an accelerator) must drop its copies of CPU page-table entries before
 * the CPU side changes them. hmm_core gives such a driver two things:
 *
 * 1. Invalidation: a driver embeds a &struct hmm_mirror in its own object and
 *    registers it on an mm. From then on ->sync_cpu_device_pagetables() is
 *    called from the mmu notifier's invalidate_range_start path for every
 *    change of that mm's CPU page table overlapping the mirror, before the
 *    change is made.
 *
 * 2. Race-free population: hmm_mirror_range_fault() and
 *    hmm_mirror_range_snapshot() read the CPU page table over a range and
 *    return one entry per page together with a sequence value; the driver
 *    then takes the lock its invalidation callback takes and commits the
 *    entries only if hmm_mirror_range_retry() says nothing invalidated the
 *    mirror in between:
 *
 *	struct hmm_mirror_range range = { .start = ..., .end = ..., ... };
 *
 *	again:
 *		ret = hmm_mirror_range_fault(&dev->mirror, &range);
 *		if (ret)
 *			return ret;	(-EBUSY once the deadline has passed)
 *		mutex_lock(&dev->pt_lock);
 *		if (hmm_mirror_range_retry(&dev->mirror, &range)) {
 *			mutex_unlock(&dev->pt_lock);
 *			goto again;
 *		}
 *		... write range.entries[] into the device page table ...
 *		mutex_unlock(&dev->pt_lock);
 *
 *    while ->sync_cpu_device_pagetables() takes dev->pt_lock around clearing
 *    the entries of its range, on every call. The loop is bounded: the first
 *    read of the range starts its deadline (@timeout), and every read after
 *    it, whether the kernel's walk or the driver's commit was sent back,
 *    fails with -EBUSY once the deadline has passed, so a stream of
 *    invalidations (any change of a whole-mm mirror's address space counts)
 *    cannot keep it spinning. Why this cannot commit a stale entry:
 *
 *	populate (CPU 0)                 invalidate (CPU 1)
 *	seq = begin()  (waits if busy)
 *	read CPU page table
 *	                                 seq of mirror made odd
 *	                                 ->sync_cpu_device_pagetables()
 *	                                     lock; clear range; unlock
 *	lock
 *	retry(): seq changed -> unlock, again
 *
 *    If the invalidation starts after the populate side took its lock, the
 *    callback's lock waits for the commit and then clears what was committed.
 *
 * Where the kernel provides hmm_range_fault() (CONFIG_HMM_MIRROR), the range
 * helpers build on it; elsewhere they fault with get_user_pages_remote() and
 * keep no page reference. A build-time probe chooses (HMM_CORE_FORCE_GUP=1
 * forces the fallback), and /sys/module/hmm_core/parameters/backend says
 * which: "hmm_range_fault" or "get_user_pages". The fallback never reports
 * a huge mapping (every entry has order 0) and gives write permission only
 * to a write fault or a page the CPU may write now.
 */
#ifndef _HMM_MIRROR_H
#define _HMM_MIRROR_H

#include <linux/list.h>
#include <linux/mm_types.h>
#include <linux/mmu_notifier.h>
#include <linux/module.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/workqueue.h>

struct hmm_mirror;
struct hmm_mirror_mm;
struct hmm_mirror_pcpu;
struct pid;

/*
 * Size of a mirror's label (hmm_mirror_set_label()), its NUL included:
 * HMM_CORE_LABEL_LEN of hmm_core's netlink family.
 */
#define HMM_MIRROR_LABEL_LEN	32

/*
 * Symbol namespace of every hmm_core export. A driver says
 * HMM_MIRROR_IMPORT_NS(); once, at file scope.
 */
#include <hmm_mirror_ns.h>

/**
 * struct hmm_update - one change of the CPU page table, as told to a mirror
 * @start: first virtual address of the change, clamped to the mirror
 * @end: first virtual address past the change, clamped to the mirror
 * @event: why the CPU page table changes (%MMU_NOTIFY_UNMAP,
 *	%MMU_NOTIFY_CLEAR, %MMU_NOTIFY_PROTECTION_VMA, %MMU_NOTIFY_MIGRATE, ...)
 * @blockable: false when the caller cannot sleep (the OOM reaper); the
 *	callback must then not sleep and returns -EAGAIN if it would have to
 */
struct hmm_update {
	unsigned long start;
	unsigned long end;
	enum mmu_notifier_event event;
	bool blockable;
};

/*
 * Private to hmm_core: how a pending second pass is found again. Where the
 * kernel has two-pass interval notifiers (7.1+, a build probe decides), it
 * is the kernel's own object; elsewhere hmm_core's per-mm notifier keys it
 * by the invalidation it belongs to. The probe's answer is in
 * hmm_mirror_ns.h, generated per kernel and installed with this header, so
 * that a driver built against the SDK sees the layout hmm_core has.
 */
#ifdef HMM_MIRROR_KERNEL_FINISH
struct hmm_mirror_finish_link {
	struct mmu_interval_notifier_finish kernel;
};
#else
struct hmm_mirror_finish_link {
	struct list_head node;
	const struct mmu_notifier_range *range;
};
#endif

/**
 * struct hmm_mirror_finish - one pending second pass of a two-pass mirror
 * @link: private to hmm_core
 * @mirror: the mirror whose first pass returned this; set by hmm_core
 * @update: the change its first pass was called for; set by hmm_core, for
 *	the coherence verifier's check after the second pass
 *
 * The driver's per-invalidation state between its two passes: embed it in a
 * larger object holding what the second pass needs (the device flush to wait
 * for), allocated in ->invalidate_start() with GFP_NOWAIT or taken from a
 * pool. Invalidations of one mm run concurrently on several CPUs, each with
 * its own objects: never share one between two calls. It belongs to the
 * driver again when its ->invalidate_finish() is called. The kernel's own
 * &struct mmu_interval_notifier_finish (7.1+) is the same thing.
 */
struct hmm_mirror_finish {
	struct hmm_mirror_finish_link link;
	struct hmm_mirror *mirror;
	struct hmm_update update;
};

/**
 * struct hmm_mirror_ops - what a driver does when the CPU page table changes
 * @sync_cpu_device_pagetables: make the device stop using the range, in one
 *	pass; a driver sets it, or the pair below, or all three
 * @invalidate_start: first pass of a two-pass driver; optional
 * @invalidate_finish: second pass of a two-pass driver; set with, and only
 *	with, @invalidate_start
 * @release: the mm is going away
 * @report_entries: tell hmm_core's coherence verifier every translation
 *	the device may still use over a range; optional
 *
 * ->sync_cpu_device_pagetables(mirror, update) is called from the mmu
 * notifier's invalidate_range_start path, for every change of the mm's CPU
 * page table that overlaps the mirror, before the CPU page table changes.
 * Before it returns, the device must have stopped using every entry it holds
 * for [@update->start, @update->end): entries cleared from the device page
 * table, the device TLB flushed, in-flight device accesses to the range
 * drained. It must take the lock it holds around committing entries in the
 * populate protocol (see hmm_mirror_range_retry()), and take it on every
 * call, even when it holds no entry in the range: hmm_core advances the
 * mirror's sequence just before the call, outside that lock, and only the
 * callback's lock/unlock orders that store against a concurrent
 * hmm_mirror_range_retry() (see the diagram at the top of this file). A
 * callback that skips the lock when it has nothing to clear lets a populate
 * that read the old sequence commit stale entries. When @update->blockable
 * is true it may sleep; when false it must not sleep (use trylock) and
 * returns -EAGAIN if it cannot finish without sleeping, which fails the
 * non-blocking invalidation (the OOM reaper then tries again later). Any
 * other return value is a bug. It must not allocate memory with a lock held
 * that reclaim could need (reclaim itself invalidates), nor call
 * hmm_mirror_unregister().
 *
 * Two passes. An invalidation overlapping N mirrors of devices whose TLB
 * flush takes a time L costs N x L in one pass: each mirror waits for its
 * own flush before the next one is called. A driver that sets
 * ->invalidate_start() and ->invalidate_finish() (and then needs no
 * ->sync_cpu_device_pagetables()) splits the work: the first pass does all
 * ->sync_cpu_device_pagetables() does (sequence, lock, clear) but only
 * *starts* the device's flush, and hands back in *@finish its own
 * &struct hmm_mirror_finish; the second pass, called with that object once
 * every overlapping mirror's first pass has run, waits for the flush (and
 * drains in-flight accesses). The invalidation then costs about one L::
 *
 *   CPU changing the page table          devices A, B (two-pass), C (one)
 *   ---------------------------          --------------------------------
 *   A->invalidate_start()                A: clear, start flush A ...
 *   B->invalidate_start()                B: clear, start flush B ...
 *   C->sync_cpu_device_pagetables()      C: clear, flush C, wait for it
 *        | between the passes, any of:
 *        |  - other mirrors' passes (single or first), of this mm
 *        |  - other invalidations of the same mm, on other CPUs, with
 *        |    their own first and second passes (and their own objects)
 *        |  - the device still using A's and B's old translations
 *        |    (cached in its TLB: the flush is not done yet); it must not
 *        |    take new ones from the cleared entries: a populate sees the
 *        |    odd sequence and waits (hmm_mirror_range_fault())
 *        |  - other classic mmu notifiers of the mm (KVM, ...)
 *        v
 *   A->invalidate_finish(fA)             A: wait for flush A
 *   B->invalidate_finish(fB)             B: wait for flush B (done too)
 *   ... only now the CPU page table changes, pages may be freed
 *
 * int ->invalidate_start(mirror, update, finish) is called where
 * ->sync_cpu_device_pagetables() would be, with *@finish NULL, under the
 * same rules (lock on every call, -EAGAIN only when !@update->blockable).
 * Leaving *@finish NULL (no memory for its state, nothing to flush) means
 * it did the whole job in one pass, as ->sync_cpu_device_pagetables()
 * would have: no second pass is called. A first pass that fails must leave
 * *@finish NULL.
 *
 * void ->invalidate_finish(mirror, finish) is called once for every
 * non-NULL *@finish, in the same invalidation and the same context as the
 * first pass: it may sleep only if that @update->blockable was true. It
 * must not take a lock the populate side holds while waiting for an
 * invalidation (see hmm_mirror_range_fault()). hmm_core may call it right
 * after the first pass instead of after all of them: it does on the
 * non-blocking path and on the teardown of the mm (%MMU_NOTIFY_RELEASE)
 * of kernels before 7.1, where the mm's other passes could be skipped.
 * hmm_mirror_unregister() returns only after every pending second pass of
 * the mirror has run.
 *
 * Porting to the kernel's own two-pass interval notifiers (7.1+) is a
 * renaming: &struct hmm_mirror_finish is &struct mmu_interval_notifier_finish
 * (@mirror is its @notifier), ->invalidate_start() is
 * mmu_interval_notifier_ops.invalidate_start() returning true for 0 and
 * false for -EAGAIN, ->invalidate_finish() is its invalidate_finish(), and
 * the driver calls mmu_interval_set_seq() itself under its lock. On 7.1+
 * hmm_core is exactly that: the kernel calls the passes.
 *
 * ->release(mirror), optional, is called once when the mm's address space is
 * torn down (the last user of the mm exited), before the pages are freed. The
 * mirror stays registered: the driver still calls hmm_mirror_unregister(),
 * and may do so from inside ->release().
 *
 * int ->report_entries(mirror, start, end, fn, ctx), optional, is how the
 * coherence verifier (doc/verifier.rst; off unless hmm_core's parameter
 * verify is 1) reads the device's side: the driver calls
 * fn(mirror, addr, entry, ctx) once for every page in [@start, @end) the
 * device may still reach, in any order: each entry of its page table, and
 * each translation its TLB (or any other cache) may still use, even one
 * already cleared from the table; a page held twice (table and TLB) may be
 * reported twice. @entry is in the encoding of the range helpers:
 * %HMM_MIRROR_ENTRY_VALID, the pfn, %HMM_MIRROR_ENTRY_WRITE if the device
 * may write the page, the order of the device's mapping of it, and
 * %HMM_MIRROR_ENTRY_DEVICE_PRIVATE for a page of the device's own memory or
 * %HMM_MIRROR_ENTRY_EXCLUSIVE for a device-exclusive mapping (those two
 * are only checked to be gone after an invalidation: the CPU page table
 * holds no pfn to compare them with). A non-zero return of fn stops the
 * walk, and ->report_entries() returns it; else it returns 0. It takes
 * the lock it holds around committing entries (the lock
 * ->sync_cpu_device_pagetables() takes), on every call, so that it sees
 * no half-done commit nor invalidation; fn does not sleep and takes no
 * lock. Context: process context, may sleep, no lock of the driver held;
 * hmm_core calls it after a blockable invalidation of the range (the
 * second pass of a two-pass mirror included: nothing may be left) and a
 * little after a commit (from a work item: what is left must match the
 * CPU page table). A driver without it is not checked.
 */
struct hmm_mirror_ops {
	int (*sync_cpu_device_pagetables)(struct hmm_mirror *mirror,
					  const struct hmm_update *update);
	int (*invalidate_start)(struct hmm_mirror *mirror,
				const struct hmm_update *update,
				struct hmm_mirror_finish **finish);
	void (*invalidate_finish)(struct hmm_mirror *mirror,
				  struct hmm_mirror_finish *finish);
	void (*release)(struct hmm_mirror *mirror);
	int (*report_entries)(struct hmm_mirror *mirror, unsigned long start,
			      unsigned long end,
			      int (*fn)(struct hmm_mirror *mirror,
					unsigned long addr,
					unsigned long entry, void *ctx),
			      void *ctx);
};

/**
 * struct hmm_mirror_verify - the coherence verifier's state of one mirror
 * @work: checks the commit recorded in @start, @end (hmm_core/verify.c)
 * @start: first address of the commit to check; @start == @end: none
 * @end: end of the commit to check
 * @reported: bit 0 set once a violation of the mirror was reported
 * @lock: protects @start, @end and @dead
 * @dead: the mirror is being unregistered: record nothing more
 *
 * Private to hmm_core: one commit waits for its check at a time (later ones
 * are merged with it, or not checked), so the verifier's memory per mirror
 * is this.
 */
struct hmm_mirror_verify {
	struct work_struct work;
	unsigned long start;
	unsigned long end;
	unsigned long reported;
	spinlock_t lock; /* protects @start, @end and @dead */
	bool dead;
};

/**
 * struct hmm_mirror - a device's subscription to one mm's page-table changes
 * @interval: the kernel's interval subscription; private to hmm_core
 * @ops: the driver's callbacks, set before hmm_mirror_register()
 * @mirror_mm: the per-mm core object; private to hmm_core
 * @mm_list: entry in @mirror_mm's list; private to hmm_core
 * @driver: the name of the module @ops's callbacks are in, for the trace
 *	events; set by hmm_mirror_register(); private to hmm_core
 * @label: what the driver calls the mirror, for people (hmm_core's netlink
 *	family shows it); set with hmm_mirror_set_label() only
 * @owner: the thread group that registered the mirror; private to hmm_core
 * @counters: the mirror's counters, one set per CPU; private to hmm_core
 * @verify: the coherence verifier's state; private to hmm_core
 * @id: the mirror's id in hmm_core's netlink family, from 1, or 0 while it
 *	is not registered; private to hmm_core
 *
 * Embedded in the driver's own per-mirror object, which starts zeroed
 * (kzalloc()). Only @ops is the driver's to set, and @label through
 * hmm_mirror_set_label(); the rest belongs to hmm_core between
 * hmm_mirror_register() and the return of hmm_mirror_unregister().
 */
struct hmm_mirror {
	struct mmu_interval_notifier interval;
	const struct hmm_mirror_ops *ops;
	struct hmm_mirror_mm *mirror_mm;
	struct list_head mm_list;
	char driver[MODULE_NAME_LEN];
	char label[HMM_MIRROR_LABEL_LEN];
	struct pid *owner;
	struct hmm_mirror_pcpu __percpu *counters;
	struct hmm_mirror_verify verify;
	u32 id;
};

void hmm_mirror_set_label(struct hmm_mirror *mirror, const char *label);
bool hmm_mirror_owner_visible(struct pid *owner, bool admin, u32 *tgid);

int hmm_mirror_register(struct hmm_mirror *mirror, struct mm_struct *mm);
int hmm_mirror_register_range(struct hmm_mirror *mirror, struct mm_struct *mm,
			      unsigned long start, unsigned long end);
void hmm_mirror_unregister(struct hmm_mirror *mirror);

/**
 * hmm_mirror_mm - the mm a mirror is registered on
 * @mirror: a registered mirror
 *
 * The mm is pinned (mmgrab) while the mirror is registered, but its address
 * space may already be gone: use mmget_not_zero() before touching it.
 *
 * Return: the mm given to hmm_mirror_register().
 */
static inline struct mm_struct *hmm_mirror_mm(struct hmm_mirror *mirror)
{
	return mirror->interval.mm;
}

/*
 * One entry per page of a range, as returned by the range helpers. The bits
 * from HMM_MIRROR_ENTRY_PFN_SHIFT up hold the pfn when HMM_MIRROR_ENTRY_VALID
 * is set. An entry with none of VALID and ERROR set is a page the CPU does not
 * map now (snapshot only).
 */
#define HMM_MIRROR_ENTRY_VALID		BIT(0)	/* the CPU maps a page */
#define HMM_MIRROR_ENTRY_WRITE		BIT(1)	/* ... and may write it */
#define HMM_MIRROR_ENTRY_ERROR		BIT(2)	/* no page can be had */
#define HMM_MIRROR_ENTRY_ZERO		BIT(3)	/* the shared zero page */
#define HMM_MIRROR_ENTRY_ORDER_SHIFT	4	/* 5 bits: CPU map order */
#define HMM_MIRROR_ENTRY_ORDER_MASK	(0x1fUL << HMM_MIRROR_ENTRY_ORDER_SHIFT)
/* A device-private page of the range's dev_private_owner, left in place */
#define HMM_MIRROR_ENTRY_DEVICE_PRIVATE	BIT(9)
/* ->report_entries() only: a device-exclusive mapping (make_device_exclusive) */
#define HMM_MIRROR_ENTRY_EXCLUSIVE	BIT(10)
#define HMM_MIRROR_ENTRY_PFN_SHIFT	12

/**
 * hmm_mirror_entry_pfn - page frame number of a valid entry
 * @entry: an entry with %HMM_MIRROR_ENTRY_VALID set
 *
 * Return: the page frame number the CPU maps.
 */
static inline unsigned long hmm_mirror_entry_pfn(unsigned long entry)
{
	return entry >> HMM_MIRROR_ENTRY_PFN_SHIFT;
}

/**
 * hmm_mirror_entry_order - order of the CPU mapping that holds the page
 * @entry: an entry with %HMM_MIRROR_ENTRY_VALID set
 *
 * 0 for a PTE, PMD_SHIFT - PAGE_SHIFT for a PMD-mapped huge page. A device
 * must never map the page at a larger size than this.
 *
 * Return: the map order.
 */
static inline unsigned int hmm_mirror_entry_order(unsigned long entry)
{
	return (entry & HMM_MIRROR_ENTRY_ORDER_MASK) >>
		HMM_MIRROR_ENTRY_ORDER_SHIFT;
}

/**
 * struct hmm_mirror_range - a range of CPU page table read for a device
 * @start: first virtual address, page aligned, inside the mirror
 * @end: first virtual address past the range, page aligned
 * @entries: (end - start) >> PAGE_SHIFT entries, filled by the helpers
 * @seq: sequence value the helpers read; private to hmm_core
 * @timeout: 0 before the first read of the range, which sets it to the
 *	deadline, in jiffies, %HMM_MIRROR_RANGE_TIMEOUT_MS later; once it has
 *	passed, a read sent back by an invalidation fails with -EBUSY. Keep
 *	it across the retries of one range, set it to 0 for another range.
 * @write: with hmm_mirror_range_fault(), fault every page for writing
 * @dev_private_owner: the pgmap owner of the driver's own device-private
 *	memory (ZONE_DEVICE), or NULL. A page of that memory is reported in
 *	place, with %HMM_MIRROR_ENTRY_DEVICE_PRIVATE and the device page's
 *	pfn; any other device-private page is migrated back to system memory
 *	by hmm_mirror_range_fault() and reported as not mapped by
 *	hmm_mirror_range_snapshot(). Even with @write, a read-only page of
 *	the owner is reported in place and read-only, as the kernel does not
 *	fault it: a driver that needs it writable asks again without an
 *	owner. The get_user_pages_remote() fallback ignores it: it always
 *	migrates device-private pages back.
 */
struct hmm_mirror_range {
	unsigned long start;
	unsigned long end;
	unsigned long *entries;
	unsigned long seq;
	unsigned long timeout;
	void *dev_private_owner;
	bool write;
};

/*
 * How long the reads of one range may be sent back by invalidations, all
 * retries included (the kernel's own HMM_RANGE_DEFAULT_TIMEOUT, which it
 * restarts on every hmm_range_fault() call).
 */
#define HMM_MIRROR_RANGE_TIMEOUT_MS	1000

/*
 * Longest range the range helpers take in one call, in pages. Larger device
 * faults are split by the driver; each part is committed on its own.
 */
#define HMM_MIRROR_RANGE_MAX_PAGES	512

int hmm_mirror_range_fault(struct hmm_mirror *mirror,
			   struct hmm_mirror_range *range);
int hmm_mirror_range_snapshot(struct hmm_mirror *mirror,
			      struct hmm_mirror_range *range);

bool hmm_mirror_range_retry(struct hmm_mirror *mirror,
			    const struct hmm_mirror_range *range);

void hmm_mirror_report_invalidated(struct hmm_mirror *mirror,
				   unsigned long npages);

/*
 * Invalidations are counted by enum mmu_notifier_event; events a newer
 * kernel adds past the last slot are counted in the last slot.
 */
#define HMM_MIRROR_NR_EVENTS	9

/**
 * struct hmm_mirror_stats - hmm_core's global counters
 * @nr_mms: mms with at least one mirror now
 * @nr_mirrors: mirrors registered now
 * @invalidations: invalidations delivered to a mirror, by event
 * @nonblock_failures: non-blocking invalidations a mirror failed (-EAGAIN)
 * @retries: populates that hmm_mirror_range_retry() sent back
 * @verify_violations: checks of the coherence verifier that found a
 *	violation (each mirror's first is a warning, the others are only
 *	counted and traced)
 */
struct hmm_mirror_stats {
	u64 nr_mms;
	u64 nr_mirrors;
	u64 invalidations[HMM_MIRROR_NR_EVENTS];
	u64 nonblock_failures;
	u64 retries;
	u64 verify_violations;
};

void hmm_mirror_read_stats(struct hmm_mirror_stats *stats);

#endif /* _HMM_MIRROR_H */
