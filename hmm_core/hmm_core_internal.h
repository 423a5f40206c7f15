/* SPDX-License-Identifier: GPL-2.0 */
/* hmm_core's own declarations, shared by its files; not for drivers. */
#ifndef _HMM_CORE_INTERNAL_H
#define _HMM_CORE_INTERNAL_H

#include <linux/types.h>
#include <hmm_mirror.h>

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

#endif /* _HMM_CORE_INTERNAL_H */
