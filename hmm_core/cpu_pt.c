// SPDX-License-Identifier: GPL-2.0
/*
 * Reading a range of a CPU page table for a mirror, faulting or not.
 *
 * Where the kernel exports hmm_range_fault() this is a thin loop around it;
 * elsewhere get_user_pages_remote() does the faulting and the page references
 * it takes are dropped at once (the mirror's invalidation, not a reference,
 * keeps the device coherent). The fallback reports write permission only for
 * a write fault and never a huge mapping: never more than the CPU gives.
 */
#include <linux/hmm.h>
#include <linux/jiffies.h>
#include <linux/mm.h>
#include <linux/mmu_notifier.h>
#include <linux/pgtable.h>
#include <linux/string.h>
#include <linux/userfaultfd_k.h>

#include <hmm_core_compat.h>
#include <hmm_mirror.h>
#include "hmm_core_internal.h"

/* An entry packs the pfn above a 12-bit field of flags and order. */
static_assert(BITS_PER_LONG == 64, "hmm_core entries need 64-bit longs");

static unsigned long hmm_core_entry(unsigned long pfn, bool write,
				    unsigned int order)
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
static bool hmm_core_range_has_uffd(struct mm_struct *mm, unsigned long start,
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
static bool hmm_core_range_complete(const struct hmm_mirror_range *range)
{
	unsigned long i, npages = (range->end - range->start) >> PAGE_SHIFT;
	unsigned long need = HMM_MIRROR_ENTRY_VALID |
			     (range->write ? HMM_MIRROR_ENTRY_WRITE : 0);

	for (i = 0; i < npages; i++)
		if ((range->entries[i] & need) != need)
			return false;
	return true;
}

#ifdef HMM_CORE_HAVE_HMM_RANGE_FAULT

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

#else /* !HMM_CORE_HAVE_HMM_RANGE_FAULT */

static long hmm_core_gup(struct mm_struct *mm, unsigned long addr,
			 unsigned long npages, unsigned int gup_flags,
			 struct page **pages)
{
#ifdef HMM_CORE_GUP_REMOTE_HAS_VMAS
	return get_user_pages_remote(mm, addr, npages, gup_flags, pages,
				     NULL, NULL);
#else
	return get_user_pages_remote(mm, addr, npages, gup_flags, pages, NULL);
#endif
}

/* What a device may have of a page the CPU does not map now. */
static unsigned long hmm_core_entry_unmapped(struct mm_struct *mm,
					     unsigned long addr)
{
	struct vm_area_struct *vma = vma_lookup(mm, addr);

	if (!vma || !(vma->vm_flags & VM_READ) ||
	    (vma->vm_flags & (VM_IO | VM_PFNMAP)))
		return HMM_MIRROR_ENTRY_ERROR;
	return 0;
}

/*
 * The write bit of the PTE is probed with FOLL_WRITE | FOLL_NOFAULT, which
 * succeeds only where the CPU may write the page without a fault. GUP adds
 * FOLL_TOUCH, which then marks the page dirty: a no-op for anonymous memory
 * and for a file system that tracks dirty pages (its PTEs are writable only
 * once the page was dirtied), so only a page the CPU could already dirty at
 * will (shmem, ramfs) is ever dirtied by the probe.
 */
static unsigned long hmm_core_snapshot_one(struct mm_struct *mm,
					   unsigned long addr)
{
	struct vm_area_struct *vma = vma_lookup(mm, addr);
	struct page *page;
	bool write = vma && (vma->vm_flags & VM_READ);

	if (!write ||
	    hmm_core_gup(mm, addr, 1, FOLL_NOFAULT | FOLL_WRITE, &page) != 1) {
		write = false;
		if (hmm_core_gup(mm, addr, 1, FOLL_NOFAULT, &page) != 1)
			return hmm_core_entry_unmapped(mm, addr);
	}
	put_page(page);
	return hmm_core_entry(page_to_pfn(page), write, 0);
}

static int hmm_core_fault(struct mm_struct *mm, struct hmm_mirror_range *range)
{
	/* The entries array doubles as the page array: same size. */
	struct page **pages = (struct page **)range->entries;
	unsigned long addr, i, npages = (range->end - range->start) >> PAGE_SHIFT;
	unsigned int gup_flags = range->write ? FOLL_WRITE : 0;
	struct vm_area_struct *vma;
	long got;

	BUILD_BUG_ON(sizeof(*pages) != sizeof(*range->entries));
	if (hmm_core_range_has_uffd(mm, range->start, range->end)) {
		for (addr = range->start, i = 0; addr < range->end;
		     addr += PAGE_SIZE, i++)
			range->entries[i] = hmm_core_snapshot_one(mm, addr);
		return hmm_core_range_complete(range) ? 0 : -EFAULT;
	}
	for (addr = range->start; addr < range->end; addr = vma->vm_end) {
		vma = vma_lookup(mm, addr);
		/* As hmm_range_fault(): no device access without VM_READ. */
		if (!vma || !(vma->vm_flags & VM_READ) ||
		    (vma->vm_flags & (VM_IO | VM_PFNMAP)))
			return -EFAULT;
		if (range->write && !(vma->vm_flags & VM_WRITE))
			return -EPERM;
	}

	got = hmm_core_gup(mm, range->start, npages, gup_flags, pages);
	if (got < 0)
		return got;
	for (i = 0; i < got; i++) {
		unsigned long pfn = page_to_pfn(pages[i]);

		put_page(pages[i]);
		range->entries[i] = hmm_core_entry(pfn, range->write, 0);
	}
	return got == npages ? 0 : -EFAULT;
}

int hmm_core_read_cpu_pt(struct hmm_mirror *mirror,
			 struct hmm_mirror_range *range, bool fault)
{
	struct mm_struct *mm = hmm_mirror_mm(mirror);
	unsigned long addr, i;
	int ret = 0;

	range->seq = mmu_interval_read_begin(&mirror->interval);
	ret = mmap_read_lock_killable(mm);
	if (ret)
		return ret;
	if (fault) {
		ret = hmm_core_fault(mm, range);
	} else {
		for (addr = range->start, i = 0; addr < range->end;
		     addr += PAGE_SIZE, i++)
			range->entries[i] = hmm_core_snapshot_one(mm, addr);
	}
	mmap_read_unlock(mm);
	return ret;
}

#endif /* HMM_CORE_HAVE_HMM_RANGE_FAULT */
