// SPDX-License-Identifier: GPL-2.0
/*
 * hmm_dummy_exclusive.c - device-exclusive access, test_hmm's EXCLUSIVE
 *
 * Built where the kernel can make a page exclusive to a device
 * (make_device_exclusive() or, before 6.15, make_device_exclusive_range():
 * probes of compat/conftest.sh decide; compat_make_device_exclusive() is
 * either); a stub of hmm_dummy_internal.h stands in elsewhere. EXCLUSIVE
 * makes pages exclusive to the device and maps them in its page table,
 * CHECK_EXCLUSIVE (hmm_dummy_dmirror.c) tells whether it still holds such
 * a mapping.
 *
 * The device page table is otherwise only written by hmm_dummy.c's populate
 * protocol: an exclusive mapping is the one exception, committed here with
 * pt_lock held, under the page lock the kernel hands over and the batch
 * checked for any other change meanwhile.
 */
#include <linux/jiffies.h>
#include <linux/mm.h>
#include <linux/pagemap.h>
#include <linux/rmap.h>
#include <linux/sched/signal.h>

#include "hmm_dummy_internal.h"

/*
 * Make @n pages from @addr exclusive to the device: pages[i] is then the
 * page, locked and referenced, or NULL if it could not be had.
 */
static int hmm_dummy_make_exclusive(struct mm_struct *mm, unsigned long addr,
				    unsigned long n, struct page **pages,
				    void *owner)
{
	long i = compat_make_device_exclusive(mm, addr, n, pages, owner);

	if (i < 0)
		return i;
	for (; i < n; i++)
		pages[i] = NULL;
	return 0;
}

/*
 * Commit @n exclusive entries from @addr, all or none. Any change of the
 * batch @ex since it was listed cancels it, but MMU_NOTIFY_EXCLUSIVE ones,
 * which do not mark it: make_device_exclusive*() makes each page
 * exclusive with the page locked, and it stays locked until after the
 * commit, so an exclusive change in the window is that conversion, never
 * the undoing of it. Anything else overlapping the batch (a zap by
 * MADV_DONTNEED, which takes no page lock) marks it, and the batch is tried
 * again; a change elsewhere in the mm does not. The range is faulted
 * writable first, so that make_device_exclusive*()'s own fault has nothing
 * to change: a copy-on-write break, or the undoing of an exclusive entry
 * of an earlier call (which some kernels report as another event), would
 * cancel every try.
 */
static bool hmm_dummy_commit_exclusive(struct hmm_dummy_file *dfile,
				       struct hmm_dummy_exclusive *ex,
				       struct hmm_dummy_pt_cache *cache,
				       unsigned long addr, unsigned long n,
				       struct page **pages)
{
	unsigned long ptes[HMM_DUMMY_EXCLUSIVE_BATCH], i;
	bool ok = true;

	for (i = 0; i < n && ok; i++) {
		ok = pages[i];
		if (ok)
			ptes[i] = hmm_dummy_pte_pack(page_to_pfn(pages[i]), 0,
						     HMM_DUMMY_PTE_WRITE |
						     HMM_DUMMY_PTE_ATOMIC);
	}
	mutex_lock(&dfile->pt_lock);
	list_del(&ex->link);
	ok = ok && !ex->changed &&
	     !hmm_dummy_pt_store(dfile, cache, addr, ptes, n);
	mutex_unlock(&dfile->pt_lock);
	return ok;
}

/* One batch of hmm_dummy_exclusive(): -EBUSY if it is to be tried again. */
static int hmm_dummy_exclusive_batch(struct hmm_dummy_file *dfile,
				     unsigned long addr, unsigned long next)
{
	struct mm_struct *mm = hmm_mirror_mm(&dfile->mirror);
	struct page *pages[HMM_DUMMY_EXCLUSIVE_BATCH];
	struct hmm_dummy_exclusive ex = { .start = addr, .end = next };
	unsigned long i, n = (next - addr) >> PAGE_SHIFT;
	struct hmm_dummy_pt_cache cache = {};
	int ret;

	ret = hmm_dummy_fault_write(dfile, addr, next);
	if (ret)
		return ret;
	/* The exclusive conversion may free the tables the fault filled. */
	ret = hmm_dummy_pt_prealloc(&dfile->pt, &cache, addr, next);
	if (ret)
		goto out;
	mutex_lock(&dfile->pt_lock);
	list_add(&ex.link, &dfile->exclusive);
	mutex_unlock(&dfile->pt_lock);

	mmap_read_lock(mm);
	ret = hmm_dummy_make_exclusive(mm, addr, n, pages, dfile->dev);
	mmap_read_unlock(mm);
	if (ret) {
		mutex_lock(&dfile->pt_lock);
		list_del(&ex.link);
		mutex_unlock(&dfile->pt_lock);
		goto out;
	}
	if (!hmm_dummy_commit_exclusive(dfile, &ex, &cache, addr, n, pages))
		ret = -EBUSY;
	for (i = 0; i < n; i++) {
		if (!pages[i])
			continue;
		folio_unlock(page_folio(pages[i]));
		folio_put(page_folio(pages[i]));
	}
out:
	hmm_dummy_pt_cache_free(&cache);
	return ret;
}

/**
 * hmm_dummy_exclusive - map a range for exclusive (atomic) device access
 * @dfile: an open /dev/hmm_dmirrorN of the caller's mm
 * @start: first address, page aligned
 * @end: end of the range, page aligned
 *
 * The CPU loses access to the pages until it touches one, which takes it
 * back and invalidates the device's entry. A batch that another change of
 * its pages cancelled is tried again, for HMM_MIRROR_RANGE_TIMEOUT_MS at
 * most, as hmm_core bounds a populate.
 *
 * Context: Process context; takes the mm's mmap_lock for reading.
 * Return: 0; -EBUSY if a page could not be made exclusive or the batch kept
 * changing until the deadline; -EINTR on a fatal signal; -ENOMEM.
 */
int hmm_dummy_exclusive(struct hmm_dummy_file *dfile, unsigned long start,
			unsigned long end)
{
	unsigned long addr, next, timeout;
	int ret = 0;

	for (addr = start; addr < end && !ret; addr = next) {
		next = min(end, addr + HMM_DUMMY_EXCLUSIVE_BATCH * PAGE_SIZE);
		timeout = jiffies + msecs_to_jiffies(HMM_MIRROR_RANGE_TIMEOUT_MS);
		while ((ret = hmm_dummy_exclusive_batch(dfile, addr, next)) ==
		       -EBUSY && !time_after(jiffies, timeout)) {
			if (fatal_signal_pending(current))
				return -EINTR;
			cond_resched();
		}
	}
	return ret;
}
