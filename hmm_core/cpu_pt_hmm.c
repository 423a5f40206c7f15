// SPDX-License-Identifier: GPL-2.0
/*
 * Reading a range of a CPU page table for a mirror with hmm_range_fault(),
 * where the kernel exports it: a thin loop around it.
 */
#include <linux/hmm.h>
#include <linux/jiffies.h>
#include <linux/mm.h>
#include <linux/mmu_notifier.h>
#include <linux/string.h>

#include <hmm_mirror.h>
#include "hmm_core_internal.h"
#include "hmm_core_trace.h"

const char *hmm_core_backend(void)
{
	return "hmm_range_fault";
}

/*
 * @owner: the range's dev_private_owner. Only with one can hmm_range_fault()
 * return a device-private page, so only then is each page looked at.
 */
static unsigned long hmm_core_entry_from_hmm(unsigned long hmm_pfn,
					     const void *owner)
{
	unsigned long entry;

	if (hmm_pfn & HMM_PFN_ERROR)
		return HMM_MIRROR_ENTRY_ERROR;
	if (!(hmm_pfn & HMM_PFN_VALID))
		return 0;
	entry = hmm_core_entry(hmm_pfn & ~HMM_PFN_FLAGS,
			       hmm_pfn & HMM_PFN_WRITE,
			       hmm_pfn_to_map_order(hmm_pfn));
	if (owner && is_device_private_page(hmm_pfn_to_page(hmm_pfn)))
		entry |= HMM_MIRROR_ENTRY_DEVICE_PRIVATE;
	return entry;
}

int hmm_core_read_cpu_pt(struct hmm_mirror *mirror,
			 struct hmm_mirror_range *range, bool fault)
{
	struct mm_struct *mm = hmm_mirror_mm(mirror);
	struct hmm_range hrange = {
		.notifier = &mirror->interval,
		.start = range->start,
		.end = range->end,
		.hmm_pfns = range->entries,
		.dev_private_owner = range->dev_private_owner,
	};
	unsigned long i, npages = (range->end - range->start) >> PAGE_SHIFT;
	unsigned long req = 0;
	bool uffd = false;
	int ret;

	if (fault) {
		req = HMM_PFN_REQ_FAULT;
		if (range->write)
			req |= HMM_PFN_REQ_WRITE;
	}
	/*
	 * Newer kernels (the 7.x lines here: HMM_PFN_DMA_MAPPED and the P2P
	 * flags) carry some bits of each input entry into its output, and the
	 * driver's array may hold anything: start from zero, which means "no
	 * flag" to every kernel, so no probe is needed.
	 */
	memset(range->entries, 0, npages * sizeof(*range->entries));

	for (;;) {
		hrange.notifier_seq = mmu_interval_read_begin(&mirror->interval);
		ret = mmap_read_lock_killable(mm);
		if (ret)
			return ret;
		uffd = req && hmm_core_range_has_uffd(mm, range->start,
						       range->end);
		hrange.default_flags = uffd ? 0 : req;
		ret = hmm_range_fault(&hrange);
		mmap_read_unlock(mm);
		/* Sent back: again, unless the range's deadline has passed. */
		if (ret != -EBUSY || time_after(jiffies, range->timeout))
			break;
		trace_hmm_core_retry(mirror, range, false);
	}
	if (ret)
		return ret;

	for (i = 0; i < npages; i++)
		range->entries[i] = hmm_core_entry_from_hmm(range->entries[i],
							    range->dev_private_owner);
	if (uffd && !hmm_core_range_complete(range))
		return -EFAULT;
	range->seq = hrange.notifier_seq;
	return 0;
}
