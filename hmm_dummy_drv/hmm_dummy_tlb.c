// SPDX-License-Identifier: GPL-2.0
/*
 * hmm_dummy's simulated device TLB: a small translation cache in front of
 * each open file's device page table, which the device's accesses (READ,
 * WRITE, and the dmirror ABI's) go through. Clearing an entry from the page
 * table does not take it out of the TLB: only a flush does, and a flush
 * completes asynchronously, a per-file latency after it started (an hrtimer
 * completing a completion). Until then the device really goes on using its
 * cached translations: an invalidation that returns before its flush
 * completed lets the device read and write pages the CPU has let go.
 *
 * A file's mirror is single-pass (->sync_cpu_device_pagetables() starts the
 * flush and waits for it) or, with HMM_DUMMY_TLB_TWO_PHASE, two-pass
 * (->invalidate_start() starts it, ->invalidate_finish() waits for it), so
 * N files of one process flushing at once cost one latency, not N.
 */

#include <linux/delay.h>
#include <linux/hrtimer.h>
#include <linux/ktime.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/uaccess.h>

#include "hmm_dummy_internal.h"

/* What one invalidation's flush needs, between its two passes. */
struct hmm_dummy_flush {
	struct hmm_mirror_finish finish;
	struct hrtimer timer;
	struct completion done;
	struct hmm_dummy_tlb *tlb;
	unsigned long start;
	unsigned long end;
};

void hmm_dummy_tlb_init(struct hmm_dummy_tlb *tlb)
{
	spin_lock_init(&tlb->lock);
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

static enum hrtimer_restart hmm_dummy_flush_done(struct hrtimer *timer)
{
	struct hmm_dummy_flush *flush =
		container_of(timer, struct hmm_dummy_flush, timer);
	struct hmm_dummy_tlb *tlb = flush->tlb;
	unsigned long flags;

	spin_lock_irqsave(&tlb->lock, flags);
	hmm_dummy_tlb_drop(tlb, flush->start, flush->end);
	spin_unlock_irqrestore(&tlb->lock, flags);
	complete(&flush->done);
	return HRTIMER_NORESTART;
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
	struct hmm_dummy_flush *flush;
	unsigned long flags;

	if (latency_us && !blockable)
		return ERR_PTR(-EAGAIN);
	flush = latency_us ? kmalloc(sizeof(*flush), GFP_NOWAIT) : NULL;
	spin_lock_irqsave(&tlb->lock, flags);
	tlb->flushes++;
	if (latency_us && !flush)
		tlb->fallbacks++;
	spin_unlock_irqrestore(&tlb->lock, flags);
	if (!flush) {
		if (latency_us)
			usleep_range(latency_us, latency_us + 1);
		spin_lock_irqsave(&tlb->lock, flags);
		hmm_dummy_tlb_drop(tlb, start, end);
		spin_unlock_irqrestore(&tlb->lock, flags);
		return NULL;
	}
	flush->tlb = tlb;
	flush->start = start;
	flush->end = end;
	init_completion(&flush->done);
	hrtimer_setup(&flush->timer, hmm_dummy_flush_done, CLOCK_MONOTONIC,
		      HRTIMER_MODE_REL);
	hrtimer_start(&flush->timer, ns_to_ktime((u64)latency_us * NSEC_PER_USEC),
		      HRTIMER_MODE_REL);
	return flush;
}

/* Wait for a flush hmm_dummy_flush_start() started, and free it. */
static void hmm_dummy_flush_wait(struct hmm_dummy_flush *flush)
{
	wait_for_completion(&flush->done);
	/* The timer's callback may still be returning. */
	hrtimer_cancel(&flush->timer);
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

const struct hmm_mirror_ops hmm_dummy_mirror_ops = {
	.sync_cpu_device_pagetables = hmm_dummy_sync_cpu_device_pagetables,
	.release = hmm_dummy_release,
};

const struct hmm_mirror_ops hmm_dummy_mirror_ops_2p = {
	.invalidate_start = hmm_dummy_invalidate_start,
	.invalidate_finish = hmm_dummy_invalidate_finish,
	.release = hmm_dummy_release,
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
