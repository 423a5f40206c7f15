// SPDX-License-Identifier: GPL-2.0
/*
 * hmm_dummy_pt.c - the simulated device's page table, built like a device's
 *
 * A radix tree of table pages: each is one 4 KiB page of 512 u64 entries,
 * indexed by 9 bits of the virtual address, as an x86-64 or a GPU MMU has
 * them. Level 0 is the leaf tables, whose entries map 4 KiB pages; a table
 * of level L maps 2^(9 * (L + 1)) pages. The root is as deep as the
 * mirrored range needs (4 levels for a 47- or 48-bit address space, 5 for
 * 57 bits, fewer for a small SET_RANGE).
 *
 * An entry is hmm_dummy_pte_pack()'s (hmm_dummy_internal.h), 0 for none.
 * A directory entry (level 1 and up) is either 0, the kernel address of the
 * table below (page aligned: its order field is 0), or, at level 1 only, a
 * huge entry mapping 2 MiB that the CPU maps with a PMD (or larger): its
 * order field is the CPU's map order, 9 or more, and its pfn is the first
 * page's; page i of the 2 MiB is pfn + i. A huge entry is what the table
 * gives back for each of its 4 KiB pages, so a caller never sees the
 * difference, and THP-backed memory costs no leaf table.
 *
 * The number of 4 KiB pages mapped under a table (huge entries count 512)
 * is kept in its struct page's private field: a table is freed the moment
 * it maps nothing, and a clear that covers a whole table frees it, with
 * everything under it, in one step, without reading its leaves.
 *
 * Tables are allocated outside the lock that protects the table
 * (&hmm_dummy_file.pt_lock, under which nothing may allocate with reclaim):
 * hmm_dummy_pt_prealloc() fills a &struct hmm_dummy_pt_cache with as many
 * zeroed pages, charged to the caller's memory cgroup, as a commit of the
 * range could need; hmm_dummy_pt_commit() takes from it and never
 * allocates; hmm_dummy_pt_cache_free() frees what is left.
 *
 * The table holds no page reference: an entry is only valid until the
 * invalidation that clears it (see hmm_dummy.c).
 */
#include <linux/atomic.h>
#include <linux/gfp.h>
#include <linux/minmax.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/sched.h>

#include "hmm_dummy_internal.h"

#define PT_BITS		9
#define PT_ENTRIES	BIT(PT_BITS)
/* Levels of a 57-bit address space, the largest a process has. */
#define PT_MAX_LEVELS	5U
/* Pages a huge (level 1) entry maps. */
#define PT_HUGE_PAGES	PT_ENTRIES

/* Table pages of every open file, for the pt_pages module parameter. */
static atomic_long_t hmm_dummy_pt_pages = ATOMIC_LONG_INIT(0);

static int hmm_dummy_pt_pages_get(char *buf, const struct kernel_param *kp)
{
	return sysfs_emit(buf, "%ld\n", atomic_long_read(&hmm_dummy_pt_pages));
}

/*
 * Read-only, yet a .set is needed: insmod's "pt_pages=N" calls it, and
 * module parameter parsing does not check for a NULL one.
 */
static int hmm_dummy_pt_pages_set(const char *val,
				  const struct kernel_param *kp)
{
	return -EPERM;
}

static const struct kernel_param_ops hmm_dummy_pt_pages_ops = {
	.set = hmm_dummy_pt_pages_set,
	.get = hmm_dummy_pt_pages_get,
};

module_param_cb(pt_pages, &hmm_dummy_pt_pages_ops, NULL, 0444);
MODULE_PARM_DESC(pt_pages, "4 KiB pages the device page tables of every open file use now (read-only)");

static unsigned int pt_shift(unsigned int level)
{
	return PAGE_SHIFT + level * PT_BITS;
}

/* Bytes one entry of a table of @level maps. */
static unsigned long pt_span(unsigned int level)
{
	return 1UL << pt_shift(level);
}

static unsigned int pt_index(unsigned long addr, unsigned int level)
{
	return (addr >> pt_shift(level)) & (PT_ENTRIES - 1);
}

static bool pt_is_huge(u64 e)
{
	return hmm_dummy_pte_order(e) != 0;
}

static u64 *pt_child(u64 e)
{
	return (u64 *)(uintptr_t)e;
}

static unsigned long pt_count(u64 *table)
{
	return page_private(virt_to_page(table));
}

static void pt_count_add(u64 *table, long delta)
{
	struct page *page = virt_to_page(table);

	set_page_private(page, page_private(page) + delta);
}

/* The pte of the page at @addr, inside the 2 MiB that huge entry @e maps. */
static unsigned long pt_huge_pte(u64 e, unsigned long addr)
{
	return e + ((u64)((addr >> PAGE_SHIFT) & (PT_HUGE_PAGES - 1)) <<
		    HMM_DUMMY_PTE_PFN_SHIFT);
}

/* End of the addresses the table can map. */
static unsigned long pt_limit(const struct hmm_dummy_pt *pt)
{
	return pt_span(pt->levels);
}

static void pt_free_page(struct hmm_dummy_pt *pt, u64 *table)
{
	set_page_private(virt_to_page(table), 0);
	free_page((unsigned long)table);
	pt->nr_tables--;
	atomic_long_dec(&hmm_dummy_pt_pages);
}

/* Free @table, of @level, and every table under it. */
static void pt_free_tree(struct hmm_dummy_pt *pt, u64 *table,
			 unsigned int level)
{
	unsigned int i;

	if (level)
		for (i = 0; i < PT_ENTRIES; i++)
			if (table[i] && !pt_is_huge(table[i]))
				pt_free_tree(pt, pt_child(table[i]), level - 1);
	pt_free_page(pt, table);
}

static unsigned int pt_levels(unsigned long end)
{
	unsigned int bits = end > 1 ? fls64(end - 1) : 1;

	if (bits <= pt_shift(1))
		return 1;
	return min(DIV_ROUND_UP(bits - PAGE_SHIFT, PT_BITS), PT_MAX_LEVELS);
}

/**
 * hmm_dummy_pt_init - set up an empty device page table
 * @pt: the table
 * @end: end of the addresses it is to map
 *
 * Context: Process context; allocates the root (GFP_KERNEL_ACCOUNT).
 * Return: 0, or -ENOMEM.
 */
int hmm_dummy_pt_init(struct hmm_dummy_pt *pt, unsigned long end)
{
	pt->root = (u64 *)__get_free_page(GFP_KERNEL_ACCOUNT | __GFP_ZERO);
	if (!pt->root)
		return -ENOMEM;
	pt->levels = pt_levels(end);
	pt->nr_pages = 0;
	pt->nr_tables = 1;
	atomic_long_inc(&hmm_dummy_pt_pages);
	return 0;
}

/**
 * hmm_dummy_pt_reset - empty a device page table, for another range
 * @pt: the table, its lock held
 * @end: end of the addresses it is to map from now on
 *
 * Allocates nothing: the root is kept.
 */
void hmm_dummy_pt_reset(struct hmm_dummy_pt *pt, unsigned long end)
{
	unsigned int i;

	for (i = 0; i < PT_ENTRIES; i++) {
		if (pt->levels > 1 && pt->root[i] && !pt_is_huge(pt->root[i]))
			pt_free_tree(pt, pt_child(pt->root[i]), pt->levels - 2);
		pt->root[i] = 0;
	}
	pt->levels = pt_levels(end);
	pt->nr_pages = 0;
}

/**
 * hmm_dummy_pt_destroy - free a device page table
 * @pt: the table, no longer used by anyone
 */
void hmm_dummy_pt_destroy(struct hmm_dummy_pt *pt)
{
	if (!pt->root)
		return;
	pt_free_tree(pt, pt->root, pt->levels - 1);
	pt->root = NULL;
}

/**
 * hmm_dummy_pt_prealloc - allocate what committing a range may need
 * @pt: the table (its levels only are read: no lock needed)
 * @cache: the pages set aside, topped up here
 * @start: first address of the range
 * @end: end of the range
 *
 * Sets aside the worst case: one table of each level below the root for
 * each span of that level the range touches, whatever the table holds
 * already. A commit of the range then never runs out.
 *
 * Context: Process context, without the table's lock; GFP_KERNEL_ACCOUNT.
 * Return: 0, or -ENOMEM (what was allocated stays in @cache).
 */
int hmm_dummy_pt_prealloc(struct hmm_dummy_pt *pt,
			  struct hmm_dummy_pt_cache *cache,
			  unsigned long start, unsigned long end)
{
	unsigned long need = 0;
	unsigned int level;
	u64 *table;

	end = min(end, pt_limit(pt));
	if (start >= end)
		return 0;
	for (level = 0; level + 1 < pt->levels; level++)
		need += ((end - 1) >> pt_shift(level + 1)) -
			(start >> pt_shift(level + 1)) + 1;
	while (cache->nr < need) {
		table = (u64 *)__get_free_page(GFP_KERNEL_ACCOUNT | __GFP_ZERO);
		if (!table)
			return -ENOMEM;
		table[0] = (u64)(uintptr_t)cache->free;
		cache->free = table;
		cache->nr++;
	}
	return 0;
}

/**
 * hmm_dummy_pt_cache_free - free the pages a commit did not take
 * @cache: the pages set aside; empty afterwards
 */
void hmm_dummy_pt_cache_free(struct hmm_dummy_pt_cache *cache)
{
	u64 *table;

	while (cache->free) {
		table = cache->free;
		cache->free = pt_child(table[0]);
		free_page((unsigned long)table);
	}
	cache->nr = 0;
}

/* One commit pass: what every level of it reads and updates. */
struct pt_commit {
	struct hmm_dummy_pt *pt;
	struct hmm_dummy_pt_cache *cache;
	unsigned long start;
	const unsigned long *ptes;
	unsigned long max_pages;
	unsigned long max_tables;
	unsigned long stored;
	int err;
};

/* A zeroed table page from the cache, counted against the cap. */
static u64 *pt_alloc(struct pt_commit *c)
{
	struct hmm_dummy_pt_cache *cache = c->cache;
	u64 *table;

	if (c->pt->nr_tables >= c->max_tables) {
		c->err = -ENOSPC;
		return NULL;
	}
	table = cache->free;
	if (WARN_ON_ONCE(!table)) {
		c->err = -ENOMEM;
		return NULL;
	}
	cache->free = pt_child(table[0]);
	cache->nr--;
	table[0] = 0;
	c->pt->nr_tables++;
	atomic_long_inc(&hmm_dummy_pt_pages);
	return table;
}

/*
 * Whether the 512 ptes from @addr, a 2 MiB-aligned address, are one CPU
 * mapping of order 9 or more: the same flags and order, consecutive pfns.
 */
static bool pt_commit_huge(const struct pt_commit *c, unsigned long addr)
{
	const unsigned long *ptes = c->ptes + ((addr - c->start) >> PAGE_SHIFT);
	unsigned long i;

	if (hmm_dummy_pte_order(ptes[0]) < PT_BITS)
		return false;
	for (i = 1; i < PT_HUGE_PAGES; i++)
		if (ptes[i] != ptes[0] + (i << HMM_DUMMY_PTE_PFN_SHIFT))
			return false;
	return true;
}

/*
 * Commit the ptes of [addr, end) into @table, of @level. Return the pages
 * newly mapped under it (not those overwritten).
 */
static unsigned long pt_commit_level(struct pt_commit *c, u64 *table,
				     unsigned int level, unsigned long addr,
				     unsigned long end)
{
	struct hmm_dummy_pt *pt = c->pt;
	unsigned long added = 0, next, old, n;
	unsigned long pte;
	unsigned int i, j;
	u64 *child;

	if (!level) {
		for (; addr < end; addr += PAGE_SIZE) {
			pte = c->ptes[(addr - c->start) >> PAGE_SHIFT];
			if (!pte)
				continue;
			i = pt_index(addr, 0);
			if (!table[i]) {
				if (pt->nr_pages >= c->max_pages) {
					c->err = -ENOSPC;
					break;
				}
				pt->nr_pages++;
				added++;
			}
			table[i] = pte;
			c->stored++;
		}
		return added;
	}

	for (; addr < end && !c->err; addr = next) {
		next = min(end, (addr | (pt_span(level) - 1)) + 1);
		i = pt_index(addr, level);
		child = NULL;
		if (table[i] && !pt_is_huge(table[i]))
			child = pt_child(table[i]);
		if (level == 1 && next - addr == pt_span(1) &&
		    pt_commit_huge(c, addr)) {
			old = !table[i] ? 0 : child ? pt_count(child) :
			      PT_HUGE_PAGES;
			/* Past the cap, page by page below: done is exact. */
			if (pt->nr_pages - old + PT_HUGE_PAGES <= c->max_pages) {
				if (child)
					pt_free_page(pt, child);
				table[i] = c->ptes[(addr - c->start) >>
						   PAGE_SHIFT];
				pt->nr_pages += PT_HUGE_PAGES - old;
				added += PT_HUGE_PAGES - old;
				c->stored += PT_HUGE_PAGES;
				continue;
			}
		}
		if (!child) {
			child = pt_alloc(c);
			if (!child)
				break;
			if (table[i]) {
				/* Split a huge entry: its pages stay mapped. */
				for (j = 0; j < PT_ENTRIES; j++)
					child[j] = pt_huge_pte(table[i],
							       (unsigned long)j << PAGE_SHIFT);
				pt_count_add(child, PT_HUGE_PAGES);
			}
			table[i] = (u64)(uintptr_t)child;
		}
		n = pt_commit_level(c, child, level - 1, addr, next);
		pt_count_add(child, n);
		added += n;
		if (!pt_count(child)) {
			pt_free_page(pt, child);
			table[i] = 0;
		}
	}
	return added;
}

/**
 * hmm_dummy_pt_commit - store the entries of a range, in one pass
 * @pt: the table, its lock held
 * @cache: tables hmm_dummy_pt_prealloc() set aside for the range
 * @start: address of @ptes[0], page aligned
 * @ptes: one entry per page; 0 leaves the page's entry as it is
 * @npages: entries in @ptes
 * @max_pages: the cap, in 4 KiB pages mapped (the max_entries parameter);
 *	the table's own pages are capped at @max_pages / 32 + 64
 * @stored: incremented by the pages whose entry was stored
 *
 * Entries are stored in address order, and a range of 512 entries that is
 * one CPU mapping of 2 MiB or more (order 9 or more, 2 MiB aligned,
 * consecutive pfns, the same flags) as one huge entry. A commit that would
 * pass a cap stops there: the entries before stay.
 *
 * Context: the table's lock held; allocates nothing.
 * Return: 0, or -ENOSPC past a cap.
 */
int hmm_dummy_pt_commit(struct hmm_dummy_pt *pt,
			struct hmm_dummy_pt_cache *cache, unsigned long start,
			const unsigned long *ptes, unsigned long npages,
			unsigned long max_pages, unsigned long *stored)
{
	struct pt_commit c = {
		.pt = pt, .cache = cache, .start = start, .ptes = ptes,
		.max_pages = max_pages, .max_tables = max_pages / 32 + 64,
	};
	unsigned long end = start + npages * PAGE_SIZE;

	if (end > pt_limit(pt))
		return -EINVAL;
	pt_commit_level(&c, pt->root, pt->levels - 1, start, end);
	*stored += c.stored;
	return c.err;
}

/*
 * Clear [addr, end) of @table, of @level. Return the pages unmapped. A
 * table the range covers whole is freed in one step; a huge entry the
 * range touches is cleared whole (a device may always forget more than
 * it was asked to).
 */
static unsigned long pt_clear_level(struct hmm_dummy_pt *pt, u64 *table,
				    unsigned int level, unsigned long addr,
				    unsigned long end, bool may_sleep)
{
	unsigned long removed = 0, next, n;
	unsigned int i, last;
	u64 *child;

	if (!level) {
		last = pt_index(end - 1, 0);
		for (i = pt_index(addr, 0); i <= last; i++) {
			if (table[i]) {
				table[i] = 0;
				removed++;
			}
		}
		return removed;
	}

	for (; addr < end; addr = next) {
		next = min(end, (addr | (pt_span(level) - 1)) + 1);
		i = pt_index(addr, level);
		if (!table[i])
			continue;
		if (pt_is_huge(table[i])) {
			table[i] = 0;
			removed += PT_HUGE_PAGES;
			continue;
		}
		child = pt_child(table[i]);
		if (next - addr == pt_span(level)) {
			removed += pt_count(child);
			pt_free_tree(pt, child, level - 1);
			table[i] = 0;
			if (may_sleep)
				cond_resched();
			continue;
		}
		n = pt_clear_level(pt, child, level - 1, addr, next,
				   may_sleep);
		pt_count_add(child, -(long)n);
		removed += n;
		if (!pt_count(child)) {
			pt_free_page(pt, child);
			table[i] = 0;
		}
	}
	return removed;
}

/**
 * hmm_dummy_pt_clear - remove the entries of a range
 * @pt: the table, its lock held
 * @start: first address
 * @end: end of the range
 * @may_sleep: the CPU may be given up between two tables
 *
 * Context: the table's lock held; allocates nothing.
 * Return: the 4 KiB pages unmapped.
 */
unsigned long hmm_dummy_pt_clear(struct hmm_dummy_pt *pt, unsigned long start,
				 unsigned long end, bool may_sleep)
{
	unsigned long n;

	start &= PAGE_MASK;
	end = min(end, pt_limit(pt));
	if (start >= end)
		return 0;
	n = pt_clear_level(pt, pt->root, pt->levels - 1, start, end,
			   may_sleep);
	pt->nr_pages -= n;
	return n;
}

/**
 * hmm_dummy_pt_lookup - the entry of one page
 * @pt: the table, its lock held
 * @addr: the page's address
 *
 * Return: the entry, 0 if none.
 */
unsigned long hmm_dummy_pt_lookup(struct hmm_dummy_pt *pt, unsigned long addr)
{
	unsigned int level = pt->levels - 1;
	u64 *table = pt->root;
	u64 e;

	if (addr >= pt_limit(pt))
		return 0;
	for (;; level--) {
		e = table[pt_index(addr, level)];
		if (!e || !level)
			return e;
		if (pt_is_huge(e))
			return pt_huge_pte(e, addr);
		table = pt_child(e);
	}
}

static int pt_walk_level(u64 *table, unsigned int level, unsigned long addr,
			 unsigned long end, hmm_dummy_pt_fn fn, void *arg)
{
	unsigned long next, a;
	unsigned int i;
	int ret;

	for (; addr < end; addr = next) {
		next = min(end, (addr | (pt_span(level) - 1)) + 1);
		i = pt_index(addr, level);
		if (!table[i])
			continue;
		if (!level) {
			ret = fn(addr >> PAGE_SHIFT, table[i], arg);
		} else if (pt_is_huge(table[i])) {
			for (ret = 0, a = addr; a < next && !ret; a += PAGE_SIZE)
				ret = fn(a >> PAGE_SHIFT,
					 pt_huge_pte(table[i], a), arg);
		} else {
			ret = pt_walk_level(pt_child(table[i]), level - 1,
					    addr, next, fn, arg);
		}
		if (ret)
			return ret;
	}
	return 0;
}

/**
 * hmm_dummy_pt_walk - call a function on each entry of a range
 * @pt: the table, its lock held
 * @first: the first page's index (address >> PAGE_SHIFT)
 * @last: the last page's index, included
 * @fn: called with each page's index and entry, in index order, a huge
 *	entry as each of its pages'; a non-zero return stops the walk
 * @arg: @fn's argument
 *
 * Return: 0, or what @fn returned to stop it.
 */
int hmm_dummy_pt_walk(struct hmm_dummy_pt *pt, unsigned long first,
		      unsigned long last, hmm_dummy_pt_fn fn, void *arg)
{
	unsigned long limit = pt_limit(pt) >> PAGE_SHIFT;

	if (first > last || first >= limit)
		return 0;
	last = min(last, limit - 1);
	return pt_walk_level(pt->root, pt->levels - 1, first << PAGE_SHIFT,
			     (last + 1) << PAGE_SHIFT, fn, arg);
}
