// SPDX-License-Identifier: GPL-2.0
/*
 * hmm_dummy_devmem.c - simulated device memory
 *
 * Built where the kernel has device-private memory (CONFIG_DEVICE_PRIVATE
 * and the migrate_device API: a probe of compat/conftest.sh decides; the
 * stubs of hmm_dummy_internal.h stand in elsewhere). Each /dev/hmm_dmirrorN
 * device owns memory of its own: ZONE_DEVICE private pages, added in chunks
 * as needed. The CPU cannot map such a page; its page table holds a
 * device-private entry, and a CPU access calls ->migrate_to_ram(), which
 * copies the page back to system memory. A real device would keep the data
 * in its own RAM; this one keeps it in an ordinary page, the device page's
 * "backing page", found in page->zone_device_data. The device page table
 * maps backing pages.
 *
 * Each device has at most devmem_max_mb of it in use; a migration to the
 * device that finds none left moves what it can and fails with -ENOMEM, the
 * pages it could not move staying in system memory.
 *
 * The test_hmm ioctls served here (hmm_dummy_dmirror.c): MIGRATE_TO_DEV and
 * MIGRATE_TO_SYS move the private anonymous pages of a range to and from the
 * device, RELEASE evicts every page of the device back to system memory.
 *
 * The device page table is only written by hmm_dummy.c's populate protocol,
 * never from here: after a migration to the device, the range is populated
 * without faulting, taking only the device's own pages (hmm_core reports them
 * in place, given the device's pgmap owner).
 */

#include <linux/delay.h>
#include <linux/highmem.h>
#include <linux/ioport.h>
#include <linux/jiffies.h>
#include <linux/memremap.h>
#include <linux/migrate.h>
#include <linux/mm.h>
#include <linux/moduleparam.h>
#include <linux/pagemap.h>
#include <linux/rmap.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>

#include "hmm_dummy_internal.h"

/* Pages per chunk of device memory (64 MiB), and at most how many chunks. */
#define HMM_DUMMY_CHUNK_PAGES		(SZ_64M >> PAGE_SHIFT)
#define HMM_DUMMY_MAX_CHUNKS		16
/* The most devmem_max_mb may say: what HMM_DUMMY_MAX_CHUNKS chunks hold. */
#define HMM_DUMMY_DEVMEM_MAX_MB		(HMM_DUMMY_MAX_CHUNKS * (SZ_64M / SZ_1M))

/* Pages one migrate_vma or migrate_device step takes. */
#define HMM_DUMMY_MIGRATE_BATCH		64

/* An eviction still waiting for pages after this long says so, and again. */
#define HMM_DUMMY_EVICT_WARN		(10 * HZ)

/*
 * The device memory of each device, at most. Each page of it in use costs a
 * page of system memory (its backing page), and each 64 MiB chunk adds 1 MiB
 * of struct pages (with 4 KiB pages) that stays until the module goes.
 */
static unsigned int devmem_max_mb = 256;
module_param(devmem_max_mb, uint, 0444);
MODULE_PARM_DESC(devmem_max_mb,
		 "device memory of each test_hmm device, in MiB (1-1024, default 256)");

/**
 * struct hmm_dummy_devmem - the memory of one simulated device
 * @lock: the lock of the free list (what it protects: at the member); a
 *	spinlock, as ->page_free() may be called wherever a page is dropped
 * @free: free device pages, linked through page->zone_device_data
 * @nr_free: pages on @free
 * @nr_used: pages handed out and not freed yet: mapped by a process, or on
 *	their way to or from it. Never more than @max_pages
 * @evicting: evictions running: no page is handed out meanwhile, so that
 *	the pages in use can only go until every one is back
 * @max_pages: devmem_max_mb, in pages, as it was at init
 * @grow_lock: the lock of the chunks (what it protects: at the member)
 * @chunks: the memory added so far
 * @nr_chunks: entries of @chunks in use; only grows until the module goes
 *
 * Its address is the pgmap owner of the device's pages: hmm_core reports a
 * page of this owner in place, and migrations name it.
 */
struct hmm_dummy_devmem {
	spinlock_t lock; /* protects free, nr_free, nr_used and evicting */
	struct page *free;
	unsigned long nr_free;
	unsigned long nr_used;
	unsigned int evicting;
	unsigned long max_pages;
	/* Serializes growth and eviction; protects chunks and nr_chunks. */
	struct mutex grow_lock;
	struct dev_pagemap *chunks[HMM_DUMMY_MAX_CHUNKS];
	unsigned int nr_chunks;
};

static struct hmm_dummy_devmem *hmm_dummy_page_devmem(struct page *page)
{
	return page_pgmap(page)->owner;
}

/**
 * hmm_dummy_devmem_backing_pfn - where the data of a device page is
 * @pfn: a device-private page of one of our devices, mapped by the CPU page
 *	table as the caller's mirror last read it, not invalidated since
 *
 * Return: the pfn of its backing page.
 */
unsigned long hmm_dummy_devmem_backing_pfn(unsigned long pfn)
{
	struct page *rpage = pfn_to_page(pfn)->zone_device_data;

	return page_to_pfn(rpage);
}

/* The last reference to a device page is gone: free its data, keep it. */
static void hmm_dummy_devmem_page_free(struct page *page)
{
	struct hmm_dummy_devmem *dm = hmm_dummy_page_devmem(page);
	struct page *rpage = page->zone_device_data;

	if (rpage)
		__free_page(rpage);
	spin_lock(&dm->lock);
	page->zone_device_data = dm->free;
	dm->free = page;
	dm->nr_free++;
	dm->nr_used--;
	spin_unlock(&dm->lock);
}

COMPAT_DEFINE_PGMAP_PAGE_FREE(hmm_dummy_devmem_page_free);

static vm_fault_t hmm_dummy_devmem_migrate_to_ram(struct vm_fault *vmf);

static const struct dev_pagemap_ops hmm_dummy_devmem_ops = {
	COMPAT_PGMAP_PAGE_FREE(hmm_dummy_devmem_page_free),
	.migrate_to_ram = hmm_dummy_devmem_migrate_to_ram,
};

/*
 * Add one chunk of device memory. Called with grow_lock held. The chunk's
 * struct pages (memremap_pages()) and its pgmap last as long as the device:
 * they are charged to no one, and bounded by devmem_max_mb.
 */
static int hmm_dummy_devmem_add_chunk(struct hmm_dummy_devmem *dm)
{
	struct dev_pagemap *pgmap;
	struct resource *res;
	unsigned long pfn, last;
	struct page *head = NULL, *tail = NULL;
	void *ptr;

	lockdep_assert_held(&dm->grow_lock);
	if (dm->nr_chunks == HMM_DUMMY_MAX_CHUNKS)
		return -ENOMEM;
	pgmap = kzalloc(sizeof(*pgmap), GFP_KERNEL);
	if (!pgmap)
		return -ENOMEM;
	res = request_free_mem_region(&iomem_resource,
				      HMM_DUMMY_CHUNK_PAGES << PAGE_SHIFT,
				      "hmm_dummy device memory");
	if (IS_ERR(res)) {
		kfree(pgmap);
		return PTR_ERR(res);
	}
	pgmap->type = MEMORY_DEVICE_PRIVATE;
	pgmap->range.start = res->start;
	pgmap->range.end = res->end;
	pgmap->nr_range = 1;
	pgmap->ops = &hmm_dummy_devmem_ops;
	pgmap->owner = dm;
	ptr = memremap_pages(pgmap, numa_node_id());
	if (IS_ERR(ptr)) {
		release_mem_region(res->start, resource_size(res));
		kfree(pgmap);
		return PTR_ERR(ptr);
	}

	pfn = PHYS_PFN(res->start);
	last = PHYS_PFN(res->end);
	for (; pfn <= last; pfn++) {
		struct page *page = pfn_to_page(pfn);

		page->zone_device_data = NULL;
		if (tail)
			tail->zone_device_data = page;
		else
			head = page;
		tail = page;
	}
	spin_lock(&dm->lock);
	tail->zone_device_data = dm->free;
	dm->free = head;
	dm->nr_free += HMM_DUMMY_CHUNK_PAGES;
	spin_unlock(&dm->lock);
	dm->chunks[dm->nr_chunks++] = pgmap;
	return 0;
}

/*
 * Have at least @npages free device pages, adding chunks as needed, as far
 * as devmem_max_mb allows: beyond it, hmm_dummy_devmem_alloc_page() fails.
 * Called before a migration locks any page: memremap_pages() allocates.
 */
static int hmm_dummy_devmem_reserve(struct hmm_dummy_devmem *dm,
				    unsigned long npages)
{
	int ret = 0;

	mutex_lock(&dm->grow_lock);
	while (!ret && READ_ONCE(dm->nr_free) < npages &&
	       dm->nr_chunks * HMM_DUMMY_CHUNK_PAGES < dm->max_pages)
		ret = hmm_dummy_devmem_add_chunk(dm);
	mutex_unlock(&dm->grow_lock);
	return ret;
}

/*
 * A free device page, locked and referenced, with a backing page; or NULL if
 * the device has devmem_max_mb in use, is being evicted, or no system page
 * is to be had.
 *
 * The backing page is not charged to a memory cgroup (__GFP_ACCOUNT): the
 * device page it backs is, for the data it holds. A migration moves the
 * charge of the system page to it (mem_cgroup_migrate()), or charges it to
 * the mm where there was no page (migrate_vma_insert_page()), and freeing
 * it uncharges. That charge, of the mm the data belongs to, is what pays for
 * the backing page; __GFP_ACCOUNT would count every page twice.
 */
static struct page *hmm_dummy_devmem_alloc_page(struct hmm_dummy_devmem *dm)
{
	struct page *dpage = NULL, *rpage;

	rpage = alloc_page(GFP_HIGHUSER | __GFP_NOWARN);
	if (!rpage)
		return NULL;
	spin_lock(&dm->lock);
	if (dm->free && dm->nr_used < dm->max_pages && !dm->evicting) {
		dpage = dm->free;
		dm->free = dpage->zone_device_data;
		dm->nr_free--;
		dm->nr_used++;
	}
	spin_unlock(&dm->lock);
	if (!dpage) {
		__free_page(rpage);
		return NULL;
	}
	zone_device_page_init(dpage, page_pgmap(dpage), 0);
	dpage->zone_device_data = rpage;
	return dpage;
}

/*
 * Migration to the device: a device page for each page migrate_vma_setup()
 * selected, holding a copy of its data (zeroes for a page never touched).
 * A page that gets none stays in system memory. Return: how many got none.
 */
static unsigned long hmm_dummy_devmem_copy_in(struct hmm_dummy_devmem *dm,
					      struct migrate_vma *args)
{
	unsigned long i, npages = (args->end - args->start) >> PAGE_SHIFT;
	unsigned long short_of = 0;

	for (i = 0; i < npages; i++) {
		struct page *spage = migrate_pfn_to_page(args->src[i]);
		struct page *dpage;

		args->dst[i] = 0;
		if (!(args->src[i] & MIGRATE_PFN_MIGRATE))
			continue;
		dpage = hmm_dummy_devmem_alloc_page(dm);
		if (!dpage) {
			short_of++;
			continue;
		}
		if (spage)
			copy_highpage(dpage->zone_device_data, spage);
		else
			clear_highpage(dpage->zone_device_data);
		args->dst[i] = migrate_pfn(page_to_pfn(dpage));
		if ((args->src[i] & MIGRATE_PFN_WRITE) ||
		    (!spage && (args->vma->vm_flags & VM_WRITE)))
			args->dst[i] |= MIGRATE_PFN_WRITE;
	}
	return short_of;
}

/*
 * Migration to system memory: a system page for each selected device page,
 * with its data. @nofail for eviction, which must not leave a page behind.
 */
static int hmm_dummy_devmem_copy_out(const unsigned long *src,
				     unsigned long *dst, unsigned long npages,
				     bool nofail)
{
	gfp_t gfp = GFP_HIGHUSER_MOVABLE | (nofail ? __GFP_NOFAIL : 0);
	unsigned long i;

	for (i = 0; i < npages; i++) {
		struct page *spage = migrate_pfn_to_page(src[i]);
		struct page *page;

		dst[i] = 0;
		if (!spage || !(src[i] & MIGRATE_PFN_MIGRATE))
			continue;
		page = alloc_page(gfp);
		if (!page)
			return -ENOMEM;
		lock_page(page);
		copy_highpage(page, spage->zone_device_data);
		dst[i] = migrate_pfn(page_to_pfn(page)) |
			 (src[i] & MIGRATE_PFN_WRITE);
	}
	return 0;
}

/* The CPU touched a device page: bring it back to system memory. */
static vm_fault_t hmm_dummy_devmem_migrate_to_ram(struct vm_fault *vmf)
{
	unsigned long src = 0, dst = 0;
	struct migrate_vma args = {
		.vma = vmf->vma,
		.start = vmf->address & PAGE_MASK,
		.end = (vmf->address & PAGE_MASK) + PAGE_SIZE,
		.src = &src,
		.dst = &dst,
		.pgmap_owner = hmm_dummy_page_devmem(vmf->page),
		.flags = MIGRATE_VMA_SELECT_DEVICE_PRIVATE,
		.fault_page = vmf->page,
	};
	vm_fault_t ret = 0;

	if (migrate_vma_setup(&args))
		return VM_FAULT_SIGBUS;
	if (hmm_dummy_devmem_copy_out(args.src, args.dst, 1, false))
		ret = VM_FAULT_OOM;
	migrate_vma_pages(&args);
	migrate_vma_finalize(&args);
	return ret;
}

/* Pages of one migrate_vma step that did move. */
static u64 hmm_dummy_migrated(const struct migrate_vma *args)
{
	unsigned long i, npages = (args->end - args->start) >> PAGE_SHIFT;
	u64 n = 0;

	for (i = 0; i < npages; i++)
		if ((args->src[i] & MIGRATE_PFN_MIGRATE) && args->dst[i])
			n++;
	return n;
}

/**
 * hmm_dummy_devmem_migrate - move the pages of a range to or from the device
 * @dfile: an open /dev/hmm_dmirrorN of the caller's mm
 * @start: first address, page aligned
 * @end: end of the range, page aligned
 * @to_dev: to the device's memory, else back to system memory
 * @moved: out: pages that moved
 *
 * Only private anonymous pages move to the device; pages already on another
 * device, shared or file pages stay where they are. Every page of the range
 * must be in a readable vma. A page that could move but found no device
 * memory (devmem_max_mb in use, an eviction running, no backing page) stays
 * in system memory, and the migration stops there with -ENOMEM: the pages
 * before it stay on the device.
 *
 * Context: Process context; takes the mm's mmap_lock for reading.
 * Return: 0, -EINVAL if a page of the range has no readable vma, -ENOMEM.
 */
int hmm_dummy_devmem_migrate(struct hmm_dummy_file *dfile, unsigned long start,
			     unsigned long end, bool to_dev, u64 *moved)
{
	struct hmm_dummy_devmem *dm = dfile->dev->devmem;
	struct mm_struct *mm = hmm_mirror_mm(&dfile->mirror);
	unsigned long *src, *dst, addr, next;
	int ret = 0;

	src = kcalloc(2 * HMM_DUMMY_MIGRATE_BATCH, sizeof(*src), GFP_KERNEL);
	if (!src)
		return -ENOMEM;
	dst = src + HMM_DUMMY_MIGRATE_BATCH;
	*moved = 0;
	for (addr = start; addr < end && !ret; addr = next) {
		struct migrate_vma args = {
			.src = src,
			.dst = dst,
			.pgmap_owner = dm,
			.flags = to_dev ? MIGRATE_VMA_SELECT_SYSTEM :
				 MIGRATE_VMA_SELECT_DEVICE_PRIVATE,
		};

		next = min(end, addr + HMM_DUMMY_MIGRATE_BATCH * PAGE_SIZE);
		if (to_dev) {
			ret = hmm_dummy_devmem_reserve(dm, (next - addr) >> PAGE_SHIFT);
			if (ret)
				break;
		}
		mmap_read_lock(mm);
		args.vma = vma_lookup(mm, addr);
		if (!args.vma || !(args.vma->vm_flags & VM_READ)) {
			mmap_read_unlock(mm);
			ret = -EINVAL;
			break;
		}
		next = min(next, args.vma->vm_end);
		args.start = addr;
		args.end = next;
		ret = migrate_vma_setup(&args);
		if (!ret) {
			if (to_dev)
				ret = hmm_dummy_devmem_copy_in(dm, &args) ?
				      -ENOMEM : 0;
			else
				ret = hmm_dummy_devmem_copy_out(args.src, args.dst,
								(next - addr) >> PAGE_SHIFT,
								false);
			migrate_vma_pages(&args);
			*moved += hmm_dummy_migrated(&args);
			migrate_vma_finalize(&args);
		}
		mmap_read_unlock(mm);
		cond_resched();
	}
	kfree(src);
	return ret;
}

/*
 * One pass over one chunk: move its used pages back to system memory, but
 * those migrate_device_range() could not lock or unmap, or that had an
 * extra reference when migrate_device_pages() came to them. @src and @dst
 * have room for HMM_DUMMY_MIGRATE_BATCH entries.
 */
static void hmm_dummy_devmem_evict_chunk(struct dev_pagemap *pgmap,
					 unsigned long *src, unsigned long *dst)
{
	unsigned long pfn = PHYS_PFN(pgmap->range.start);
	unsigned long last = PHYS_PFN(pgmap->range.end);

	for (; pfn <= last; pfn += HMM_DUMMY_MIGRATE_BATCH) {
		unsigned long n = min_t(unsigned long, HMM_DUMMY_MIGRATE_BATCH,
					last + 1 - pfn);

		migrate_device_range(src, pfn, n);
		hmm_dummy_devmem_copy_out(src, dst, n, true);
		migrate_device_pages(src, dst, n);
		migrate_device_finalize(src, dst, n);
		cond_resched();
	}
}

static unsigned long hmm_dummy_devmem_used(struct hmm_dummy_devmem *dm)
{
	unsigned long n;

	spin_lock(&dm->lock);
	n = dm->nr_used;
	spin_unlock(&dm->lock);
	return n;
}

/*
 * Move every page of the device back to system memory, in passes over all
 * of it until none is in use; @killable: or until a fatal signal.
 *
 * Termination. No page is handed out while this runs (@evicting), so the
 * pages in use can only go. A pass moves every page in use but those it
 * found locked (by a CPU fault's ->migrate_to_ram() or a MIGRATE_TO_SYS of
 * it), with a reference it did not expect (another migration looking at
 * it), or being freed. Each of those is a moment, not a state: the CPU can
 * never map a device-private page, so get_user_pages() and pin_user_pages()
 * fault it back to system memory instead of holding it, and nothing else
 * holds a reference to it but its page-table entries and a migration in
 * flight. The holder lets go, or moves the page back itself, and a later
 * pass (after a short sleep, so that the holder runs) finds it free or
 * takes it. A page in use for ever would be a reference leaked elsewhere,
 * which would hold memunmap_pages() for ever too: the unload waits here for
 * it, sleeping a millisecond or two between passes (no spinning, no
 * hung-task report), and says every 10 s how many pages it waits for.
 * HMM_DMIRROR_RELEASE is killable.
 */
static void hmm_dummy_devmem_evict(struct hmm_dummy_devmem *dm, bool killable)
{
	unsigned long *src, used, warn_at = jiffies + HMM_DUMMY_EVICT_WARN;
	unsigned int i;

	src = kcalloc(2 * HMM_DUMMY_MIGRATE_BATCH, sizeof(*src),
		      GFP_KERNEL | __GFP_NOFAIL);
	mutex_lock(&dm->grow_lock);
	spin_lock(&dm->lock);
	dm->evicting++;
	spin_unlock(&dm->lock);
	while ((used = hmm_dummy_devmem_used(dm))) {
		for (i = 0; i < dm->nr_chunks; i++)
			hmm_dummy_devmem_evict_chunk(dm->chunks[i], src,
						     src + HMM_DUMMY_MIGRATE_BATCH);
		if (!hmm_dummy_devmem_used(dm))
			break;
		if (killable && fatal_signal_pending(current))
			break;
		if (time_after(jiffies, warn_at)) {
			pr_warn("device memory: %lu pages still in use, waiting\n",
				used);
			warn_at = jiffies + HMM_DUMMY_EVICT_WARN;
		}
		usleep_range(1000, 2000);
	}
	spin_lock(&dm->lock);
	dm->evicting--;
	spin_unlock(&dm->lock);
	mutex_unlock(&dm->grow_lock);
	kfree(src);
}

/**
 * hmm_dummy_devmem_release - evict all of a device's pages to system memory
 * @dev: a device with device memory
 *
 * Returns when no page of the device is in use, or when the caller gets a
 * fatal signal. Migrations to the device that run meanwhile find no memory.
 *
 * Context: Process context; may sleep.
 */
void hmm_dummy_devmem_release(struct hmm_dummy_device *dev)
{
	hmm_dummy_devmem_evict(dev->devmem, true);
}

/**
 * hmm_dummy_devmem_init - give a device its (empty) device memory
 * @dev: a /dev/hmm_dmirrorN device
 *
 * Return: 0, -EINVAL if devmem_max_mb is out of range, or -ENOMEM.
 */
int hmm_dummy_devmem_init(struct hmm_dummy_device *dev)
{
	struct hmm_dummy_devmem *dm;

	if (!devmem_max_mb || devmem_max_mb > HMM_DUMMY_DEVMEM_MAX_MB) {
		pr_err("devmem_max_mb must be 1 to %d\n", HMM_DUMMY_DEVMEM_MAX_MB);
		return -EINVAL;
	}
	dm = kzalloc(sizeof(*dm), GFP_KERNEL);
	if (!dm)
		return -ENOMEM;
	spin_lock_init(&dm->lock);
	mutex_init(&dm->grow_lock);
	dm->max_pages = (unsigned long)devmem_max_mb * (SZ_1M / PAGE_SIZE);
	dev->devmem = dm;
	return 0;
}

/**
 * hmm_dummy_devmem_fini - evict a device's pages and remove its memory
 * @dev: a device given memory by hmm_dummy_devmem_init(), or not
 *
 * Processes may still map pages of the device after their file was closed:
 * they get them back in system memory first, every one of them (see
 * hmm_dummy_devmem_evict()), so that memunmap_pages() has nothing to wait for.
 *
 * Context: Process context, no file of the device open; may sleep.
 */
void hmm_dummy_devmem_fini(struct hmm_dummy_device *dev)
{
	struct hmm_dummy_devmem *dm = dev->devmem;
	unsigned int i;

	if (!dm)
		return;
	hmm_dummy_devmem_evict(dm, false);
	for (i = 0; i < dm->nr_chunks; i++) {
		struct dev_pagemap *pgmap = dm->chunks[i];

		memunmap_pages(pgmap);
		release_mem_region(pgmap->range.start, range_len(&pgmap->range));
		kfree(pgmap);
	}
	mutex_destroy(&dm->grow_lock);
	kfree(dm);
	dev->devmem = NULL;
}
