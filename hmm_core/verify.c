// SPDX-License-Identifier: GPL-2.0
/*
 * The coherence verifier: hmm_core checks that a driver really dropped what
 * it was told to drop, and that what it keeps is what the CPU maps. Off by
 * default; /sys/module/hmm_core/parameters/verify (root, at any time) or
 * hmm_core.verify=1 at load turns it on. Only drivers with
 * ->report_entries() are checked (doc/verifier.rst).
 *
 * - After an invalidation, once the mirror's last pass returned (the
 *   single pass, or the second of a two-pass mirror) and only when the
 *   invalidation could sleep: ->report_entries() over the invalidated
 *   range must report nothing. Nothing can be committed there meanwhile:
 *   the mirror's sequence is odd until the invalidation ends, so every
 *   populate that read it before is sent back and every new one waits.
 *
 * - After a commit: hmm_mirror_range_retry() returning false is the moment
 *   the driver commits under its lock. One in verify_sample of those
 *   records the range in the mirror's one slot (a later commit is merged
 *   into a pending one if the two fit in HMM_MIRROR_RANGE_MAX_PAGES, else
 *   not checked) and queues the mirror's work item, which
 *   hmm_mirror_unregister() cancels. The work reads the sequence, collects
 *   the device's entries (->report_entries(), under the driver's lock, so
 *   after the commit), and only then reads the CPU page table without
 *   faulting; if an invalidation of the mirror began since the sequence
 *   was read, the check is dropped. Else every entry the device held must
 *   still be mapped by the CPU, with the same pfn, writable only if the
 *   CPU's is, at no larger order: a page the CPU mapped when the entries
 *   were collected can only have been unmapped or changed through an
 *   invalidation. Reading the CPU side first instead would report a page
 *   the CPU faulted in (no invalidation) and the device committed between
 *   the two reads. A page found in no readable vma is left to the check
 *   after the invalidation (see hmm_core_verify_compare()).
 *
 * A violation is counted (verify_violations, struct hmm_mirror_stats), traced
 * (hmm_core_verify_violation), and the first of each mirror is a warning:
 * one line naming the driver, the mirror, the range, the entry and the
 * CPU's view, with a backtrace. The verifier never stops the driver.
 */

#include <linux/atomic.h>
#include <linux/jiffies.h>
#include <linux/jump_label.h>
#include <linux/minmax.h>
#include <linux/mm.h>
#include <linux/mmu_notifier.h>
#include <linux/moduleparam.h>
#include <linux/percpu.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/workqueue.h>

#include <hmm_mirror.h>
#include "hmm_core_internal.h"
#include "hmm_core_trace.h"

DEFINE_STATIC_KEY_FALSE(hmm_core_verify_key);

/* Check one commit in this many; at most HMM_CORE_VERIFY_SAMPLE_MAX. */
#define HMM_CORE_VERIFY_SAMPLE_MAX	1000000
static unsigned int verify_sample = 1;

/* Which commit of this CPU's is sampled next. */
static DEFINE_PER_CPU(unsigned int, hmm_core_verify_tick);

/* The verifier's counters: slow paths only. */
static atomic_long_t hmm_core_verify_nr_violations = ATOMIC_LONG_INIT(0);
static atomic_long_t hmm_core_verify_nr_checks = ATOMIC_LONG_INIT(0);
static atomic_long_t hmm_core_verify_nr_dropped = ATOMIC_LONG_INIT(0);

/* The flags of an entry the CPU page table has no pfn to compare with. */
#define HMM_CORE_VERIFY_UNCOMPARABLE	(HMM_MIRROR_ENTRY_DEVICE_PRIVATE | \
					 HMM_MIRROR_ENTRY_EXCLUSIVE)

static const char *const hmm_core_verify_what[] = {
	[HMM_CORE_VERIFY_LEFT] = "entry left after invalidation",
	[HMM_CORE_VERIFY_PFN] = "entry not the page the CPU maps",
	[HMM_CORE_VERIFY_WRITE] = "entry writable where the CPU's is not",
	[HMM_CORE_VERIFY_ORDER] = "entry mapped larger than the CPU maps it",
};

u64 hmm_core_verify_violations(void)
{
	return atomic_long_read(&hmm_core_verify_nr_violations);
}

/* "pfn 0x1234 rw order 0", or "none", for the warning. */
static void hmm_core_verify_entry_str(char *buf, size_t len,
				      unsigned long entry)
{
	if (entry & HMM_MIRROR_ENTRY_ERROR) {
		strscpy(buf, "no access", len);
		return;
	}
	if (!(entry & HMM_MIRROR_ENTRY_VALID)) {
		strscpy(buf, "none", len);
		return;
	}
	scnprintf(buf, len, "pfn 0x%lx %s order %u%s",
		  hmm_mirror_entry_pfn(entry),
		  entry & HMM_MIRROR_ENTRY_WRITE ? "rw" : "ro",
		  hmm_mirror_entry_order(entry),
		  entry & HMM_MIRROR_ENTRY_DEVICE_PRIVATE ? " device-private" :
		  entry & HMM_MIRROR_ENTRY_EXCLUSIVE ? " exclusive" : "");
}

/*
 * One violation: counted and traced; the mirror's first one is a warning.
 * @what is the invalidation's event for HMM_CORE_VERIFY_LEFT, else unused.
 */
static void hmm_core_verify_report(struct hmm_mirror *mirror,
				   enum hmm_core_verify_kind kind,
				   const char *what, unsigned long start,
				   unsigned long end, unsigned long addr,
				   unsigned long dev, unsigned long cpu)
{
	char dbuf[64], cbuf[64];

	atomic_long_inc(&hmm_core_verify_nr_violations);
	trace_hmm_core_verify_violation(mirror, kind, start, end, addr, dev,
					cpu);
	if (test_and_set_bit(0, &mirror->verify.reported))
		return;
	hmm_core_nl_verify_violation(mirror, kind, start, end, addr);
	hmm_core_verify_entry_str(dbuf, sizeof(dbuf), dev);
	/* After an invalidation, the CPU's entry is about to change. */
	if (kind == HMM_CORE_VERIFY_LEFT)
		strscpy(cbuf, "changing it", sizeof(cbuf));
	else
		hmm_core_verify_entry_str(cbuf, sizeof(cbuf), cpu);
	WARN(1, "hmm_core: verify: %s mirror %p: %s%s: range [0x%lx, 0x%lx) addr 0x%lx: device %s, CPU %s\n",
	     mirror->driver, mirror, hmm_core_verify_what[kind], what, start,
	     end, addr, dbuf, cbuf);
}

/* What the check after an invalidation found: the first entry left. */
struct hmm_core_verify_left {
	unsigned long start;
	unsigned long end;
	unsigned long addr;
	unsigned long entry;
	bool found;
};

static int hmm_core_verify_left_fn(struct hmm_mirror *mirror,
				   unsigned long addr, unsigned long entry,
				   void *ctx)
{
	struct hmm_core_verify_left *left = ctx;

	if (addr < left->start || addr >= left->end ||
	    !(entry & HMM_MIRROR_ENTRY_VALID))
		return 0;
	left->addr = addr;
	left->entry = entry;
	left->found = true;
	return 1;
}

static const char *hmm_core_verify_event(enum mmu_notifier_event event)
{
	switch (event) {
	case MMU_NOTIFY_UNMAP:
		return " (unmap)";
	case MMU_NOTIFY_CLEAR:
		return " (clear)";
	case MMU_NOTIFY_PROTECTION_VMA:
		return " (protection_vma)";
	case MMU_NOTIFY_PROTECTION_PAGE:
		return " (protection_page)";
	case MMU_NOTIFY_SOFT_DIRTY:
		return " (soft_dirty)";
	case MMU_NOTIFY_RELEASE:
		return " (release)";
	case MMU_NOTIFY_MIGRATE:
		return " (migrate)";
	case MMU_NOTIFY_EXCLUSIVE:
		return " (exclusive)";
	default:
		return "";
	}
}

/**
 * hmm_core_verify_invalidated - check a mirror after an invalidation
 * @mirror: the mirror whose last pass of the invalidation returned
 * @update: the invalidation
 *
 * Context: the invalidation's own; checks only if @update->blockable.
 */
void hmm_core_verify_invalidated(struct hmm_mirror *mirror,
				 const struct hmm_update *update)
{
	const struct hmm_mirror_ops *ops = mirror->ops;
	struct hmm_core_verify_left left = {
		.start = update->start,
		.end = update->end,
	};

	if (!update->blockable || !ops->report_entries)
		return;
	ops->report_entries(mirror, update->start, update->end,
			    hmm_core_verify_left_fn, &left);
	atomic_long_inc(&hmm_core_verify_nr_checks);
	if (left.found)
		hmm_core_verify_report(mirror, HMM_CORE_VERIFY_LEFT,
				       hmm_core_verify_event(update->event),
				       update->start, update->end, left.addr,
				       left.entry, 0);
}

/**
 * hmm_core_verify_commit - a commit is about to be made: sample it
 * @mirror: the mirror
 * @range: the range hmm_mirror_range_retry() has just let commit
 *
 * Context: any, with the driver's commit lock held.
 */
void hmm_core_verify_commit(struct hmm_mirror *mirror,
			    const struct hmm_mirror_range *range)
{
	struct hmm_mirror_verify *v = &mirror->verify;
	unsigned int sample = READ_ONCE(verify_sample);
	unsigned long flags, start, end;
	bool queue = false;

	if (!mirror->ops->report_entries)
		return;
	if (sample > 1 && this_cpu_inc_return(hmm_core_verify_tick) % sample)
		return;
	spin_lock_irqsave(&v->lock, flags);
	if (v->dead) {
		/* Being unregistered: nothing more is checked. */
	} else if (v->start == v->end) {
		v->start = range->start;
		v->end = range->end;
		queue = true;
	} else {
		start = min(v->start, range->start);
		end = max(v->end, range->end);
		if ((end - start) >> PAGE_SHIFT <= HMM_MIRROR_RANGE_MAX_PAGES) {
			v->start = start;
			v->end = end;
		} else {
			atomic_long_inc(&hmm_core_verify_nr_dropped);
		}
	}
	spin_unlock_irqrestore(&v->lock, flags);
	if (queue)
		queue_work(system_unbound_wq, &v->work);
}

/*
 * The device's entries over a range, as ->report_entries() gave them: two
 * per page (the table's and a TLB's that differs), the rest ignored.
 */
struct hmm_core_verify_dev {
	unsigned long start;
	unsigned long end;
	unsigned long *entries;
};

static int hmm_core_verify_collect_fn(struct hmm_mirror *mirror,
				      unsigned long addr, unsigned long entry,
				      void *ctx)
{
	struct hmm_core_verify_dev *dev = ctx;
	unsigned long *slot;

	if (addr < dev->start || addr >= dev->end ||
	    !(entry & HMM_MIRROR_ENTRY_VALID))
		return 0;
	slot = &dev->entries[2 * ((addr - dev->start) >> PAGE_SHIFT)];
	if (!slot[0])
		slot[0] = entry;
	else if (slot[0] != entry)
		slot[1] = entry;
	return 0;
}

/*
 * The kind of violation of device entry @dev where the CPU has @cpu, or -1.
 * A page with no readable vma (HMM_MIRROR_ENTRY_ERROR) is not compared:
 * munmap() takes the vma out of the mm, downgrades mmap_lock and only then
 * invalidates, so a reader may find no vma over page-table entries not
 * invalidated yet. The check after that invalidation covers the page.
 */
static int hmm_core_verify_compare(unsigned long dev, unsigned long cpu)
{
	if (!(dev & HMM_MIRROR_ENTRY_VALID) ||
	    (dev & HMM_CORE_VERIFY_UNCOMPARABLE) ||
	    (cpu & HMM_MIRROR_ENTRY_ERROR))
		return -1;
	if (!(cpu & HMM_MIRROR_ENTRY_VALID) ||
	    (cpu & HMM_MIRROR_ENTRY_DEVICE_PRIVATE) ||
	    hmm_mirror_entry_pfn(cpu) != hmm_mirror_entry_pfn(dev))
		return HMM_CORE_VERIFY_PFN;
	if ((dev & HMM_MIRROR_ENTRY_WRITE) && !(cpu & HMM_MIRROR_ENTRY_WRITE))
		return HMM_CORE_VERIFY_WRITE;
	if (hmm_mirror_entry_order(dev) > hmm_mirror_entry_order(cpu))
		return HMM_CORE_VERIFY_ORDER;
	return -1;
}

/* Check [start, end) of @mirror against the CPU page table: see the top. */
static void hmm_core_verify_range(struct hmm_mirror *mirror,
				  unsigned long start, unsigned long end)
{
	unsigned long i, npages = (end - start) >> PAGE_SHIFT, seq;
	struct mm_struct *mm = hmm_mirror_mm(mirror);
	struct hmm_core_verify_dev dev = { .start = start, .end = end };
	struct hmm_mirror_range range = { .start = start, .end = end };
	int kind, j;

	dev.entries = kcalloc(2 * npages, sizeof(*dev.entries), GFP_KERNEL);
	range.entries = kcalloc(npages, sizeof(*range.entries), GFP_KERNEL);
	if (!dev.entries || !range.entries)
		goto out;
	if (!mmget_not_zero(mm)) {
		atomic_long_inc(&hmm_core_verify_nr_dropped);
		goto out;
	}
	seq = mmu_interval_read_begin(&mirror->interval);
	if (mirror->ops->report_entries(mirror, start, end,
					hmm_core_verify_collect_fn, &dev))
		goto drop;
	range.timeout = hmm_core_range_deadline();
	if (hmm_core_read_cpu_pt(mirror, &range, false))
		goto drop;
	if (mmu_interval_read_retry(&mirror->interval, seq))
		goto drop;
	atomic_long_inc(&hmm_core_verify_nr_checks);
	for (i = 0; i < npages; i++) {
		for (j = 0; j < 2; j++) {
			kind = hmm_core_verify_compare(dev.entries[2 * i + j],
						       range.entries[i]);
			if (kind < 0)
				continue;
			hmm_core_verify_report(mirror, kind, "", start, end,
					       start + (i << PAGE_SHIFT),
					       dev.entries[2 * i + j],
					       range.entries[i]);
			goto put;
		}
	}
	goto put;
drop:
	atomic_long_inc(&hmm_core_verify_nr_dropped);
put:
	/* Never the last reference's exit_mmap() here: see unregister. */
	mmput_async(mm);
out:
	kfree(range.entries);
	kfree(dev.entries);
}

static void hmm_core_verify_work(struct work_struct *work)
{
	struct hmm_mirror *mirror =
		container_of(work, struct hmm_mirror, verify.work);
	struct hmm_mirror_verify *v = &mirror->verify;
	unsigned long start, end;

	spin_lock_irq(&v->lock);
	start = v->start;
	end = v->end;
	v->start = 0;
	v->end = 0;
	spin_unlock_irq(&v->lock);
	if (start != end)
		hmm_core_verify_range(mirror, start, end);
}

/**
 * hmm_core_verify_init - a mirror is being registered
 * @mirror: the mirror, before any callback or commit can reach it
 */
void hmm_core_verify_init(struct hmm_mirror *mirror)
{
	struct hmm_mirror_verify *v = &mirror->verify;

	INIT_WORK(&v->work, hmm_core_verify_work);
	spin_lock_init(&v->lock);
	v->start = 0;
	v->end = 0;
	v->dead = false;
	v->reported = 0;
}

/**
 * hmm_core_verify_stop - a mirror is being unregistered: no check is left
 * @mirror: the mirror
 *
 * Context: process context, may sleep; with no lock the driver's
 * ->report_entries() takes held. The work never drops the last reference
 * of the mm itself (mmput_async()), so this may be called from ->release().
 */
void hmm_core_verify_stop(struct hmm_mirror *mirror)
{
	struct hmm_mirror_verify *v = &mirror->verify;

	spin_lock_irq(&v->lock);
	v->dead = true;
	spin_unlock_irq(&v->lock);
	cancel_work_sync(&v->work);
}

/*
 * verify: 0 or 1, root's, at any time; it flips the static key. A check
 * already under way finishes.
 */
static int hmm_core_verify_set(const char *val, const struct kernel_param *kp)
{
	bool on;
	int ret;

	ret = kstrtobool(val, &on);
	if (ret)
		return ret;
	if (on)
		static_branch_enable(&hmm_core_verify_key);
	else
		static_branch_disable(&hmm_core_verify_key);
	return 0;
}

static int hmm_core_verify_get(char *buf, const struct kernel_param *kp)
{
	return sysfs_emit(buf, "%d\n",
			  static_key_enabled(&hmm_core_verify_key) ? 1 : 0);
}

static const struct kernel_param_ops hmm_core_verify_ops = {
	.set = hmm_core_verify_set,
	.get = hmm_core_verify_get,
};
module_param_cb(verify, &hmm_core_verify_ops, NULL, 0644);
MODULE_PARM_DESC(verify,
		 "coherence verifier: 1 checks every driver with report_entries, 0 off (default)");

static int hmm_core_verify_sample_set(const char *val,
				      const struct kernel_param *kp)
{
	unsigned int n;
	int ret;

	ret = kstrtouint(val, 0, &n);
	if (ret)
		return ret;
	if (!n || n > HMM_CORE_VERIFY_SAMPLE_MAX)
		return -EINVAL;
	WRITE_ONCE(verify_sample, n);
	return 0;
}

static const struct kernel_param_ops hmm_core_verify_sample_ops = {
	.set = hmm_core_verify_sample_set,
	.get = param_get_uint,
};
module_param_cb(verify_sample, &hmm_core_verify_sample_ops, &verify_sample,
		0644);
MODULE_PARM_DESC(verify_sample,
		 "coherence verifier: check 1 commit in N (1-1000000, default 1)");

/* The counters, read-only: writing one fails. */
static int hmm_core_verify_ro_set(const char *val,
				  const struct kernel_param *kp)
{
	return -EPERM;
}

static int hmm_core_verify_count_get(char *buf, const struct kernel_param *kp)
{
	return sysfs_emit(buf, "%ld\n", atomic_long_read(kp->arg));
}

static const struct kernel_param_ops hmm_core_verify_count_ops = {
	.set = hmm_core_verify_ro_set,
	.get = hmm_core_verify_count_get,
};
module_param_cb(verify_violations, &hmm_core_verify_count_ops,
		&hmm_core_verify_nr_violations, 0444);
MODULE_PARM_DESC(verify_violations,
		 "coherence verifier: violations found (read-only)");
module_param_cb(verify_checks, &hmm_core_verify_count_ops,
		&hmm_core_verify_nr_checks, 0444);
MODULE_PARM_DESC(verify_checks,
		 "coherence verifier: checks made, after invalidations and commits (read-only)");
module_param_cb(verify_dropped, &hmm_core_verify_count_ops,
		&hmm_core_verify_nr_dropped, 0444);
MODULE_PARM_DESC(verify_dropped,
		 "coherence verifier: commits not checked (an invalidation raced, no room, the mm gone) (read-only)");
