// SPDX-License-Identifier: GPL-2.0
/*
 * Reading a range of a CPU page table for a mirror, faulting or not: what
 * both readers share. The build picks one reader (Kbuild, by the probes of
 * compat/conftest.sh): cpu_pt_hmm.c where the kernel exports
 * hmm_range_fault(), cpu_pt_gup.c elsewhere.
 */
#include <linux/mm.h>
#include <linux/mmu_notifier.h>
#include <linux/pgtable.h>
#include <linux/userfaultfd_k.h>

#include <hmm_mirror.h>
#include "hmm_core_internal.h"

/* An entry packs the pfn above a 12-bit field of flags and order. */
static_assert(BITS_PER_LONG == 64, "hmm_core entries need 64-bit longs");

unsigned long hmm_core_entry(unsigned long pfn, bool write, unsigned int order)
{
	unsigned long entry = HMM_MIRROR_ENTRY_VALID |
			      pfn << HMM_MIRROR_ENTRY_PFN_SHIFT |
			      (unsigned long)order << HMM_MIRROR_ENTRY_ORDER_SHIFT;

	if (write)
		entry |= HMM_MIRROR_ENTRY_WRITE;
	if (is_zero_pfn(pfn))
		entry |= HMM_MIRROR_ENTRY_ZERO;
	return entry;
}

/*
 * Neither hmm_range_fault() nor get_user_pages_remote() without "locked"
 * can fault a page of a userfaultfd-armed vma: the userfault handler wants
 * to drop mmap_lock and wait for user space, which a walk holding it does
 * not allow (the kernel answers SIGBUS, after a DEBUG_VM warning). There a
 * device gets what user space has already filled in, or -EFAULT: an error,
 * never a hang.
 */
bool hmm_core_range_has_uffd(struct mm_struct *mm, unsigned long start,
			     unsigned long end)
{
	struct vm_area_struct *vma;

	for (vma = find_vma(mm, start); vma && vma->vm_start < end;
	     vma = find_vma(mm, vma->vm_end))
		if (userfaultfd_armed(vma))
			return true;
	return false;
}

/* Does every entry give what a fault would have had to? */
bool hmm_core_range_complete(const struct hmm_mirror_range *range)
{
	unsigned long i, npages = (range->end - range->start) >> PAGE_SHIFT;
	unsigned long need = HMM_MIRROR_ENTRY_VALID |
			     (range->write ? HMM_MIRROR_ENTRY_WRITE : 0);

	for (i = 0; i < npages; i++)
		if ((range->entries[i] & need) != need)
			return false;
	return true;
}
