// SPDX-License-Identifier: GPL-2.0
/*
 * Two-pass mirrors where the kernel has two-pass interval notifiers (7.1+):
 * the kernel calls every overlapping subscription's first pass, then every
 * second pass a first one returned, then changes the CPU page table. A
 * mirror's &struct hmm_mirror_finish embeds the kernel's object.
 */

#include <linux/mmu_notifier.h>

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
	struct hmm_mirror_finish *finish = NULL;

	return hmm_core_invalidate(to_mirror(sub), range, cur_seq, &finish);
}

static bool hmm_core_invalidate_start(struct mmu_interval_notifier *sub,
				      const struct mmu_notifier_range *range,
				      unsigned long cur_seq,
				      struct mmu_interval_notifier_finish **kfinish)
{
	struct hmm_mirror_finish *finish = NULL;
	bool ret;

	ret = hmm_core_invalidate(to_mirror(sub), range, cur_seq, &finish);
	if (finish)
		*kfinish = &finish->link.kernel;
	return ret;
}

static void hmm_core_invalidate_finish(struct mmu_interval_notifier_finish *kfinish)
{
	hmm_core_finish(container_of(kfinish, struct hmm_mirror_finish,
				     link.kernel));
}

static const struct mmu_interval_notifier_ops hmm_core_onepass_ops = {
	.invalidate = hmm_core_invalidate_one,
};

static const struct mmu_interval_notifier_ops hmm_core_twopass_ops = {
	.invalidate_start = hmm_core_invalidate_start,
	.invalidate_finish = hmm_core_invalidate_finish,
};

const struct mmu_interval_notifier_ops *
hmm_core_interval_ops(const struct hmm_mirror_ops *ops)
{
	return ops->invalidate_start ? &hmm_core_twopass_ops :
		&hmm_core_onepass_ops;
}

/* The kernel calls every second pass: hmm_core never queues one. */
void hmm_core_pending_release(struct hmm_core_pending *pending)
{
}
