// SPDX-License-Identifier: GPL-2.0
/*
 * hmm_dummy's simulated device TLB: a small translation cache in front of
 * each open file's device page table, which the device's accesses (READ,
 * WRITE, and the dmirror ABI's) go through. Clearing an entry from the page
 * table does not take it out of the TLB: only a flush does, and a flush
 * completes asynchronously, a per-file latency after it started. Until then
 * the device really goes on using its cached translations: an invalidation
 * that returns before its flush completed lets the device read and write
 * pages the CPU has let go.
 *
 * A flush in flight is its range and the time it completes, on the TLB's
 * list of flushes. The device retires the completed ones before each
 * access (and before each report to hmm_core's verifier), which is what a
 * device finishing them on its own at that time would have shown; the
 * driver waits for one by polling the clock, as a driver polls its device's
 * completion register, and sleeps only for the part of a long latency that
 * is more than HMM_DUMMY_FLUSH_POLL_US away. Neither side needs a timer or
 * a wake-up: what a flush costs beside its latency is its allocation, so
 * the benchmark's "latency added" measures the latency and the passes, not
 * the emulator's cost of an interrupt per flush.
 *
 * A file's mirror is single-pass (->sync_cpu_device_pagetables() starts the
 * flush and waits for it) or, with HMM_DUMMY_TLB_TWO_PHASE, two-pass
 * (->invalidate_start() starts it, ->invalidate_finish() waits for it), so
 * N files of one process flushing at once cost one latency, not N.
 */

#include <linux/delay.h>
#include <linux/ktime.h>
#include <linux/list.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/uaccess.h>

#include "hmm_dummy_internal.h"

/*
 * Closer to its completion than this, a waiter polls; farther, it sleeps
 * the difference first.
 */
#define HMM_DUMMY_FLUSH_POLL_US	1000

/*
 * One invalidation's flush, between its two passes. Its waiter owns it; it
 * is on the TLB's @flushing list (under tlb->lock) until it completes.
 */
struct hmm_dummy_flush {
	struct hmm_mirror_finish finish;
	struct list_head node;
	ktime_t done_at;
	struct hmm_dummy_tlb *tlb;
	unsigned long start;
	unsigned long end;
};

void hmm_dummy_tlb_init(struct hmm_dummy_tlb *tlb)
{
	spin_lock_init(&tlb->lock);
	INIT_LIST_HEAD(&tlb->flushing);
}

/* Drop the cached translations of [start, end). tlb->lock held. */
static void hmm_dummy_tlb_drop(struct hmm_dummy_tlb *tlb, unsigned long start,
			       unsigned long end)
{
	unsigned int i;

	lockdep_assert_held(&tlb->lock);
	for (i = 0; i < HMM_DUMMY_TLB_ENTRIES; i++)
		if ((tlb->va[i] & HMM_DUMMY_TLB_VALID) &&
		    (tlb->va[i] & PAGE_MASK) >= start &&
		    (tlb->va[i] & PAGE_MASK) < end)
			tlb->va[i] = 0;
}

/*
 * The device finished the flushes whose time has come: their translations
 * are gone. tlb->lock held.
 */
static void hmm_dummy_tlb_retire(struct hmm_dummy_tlb *tlb)
{
	struct hmm_dummy_flush *flush, *next;
	ktime_t now;

	lockdep_assert_held(&tlb->lock);
	if (list_empty(&tlb->flushing))
		return;
	now = ktime_get();
	list_for_each_entry_safe(flush, next, &tlb->flushing, node) {
		if (ktime_before(now, flush->done_at))
			continue;
		hmm_dummy_tlb_drop(tlb, flush->start, flush->end);
		list_del_init(&flush->node);
	}
}

void hmm_dummy_tlb_flush_all(struct hmm_dummy_tlb *tlb)
{
	unsigned long flags;

	spin_lock_irqsave(&tlb->lock, flags);
	hmm_dummy_tlb_drop(tlb, 0, ULONG_MAX);
	spin_unlock_irqrestore(&tlb->lock, flags);
}

/**
 * hmm_dummy_tlb_access - look a page up through the TLB, and use it
 * @dfile: the open file, pt_lock held
 * @addr: the page's address
 * @pte: the page table's entry of @addr, 0 if none
 * @use: what the device does with the translation, with the TLB's lock held
 *	(irqs off): the flush that would drop it waits for it to be done
 * @arg: @use's argument
 *
 * A valid @pte is used and cached (a device fault may have changed it: a
 * write fault makes a read-only entry writable). With none, a cached
 * translation is used: the entry was cleared but the TLB not flushed yet,
 * and the device has not been told that the page is gone.
 *
 * Return: what @use returns; -ENOENT with neither.
 */
int hmm_dummy_tlb_access(struct hmm_dummy_file *dfile, unsigned long addr,
			 unsigned long pte,
			 int (*use)(unsigned long pte, void *arg), void *arg)
{
	struct hmm_dummy_tlb *tlb = &dfile->tlb;
	unsigned long flags;
	unsigned int i;
	int ret;

	lockdep_assert_held(&dfile->pt_lock);
	spin_lock_irqsave(&tlb->lock, flags);
	hmm_dummy_tlb_retire(tlb);
	for (i = 0; i < HMM_DUMMY_TLB_ENTRIES; i++)
		if (tlb->va[i] == (addr | HMM_DUMMY_TLB_VALID))
			break;
	if (pte) {
		/* A fill, or a refill after a device fault changed the entry. */
		if (i == HMM_DUMMY_TLB_ENTRIES) {
			i = tlb->next++ % HMM_DUMMY_TLB_ENTRIES;
			tlb->va[i] = addr | HMM_DUMMY_TLB_VALID;
		} else {
			tlb->hits++;
		}
		tlb->pte[i] = pte;
	} else if (i < HMM_DUMMY_TLB_ENTRIES) {
		/* Cleared from the table, not flushed yet: still in use. */
		tlb->hits++;
		pte = tlb->pte[i];
	} else {
		spin_unlock_irqrestore(&tlb->lock, flags);
		return -ENOENT;
	}
	ret = use(pte, arg);
	spin_unlock_irqrestore(&tlb->lock, flags);
	return ret;
}

/*
 * Wait until @done_at, the time a flush completes: sleep while it is more
 * than HMM_DUMMY_FLUSH_POLL_US away, then poll. Only blockable
 * invalidations wait (a flush with a latency refuses the others).
 */
static void hmm_dummy_flush_poll(ktime_t done_at)
{
	s64 left_us;

	while ((left_us = ktime_us_delta(done_at, ktime_get())) > 0) {
		if (left_us > HMM_DUMMY_FLUSH_POLL_US)
			usleep_range(left_us - HMM_DUMMY_FLUSH_POLL_US,
				     left_us - HMM_DUMMY_FLUSH_POLL_US / 2);
		else
			cpu_relax();
	}
}

/*
 * Start flushing [start, end) out of the TLB. NULL when the flush is done
 * already: no latency, or no memory for a flush in flight (then it waited
 * here, as a device without asynchronous flushes would). -EAGAIN when it
 * would have to wait and may not.
 */
static struct hmm_dummy_flush *
hmm_dummy_flush_start(struct hmm_dummy_file *dfile, unsigned long start,
		      unsigned long end, bool blockable)
{
	struct hmm_dummy_tlb *tlb = &dfile->tlb;
	u32 latency_us = READ_ONCE(tlb->latency_us);
	ktime_t done_at = ktime_add_us(ktime_get(), latency_us);
	struct hmm_dummy_flush *flush;
	unsigned long flags;

	if (latency_us && !blockable)
		return ERR_PTR(-EAGAIN);
	flush = latency_us ? kmalloc(sizeof(*flush), GFP_NOWAIT) : NULL;
	if (flush) {
		flush->tlb = tlb;
		flush->start = start;
		flush->end = end;
		flush->done_at = done_at;
	}
	spin_lock_irqsave(&tlb->lock, flags);
	tlb->flushes++;
	if (flush)
		list_add_tail(&flush->node, &tlb->flushing);
	else if (latency_us)
		tlb->fallbacks++;
	spin_unlock_irqrestore(&tlb->lock, flags);
	if (flush)
		return flush;
	hmm_dummy_flush_poll(done_at);
	spin_lock_irqsave(&tlb->lock, flags);
	hmm_dummy_tlb_drop(tlb, start, end);
	spin_unlock_irqrestore(&tlb->lock, flags);
	return NULL;
}

/* Wait for a flush hmm_dummy_flush_start() started, and free it. */
static void hmm_dummy_flush_wait(struct hmm_dummy_flush *flush)
{
	struct hmm_dummy_tlb *tlb = flush->tlb;
	unsigned long flags;

	hmm_dummy_flush_poll(flush->done_at);
	spin_lock_irqsave(&tlb->lock, flags);
	/* Not retired by an access meanwhile: it completes now. */
	if (!list_empty(&flush->node)) {
		hmm_dummy_tlb_drop(tlb, flush->start, flush->end);
		list_del(&flush->node);
	}
	spin_unlock_irqrestore(&tlb->lock, flags);
	kfree(flush);
}

/*
 * The first pass: clear the entries (pt_lock, on every call) and start the
 * TLB's flush. The entries go first: a flush started before them could
 * complete while the device still cached one from the table.
 */
static int hmm_dummy_invalidate_start(struct hmm_mirror *mirror,
				      const struct hmm_update *update,
				      struct hmm_mirror_finish **finish)
{
	struct hmm_dummy_file *dfile =
		container_of(mirror, struct hmm_dummy_file, mirror);
	struct hmm_dummy_flush *flush;
	int ret;

	if (READ_ONCE(dfile->tlb.latency_us) && !update->blockable)
		return -EAGAIN;
	ret = hmm_dummy_clear(dfile, update);
	if (ret)
		return ret;
	flush = hmm_dummy_flush_start(dfile, update->start, update->end,
				      update->blockable);
	if (IS_ERR(flush))
		return PTR_ERR(flush);
	if (flush)
		*finish = &flush->finish;
	return 0;
}

/* The second pass: the device has stopped using the range once this returns. */
static void hmm_dummy_invalidate_finish(struct hmm_mirror *mirror,
					struct hmm_mirror_finish *finish)
{
	struct hmm_dummy_flush *flush =
		container_of(finish, struct hmm_dummy_flush, finish);
	struct hmm_dummy_tlb *tlb = flush->tlb;
	unsigned long flags;

	spin_lock_irqsave(&tlb->lock, flags);
	tlb->waits++;
	spin_unlock_irqrestore(&tlb->lock, flags);
	hmm_dummy_flush_wait(flush);
}

/* Single-pass: both passes in one. */
int hmm_dummy_sync_cpu_device_pagetables(struct hmm_mirror *mirror,
					 const struct hmm_update *update)
{
	struct hmm_mirror_finish *finish = NULL;
	int ret;

	ret = hmm_dummy_invalidate_start(mirror, update, &finish);
	if (finish)
		hmm_dummy_flush_wait(container_of(finish, struct hmm_dummy_flush,
						  finish));
	return ret;
}

/* A device page-table entry as hmm_core's verifier reads it. */
static unsigned long hmm_dummy_report_entry(unsigned long pte)
{
	unsigned long entry = HMM_MIRROR_ENTRY_VALID |
		hmm_dummy_pte_pfn(pte) << HMM_MIRROR_ENTRY_PFN_SHIFT |
		(unsigned long)hmm_dummy_pte_order(pte) <<
		HMM_MIRROR_ENTRY_ORDER_SHIFT;

	if (pte & HMM_DUMMY_PTE_WRITE)
		entry |= HMM_MIRROR_ENTRY_WRITE;
	/* The pfn of a device page is its backing page's, not the CPU's. */
	if (pte & HMM_DUMMY_PTE_DEVICE)
		entry |= HMM_MIRROR_ENTRY_DEVICE_PRIVATE;
	if (pte & HMM_DUMMY_PTE_ATOMIC)
		entry |= HMM_MIRROR_ENTRY_EXCLUSIVE;
	return entry;
}

/*
 * ->report_entries(): every entry of the device page table in [start, end),
 * then every translation the TLB still caches there (a cleared entry whose
 * flush has not completed is still used: hmm_dummy_tlb_access()). Under
 * pt_lock, the commit lock; the TLB's translations are copied out under its
 * own lock, which @fn is not called with.
 */
/* What hmm_dummy_report_entries() hands each page of the table to. */
struct hmm_dummy_report {
	struct hmm_mirror *mirror;
	int (*fn)(struct hmm_mirror *mirror, unsigned long addr,
		  unsigned long entry, void *ctx);
	void *ctx;
};

static int hmm_dummy_report_one(unsigned long index, unsigned long pte,
				void *arg)
{
	struct hmm_dummy_report *r = arg;

	return r->fn(r->mirror, index << PAGE_SHIFT,
		     hmm_dummy_report_entry(pte), r->ctx);
}

static int hmm_dummy_report_entries(struct hmm_mirror *mirror,
				    unsigned long start, unsigned long end,
				    int (*fn)(struct hmm_mirror *mirror,
					      unsigned long addr,
					      unsigned long entry, void *ctx),
				    void *ctx)
{
	struct hmm_dummy_file *dfile =
		container_of(mirror, struct hmm_dummy_file, mirror);
	struct hmm_dummy_tlb *tlb = &dfile->tlb;
	struct hmm_dummy_report r = { .mirror = mirror, .fn = fn, .ctx = ctx };
	unsigned long va[HMM_DUMMY_TLB_ENTRIES], pte[HMM_DUMMY_TLB_ENTRIES];
	unsigned long flags, addr;
	unsigned int i, n = 0;
	int ret;

	if (start >= end)
		return 0;
	mutex_lock(&dfile->pt_lock);
	ret = hmm_dummy_pt_walk(&dfile->pt, start >> PAGE_SHIFT,
				(end - 1) >> PAGE_SHIFT, hmm_dummy_report_one,
				&r);
	if (ret)
		goto out;
	spin_lock_irqsave(&tlb->lock, flags);
	/* What the device has finished flushing, it no longer uses. */
	hmm_dummy_tlb_retire(tlb);
	for (i = 0; i < HMM_DUMMY_TLB_ENTRIES; i++) {
		addr = tlb->va[i] & PAGE_MASK;
		if ((tlb->va[i] & HMM_DUMMY_TLB_VALID) && addr >= start &&
		    addr < end) {
			va[n] = addr;
			pte[n++] = tlb->pte[i];
		}
	}
	spin_unlock_irqrestore(&tlb->lock, flags);
	for (i = 0; i < n && !ret; i++)
		ret = fn(mirror, va[i], hmm_dummy_report_entry(pte[i]), ctx);
out:
	mutex_unlock(&dfile->pt_lock);
	return ret;
}

const struct hmm_mirror_ops hmm_dummy_mirror_ops = {
	.sync_cpu_device_pagetables = hmm_dummy_sync_cpu_device_pagetables,
	.release = hmm_dummy_release,
	.report_entries = hmm_dummy_report_entries,
};

const struct hmm_mirror_ops hmm_dummy_mirror_ops_2p = {
	.invalidate_start = hmm_dummy_invalidate_start,
	.invalidate_finish = hmm_dummy_invalidate_finish,
	.release = hmm_dummy_release,
	.report_entries = hmm_dummy_report_entries,
};

/**
 * hmm_dummy_ioc_tlb - HMM_DUMMY_IOC_TLB: set the TLB's flush latency and
 * the mirror's passes, read the TLB's counters
 * @dfile: the open file, range_sem held for writing
 * @uarg: &struct hmm_dummy_tlb_ctl
 *
 * Changing the passes registers the mirror again over the same range: the
 * device page table and the TLB are emptied.
 *
 * Return: 0; -EFAULT, -EINVAL, -EPERM (a latency without CAP_SYS_ADMIN), or
 * what registering says.
 */
long hmm_dummy_ioc_tlb(struct hmm_dummy_file *dfile, void __user *uarg)
{
	struct hmm_dummy_tlb *tlb = &dfile->tlb;
	const struct hmm_mirror_ops *ops;
	struct hmm_dummy_tlb_ctl arg;
	unsigned long flags;
	int ret;

	if (copy_from_user(&arg, uarg, sizeof(arg)))
		return -EFAULT;
	if (arg.flags & ~(HMM_DUMMY_TLB_TWO_PHASE | HMM_DUMMY_TLB_SET) ||
	    arg.latency_us > HMM_DUMMY_TLB_MAX_LATENCY_US ||
	    arg.reserved[0] || arg.reserved[1])
		return -EINVAL;
	/*
	 * Every invalidation of the process's memory waits for the flush,
	 * reclaim's and the OOM reaper's retries included: a slow device is
	 * root's to simulate, as invalidate_delay_us is.
	 */
	if ((arg.flags & HMM_DUMMY_TLB_SET) && arg.latency_us &&
	    !capable(CAP_SYS_ADMIN))
		return -EPERM;
	if (arg.flags & HMM_DUMMY_TLB_SET) {
		ops = arg.flags & HMM_DUMMY_TLB_TWO_PHASE ?
			&hmm_dummy_mirror_ops_2p : &hmm_dummy_mirror_ops;
		WRITE_ONCE(tlb->latency_us, arg.latency_us);
		if (ops != dfile->mirror.ops) {
			ret = hmm_dummy_reregister(dfile, ops);
			if (ret)
				return ret;
		}
	}
	arg.latency_us = READ_ONCE(tlb->latency_us);
	arg.flags = dfile->mirror.ops == &hmm_dummy_mirror_ops_2p ?
		HMM_DUMMY_TLB_TWO_PHASE : 0;
	spin_lock_irqsave(&tlb->lock, flags);
	arg.hits = tlb->hits;
	arg.flushes = tlb->flushes;
	arg.waits = tlb->waits;
	arg.fallbacks = tlb->fallbacks;
	spin_unlock_irqrestore(&tlb->lock, flags);
	return copy_to_user(uarg, &arg, sizeof(arg)) ? -EFAULT : 0;
}
