// SPDX-License-Identifier: GPL-2.0
/*
 * hmm_core - mirror a process address space into device page tables
 *
 * Two kernel mechanisms carry a mirror, and hmm_core adds the bookkeeping
 * drivers need between them:
 *
 * - Each mirror is one of the kernel's interval subscriptions
 *   (&struct mmu_interval_notifier) over the range it mirrors. The kernel
 *   keeps them in a per-mm interval tree, so an invalidation costs
 *   O(log n + k) for n mirrors of which k overlap it, and it carries the
 *   odd/even invalidate_seq that the populate protocol reads. The kernel's
 *   removal of a subscription returns only once no invalidation callback is
 *   running on it.
 *
 * - Each mm with mirrors has one &struct hmm_mirror_mm, a classic mmu
 *   notifier found and counted by mmu_notifier_get()/mmu_notifier_put() (one
 *   user per mirror). It hears the mm's release and lists the mm's mirrors.
 *   Being on the mm's list of classic notifiers is not free: the kernel
 *   walks that list inside an SRCU read section on every invalidation of
 *   the mm, whether or not the notifier has an invalidate callback.
 *
 * Two-pass mirrors (->invalidate_start()/->invalidate_finish()): where the
 * kernel has two-pass interval notifiers (7.1+), it calls both passes
 * (twopass_kernel.c). Before that (twopass_hlist.c), the kernel calls every
 * interval subscription and then, in the same call and before the CPU page
 * table changes, the classic notifiers: hmm_mirror_mm's
 * invalidate_range_start runs the second passes queued by the first ones of
 * that very invalidation. With nothing queued it reads one list head.
 *
 * The invalidation path therefore takes no lock of hmm_core's own but when
 * a two-pass mirror queues its second pass (a per-mm spinlock, twice): the
 * driver's callback, the sequence store and two per-cpu counters are all it
 * does, with the mirror's own per-cpu counters (hmm_core_nl.c). The
 * callback is timed on every call, for those counters: two reads of the
 * kernel's monotonic clock (ktime_get_ns(): with the TSC, an rdtsc and a
 * read of the timekeeper's sequence count, no store to shared memory;
 * about 20 ns each on current x86). Its trace events (hmm_core_trace.h)
 * are static keys: off, they cost a patched-out jump; its netlink event is
 * built only while the family's events group has a listener.
 */

#include <linux/hmm.h>
#include <linux/jiffies.h>
#include <linux/kallsyms.h>
#include <linux/minmax.h>
#include <linux/mm.h>
#include <linux/mmu_notifier.h>
#include <linux/module.h>
#include <linux/percpu.h>
#include <linux/pid.h>
#include <linux/sched.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/string.h>
#include <linux/timekeeping.h>
#include <linux/wait_bit.h>

#include <hmm_mirror.h>
#include "hmm_core_internal.h"

#define CREATE_TRACE_POINTS
#include "hmm_core_trace.h"

/**
 * struct hmm_mirror_mm - hmm_core's state for one mm, shared by its mirrors
 * @notifier: the one classic mmu notifier hmm_core keeps on the mm; its
 *	users count (the kernel's) is the number of mirrors, and the last
 *	mmu_notifier_put() frees this object after an SRCU grace period
 * @releasing: the mirror whose ->release() is running now, or NULL
 * @lock: the lock of the lists (what it protects: at the member)
 * @nr_mirrors: mirrors registered on the mm
 * @mirrors: mirrors whose ->release() has not run
 * @released: mirrors whose ->release() ran or is running
 * @release_task: the task running ->release() callbacks, or NULL
 * @nl: the mm's id in the netlink family (hmm_core_nl.c's, under its lock)
 * @retired: the counters of the mm's mirrors unregistered so far, folded
 *	in by hmm_mirror_unregister()
 * @pending: second passes queued by first passes of invalidations in
 *	flight, where hmm_core calls them itself (twopass_hlist.c)
 *
 * The layout keeps what the kernel reads on every invalidation (the
 * notifier's list linkage and ops) on the first cache line, and what
 * registration writes together (@lock, @nr_mirrors, the lists) on the
 * second; pahole shows no hole (make lint checks it).
 *
 * Its per-mm counters cost the invalidation path nothing: they are the
 * sums of its mirrors' own per-cpu ones (hmm_core_mm_read()), and of
 * @retired for those gone.
 *
 * The lists are only ever walked and changed under @lock; ->release() is
 * called with @lock dropped and the mirror pinned by @releasing, which
 * hmm_mirror_unregister() waits out (except from inside that very callback).
 */
struct hmm_mirror_mm {
	struct mmu_notifier notifier;
	struct hmm_mirror *releasing;
	/* Cache line 1: what registration and unregistration write. */
	spinlock_t lock; /* protects the fields below but @nl, and @releasing */
	unsigned int nr_mirrors;
	struct list_head mirrors;
	struct list_head released;
	struct task_struct *release_task;
	struct hmm_core_mm_nl nl;
	struct hmm_core_counters retired;
	/* The queued second passes (twopass_hlist.c only). */
	struct hmm_core_pending pending;
};

/* Counters of the invalidation path: per cpu, so no atomic is shared. */
static DEFINE_PER_CPU(struct hmm_core_counters, hmm_core_counters);

/* Counters of the slow paths. */
static atomic_long_t hmm_core_nr_mms = ATOMIC_LONG_INIT(0);
static atomic_long_t hmm_core_nr_mirrors = ATOMIC_LONG_INIT(0);

static inline struct hmm_mirror_mm *to_mirror_mm(struct mmu_notifier *mn)
{
	return container_of(mn, struct hmm_mirror_mm, notifier);
}

struct hmm_core_pending *hmm_core_mm_pending(struct mmu_notifier *mn)
{
	return &to_mirror_mm(mn)->pending;
}

struct hmm_core_pending *hmm_core_mirror_pending(struct hmm_mirror *mirror)
{
	return &mirror->mirror_mm->pending;
}

static inline unsigned long hmm_mirror_start(const struct hmm_mirror *mirror)
{
	return mirror->interval.interval_tree.start;
}

static inline unsigned long hmm_mirror_end(const struct hmm_mirror *mirror)
{
	return mirror->interval.interval_tree.last + 1;
}

/* The kallsyms buffer of hmm_core_driver_name(). */
static DEFINE_SPINLOCK(hmm_core_ksym_lock);
static char hmm_core_ksym[KSYM_SYMBOL_LEN]; /* protected by hmm_core_ksym_lock */

/*
 * The name of the module @ops->sync_cpu_device_pagetables() is in, or
 * "vmlinux" for code built into the kernel, into @name (MODULE_NAME_LEN
 * bytes): once per mirror, at register, for its trace events. Modules cannot
 * look a module up by address otherwise (__module_address() is not
 * exported). The buffer is static: KSYM_SYMBOL_LEN is too large for the
 * stack of a caller that may be deep in a driver.
 */
static void hmm_core_driver_name(const struct hmm_mirror_ops *ops, char *name)
{
	unsigned long fn = ops->sync_cpu_device_pagetables ?
		(unsigned long)ops->sync_cpu_device_pagetables :
		(unsigned long)ops->invalidate_start;
	const char *mod;
	size_t len;

	spin_lock(&hmm_core_ksym_lock);
	sprint_symbol_no_offset(hmm_core_ksym, fn);
	/* "symbol [module]", or "symbol" for the kernel's own code. */
	mod = strrchr(hmm_core_ksym, '[');
	if (mod) {
		mod++;
		len = min_t(size_t, strcspn(mod, " ]"), MODULE_NAME_LEN - 1);
		memcpy(name, mod, len);
		name[len] = '\0';
	} else {
		strscpy(name, "vmlinux", MODULE_NAME_LEN);
	}
	spin_unlock(&hmm_core_ksym_lock);
}

/*
 * The first (or only) pass of one mirror, called by the kernel under its
 * interval-tree protection for every invalidation overlapping the mirror.
 * The sequence is set before the driver clears its entries: a populate that
 * committed before the driver's lock was taken here is cleared by the
 * driver; one that commits after sees the new sequence (the driver's lock
 * orders the two) and retries. With @finish, the mirror is a two-pass one
 * and its first pass may leave its second pass in *@finish.
 */
bool hmm_core_invalidate(struct hmm_mirror *mirror,
			 const struct mmu_notifier_range *range,
			 unsigned long cur_seq, struct hmm_mirror_finish **finish)
{
	const struct hmm_mirror_ops *ops = mirror->ops;
	struct hmm_update update = {
		.start = max(range->start, hmm_mirror_start(mirror)),
		.end = min(range->end, hmm_mirror_end(mirror)),
		.event = range->event,
		.blockable = mmu_notifier_range_blockable(range),
	};
	u64 t0, ns;
	int ret;

	mmu_interval_set_seq(&mirror->interval, cur_seq);
	this_cpu_inc(hmm_core_counters.invalidations[hmm_core_event_index(update.event)]);
	t0 = ktime_get_ns();
	if (ops->invalidate_start)
		ret = ops->invalidate_start(mirror, &update, finish);
	else
		ret = ops->sync_cpu_device_pagetables(mirror, &update);
	ns = ktime_get_ns() - t0;
	hmm_core_nl_invalidated(mirror, &update, ns, ret);
	trace_hmm_core_invalidate(mirror, &update, ns, ret);
	if (*finish) {
		(*finish)->mirror = mirror;
		(*finish)->update = update;
		/* A failed first pass leaves no second one: finish it here. */
		if (WARN_ON_ONCE(ret)) {
			hmm_core_finish(*finish);
			*finish = NULL;
		}
	}
	if (hmm_core_verify_enabled() && !ret && !*finish)
		hmm_core_verify_invalidated(mirror, &update);
	if (likely(!ret))
		return true;

	/* Only a non-blocking invalidation may fail, and only with -EAGAIN. */
	WARN_ONCE(update.blockable || ret != -EAGAIN,
		  "hmm_core: %ps returned %d on a %s invalidation\n",
		  ops->invalidate_start ? (void *)ops->invalidate_start :
		  (void *)ops->sync_cpu_device_pagetables,
		  ret, update.blockable ? "blockable" : "non-blocking");
	this_cpu_inc(hmm_core_counters.nonblock_failures);
	return update.blockable;
}

/* The second pass of a two-pass mirror: @finish is the driver's again. */
void hmm_core_finish(struct hmm_mirror_finish *finish)
{
	struct hmm_mirror *mirror = finish->mirror;
	/* For the verifier's check: @finish is the driver's again after. */
	struct hmm_update update = finish->update;
	u64 t0 = ktime_get_ns();

	mirror->ops->invalidate_finish(mirror, finish);
	/* @finish may be gone: only @mirror, registered until we return. */
	hmm_core_nl_finished(mirror, ktime_get_ns() - t0);
	if (hmm_core_verify_enabled())
		hmm_core_verify_invalidated(mirror, &update);
}

/*
 * ->release(), timed for the trace event while it is on. The callback may
 * unregister and free @mirror: what the event shows is read before.
 */
static void hmm_mirror_release_one(struct hmm_mirror *mirror)
{
	const struct hmm_mirror_ops *ops = mirror->ops;
	unsigned long start = hmm_mirror_start(mirror);
	unsigned long end = hmm_mirror_end(mirror);
	bool traced = trace_hmm_core_release_enabled();
	char driver[MODULE_NAME_LEN];
	u64 t0 = 0;

	if (traced) {
		memcpy(driver, mirror->driver, sizeof(driver));
		t0 = ktime_get_ns();
	}
	hmm_core_nl_release(mirror);
	if (ops->release)
		ops->release(mirror);
	if (traced)
		trace_hmm_core_release(mirror, driver, start, end,
				       ops->release ? ktime_get_ns() - t0 : 0);
}

/*
 * The mm's last user is gone: exit_mmap() is about to tear the address space
 * down. Each mirror's ->release() runs once, with no lock held, so that it
 * may sleep and may unregister its own mirror.
 */
static void hmm_mirror_mm_release(struct mmu_notifier *mn, struct mm_struct *mm)
{
	struct hmm_mirror_mm *mirror_mm = to_mirror_mm(mn);
	struct hmm_mirror *mirror;

	spin_lock(&mirror_mm->lock);
	mirror_mm->release_task = current;
	while ((mirror = list_first_entry_or_null(&mirror_mm->mirrors,
						  struct hmm_mirror, mm_list))) {
		list_move_tail(&mirror->mm_list, &mirror_mm->released);
		mirror_mm->releasing = mirror;
		spin_unlock(&mirror_mm->lock);

		hmm_mirror_release_one(mirror);

		spin_lock(&mirror_mm->lock);
		mirror_mm->releasing = NULL;
		spin_unlock(&mirror_mm->lock);
		/* Order the store above before the waiter check in wake_up_var(). */
		smp_mb();
		wake_up_var(&mirror_mm->releasing);
		spin_lock(&mirror_mm->lock);
	}
	mirror_mm->release_task = NULL;
	spin_unlock(&mirror_mm->lock);
}

/*
 * The mm's release: the second passes still queued first (twopass_hlist.c),
 * while their mirrors are sure to be registered, then ->release().
 */
static void hmm_mirror_mm_release_all(struct mmu_notifier *mn,
				      struct mm_struct *mm)
{
	hmm_core_pending_release(&to_mirror_mm(mn)->pending);
	hmm_mirror_mm_release(mn, mm);
}

static struct mmu_notifier *hmm_mirror_mm_alloc(struct mm_struct *mm)
{
	struct hmm_mirror_mm *mirror_mm;

	/* Charged to the first registering task's memory cgroup. */
	mirror_mm = kzalloc(sizeof(*mirror_mm), GFP_KERNEL_ACCOUNT);
	if (!mirror_mm)
		return ERR_PTR(-ENOMEM);
	spin_lock_init(&mirror_mm->lock);
	INIT_LIST_HEAD(&mirror_mm->mirrors);
	INIT_LIST_HEAD(&mirror_mm->released);
	hmm_core_pending_init(&mirror_mm->pending);
	atomic_long_inc(&hmm_core_nr_mms);
	return &mirror_mm->notifier;
}

/* Runs from an SRCU callback after the last mmu_notifier_put(). */
static void hmm_mirror_mm_free(struct mmu_notifier *mn)
{
	struct hmm_mirror_mm *mirror_mm = to_mirror_mm(mn);

	WARN_ON(mirror_mm->nr_mirrors);
	/* A second pass queued and never called: the device may still map. */
	WARN_ON(!list_empty(&mirror_mm->pending.list));
	atomic_long_dec(&hmm_core_nr_mms);
	kfree(mirror_mm);
}

static const struct mmu_notifier_ops hmm_mirror_mm_ops = {
	HMM_CORE_MM_OPS_TWOPASS
	.release = hmm_mirror_mm_release_all,
	.alloc_notifier = hmm_mirror_mm_alloc,
	.free_notifier = hmm_mirror_mm_free,
};

struct hmm_core_mm_nl *hmm_core_mm_nl(struct hmm_mirror_mm *mirror_mm)
{
	return &mirror_mm->nl;
}

/* Add @mirror's per-cpu counters, summed, to @sum. */
static void hmm_core_mm_add_counters(struct hmm_core_counters *sum,
				     const struct hmm_mirror *mirror)
{
	struct hmm_mirror_pcpu m;
	unsigned int i;

	hmm_core_mirror_sum(mirror, &m);
	for (i = 0; i < HMM_MIRROR_NR_EVENTS; i++)
		sum->invalidations[i] += m.invalidations[i];
	sum->retries += m.retries;
	sum->nonblock_failures += m.nonblock_failures;
}

/*
 * Add one mirror of the mm to @stats, and its owner if not there yet (a
 * reference taken): false if it has more owners than @stats can hold.
 */
static bool hmm_core_mm_read_one(struct hmm_core_mm_stats *stats,
				 const struct hmm_mirror *mirror)
{
	unsigned int i;

	hmm_core_mm_add_counters(&stats->counters, mirror);
	for (i = 0; i < stats->nr_owners; i++)
		if (stats->owners[i] == mirror->owner)
			return true;
	if (stats->nr_owners == HMM_CORE_MM_MAX_OWNERS)
		return false;
	stats->owners[stats->nr_owners++] = get_pid(mirror->owner);
	return true;
}

/**
 * hmm_core_mm_read() - an mm's counters, if the caller may see them
 * @mirror_mm: an mm in hmm_core_nl.c's registry (it keeps it alive)
 * @admin: the caller has CAP_SYS_ADMIN
 * @stats: filled with the mm's counters, its mirrors and their owners
 *
 * The caller (current) sees an mm only if it may see every mirror on it
 * (hmm_mirror_owner_visible() of each owner, checked with no lock held):
 * the counts are those of all of them. An mm whose mirrors have more than
 * %HMM_CORE_MM_MAX_OWNERS owners is shown to @admin only, the first
 * owners listed. Every mirror on the mm's lists has its counters and
 * owner: they are set before it is listed, and dropped after it is not.
 *
 * Context: Process context; takes @mirror_mm's lock.
 * Return: true if the caller may see the mm and @stats is filled.
 */
bool hmm_core_mm_read(struct hmm_mirror_mm *mirror_mm, bool admin,
		      struct hmm_core_mm_stats *stats)
{
	struct list_head *lists[] = { &mirror_mm->mirrors, &mirror_mm->released };
	struct hmm_mirror *mirror;
	bool all = true, ok;
	unsigned int i;

	memset(stats, 0, sizeof(*stats));
	spin_lock(&mirror_mm->lock);
	stats->counters = mirror_mm->retired;
	stats->nr_mirrors = mirror_mm->nr_mirrors;
	for (i = 0; i < ARRAY_SIZE(lists); i++)
		list_for_each_entry(mirror, lists[i], mm_list)
			all &= hmm_core_mm_read_one(stats, mirror);
	spin_unlock(&mirror_mm->lock);

	ok = stats->nr_mirrors && (all || admin);
	for (i = 0; i < stats->nr_owners; i++) {
		ok = ok && hmm_mirror_owner_visible(stats->owners[i], admin,
						    &stats->tgids[i]);
		put_pid(stats->owners[i]);
		stats->owners[i] = NULL;
	}
	return ok;
}

/**
 * hmm_mirror_register_range() - mirror part of an mm's address space
 * @mirror: the driver's mirror, with ->ops set; not registered
 * @mm: the mm to mirror
 * @start: first virtual address to mirror, page aligned
 * @end: first virtual address past the mirrored range, page aligned
 *
 * From the moment this returns 0, ->sync_cpu_device_pagetables() is called
 * for every change of @mm's CPU page table that overlaps [@start, @end), and
 * ->release() once when @mm's address space is torn down. The caller must
 * hold a reference on @mm's users (current->mm, or mmget()) for the call.
 *
 * Context: Process context. Takes @mm's mmap_lock for writing, so the caller
 * must hold neither it nor any lock ->sync_cpu_device_pagetables() takes.
 * Return: 0 on success; -EINVAL if @mirror has no ops (neither
 * ->sync_cpu_device_pagetables() nor the pair of passes, or only one of the
 * pair) or the range is empty,
 * not page aligned or beyond @mm's address space; -ENOMEM if memory ran out.
 */
int hmm_mirror_register_range(struct hmm_mirror *mirror, struct mm_struct *mm,
			      unsigned long start, unsigned long end)
{
	const struct hmm_mirror_ops *ops = mirror->ops;
	struct hmm_mirror_mm *mirror_mm;
	struct mmu_notifier *mn;
	int ret;

	if (!ops || !ops->invalidate_start != !ops->invalidate_finish ||
	    (!ops->sync_cpu_device_pagetables && !ops->invalidate_start))
		return -EINVAL;
	hmm_core_driver_name(ops, mirror->driver);
	if (start >= end || !PAGE_ALIGNED(start) || !PAGE_ALIGNED(end) ||
	    end > mm->task_size) {
		ret = -EINVAL;
		goto out;
	}

	hmm_core_verify_init(mirror);
	mn = mmu_notifier_get(&hmm_mirror_mm_ops, mm);
	if (IS_ERR(mn)) {
		ret = PTR_ERR(mn);
		goto out;
	}
	mirror_mm = to_mirror_mm(mn);

	/* Its counters exist before the first callback can come. */
	ret = hmm_core_nl_mirror_add(mirror, mirror_mm);
	if (ret) {
		mmu_notifier_put(mn);
		goto out;
	}
	ret = mmu_interval_notifier_insert(&mirror->interval, mm, start,
					   end - start,
					   hmm_core_interval_ops(ops));
	if (ret) {
		hmm_core_nl_mirror_abort(mirror, mirror_mm);
		mmu_notifier_put(mn);
		goto out;
	}

	mirror->mirror_mm = mirror_mm;
	spin_lock(&mirror_mm->lock);
	list_add_tail(&mirror->mm_list, &mirror_mm->mirrors);
	mirror_mm->nr_mirrors++;
	spin_unlock(&mirror_mm->lock);
	atomic_long_inc(&hmm_core_nr_mirrors);
	hmm_core_nl_mirror_publish(mirror);
out:
	trace_hmm_core_register(mirror, start, end, ret);
	return ret;
}
EXPORT_SYMBOL_NS_GPL(hmm_mirror_register_range, HMM_MIRROR_NS);

/**
 * hmm_mirror_register() - mirror an mm's whole address space
 * @mirror: the driver's mirror, with ->ops set; not registered
 * @mm: the mm to mirror
 *
 * hmm_mirror_register_range() over all of @mm's user address space.
 *
 * Context: Process context; see hmm_mirror_register_range().
 * Return: as hmm_mirror_register_range().
 */
int hmm_mirror_register(struct hmm_mirror *mirror, struct mm_struct *mm)
{
	return hmm_mirror_register_range(mirror, mm, 0, mm->task_size);
}
EXPORT_SYMBOL_NS_GPL(hmm_mirror_register, HMM_MIRROR_NS);

/**
 * hmm_mirror_unregister() - stop mirroring
 * @mirror: a registered mirror
 *
 * Returns only when no callback can still be running on @mirror and none
 * will be called again: the driver may free @mirror right after. Works on a
 * mirror whose mm is already gone, and from inside @mirror's own ->release().
 *
 * Context: Process context; may sleep. Must not be called from
 * ->sync_cpu_device_pagetables(), nor with any lock held that
 * ->sync_cpu_device_pagetables() or ->release() takes: it waits for them.
 * Calling it on a mirror that is not registered is a bug: it warns once
 * and does nothing.
 */
void hmm_mirror_unregister(struct hmm_mirror *mirror)
{
	struct hmm_mirror_mm *mirror_mm = mirror->mirror_mm;
	unsigned long start, end;

	might_sleep();
	/* Never registered, or unregistered already: a driver bug. */
	if (WARN_ON_ONCE(!mirror_mm))
		return;
	hmm_core_verify_stop(mirror);
	start = hmm_mirror_start(mirror);
	end = hmm_mirror_end(mirror);

	/* No invalidation callback is running or will run once it returns. */
	mmu_interval_notifier_remove(&mirror->interval);

	spin_lock(&mirror_mm->lock);
	while (mirror_mm->releasing == mirror &&
	       mirror_mm->release_task != current) {
		spin_unlock(&mirror_mm->lock);
		wait_var_event(&mirror_mm->releasing,
			       READ_ONCE(mirror_mm->releasing) != mirror);
		spin_lock(&mirror_mm->lock);
	}
	list_del(&mirror->mm_list);
	mirror_mm->nr_mirrors--;
	/* No callback runs any more: its counts are final. */
	hmm_core_mm_add_counters(&mirror_mm->retired, mirror);
	spin_unlock(&mirror_mm->lock);

	atomic_long_dec(&hmm_core_nr_mirrors);
	hmm_core_nl_mirror_del(mirror);
	mirror->mirror_mm = NULL;
	mmu_notifier_put(&mirror_mm->notifier);
	trace_hmm_core_unregister(mirror, start, end);
}
EXPORT_SYMBOL_NS_GPL(hmm_mirror_unregister, HMM_MIRROR_NS);

static int hmm_mirror_range_check(struct hmm_mirror *mirror,
				  const struct hmm_mirror_range *range)
{
	if (range->start >= range->end || !PAGE_ALIGNED(range->start) ||
	    !PAGE_ALIGNED(range->end) ||
	    range->start < hmm_mirror_start(mirror) ||
	    range->end > hmm_mirror_end(mirror) ||
	    (range->end - range->start) >> PAGE_SHIFT >
	    HMM_MIRROR_RANGE_MAX_PAGES)
		return -EINVAL;
	return 0;
}

static int hmm_mirror_range_read(struct hmm_mirror *mirror,
				 struct hmm_mirror_range *range, bool fault)
{
	struct mm_struct *mm = hmm_mirror_mm(mirror);
	int ret;

	ret = hmm_mirror_range_check(mirror, range);
	if (ret)
		return ret;
	/*
	 * The first read of a range starts its deadline; a later one is a
	 * retry, which the deadline may refuse.
	 */
	if (!range->timeout)
		range->timeout = hmm_core_range_deadline();
	else if (time_after(jiffies, range->timeout))
		return -EBUSY;
	/* The address space is gone: nothing to fault or to see. */
	if (!mmget_not_zero(mm))
		return -EFAULT;
	ret = hmm_core_read_cpu_pt(mirror, range, fault);
	mmput(mm);
	return ret;
}

/* A read of a range, with its trace event. */
static int hmm_mirror_range_read_traced(struct hmm_mirror *mirror,
					struct hmm_mirror_range *range,
					bool fault)
{
	int ret = hmm_mirror_range_read(mirror, range, fault);

	if (fault)
		trace_hmm_core_range_fault(mirror, range, ret);
	else
		trace_hmm_core_range_snapshot(mirror, range, ret);
	return ret;
}

/**
 * hmm_mirror_range_fault() - fault a range of CPU pages in for the device
 * @mirror: the registered mirror the range lies in
 * @range: @start and @end inside the mirror, at most
 *	%HMM_MIRROR_RANGE_MAX_PAGES pages; @write to fault for writing
 *
 * Faults in every page of the range as a CPU access would (for writing if
 * @range->write: copy-on-write is broken), then fills @range->entries with
 * each page's pfn, permission and map order, and records the sequence for
 * hmm_mirror_range_retry(). No page reference is kept: the entries stay
 * valid until the next invalidation of the mirror, which the driver hears.
 *
 * Context: Process context; may sleep. Takes the mm's mmap_lock for reading:
 * the caller must not hold it, nor any lock ->sync_cpu_device_pagetables()
 * takes.
 * Return: 0 on success; -EINVAL for a bad range; -EFAULT if a page is
 * unmapped, not readable, or of a kind no device can map (VM_IO, VM_PFNMAP),
 * or missing in a userfaultfd-armed vma (it cannot be faulted from here), or
 * the mm is gone; -EPERM if @write and a page is mapped read-only;
 * -ENOMEM if memory ran out; -EBUSY if invalidations kept sending the reads
 * of the range back until its deadline (@range->timeout, started by its first
 * read); -EINTR on a fatal signal.
 */
int hmm_mirror_range_fault(struct hmm_mirror *mirror,
			   struct hmm_mirror_range *range)
{
	return hmm_mirror_range_read_traced(mirror, range, true);
}
EXPORT_SYMBOL_NS_GPL(hmm_mirror_range_fault, HMM_MIRROR_NS);

/**
 * hmm_mirror_range_snapshot() - read a range of the CPU page table as it is
 * @mirror: the registered mirror the range lies in
 * @range: @start and @end inside the mirror, at most
 *	%HMM_MIRROR_RANGE_MAX_PAGES pages
 *
 * Like hmm_mirror_range_fault() but faults nothing: a page the CPU does not
 * map now gets an entry with neither %HMM_MIRROR_ENTRY_VALID nor
 * %HMM_MIRROR_ENTRY_ERROR set, and a page no device can map (no vma, no read
 * permission, VM_IO, VM_PFNMAP) gets %HMM_MIRROR_ENTRY_ERROR.
 *
 * Context: Process context; may sleep; see hmm_mirror_range_fault().
 * Return: 0 on success; -EINVAL for a bad range; -EFAULT if the mm is gone;
 * -ENOMEM, -EBUSY or -EINTR as hmm_mirror_range_fault().
 */
int hmm_mirror_range_snapshot(struct hmm_mirror *mirror,
			      struct hmm_mirror_range *range)
{
	return hmm_mirror_range_read_traced(mirror, range, false);
}
EXPORT_SYMBOL_NS_GPL(hmm_mirror_range_snapshot, HMM_MIRROR_NS);

/**
 * hmm_mirror_range_retry() - did an invalidation overlap the mirror since?
 * @mirror: the mirror the range was read for
 * @range: a range filled by hmm_mirror_range_fault() or _snapshot()
 *
 * Call with the lock ->sync_cpu_device_pagetables() takes held. The sequence
 * is the kernel's per-mm interval invalidate_seq (an unsigned long, odd while
 * an invalidation is in flight, advanced by two per invalidation); it is only
 * compared for equality, never ordered, so wrap-around could hide an
 * invalidation only if exactly 2^(BITS_PER_LONG - 1) invalidations ran
 * between the read and this check: on 64 bits, centuries at a billion a
 * second. The KUnit suite checks the equality-only comparison across a wrap.
 *
 * Context: Any context, with the driver's page-table lock held.
 * Return: true if the entries may be stale: drop the lock and read again;
 * false if they may be committed before the lock is dropped.
 */
bool hmm_mirror_range_retry(struct hmm_mirror *mirror,
			    const struct hmm_mirror_range *range)
{
	if (!mmu_interval_read_retry(&mirror->interval, range->seq)) {
		if (hmm_core_verify_enabled())
			hmm_core_verify_commit(mirror, range);
		return false;
	}
	this_cpu_inc(hmm_core_counters.retries);
	this_cpu_inc(mirror->counters->retries);
	trace_hmm_core_retry(mirror, range, true);
	return true;
}
EXPORT_SYMBOL_NS_GPL(hmm_mirror_range_retry, HMM_MIRROR_NS);

/**
 * hmm_mirror_report_invalidated() - count the device entries a callback cleared
 * @mirror: the mirror whose invalidation callback is running
 * @npages: the device entries it cleared in this call, in pages (a huge
 *	entry counts every page it maps); 0 if it found none
 *
 * Optional. hmm_core cannot see a device page table, so it counts the
 * pages a driver's invalidations actually cleared only if the driver says:
 * it calls this from ->sync_cpu_device_pagetables(), or from either pass
 * of a two-pass mirror, with what that call cleared. hmm_core's netlink
 * family shows the sum as the mirror's pages-invalidated, from the first
 * call on (a mirror of a driver that never calls it has no such count).
 * It adds to this CPU's counters of @mirror only: no lock, no shared
 * atomic, nothing that sleeps.
 *
 * Context: Any context, @mirror registered (its callbacks are).
 */
void hmm_mirror_report_invalidated(struct hmm_mirror *mirror,
				   unsigned long npages)
{
	struct hmm_mirror_pcpu *c = get_cpu_ptr(mirror->counters);

	c->pages_invalidated += npages;
	c->page_reports++;
	put_cpu_ptr(mirror->counters);
}
EXPORT_SYMBOL_NS_GPL(hmm_mirror_report_invalidated, HMM_MIRROR_NS);

/**
 * hmm_mirror_read_stats() - hmm_core's global counters
 * @stats: filled with the sums over all CPUs
 *
 * Context: Any context.
 */
void hmm_mirror_read_stats(struct hmm_mirror_stats *stats)
{
	int cpu, i;

	memset(stats, 0, sizeof(*stats));
	stats->nr_mms = atomic_long_read(&hmm_core_nr_mms);
	stats->nr_mirrors = atomic_long_read(&hmm_core_nr_mirrors);
	for_each_possible_cpu(cpu) {
		const struct hmm_core_counters *c =
			per_cpu_ptr(&hmm_core_counters, cpu);

		for (i = 0; i < HMM_MIRROR_NR_EVENTS; i++)
			stats->invalidations[i] += READ_ONCE(c->invalidations[i]);
		stats->nonblock_failures += READ_ONCE(c->nonblock_failures);
		stats->retries += READ_ONCE(c->retries);
	}
	stats->verify_violations = hmm_core_verify_violations();
}
EXPORT_SYMBOL_NS_GPL(hmm_mirror_read_stats, HMM_MIRROR_NS);

/*
 * The reader of CPU page tables this build uses (cpu_pt_hmm.c or
 * cpu_pt_gup.c), for people and tests:
 * /sys/module/hmm_core/parameters/backend, read-only. With "get_user_pages"
 * (a kernel that does not export hmm_range_fault(), or a build with
 * HMM_CORE_FORCE_GUP=1) no entry ever has an order above 0.
 */
static int hmm_core_backend_set(const char *val, const struct kernel_param *kp)
{
	return -EPERM;
}

static int hmm_core_backend_get(char *buf, const struct kernel_param *kp)
{
	return scnprintf(buf, PAGE_SIZE, "%s\n", hmm_core_backend());
}

static const struct kernel_param_ops hmm_core_backend_ops = {
	.set = hmm_core_backend_set,
	.get = hmm_core_backend_get,
};
module_param_cb(backend, &hmm_core_backend_ops, NULL, 0444);
MODULE_PARM_DESC(backend,
		 "CPU page-table reader: hmm_range_fault or get_user_pages (read-only)");

/* The netlink family last: what it shows must exist first. */
static int __init hmm_core_init(void)
{
	return hmm_core_nl_init();
}

static void __exit hmm_core_exit(void)
{
	hmm_core_nl_exit();
	/*
	 * Every mirror is unregistered (drivers hold a reference on this
	 * module), but the last mmu_notifier_put() frees its hmm_mirror_mm
	 * from an SRCU callback that runs our code: wait for those.
	 */
	mmu_notifier_synchronize();
}

module_init(hmm_core_init);
module_exit(hmm_core_exit);
MODULE_DESCRIPTION("Mirror process address spaces into device page tables");
MODULE_LICENSE("GPL");
