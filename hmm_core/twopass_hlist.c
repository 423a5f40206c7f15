// SPDX-License-Identifier: GPL-2.0
/*
 * Two-pass mirrors on kernels without two-pass interval notifiers (before
 * 7.1). __mmu_notifier_invalidate_range_start() calls every overlapping
 * interval subscription (the first passes, here), and then, in the same
 * call and with the same &struct mmu_notifier_range, the mm's classic
 * notifiers, hmm_mirror_mm's among them, before the CPU page table changes:
 * that one runs the second passes queued by the first passes of this very
 * invalidation, found by their range's address. Concurrent invalidations of
 * the mm, on other CPUs, have their own range and their own objects; the
 * queue is under a spinlock, never held across a driver's callback.
 *
 * Where the classic notifiers might not follow, a second pass runs right
 * after its first one (single-pass): a non-blocking invalidation (the
 * kernel skips them when an interval callback fails, and the finish must
 * then not sleep anyway), the teardown of the mm (mn_itree_release() has
 * no classic invalidate after it), and every invalidation of an mm with no
 * users left: the kernel takes the classic notifiers off the mm at its
 * release, but the interval subscriptions stay, and exit_mmap() unmaps
 * after. The release itself runs the second passes still queued then (an
 * invalidation on another CPU, reclaim or migration, that queued before the
 * last user went and walks the classic notifiers after they were taken
 * off): none is lost, though that one may run after the page table
 * changed, in a dying mm.
 */

#include <linux/list.h>
#include <linux/mmu_notifier.h>
#include <linux/spinlock.h>

#include <hmm_mirror.h>
#include "hmm_core_internal.h"

static inline struct hmm_mirror *to_mirror(struct mmu_interval_notifier *sub)
{
	return container_of(sub, struct hmm_mirror, interval);
}

static bool hmm_core_invalidate_one(struct mmu_interval_notifier *sub,
				    const struct mmu_notifier_range *range,
				    unsigned long cur_seq)
{
	struct hmm_mirror *mirror = to_mirror(sub);
	struct hmm_mirror_finish *finish = NULL;
	struct hmm_core_pending *pending;
	bool ret, queued;

	ret = hmm_core_invalidate(mirror, range, cur_seq, &finish);
	if (!finish)
		return ret;
	if (!mmu_notifier_range_blockable(range) ||
	    range->event == MMU_NOTIFY_RELEASE) {
		hmm_core_finish(finish);
		return ret;
	}
	pending = hmm_core_mirror_pending(mirror);
	finish->link.range = range;
	spin_lock(&pending->lock);
	queued = !pending->dead && atomic_read(&range->mm->mm_users);
	if (queued)
		list_add_tail(&finish->link.node, &pending->list);
	spin_unlock(&pending->lock);
	if (!queued)
		hmm_core_finish(finish);
	return ret;
}

static const struct mmu_interval_notifier_ops hmm_core_interval_ops_hlist = {
	.invalidate = hmm_core_invalidate_one,
};

const struct mmu_interval_notifier_ops *
hmm_core_interval_ops(const struct hmm_mirror_ops *ops)
{
	return &hmm_core_interval_ops_hlist;
}

/* Run a list of second passes taken off the queue. */
static void hmm_core_finish_list(struct list_head *list)
{
	struct hmm_mirror_finish *finish, *next;

	list_for_each_entry_safe(finish, next, list, link.node) {
		list_del(&finish->link.node);
		hmm_core_finish(finish);
	}
}

/*
 * The mm's release (hmm_mirror_mm's ->release()): the kernel takes the
 * classic notifiers off the mm right after, so nothing is queued from now
 * on, and what is queued runs here.
 */
void hmm_core_pending_release(struct hmm_core_pending *pending)
{
	LIST_HEAD(left);

	spin_lock(&pending->lock);
	pending->dead = true;
	list_splice_init(&pending->list, &left);
	spin_unlock(&pending->lock);
	hmm_core_finish_list(&left);
}

/*
 * hmm_mirror_mm's invalidate_range_start: the second passes of this
 * invalidation's first passes. Its own first passes were queued by this very
 * task, earlier in this call, so the unlocked look at the list sees them;
 * an empty list is the common case and costs one load.
 */
int hmm_core_mm_invalidate_start(struct mmu_notifier *mn,
				 const struct mmu_notifier_range *range)
{
	struct hmm_core_pending *pending = hmm_core_mm_pending(mn);
	struct hmm_mirror_finish *finish, *next;
	LIST_HEAD(mine);

	if (likely(list_empty(&pending->list)))
		return 0;
	spin_lock(&pending->lock);
	list_for_each_entry_safe(finish, next, &pending->list, link.node)
		if (finish->link.range == range)
			list_move_tail(&finish->link.node, &mine);
	spin_unlock(&pending->lock);
	hmm_core_finish_list(&mine);
	return 0;
}
