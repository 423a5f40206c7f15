// SPDX-License-Identifier: GPL-2.0
/*
 * hmm_dummy - reference driver for hmm_core: a device with no hardware
 *
 * Each /dev/hmm_dummyN is a simulated device with its own MMU. An open file
 * mirrors the opener's address space: its device page table maps virtual
 * pages to the pfns the device may access, and hmm_core's invalidation
 * callback keeps it coherent with the CPU page table. The ioctls of
 * uapi/hmm_dummy.h drive it; /dev/hmm_dmirror0 and 1 answer the mirroring
 * ioctls of the kernel's lib/test_hmm.c (uapi/hmm_dmirror.h), so the kernel's
 * own hmm-tests run against this driver (hmm_dummy_dmirror.c).
 *
 * This file is the core both ABIs share (hmm_dummy_internal.h): the mirror
 * and its invalidation callback, the device page table, the populate
 * protocol and the copy through the device page table; and the native ABI,
 * uapi/hmm_dummy.h, and the module's devices.
 *
 * A device page-table entry is pfn, write permission and the CPU map order,
 * packed in a u64 of a radix table of 512-entry pages built like a
 * device's (hmm_dummy_pt.c). Where the kernel has device-private memory, the
 * test_hmm devices also have memory of their own and exclusive mappings
 * (hmm_dummy_devmem.c, hmm_dummy_exclusive.c). The table holds no page
 * reference: an entry is only valid until the invalidation that clears it,
 * and the page is only touched with the lock that invalidation takes held.
 */

#include <linux/bitfield.h>
#include <linux/capability.h>
#include <linux/completion.h>
#include <linux/delay.h>
#include <linux/fs.h>
#include <linux/highmem.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/overflow.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include <hmm_mirror.h>
#include "hmm_dummy_internal.h"
#include "uapi/hmm_dummy.h"

HMM_MIRROR_IMPORT_NS();

#define HMM_DUMMY_MAX_DEVICES	16

static unsigned int ndevices = 2;
module_param(ndevices, uint, 0444);
MODULE_PARM_DESC(ndevices, "number of /dev/hmm_dummyN devices (1-16, default 2)");

static bool dmirror = true;
module_param(dmirror, bool, 0444);
MODULE_PARM_DESC(dmirror, "also create /dev/hmm_dmirror0 and 1, test_hmm's ABI (default on)");

/*
 * A test knob: make every blockable invalidation sleep this long, at most
 * HMM_DUMMY_MAX_DELAY_US. Writable by root only: it slows every mirror.
 */
#define HMM_DUMMY_MAX_DELAY_US	100000
static unsigned int invalidate_delay_us;

static int hmm_dummy_set_delay(const char *val, const struct kernel_param *kp)
{
	unsigned int us;
	int ret;

	ret = kstrtouint(val, 0, &us);
	if (ret)
		return ret;
	if (us > HMM_DUMMY_MAX_DELAY_US)
		return -EINVAL;
	WRITE_ONCE(invalidate_delay_us, us);
	return 0;
}

static const struct kernel_param_ops hmm_dummy_delay_ops = {
	.set = hmm_dummy_set_delay,
	.get = param_get_uint,
};

module_param_cb(invalidate_delay_us, &hmm_dummy_delay_ops,
		&invalidate_delay_us, 0644);
MODULE_PARM_DESC(invalidate_delay_us, "sleep in each blockable invalidation, for race tests (0-100000, default 0)");

/*
 * 4 KiB pages one open file's device page table may map (a 2 MiB huge
 * entry counts 512); its table pages, charged to the faulting task's memory
 * cgroup, are capped at max_entries / 32 + 64 (hmm_dummy_pt_commit()), so a
 * sparse table costs at most 128 bytes per allowed page. Read at each
 * commit.
 */
#define HMM_DUMMY_MAX_ENTRIES_LIMIT	BIT(28)
static unsigned long max_entries = BIT(20);

static int hmm_dummy_set_max_entries(const char *val,
				     const struct kernel_param *kp)
{
	unsigned long n;
	int ret;

	ret = kstrtoul(val, 0, &n);
	if (ret)
		return ret;
	if (!n || n > HMM_DUMMY_MAX_ENTRIES_LIMIT)
		return -EINVAL;
	WRITE_ONCE(max_entries, n);
	return 0;
}

static const struct kernel_param_ops hmm_dummy_max_entries_ops = {
	.set = hmm_dummy_set_max_entries,
	.get = param_get_ulong,
};

module_param_cb(max_entries, &hmm_dummy_max_entries_ops, &max_entries, 0644);
MODULE_PARM_DESC(max_entries, "4 KiB pages one open file's device page table may map (1-268435456, default 1048576), and 1/32 as many table pages, plus 64; past either a device fault fails with ENOSPC");

/* Longest mapping of a /dev/hmm_dmirrorN file (hmm-tests map one page). */
#define HMM_DUMMY_MMAP_MAX_PAGES	512

/* A test knob: ->release() unregisters the mirror itself, as a driver may. */
static bool unregister_in_release;
module_param(unregister_in_release, bool, 0644);
MODULE_PARM_DESC(unregister_in_release, "unregister the mirror from its release callback (default off)");

static bool device_memory = HMM_DUMMY_CAN_DEVMEM;
module_param(device_memory, bool, 0444);
MODULE_PARM_DESC(device_memory, "give the test_hmm devices simulated device memory (default on where the kernel has device-private memory)");

/* What a populate takes from the CPU page table. */
#define HMM_DUMMY_POP_WRITE	BIT(0)	/* fault every page for writing */
#define HMM_DUMMY_POP_OWN_ONLY	BIT(1)	/* no fault; the device's own pages only */

/*
 * The device page-table entry for what hmm_core reported of a page, or 0 for
 * none. Called with pt_lock held, the range checked with
 * hmm_mirror_range_retry(): a device page is still mapped by the CPU then.
 */
static unsigned long hmm_dummy_pte_of(unsigned long entry, unsigned int how)
{
	unsigned long pfn = hmm_mirror_entry_pfn(entry), flags = 0;

	if (!(entry & HMM_MIRROR_ENTRY_VALID))
		return 0;
	if (entry & HMM_MIRROR_ENTRY_DEVICE_PRIVATE) {
		pfn = hmm_dummy_devmem_backing_pfn(pfn);
		flags |= HMM_DUMMY_PTE_DEVICE;
	} else if (how & HMM_DUMMY_POP_OWN_ONLY) {
		return 0;
	}
	if (entry & HMM_MIRROR_ENTRY_WRITE)
		flags |= HMM_DUMMY_PTE_WRITE;
	return hmm_dummy_pte_pack(pfn, hmm_mirror_entry_order(entry), flags);
}

static struct hmm_dummy_file *to_dummy_file(struct hmm_mirror *mirror)
{
	return container_of(mirror, struct hmm_dummy_file, mirror);
}

unsigned int hmm_dummy_event(enum mmu_notifier_event event)
{
	switch (event) {
	case MMU_NOTIFY_UNMAP:
		return HMM_DUMMY_EVENT_UNMAP;
	case MMU_NOTIFY_CLEAR:
		return HMM_DUMMY_EVENT_CLEAR;
	case MMU_NOTIFY_PROTECTION_VMA:
		return HMM_DUMMY_EVENT_PROTECTION_VMA;
	case MMU_NOTIFY_PROTECTION_PAGE:
		return HMM_DUMMY_EVENT_PROTECTION_PAGE;
	case MMU_NOTIFY_SOFT_DIRTY:
		return HMM_DUMMY_EVENT_SOFT_DIRTY;
	case MMU_NOTIFY_RELEASE:
		return HMM_DUMMY_EVENT_RELEASE;
	case MMU_NOTIFY_MIGRATE:
		return HMM_DUMMY_EVENT_MIGRATE;
	case MMU_NOTIFY_EXCLUSIVE:
		return HMM_DUMMY_EVENT_EXCLUSIVE;
	default:
		return HMM_DUMMY_EVENT_OTHER;
	}
}

/*
 * Mark the EXCLUSIVE batches in flight that @update changes: all but the
 * exclusive conversion itself (see hmm_dummy_commit_exclusive()). Called
 * with pt_lock held; the list is empty but while an EXCLUSIVE call runs.
 */
static void hmm_dummy_exclusive_changed(struct hmm_dummy_file *dfile,
					const struct hmm_update *update)
{
	struct hmm_dummy_exclusive *ex;

	lockdep_assert_held(&dfile->pt_lock);
	if (update->event == MMU_NOTIFY_EXCLUSIVE)
		return;
	list_for_each_entry(ex, &dfile->exclusive, link)
		if (update->start < ex->end && ex->start < update->end)
			ex->changed = true;
}

/**
 * hmm_dummy_clear - the CPU page table is about to change: clear the entries
 * @dfile: the open file
 * @update: the change, from an invalidation's (first) pass
 *
 * Takes pt_lock on every call (the populate protocol's rule). The device
 * may still hold cached translations of the range in its TLB: the caller
 * flushes them (hmm_dummy_tlb.c).
 *
 * Return: 0; -EAGAIN if the invalidation may not sleep and pt_lock is busy.
 */
int hmm_dummy_clear(struct hmm_dummy_file *dfile,
		    const struct hmm_update *update)
{
	unsigned int delay_us = READ_ONCE(invalidate_delay_us);
	unsigned long cleared;

	if (update->blockable && delay_us)
		usleep_range(delay_us, delay_us + delay_us / 4 + 1);
	if (update->blockable)
		mutex_lock(&dfile->pt_lock);
	else if (!mutex_trylock(&dfile->pt_lock))
		return -EAGAIN;

	dfile->counters.invalidations[hmm_dummy_event(update->event)]++;
	hmm_dummy_exclusive_changed(dfile, update);
	cleared = hmm_dummy_pt_clear(&dfile->pt, update->start, update->end,
				     update->blockable);
	dfile->counters.pages_invalidated += cleared;
	mutex_unlock(&dfile->pt_lock);
	hmm_mirror_report_invalidated(&dfile->mirror, cleared);
	return 0;
}

void hmm_dummy_release(struct hmm_mirror *mirror)
{
	struct hmm_dummy_file *dfile = to_dummy_file(mirror);

	mutex_lock(&dfile->pt_lock);
	dfile->counters.releases++;
	mutex_unlock(&dfile->pt_lock);

	/*
	 * The address space is gone: a driver may drop its mirror right here.
	 * hmm_core allows unregistering from inside ->release(); close then
	 * only waits for this to be done before freeing the file.
	 */
	if (READ_ONCE(unregister_in_release) &&
	    test_and_clear_bit(0, &dfile->registered)) {
		hmm_mirror_unregister(mirror);
		complete(&dfile->unregistered);
	}
}

/**
 * hmm_dummy_pt_store - commit entries, in one pass
 * @dfile: the open file, pt_lock held
 * @cache: the table pages hmm_dummy_pt_prealloc() set aside for the range
 * @start: address of @ptes[0]
 * @ptes: one entry per page (hmm_dummy_pte_pack()), 0 to leave it be
 * @npages: entries in @ptes
 *
 * Context: pt_lock held; allocates nothing.
 * Return: 0; -ENOSPC past max_entries: the entries before stay.
 */
int hmm_dummy_pt_store(struct hmm_dummy_file *dfile,
		       struct hmm_dummy_pt_cache *cache, unsigned long start,
		       const unsigned long *ptes, unsigned long npages)
{
	unsigned long stored = 0;
	int ret;

	lockdep_assert_held(&dfile->pt_lock);
	ret = hmm_dummy_pt_commit(&dfile->pt, cache, start, ptes, npages,
				  READ_ONCE(max_entries), &stored);
	dfile->counters.pages_populated += stored;
	return ret;
}

static int hmm_dummy_pt_has(unsigned long index, unsigned long pte,
			    void *arg)
{
	unsigned long flags = *(unsigned long *)arg;

	return (pte & flags) == flags;
}

/*
 * Whether an entry of [start, end) has every bit of @flags
 * (HMM_DUMMY_PTE_*). Takes pt_lock.
 */
bool hmm_dummy_pt_any(struct hmm_dummy_file *dfile, unsigned long start,
		      unsigned long end, unsigned long flags)
{
	bool found;

	mutex_lock(&dfile->pt_lock);
	found = hmm_dummy_pt_walk(&dfile->pt, start >> PAGE_SHIFT,
				  (end >> PAGE_SHIFT) - 1, hmm_dummy_pt_has,
				  &flags);
	mutex_unlock(&dfile->pt_lock);
	return found;
}

/*
 * Whether a write fault found a read-only page of the device's own memory:
 * hmm_range_fault() reports those in place without faulting them writable.
 */
static bool hmm_dummy_own_readonly(const unsigned long *entries,
				   unsigned long npages)
{
	unsigned long i;

	for (i = 0; i < npages; i++)
		if ((entries[i] & (HMM_MIRROR_ENTRY_DEVICE_PRIVATE |
				   HMM_MIRROR_ENTRY_WRITE)) ==
		    HMM_MIRROR_ENTRY_DEVICE_PRIVATE)
			return true;
	return false;
}

/*
 * Populate [start, end), at most HMM_MIRROR_RANGE_MAX_PAGES pages, with the
 * begin/retry protocol of hmm_mirror.h, before the chunk's own deadline.
 * @range carries the entries array; @how: HMM_DUMMY_POP_* flags. A
 * write fault that meets a read-only page of the device's own memory asks
 * again without the device's owner: the page comes back to system memory,
 * where the CPU fault makes it writable (copy-on-write after fork, say).
 *
 * The table pages the commit may need are set aside in @cache before
 * pt_lock is taken (what is left is the caller's to free); the commit is
 * one pass over the whole chunk under one pt_lock hold, which allocates
 * nothing.
 */
static int hmm_dummy_populate_chunk(struct hmm_dummy_file *dfile,
				    struct hmm_mirror_range *range,
				    struct hmm_dummy_pt_cache *cache,
				    unsigned long start, unsigned long end,
				    unsigned int how)
{
	unsigned long i, npages = (end - start) >> PAGE_SHIFT;
	int ret;

	range->start = start;
	range->end = end;
	range->timeout = 0;
	range->write = how & HMM_DUMMY_POP_WRITE;
	range->dev_private_owner = dfile->dev->devmem;
again:
	if (fatal_signal_pending(current))
		return -EINTR;
	ret = hmm_dummy_pt_prealloc(&dfile->pt, cache, start, end);
	if (ret)
		return ret;
	if (how & HMM_DUMMY_POP_OWN_ONLY)
		ret = hmm_mirror_range_snapshot(&dfile->mirror, range);
	else
		ret = hmm_mirror_range_fault(&dfile->mirror, range);
	if (ret)
		return ret;
	if (range->write && range->dev_private_owner &&
	    hmm_dummy_own_readonly(range->entries, npages)) {
		range->dev_private_owner = NULL;
		goto again;
	}

	mutex_lock(&dfile->pt_lock);
	if (hmm_mirror_range_retry(&dfile->mirror, range)) {
		dfile->counters.retries++;
		mutex_unlock(&dfile->pt_lock);
		goto again;
	}
	/* In place: the entries are hmm_core's no more, but the device's. */
	for (i = 0; i < npages; i++)
		range->entries[i] = hmm_dummy_pte_of(range->entries[i], how);
	ret = hmm_dummy_pt_store(dfile, cache, start, range->entries, npages);
	mutex_unlock(&dfile->pt_lock);
	return ret;
}

/**
 * hmm_dummy_populate - a device fault: populate [start, end), chunk by chunk
 * @dfile: the open file, range_sem held for reading
 * @start: first address, page aligned
 * @end: end of the range, page aligned
 * @how: HMM_DUMMY_POP_* flags
 * @done: incremented by the pages populated
 *
 * A chunk that invalidations keep busy past its deadline fails with -EBUSY,
 * which ends the fault. A chunk that fails is one range to
 * hmm_mirror_range_fault(), all or nothing, so it is tried again page by
 * page: the pages before the one the CPU cannot give, or the one past the
 * entry cap, are populated and counted in @done, exactly.
 *
 * Chunks end at 2 MiB boundaries, so that a range the CPU maps with a PMD
 * is committed whole, as one entry.
 *
 * Context: Process context; takes pt_lock, never with an allocation under it.
 * Return: 0; -ENOMEM, -EINTR, -ENOSPC past max_entries, or what
 * hmm_mirror_range_fault() says (-EFAULT, -EPERM, -EBUSY).
 */
int hmm_dummy_populate(struct hmm_dummy_file *dfile, unsigned long start,
		       unsigned long end, unsigned int how, u64 *done)
{
	const unsigned long chunk = HMM_MIRROR_RANGE_MAX_PAGES * PAGE_SIZE;
	struct hmm_dummy_pt_cache cache = {};
	struct hmm_mirror_range range = {};
	unsigned long addr, next;
	bool by_page = false;
	int ret = 0;

	range.entries = kmalloc_array(HMM_MIRROR_RANGE_MAX_PAGES,
				      sizeof(*range.entries), GFP_KERNEL);
	if (!range.entries)
		return -ENOMEM;

	if (!(how & HMM_DUMMY_POP_OWN_ONLY)) {
		mutex_lock(&dfile->pt_lock);
		dfile->counters.device_faults++;
		mutex_unlock(&dfile->pt_lock);
	}

	for (addr = start; addr < end; addr = next) {
		next = by_page ? addr + PAGE_SIZE :
		       min(end, ALIGN_DOWN(addr, chunk) + chunk);
		ret = hmm_dummy_populate_chunk(dfile, &range, &cache, addr,
					       next, how);
		if (ret == -EFAULT || ret == -EPERM || ret == -ENOSPC) {
			if (by_page || next - addr == PAGE_SIZE)
				break;
			by_page = true;
			next = addr;
			continue;
		}
		if (ret)
			break;
		*done += (next - addr) >> PAGE_SHIFT;
		cond_resched();
	}
	hmm_dummy_pt_cache_free(&cache);
	kfree(range.entries);
	return ret;
}

/* A device write fault over [start, end), all pages or an error. */
int hmm_dummy_fault_write(struct hmm_dummy_file *dfile, unsigned long start,
			  unsigned long end)
{
	u64 done = 0;

	return hmm_dummy_populate(dfile, start, end, HMM_DUMMY_POP_WRITE,
				  &done);
}

/*
 * Check a range given by user space: page aligned, 1 to HMM_DUMMY_MAX_PAGES
 * pages, not wrapping, inside the mirrored range. Called with range_sem held.
 */
int hmm_dummy_check_range(struct hmm_dummy_file *dfile, u64 addr, u64 npages,
			  unsigned long *end)
{
	u64 last;

	if (!npages || npages > HMM_DUMMY_MAX_PAGES || !PAGE_ALIGNED(addr))
		return -EINVAL;
	if (check_add_overflow(addr, npages << PAGE_SHIFT, &last) ||
	    addr < dfile->start || last > dfile->end)
		return -EINVAL;
	*end = last;
	return 0;
}

/*
 * Copy one page between the process memory, as the device sees it, and
 * @bounce. -ENOENT if the device page table has no entry good enough: the
 * caller takes a device fault.
 */
struct hmm_dummy_access {
	void *bounce;
	struct page *page;
	bool write;
};

/*
 * The device uses a translation: copy the page. Under the TLB's lock: the
 * flush that would drop the translation, which the invalidation that would
 * free the page waits for, waits for this.
 */
static int hmm_dummy_access_use(unsigned long pte, void *arg)
{
	struct hmm_dummy_access *acc = arg;
	struct page *page;
	void *kaddr;

	if (acc->write && !(pte & HMM_DUMMY_PTE_WRITE))
		return -ENOENT;
	page = pfn_to_page(hmm_dummy_pte_pfn(pte));
	kaddr = kmap_local_page(page);
	if (acc->write)
		memcpy(kaddr, acc->bounce, PAGE_SIZE);
	else
		memcpy(acc->bounce, kaddr, PAGE_SIZE);
	kunmap_local(kaddr);
	/* The backing page of a device page is the device's own RAM. */
	if (acc->write && !(pte & HMM_DUMMY_PTE_DEVICE)) {
		get_page(page);
		acc->page = page;
	}
	return 0;
}

/*
 * Copy one page between the process memory, as the device sees it through
 * its TLB, and @bounce. -ENOENT if neither the TLB nor the device page table
 * has an entry good enough: the caller takes a device fault.
 */
static int hmm_dummy_access_page(struct hmm_dummy_file *dfile,
				 unsigned long addr, void *bounce, bool write)
{
	struct hmm_dummy_access acc = { .bounce = bounce, .write = write };
	unsigned long pte;
	int ret;

	mutex_lock(&dfile->pt_lock);
	pte = hmm_dummy_pt_lookup(&dfile->pt, addr);
	ret = hmm_dummy_tlb_access(dfile, addr, pte, hmm_dummy_access_use,
				   &acc);
	mutex_unlock(&dfile->pt_lock);

	if (acc.page) {
		/*
		 * A CPU store sets its PTE's dirty bit; this store does not,
		 * and hmm_range_fault() leaves a writable clean PTE alone, so
		 * the page is dirtied here or reclaim may drop the data
		 * (MADV_FREE). Not under pt_lock: on the reclaim path the
		 * folio lock is taken outside the invalidation. The reference
		 * keeps the page, and keeps reclaim from discarding it, until
		 * it is dirty.
		 */
		set_page_dirty_lock(acc.page);
		put_page(acc.page);
	}
	return ret;
}

/**
 * hmm_dummy_copy - the device reads or writes process memory
 * @dfile: the open file, range_sem held for reading
 * @addr: first address, page aligned
 * @ubuf: the caller's buffer, @npages pages
 * @npages: pages, checked by hmm_dummy_check_range()
 * @write: copy @ubuf into the process's memory, instead of from it
 * @nofault: fail with -ENOENT at a missing entry instead of faulting
 * @done: set to the pages copied
 * @faults: incremented by the device faults taken
 *
 * Goes through the device page table. A missing entry is a device fault
 * over the rest of the range, which populates up to the first page the CPU
 * cannot give; the copy goes on to that page and fails there, so @done stops
 * exactly at it. User memory is only touched with pt_lock dropped: a fault
 * on it may invalidate, which takes pt_lock.
 *
 * Return: 0; -EFAULT, -ENOMEM, -EINTR, -ENOENT, or what the fault says.
 */
int hmm_dummy_copy(struct hmm_dummy_file *dfile, unsigned long addr,
		   char __user *ubuf, unsigned long npages, bool write,
		   bool nofault, u64 *done, u64 *faults)
{
	unsigned long end = addr + npages * PAGE_SIZE, va;
	int ret = 0, fault_err = 0;
	u64 populated, fault_stop = 0;
	void *bounce;

	bounce = kmalloc(PAGE_SIZE, GFP_KERNEL);
	if (!bounce)
		return -ENOMEM;

	for (*done = 0; *done < npages; ) {
		va = addr + *done * PAGE_SIZE;
		if (write && copy_from_user(bounce, ubuf + *done * PAGE_SIZE,
					    PAGE_SIZE)) {
			ret = -EFAULT;
			break;
		}
		ret = hmm_dummy_access_page(dfile, va, bounce, write);
		if (ret == -ENOENT && !nofault) {
			/*
			 * The last device fault stopped at this very page: it
			 * failed. A page before it lost its entry since (an
			 * invalidation; the copy itself may break copy-on-write
			 * in its own range): fault again from there.
			 */
			if (fault_err && *done == fault_stop) {
				ret = fault_err;
				break;
			}
			populated = 0;
			fault_err = hmm_dummy_populate(dfile, va, end,
						       write ? HMM_DUMMY_POP_WRITE : 0,
						       &populated);
			fault_stop = *done + populated;
			(*faults)++;
			ret = populated ? 0 : fault_err;
			if (ret)
				break;
			continue;
		}
		if (ret)
			break;
		if (!write && copy_to_user(ubuf + *done * PAGE_SIZE, bounce,
					   PAGE_SIZE)) {
			ret = -EFAULT;
			break;
		}
		(*done)++;
		if (fatal_signal_pending(current)) {
			ret = -EINTR;
			break;
		}
		cond_resched();
	}
	kfree(bounce);
	return ret;
}

/* One byte of the native SNAPSHOT per page: HMM_DUMMY_SNAP_* flags. */
static u8 hmm_dummy_snap_byte(unsigned long entry)
{
	u8 b;

	if (entry & HMM_MIRROR_ENTRY_ERROR)
		return HMM_DUMMY_SNAP_ERROR;
	if (!(entry & HMM_MIRROR_ENTRY_VALID))
		return HMM_DUMMY_SNAP_NONE;
	b = HMM_DUMMY_SNAP_READ;
	if (entry & HMM_MIRROR_ENTRY_WRITE)
		b |= HMM_DUMMY_SNAP_WRITE;
	if (entry & HMM_MIRROR_ENTRY_ZERO)
		b |= HMM_DUMMY_SNAP_ZERO;
	if (hmm_mirror_entry_order(entry))
		b |= HMM_DUMMY_SNAP_HUGE;
	return b;
}

/**
 * hmm_dummy_snapshot - what the CPU page table maps now, without faulting
 * @dfile: the open file, range_sem held for reading
 * @addr: first address, page aligned
 * @uptr: where the bytes go, one per page
 * @npages: pages, checked by hmm_dummy_check_range()
 * @snap_byte: the byte of the caller's ABI for one hmm_core entry
 *
 * Return: 0; -EFAULT, -ENOMEM, or what hmm_mirror_range_snapshot() says.
 */
int hmm_dummy_snapshot(struct hmm_dummy_file *dfile, unsigned long addr,
		       u8 __user *uptr, unsigned long npages,
		       u8 (*snap_byte)(unsigned long entry))
{
	struct hmm_mirror_range range = {
		.dev_private_owner = dfile->dev->devmem,
	};
	unsigned long *entries, i, n, done;
	u8 *bytes;
	int ret = 0;

	entries = kmalloc_array(HMM_MIRROR_RANGE_MAX_PAGES, sizeof(*entries),
				GFP_KERNEL);
	bytes = kmalloc(HMM_MIRROR_RANGE_MAX_PAGES, GFP_KERNEL);
	if (!entries || !bytes) {
		ret = -ENOMEM;
		goto out;
	}
	range.entries = entries;
	for (done = 0; done < npages; done += n) {
		n = min_t(unsigned long, npages - done,
			  HMM_MIRROR_RANGE_MAX_PAGES);
		range.start = addr + done * PAGE_SIZE;
		range.end = range.start + n * PAGE_SIZE;
		range.timeout = 0;
		ret = hmm_mirror_range_snapshot(&dfile->mirror, &range);
		if (ret)
			break;
		for (i = 0; i < n; i++)
			bytes[i] = snap_byte(entries[i]);
		if (copy_to_user(uptr + done, bytes, n)) {
			ret = -EFAULT;
			break;
		}
	}
out:
	kfree(bytes);
	kfree(entries);
	return ret;
}

/* How many struct hmm_dummy_pte one DUMP step gathers under pt_lock. */
#define HMM_DUMMY_DUMP_BATCH	(PAGE_SIZE / sizeof(struct hmm_dummy_pte))

/* One DUMP step: the batch, how full it is, where it stopped. */
struct hmm_dummy_dump_step {
	struct hmm_dummy_pte *batch;
	unsigned long n;
	unsigned long room;
	unsigned long index;
};

static int hmm_dummy_dump_one(unsigned long index, unsigned long pte,
			      void *arg)
{
	struct hmm_dummy_dump_step *step = arg;
	struct hmm_dummy_pte *p = &step->batch[step->n];

	p->va = index << PAGE_SHIFT;
	p->pfn = hmm_dummy_pte_pfn(pte);
	p->perm = HMM_DUMMY_PERM_READ |
		  (pte & HMM_DUMMY_PTE_WRITE ? HMM_DUMMY_PERM_WRITE : 0);
	p->order = hmm_dummy_pte_order(pte);
	step->index = index;
	return ++step->n == step->room;
}

static int hmm_dummy_dump(struct hmm_dummy_file *dfile, unsigned long addr,
			  unsigned long end, struct hmm_dummy_pte __user *uptr,
			  u64 max_entries, u64 *nr_entries)
{
	unsigned long index = addr >> PAGE_SHIFT, last = (end >> PAGE_SHIFT) - 1;
	struct hmm_dummy_dump_step step = {};
	unsigned long n;
	bool more = true;
	int ret = 0;

	step.batch = kmalloc_array(HMM_DUMMY_DUMP_BATCH, sizeof(*step.batch),
				   GFP_KERNEL);
	if (!step.batch)
		return -ENOMEM;

	*nr_entries = 0;
	while (more && *nr_entries < max_entries) {
		step.n = 0;
		step.room = min_t(u64, HMM_DUMMY_DUMP_BATCH,
				  max_entries - *nr_entries);
		mutex_lock(&dfile->pt_lock);
		/* Stopped full: there may be more past the last one. */
		more = hmm_dummy_pt_walk(&dfile->pt, index, last,
					 hmm_dummy_dump_one, &step) &&
		       step.index < last;
		mutex_unlock(&dfile->pt_lock);
		n = step.n;
		if (!n)
			break;
		if (copy_to_user(uptr + *nr_entries, step.batch,
				 n * sizeof(*step.batch))) {
			ret = -EFAULT;
			break;
		}
		*nr_entries += n;
		index = step.index + 1;
	}
	kfree(step.batch);
	return ret;
}

static bool hmm_dummy_reserved_zero(const u64 *reserved, size_t n)
{
	while (n--)
		if (reserved[n])
			return false;
	return true;
}

/*
 * Unknown flags or a non-zero reserved field: -EINVAL, so that they can be
 * given a meaning later. Every native argument struct has these fields.
 */
#define hmm_dummy_args_bad(arg, known_flags) ({			\
	typeof(arg) _arg = (arg);					\
	(_arg->flags & ~(known_flags)) || _arg->reserved0 ||		\
	!hmm_dummy_reserved_zero(_arg->reserved, ARRAY_SIZE(_arg->reserved)); \
})

/*
 * Copy in the argument struct of a native range ioctl and check it: flags
 * and reserved fields, then its range (addr, npages), whose end goes to
 * *@end. 0, or the errno the ioctl fails with.
 */
#define hmm_dummy_range_args_in(dfile, uarg, arg, known_flags, end) ({	\
	typeof(arg) _a = (arg);						\
	copy_from_user(_a, uarg, sizeof(*_a)) ? -EFAULT :		\
	hmm_dummy_args_bad(_a, known_flags) ? -EINVAL :			\
	hmm_dummy_check_range(dfile, _a->addr, _a->npages, end);	\
})

static long hmm_dummy_ioc_fault(struct hmm_dummy_file *dfile, void __user *uarg)
{
	struct hmm_dummy_fault arg;
	unsigned long end;
	long ret;

	ret = hmm_dummy_range_args_in(dfile, uarg, &arg, HMM_DUMMY_FAULT_WRITE,
				      &end);
	if (ret)
		return ret;
	arg.done = 0;
	ret = hmm_dummy_populate(dfile, arg.addr, end,
				 arg.flags & HMM_DUMMY_FAULT_WRITE ?
				 HMM_DUMMY_POP_WRITE : 0, &arg.done);
	if (copy_to_user(uarg, &arg, sizeof(arg)))
		return -EFAULT;
	return ret;
}

static long hmm_dummy_ioc_rw(struct hmm_dummy_file *dfile, void __user *uarg,
			     bool write)
{
	struct hmm_dummy_rw arg;
	unsigned long end;
	long ret;

	ret = hmm_dummy_range_args_in(dfile, uarg, &arg, 0, &end);
	if (ret)
		return ret;
	arg.faults = 0;
	ret = hmm_dummy_copy(dfile, arg.addr, u64_to_user_ptr(arg.ptr),
			     arg.npages, write, false, &arg.done, &arg.faults);
	if (copy_to_user(uarg, &arg, sizeof(arg)))
		return -EFAULT;
	return ret;
}

static long hmm_dummy_ioc_snapshot(struct hmm_dummy_file *dfile,
				   void __user *uarg)
{
	struct hmm_dummy_snapshot arg;
	unsigned long end;
	long ret;

	ret = hmm_dummy_range_args_in(dfile, uarg, &arg, 0, &end);
	if (ret)
		return ret;
	return hmm_dummy_snapshot(dfile, arg.addr, u64_to_user_ptr(arg.ptr),
				  arg.npages, hmm_dummy_snap_byte);
}

static long hmm_dummy_ioc_dump(struct hmm_dummy_file *dfile, void __user *uarg)
{
	struct hmm_dummy_dump arg;
	unsigned long end;
	long ret;

	if (!capable(CAP_SYS_ADMIN))
		return -EPERM;
	ret = hmm_dummy_range_args_in(dfile, uarg, &arg, 0, &end);
	if (ret)
		return ret;
	ret = hmm_dummy_dump(dfile, arg.addr, end, u64_to_user_ptr(arg.ptr),
			     arg.max_entries, &arg.nr_entries);
	if (copy_to_user(uarg, &arg, sizeof(arg)))
		return -EFAULT;
	return ret;
}

static long hmm_dummy_ioc_counters(struct hmm_dummy_file *dfile,
				   void __user *uarg)
{
	struct hmm_dummy_counters counters;

	mutex_lock(&dfile->pt_lock);
	counters = dfile->counters;
	mutex_unlock(&dfile->pt_lock);
	if (copy_to_user(uarg, &counters, sizeof(counters)))
		return -EFAULT;
	return 0;
}

/*
 * Mirror [addr, addr + npages pages) instead of what the file mirrored.
 * Called with range_sem held for writing: no other ioctl uses the mirror.
 * ->release() cannot run meanwhile either: the caller's mm is the mirror's,
 * and it is alive while the caller runs.
 */
static long hmm_dummy_ioc_set_range(struct hmm_dummy_file *dfile,
				    void __user *uarg)
{
	struct mm_struct *mm = current->mm;	/* the mirror's: checked */
	struct hmm_dummy_range arg;
	u64 end;

	if (copy_from_user(&arg, uarg, sizeof(arg)))
		return -EFAULT;
	if (hmm_dummy_args_bad(&arg, 0))
		return -EINVAL;
	if (!arg.npages || !PAGE_ALIGNED(arg.addr) ||
	    arg.npages > mm->task_size >> PAGE_SHIFT ||
	    check_add_overflow(arg.addr, arg.npages << PAGE_SHIFT, &end) ||
	    end > mm->task_size)
		return -EINVAL;

	dfile->start = arg.addr;
	dfile->end = end;
	return hmm_dummy_reregister(dfile, dfile->mirror.ops);
}

/**
 * hmm_dummy_reregister - register the mirror again, over [start, end)
 * @dfile: the open file, range_sem held for writing, on its mirror's mm
 * @ops: the mirror's ops from now on
 *
 * The device page table and TLB are emptied. If registering fails, the
 * file mirrors nothing any more.
 *
 * Return: 0, or what hmm_mirror_register_range() says.
 */
int hmm_dummy_reregister(struct hmm_dummy_file *dfile,
			 const struct hmm_mirror_ops *ops)
{
	int ret;

	hmm_mirror_unregister(&dfile->mirror);
	/* No invalidation reaches the old entries any more: drop them all. */
	mutex_lock(&dfile->pt_lock);
	hmm_dummy_pt_reset(&dfile->pt, dfile->end);
	hmm_dummy_tlb_flush_all(&dfile->tlb);
	mutex_unlock(&dfile->pt_lock);

	dfile->mirror.ops = ops;
	ret = hmm_mirror_register_range(&dfile->mirror, current->mm,
					dfile->start, dfile->end);
	if (ret) {
		/* The file mirrors nothing now; close need not wait. */
		clear_bit(0, &dfile->registered);
		complete(&dfile->unregistered);
	}
	return ret;
}

static long hmm_dummy_native_ioctl(struct hmm_dummy_file *dfile,
				   unsigned int cmd, void __user *uarg)
{
	switch (cmd) {
	case HMM_DUMMY_IOC_FAULT:
		return hmm_dummy_ioc_fault(dfile, uarg);
	case HMM_DUMMY_IOC_READ:
		return hmm_dummy_ioc_rw(dfile, uarg, false);
	case HMM_DUMMY_IOC_WRITE:
		return hmm_dummy_ioc_rw(dfile, uarg, true);
	case HMM_DUMMY_IOC_SNAPSHOT:
		return hmm_dummy_ioc_snapshot(dfile, uarg);
	case HMM_DUMMY_IOC_DUMP:
		return hmm_dummy_ioc_dump(dfile, uarg);
	case HMM_DUMMY_IOC_COUNTERS:
		return hmm_dummy_ioc_counters(dfile, uarg);
	}
	return -ENOTTY;
}

/*
 * The file mirrors its opener's address space and copies to and from the
 * caller's: both must be the same, or one process could read another's
 * memory through an inherited or passed file.
 */
static bool hmm_dummy_caller_ok(struct hmm_dummy_file *dfile)
{
	return test_bit(0, &dfile->registered) &&
	       current->mm == hmm_mirror_mm(&dfile->mirror);
}

/**
 * hmm_dummy_ioctl_begin - enter an ioctl of an open file, of either ABI
 * @dfile: the file
 *
 * Context: Process context. Takes @dfile's range_sem for reading, which
 * hmm_dummy_ioctl_end() drops: the mirror is registered, on the caller's
 * mm, until then.
 * Return: 0 with range_sem held; -EPERM without, if the caller is not the
 * opener's address space or the file mirrors nothing any more.
 */
int hmm_dummy_ioctl_begin(struct hmm_dummy_file *dfile)
{
	if (!hmm_dummy_caller_ok(dfile))
		return -EPERM;
	down_read(&dfile->range_sem);
	if (!test_bit(0, &dfile->registered)) {
		up_read(&dfile->range_sem);
		return -EPERM;
	}
	return 0;
}

/**
 * hmm_dummy_ioctl_end - leave an ioctl hmm_dummy_ioctl_begin() entered
 * @dfile: the file
 */
void hmm_dummy_ioctl_end(struct hmm_dummy_file *dfile)
{
	up_read(&dfile->range_sem);
}

/* The native ABI, uapi/hmm_dummy.h: /dev/hmm_dummyN. */
static long hmm_dummy_ioctl(struct file *file, unsigned int cmd,
			    unsigned long arg)
{
	struct hmm_dummy_file *dfile = file->private_data;
	void __user *uarg = (void __user *)arg;
	long ret;

	if (cmd == HMM_DUMMY_IOC_SET_RANGE || cmd == HMM_DUMMY_IOC_TLB) {
		if (!hmm_dummy_caller_ok(dfile))
			return -EPERM;
		down_write(&dfile->range_sem);
		if (!test_bit(0, &dfile->registered))
			ret = -EPERM;
		else if (cmd == HMM_DUMMY_IOC_TLB)
			ret = hmm_dummy_ioc_tlb(dfile, uarg);
		else
			ret = hmm_dummy_ioc_set_range(dfile, uarg);
		up_write(&dfile->range_sem);
		return ret;
	}

	ret = hmm_dummy_ioctl_begin(dfile);
	if (ret)
		return ret;
	ret = hmm_dummy_native_ioctl(dfile, cmd, uarg);
	hmm_dummy_ioctl_end(dfile);
	return ret;
}

/**
 * hmm_dummy_open - open a device of either ABI: mirror the opener's mm
 * @inode: the device node's inode
 * @file: the file, whose private_data is the &struct miscdevice of a
 *	&struct hmm_dummy_device, and becomes its &struct hmm_dummy_file
 *
 * Return: 0; -EINVAL for a caller without an mm; -ENOMEM; or what
 * hmm_mirror_register() or the netlink family says.
 */
int hmm_dummy_open(struct inode *inode, struct file *file)
{
	struct hmm_dummy_device *dev =
		container_of(file->private_data, struct hmm_dummy_device, misc);
	struct hmm_dummy_file *dfile;
	int ret;

	if (!current->mm)
		return -EINVAL;
	dfile = kzalloc(sizeof(*dfile), GFP_KERNEL_ACCOUNT);
	if (!dfile)
		return -ENOMEM;
	dfile->dev = dev;
	init_rwsem(&dfile->range_sem);
	mutex_init(&dfile->pt_lock);
	/*
	 * Teach lockdep pt_lock's rule, "nothing allocates with reclaim while
	 * holding pt_lock": reclaim invalidates, and the invalidation takes
	 * pt_lock, so an allocation that may reclaim under it can deadlock.
	 * Taken once inside a reclaim section (fs_reclaim -> pt_lock), an
	 * allocation under pt_lock (pt_lock -> fs_reclaim) is then a lockdep
	 * report the first time it happens, not a deadlock the day memory
	 * runs short. Nothing without lockdep.
	 */
	if (IS_ENABLED(CONFIG_LOCKDEP)) {
		fs_reclaim_acquire(GFP_KERNEL);
		mutex_lock(&dfile->pt_lock);
		mutex_unlock(&dfile->pt_lock);
		fs_reclaim_release(GFP_KERNEL);
	}
	INIT_LIST_HEAD(&dfile->exclusive);
	hmm_dummy_tlb_init(&dfile->tlb);
	init_completion(&dfile->unregistered);
	dfile->mirror.ops = &hmm_dummy_mirror_ops;
	/* Which device, in hmm_core's list of every driver's mirrors. */
	hmm_mirror_set_label(&dfile->mirror, dev->name);

	dfile->start = 0;
	dfile->end = current->mm->task_size;
	/* Its pages are charged to the opener's memory cgroup. */
	ret = hmm_dummy_pt_init(&dfile->pt, dfile->end);
	if (ret) {
		kfree(dfile);
		return ret;
	}
	ret = hmm_mirror_register(&dfile->mirror, current->mm);
	if (ret) {
		hmm_dummy_pt_destroy(&dfile->pt);
		kfree(dfile);
		return ret;
	}
	dfile->tgid = get_task_pid(current, PIDTYPE_TGID);
	ret = hmm_dummy_nl_mirror_add(dfile);
	if (ret) {
		hmm_mirror_unregister(&dfile->mirror);
		put_pid(dfile->tgid);
		hmm_dummy_pt_destroy(&dfile->pt);
		kfree(dfile);
		return ret;
	}
	set_bit(0, &dfile->registered);
	file->private_data = dfile;
	return 0;
}

/**
 * hmm_dummy_file_release - close a device of either ABI
 * @inode: the device node's inode
 * @file: the file hmm_dummy_open() set up
 *
 * Return: 0.
 */
int hmm_dummy_file_release(struct inode *inode, struct file *file)
{
	struct hmm_dummy_file *dfile = file->private_data;

	hmm_dummy_nl_mirror_del(dfile);
	if (test_and_clear_bit(0, &dfile->registered))
		hmm_mirror_unregister(&dfile->mirror);
	else
		wait_for_completion(&dfile->unregistered);
	put_pid(dfile->tgid);
	hmm_dummy_pt_destroy(&dfile->pt);
	mutex_destroy(&dfile->pt_lock);
	kfree(dfile);
	return 0;
}

static const struct file_operations hmm_dummy_fops = {
	.owner = THIS_MODULE,
	.open = hmm_dummy_open,
	.release = hmm_dummy_file_release,
	.unlocked_ioctl = hmm_dummy_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.llseek = noop_llseek,
};

struct hmm_dummy_device *hmm_dummy_devices;
unsigned int hmm_dummy_nr_devices;

/*
 * Add a device answering @abi through @fops, named @fmt with @index, with
 * device memory of its own if @devmem.
 */
static int hmm_dummy_device_add(enum hmm_dummy_abi abi,
				const struct file_operations *fops,
				const char *fmt, unsigned int index, bool devmem)
{
	struct hmm_dummy_device *dev = &hmm_dummy_devices[hmm_dummy_nr_devices];
	int ret;

	dev->abi = abi;
	snprintf(dev->name, sizeof(dev->name), fmt, index);
	dev->misc.minor = MISC_DYNAMIC_MINOR;
	dev->misc.name = dev->name;
	dev->misc.fops = fops;
	/*
	 * Root only, as the kernel's own test_hmm: a device opens the
	 * opener's address space to kernel code. The Debian package's udev
	 * rule lets an administrator give it to a group.
	 */
	dev->misc.mode = 0600;
	if (devmem) {
		ret = hmm_dummy_devmem_init(dev);
		if (ret)
			return ret;
	}
	hmm_dummy_nr_devices++;
	return 0;
}

/*
 * No file is open (each holds a module reference, and the nodes are gone
 * first), but processes may still map pages of a device's memory:
 * hmm_dummy_devmem_fini() evicts them.
 */
static void hmm_dummy_devices_remove(void)
{
	while (hmm_dummy_nr_devices)
		hmm_dummy_devmem_fini(&hmm_dummy_devices[--hmm_dummy_nr_devices]);
	kfree(hmm_dummy_devices);
}

static void hmm_dummy_nodes_remove(unsigned int n)
{
	while (n)
		misc_deregister(&hmm_dummy_devices[--n].misc);
}

/* The device nodes go live last: nothing can be opened half set up. */
static int hmm_dummy_nodes_add(void)
{
	unsigned int i;
	int ret;

	for (i = 0; i < hmm_dummy_nr_devices; i++) {
		ret = misc_register(&hmm_dummy_devices[i].misc);
		if (ret) {
			pr_err("cannot register /dev/%s: %d\n",
			       hmm_dummy_devices[i].name, ret);
			hmm_dummy_nodes_remove(i);
			return ret;
		}
	}
	return 0;
}

static int __init hmm_dummy_init(void)
{
	unsigned int i, ndmirror = dmirror ? 2 : 0;
	int ret = 0;

	if (!ndevices || ndevices > HMM_DUMMY_MAX_DEVICES) {
		pr_err("ndevices must be 1 to %d\n", HMM_DUMMY_MAX_DEVICES);
		return -EINVAL;
	}
	if (device_memory && !HMM_DUMMY_CAN_DEVMEM) {
		pr_info("no device-private memory in this kernel: device_memory=0\n");
		device_memory = false;
	}
	hmm_dummy_devices = kcalloc(ndevices + ndmirror,
				    sizeof(*hmm_dummy_devices), GFP_KERNEL);
	if (!hmm_dummy_devices)
		return -ENOMEM;

	for (i = 0; i < ndevices && !ret; i++)
		ret = hmm_dummy_device_add(HMM_DUMMY_ABI_NATIVE, &hmm_dummy_fops,
					   "hmm_dummy%u", i, false);
	for (i = 0; i < ndmirror && !ret; i++)
		ret = hmm_dummy_device_add(HMM_DUMMY_ABI_DMIRROR,
					   &hmm_dmirror_fops, "hmm_dmirror%u",
					   i, device_memory);
	if (ret)
		goto err_devices;
	/* The netlink family lists the devices and hears from open files. */
	ret = hmm_dummy_nl_init();
	if (ret)
		goto err_devices;
	ret = hmm_dummy_nodes_add();
	if (ret)
		goto err_nl;
	return 0;

err_nl:
	hmm_dummy_nl_exit();
err_devices:
	hmm_dummy_devices_remove();
	return ret;
}

static void __exit hmm_dummy_exit(void)
{
	hmm_dummy_nodes_remove(hmm_dummy_nr_devices);
	hmm_dummy_nl_exit();
	hmm_dummy_devices_remove();
}

module_init(hmm_dummy_init);
module_exit(hmm_dummy_exit);
MODULE_DESCRIPTION("Reference driver for hmm_core: a software device page table");
MODULE_LICENSE("GPL");
