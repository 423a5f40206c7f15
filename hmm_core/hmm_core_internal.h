/* SPDX-License-Identifier: GPL-2.0 */
/* hmm_core's own declarations, shared by its files; not for drivers. */
#ifndef _HMM_CORE_INTERNAL_H
#define _HMM_CORE_INTERNAL_H

#include <linux/jiffies.h>
#include <linux/jump_label.h>
#include <linux/list.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <hmm_mirror.h>

/*
 * The second passes hmm_core calls itself (twopass_hlist.c), per mm: those
 * queued by the first passes of the invalidations in flight, each keyed by
 * its invalidation's range. Unused where the kernel calls them.
 */
struct hmm_core_pending {
	spinlock_t lock; /* protects @list and @dead */
	bool dead;
	struct list_head list;
};

static inline void hmm_core_pending_init(struct hmm_core_pending *pending)
{
	spin_lock_init(&pending->lock);
	INIT_LIST_HEAD(&pending->list);
}

/*
 * The deadline of a read of a range that starts now (see
 * &hmm_mirror_range.timeout): %HMM_MIRROR_RANGE_TIMEOUT_MS later, in
 * jiffies. 0 means "not started", so a deadline that lands on 0 is one
 * jiffy later.
 */
static inline unsigned long hmm_core_range_deadline(void)
{
	return (jiffies + msecs_to_jiffies(HMM_MIRROR_RANGE_TIMEOUT_MS)) ?: 1;
}

/* hmm_core.c: one mirror's passes, and the per-mm state */
bool hmm_core_invalidate(struct hmm_mirror *mirror,
			 const struct mmu_notifier_range *range,
			 unsigned long cur_seq, struct hmm_mirror_finish **finish);
void hmm_core_finish(struct hmm_mirror_finish *finish);
struct hmm_core_pending *hmm_core_mm_pending(struct mmu_notifier *mn);
struct hmm_core_pending *hmm_core_mirror_pending(struct hmm_mirror *mirror);

/*
 * twopass_kernel.c (7.1+: the kernel calls both passes) or twopass_hlist.c
 * (hmm_core's per-mm notifier calls the second ones), chosen by Kbuild: the
 * interval ops for a mirror with @ops, and what hmm_mirror_mm's notifier
 * adds to its ops.
 */
const struct mmu_interval_notifier_ops *
hmm_core_interval_ops(const struct hmm_mirror_ops *ops);
void hmm_core_pending_release(struct hmm_core_pending *pending);
#ifdef COMPAT_HAVE_INTERVAL_FINISH
#define HMM_CORE_MM_OPS_TWOPASS
#else
int hmm_core_mm_invalidate_start(struct mmu_notifier *mn,
				 const struct mmu_notifier_range *range);
#define HMM_CORE_MM_OPS_TWOPASS \
	.invalidate_range_start = hmm_core_mm_invalidate_start,
#endif

/**
 * struct hmm_core_counters - one CPU's counters of the invalidation path
 * @invalidations: invalidations delivered to a mirror, by event
 * @nonblock_failures: non-blocking invalidations a mirror failed
 * @retries: populates hmm_mirror_range_retry() sent back
 */
struct hmm_core_counters {
	u64 invalidations[HMM_MIRROR_NR_EVENTS];
	u64 nonblock_failures;
	u64 retries;
};

static inline unsigned int hmm_core_event_index(enum mmu_notifier_event event)
{
	return min_t(unsigned int, event, HMM_MIRROR_NR_EVENTS - 1);
}

/**
 * struct hmm_mirror_pcpu - one CPU's counters of one mirror
 * @invalidations: invalidations delivered to the mirror, by event
 * @retries: populates hmm_mirror_range_retry() sent back
 * @nonblock_failures: non-blocking invalidations the driver failed
 * @callbacks: invalidation callbacks timed (each pass counts)
 * @callback_ns: their total time, in nanoseconds
 * @callback_max_ns: the longest of them on this CPU, in nanoseconds
 * @pages_invalidated: device entries (pages) the driver reported cleared
 * @page_reports: hmm_mirror_report_invalidated() calls
 *
 * Allocated per mirror at register (alloc_percpu, charged to the
 * registering task's memory cgroup), written only by the CPU it belongs to
 * with preemption off, and summed over all CPUs by hmm_core_nl.c's dumps:
 * the invalidation path shares no cache line and takes no lock for them.
 */
struct hmm_mirror_pcpu {
	u64 invalidations[HMM_MIRROR_NR_EVENTS];
	u64 retries;
	u64 nonblock_failures;
	u64 callbacks;
	u64 callback_ns;
	u64 callback_max_ns;
	u64 pages_invalidated;
	u64 page_reports;
};

void hmm_core_mirror_sum(const struct hmm_mirror *mirror,
			 struct hmm_mirror_pcpu *sum);

struct hmm_mirror_mm;

/**
 * struct hmm_core_mm_nl - an mm in hmm_core_nl.c's registry of mms
 * @id: its id in the netlink family, from 1; 0 while it has none
 * @users: mirrors of the mm between hmm_core_nl_mirror_add() and
 *	hmm_core_nl_mirror_del() (or _abort()): the mm is listed while any
 *
 * Part of &struct hmm_mirror_mm; protected by hmm_core_nl_lock.
 */
struct hmm_core_mm_nl {
	u32 id;
	unsigned int users;
};

/* The owners mm-get lists, at most, per mm. */
#define HMM_CORE_MM_MAX_OWNERS	8

/**
 * struct hmm_core_mm_stats - what mm-get shows of one mm
 * @counters: the counters of every mirror of the mm, the unregistered ones
 *	included
 * @nr_mirrors: mirrors registered on the mm now
 * @nr_owners: entries of @owners and @tgids used
 * @owners: the distinct owners of the mm's mirrors, the first
 *	%HMM_CORE_MM_MAX_OWNERS; hmm_core_mm_read()'s own, NULL on return
 * @tgids: the tgid of each of @owners in the caller's pid namespace
 */
struct hmm_core_mm_stats {
	struct hmm_core_counters counters;
	unsigned int nr_mirrors;
	unsigned int nr_owners;
	struct pid *owners[HMM_CORE_MM_MAX_OWNERS];
	u32 tgids[HMM_CORE_MM_MAX_OWNERS];
};

/* hmm_core.c: an mm's part in the registry, and its counters */
struct hmm_core_mm_nl *hmm_core_mm_nl(struct hmm_mirror_mm *mirror_mm);
bool hmm_core_mm_read(struct hmm_mirror_mm *mirror_mm, bool admin,
		      struct hmm_core_mm_stats *stats);

/*
 * hmm_core_nl.c: the netlink family, and the registry of every mirror it
 * lists, and of the mms they are on. A mirror is added (its id reserved,
 * its counters and owner set, its mm listed) before the kernel may call
 * it, published once registered, aborted if registering failed, and
 * deleted once no callback can run on it.
 */
int hmm_core_nl_mirror_add(struct hmm_mirror *mirror,
			   struct hmm_mirror_mm *mirror_mm);
void hmm_core_nl_mirror_publish(struct hmm_mirror *mirror);
void hmm_core_nl_mirror_abort(struct hmm_mirror *mirror,
			      struct hmm_mirror_mm *mirror_mm);
void hmm_core_nl_mirror_del(struct hmm_mirror *mirror);
void hmm_core_nl_invalidated(struct hmm_mirror *mirror,
			     const struct hmm_update *update, u64 ns, int ret);
void hmm_core_nl_finished(struct hmm_mirror *mirror, u64 ns);
void hmm_core_nl_release(struct hmm_mirror *mirror);
int hmm_core_nl_init(void);
void hmm_core_nl_exit(void);

/* cpu_pt.c: what both readers of CPU page tables share */
unsigned long hmm_core_entry(unsigned long pfn, bool write, unsigned int order);
bool hmm_core_range_has_uffd(struct mm_struct *mm, unsigned long start,
			     unsigned long end);
bool hmm_core_range_complete(const struct hmm_mirror_range *range);

/*
 * The reader the build picked: cpu_pt_hmm.c, or cpu_pt_gup.c where the
 * kernel does not export hmm_range_fault(). hmm_core_backend names it.
 */
int hmm_core_read_cpu_pt(struct hmm_mirror *mirror,
			 struct hmm_mirror_range *range, bool fault);
const char *hmm_core_backend(void);

/*
 * verify.c: the coherence verifier, behind a static key that its
 * parameter "verify" switches: off, each hook below costs a patched-out
 * jump. The kinds of violation, for its trace event.
 */
enum hmm_core_verify_kind {
	HMM_CORE_VERIFY_LEFT,	/* an entry left after an invalidation */
	HMM_CORE_VERIFY_PFN,	/* not the pfn the CPU maps, or none */
	HMM_CORE_VERIFY_WRITE,	/* writable where the CPU's is not */
	HMM_CORE_VERIFY_ORDER,	/* mapped larger than the CPU maps it */
};

DECLARE_STATIC_KEY_FALSE(hmm_core_verify_key);

void hmm_core_nl_verify_violation(const struct hmm_mirror *mirror,
				  enum hmm_core_verify_kind kind,
				  unsigned long start, unsigned long end,
				  unsigned long addr);

static inline bool hmm_core_verify_enabled(void)
{
	return static_branch_unlikely(&hmm_core_verify_key);
}

void hmm_core_verify_init(struct hmm_mirror *mirror);
void hmm_core_verify_stop(struct hmm_mirror *mirror);
void hmm_core_verify_invalidated(struct hmm_mirror *mirror,
				 const struct hmm_update *update);
void hmm_core_verify_commit(struct hmm_mirror *mirror,
			    const struct hmm_mirror_range *range);
u64 hmm_core_verify_violations(void);

#endif /* _HMM_CORE_INTERNAL_H */
