// SPDX-License-Identifier: GPL-2.0
/*
 * Reading a range of a CPU page table for a mirror where the kernel does not
 * export hmm_range_fault() (or HMM_CORE_FORCE_GUP=1 hid it from the build):
 * get_user_pages_remote() does the faulting and the page references it takes
 * are dropped at once (the mirror's invalidation, not a reference, keeps the
 * device coherent). It reports write permission only for a write fault and
 * never a huge mapping: never more than the CPU gives.
 */
#include <linux/mm.h>
#include <linux/mmu_notifier.h>

#include <hmm_mirror.h>
#include "hmm_core_internal.h"

const char *hmm_core_backend(void)
{
	return "get_user_pages";
}

static long hmm_core_gup(struct mm_struct *mm, unsigned long addr,
			 unsigned long npages, unsigned int gup_flags,
			 struct page **pages)
{
	return get_user_pages_remote(mm, addr, npages, gup_flags, pages, NULL);
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
