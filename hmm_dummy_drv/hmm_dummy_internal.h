/* SPDX-License-Identifier: GPL-2.0 */
/*
 * hmm_dummy_internal.h - the internal API of hmm_dummy's files
 *
 * The device and open-file structs, the packing of device page-table
 * entries, the core both ioctl ABIs call (hmm_dummy.c: open and close, the
 * ioctl envelope, populate, copy, snapshot; the native ABI is there too,
 * test_hmm's in hmm_dummy_dmirror.c), the device memory and exclusive
 * access (hmm_dummy_devmem.c, hmm_dummy_exclusive.c: stubs here where the
 * kernel has no such thing), and the hooks by which the driver tells its
 * generic netlink family (hmm_dummy_nl.c) that a mirror was opened or
 * closed (the family lists the files).
 *
 * The locks, and what each protects, are said once, at each lock's member:
 * &hmm_dummy_file.range_sem, &hmm_dummy_file.pt_lock here;
 * &hmm_dummy_devmem.lock and .grow_lock in hmm_dummy_devmem.c;
 * hmm_dummy_nl_lock in hmm_dummy_nl.c. Order: hmm_dummy_nl_lock, then
 * range_sem (never the other way), then pt_lock, the innermost: nothing
 * allocates with reclaim while holding it.
 */
#ifndef _HMM_DUMMY_INTERNAL_H
#define _HMM_DUMMY_INTERNAL_H

#include <linux/bitfield.h>
#include <linux/completion.h>
#include <linux/fs.h>
#include <linux/list.h>
#include <linux/miscdevice.h>
#include <linux/mutex.h>
#include <linux/rwsem.h>
#include <linux/spinlock.h>
#include <linux/xarray.h>

#include <hmm_mirror.h>
#include "uapi/hmm_dummy.h"

struct hmm_dummy_devmem;

/* Which ioctl set a device node answers, as the netlink family reports it. */
enum hmm_dummy_abi {
	HMM_DUMMY_ABI_NATIVE,
	HMM_DUMMY_ABI_DMIRROR,
};

/**
 * struct hmm_dummy_device - one simulated device
 * @misc: its character device
 * @abi: the ioctl set it answers
 * @name: its device node's name
 * @devmem: its simulated device memory (hmm_dummy_devmem.c), or NULL
 */
struct hmm_dummy_device {
	struct miscdevice misc;
	enum hmm_dummy_abi abi;
	char name[24];
	struct hmm_dummy_devmem *devmem;
};

/* Translations the simulated device TLB caches (hmm_dummy_tlb.c). */
#define HMM_DUMMY_TLB_ENTRIES	16
#define HMM_DUMMY_TLB_VALID	BIT(0)

/**
 * struct hmm_dummy_tlb - a file's simulated device TLB
 * @lock: protects the fields below but @latency_us; irqs off
 * @va: page address | %HMM_DUMMY_TLB_VALID of each cached translation
 * @pte: the device page-table entry cached for each @va
 * @next: the next slot to fill
 * @hits: accesses served from the TLB
 * @flushes: flushes started
 * @waits: second passes that waited
 * @fallbacks: flushes waited in the first pass for want of memory
 * @flushing: the flushes in flight (&struct hmm_dummy_flush), each until
 *	the device has completed it (hmm_dummy_tlb.c)
 * @latency_us: how long a flush takes; READ_ONCE/WRITE_ONCE
 */
struct hmm_dummy_tlb {
	spinlock_t lock; /* see @lock above */
	unsigned long va[HMM_DUMMY_TLB_ENTRIES];
	unsigned long pte[HMM_DUMMY_TLB_ENTRIES];
	unsigned int next;
	u64 hits;
	u64 flushes;
	u64 waits;
	u64 fallbacks;
	struct list_head flushing;
	u32 latency_us;
};

/**
 * struct hmm_dummy_pt - a device page table: a radix tree of 4 KiB table
 *	pages of 512 u64 entries (hmm_dummy_pt.c)
 * @root: the top table
 * @levels: levels of tables, the root's included: as many as the mirrored
 *	range needs, 4 for a 47-bit address space
 * @nr_pages: 4 KiB pages mapped (a huge entry counts 512): what the
 *	max_entries parameter caps
 * @nr_tables: table pages, the root's included
 *
 * Every field and table page is protected by the lock of the structure
 * holding it (&hmm_dummy_file.pt_lock).
 */
struct hmm_dummy_pt {
	u64 *root;
	unsigned int levels;
	unsigned long nr_pages;
	unsigned long nr_tables;
};

/**
 * struct hmm_dummy_pt_cache - table pages set aside for a commit
 * @free: zeroed pages, each linked to the next by its first u64
 * @nr: pages in @free
 *
 * Owned by the one thread that fills it (hmm_dummy_pt_prealloc()) and
 * takes from it (hmm_dummy_pt_commit()): no lock of its own.
 */
struct hmm_dummy_pt_cache {
	u64 *free;
	unsigned long nr;
};

/* Called by hmm_dummy_pt_walk() for each page: index, entry. */
typedef int (*hmm_dummy_pt_fn)(unsigned long index, unsigned long pte,
			       void *arg);

/**
 * struct hmm_dummy_file - an open device: one mirror of one address space
 * @mirror: registered on the opener's mm at open, unregistered at release
 * @range_sem: the lock of the mirrored range (what it protects: at the
 *	member)
 * @dev: the device opened
 * @pt_lock: the lock of the device page table (what it protects: at the
 *	member)
 * @pt: the device page table (hmm_dummy_pt.c)
 * @counters: this file's counters
 * @exclusive: the &struct hmm_dummy_exclusive of each EXCLUSIVE batch in
 *	flight: an exclusive mapping is only committed if nothing but its
 *	own conversion changed its batch meanwhile
 * @registered: bit 0 set while @mirror is registered; whoever clears it
 *	unregisters
 * @unregistered: completed when ->release() has unregistered @mirror
 * @nl_id: the file's key in the netlink family's list, 0 if it has none;
 *	the family names the mirror by @mirror's id, not by this
 * @start: start of the mirrored range
 * @end: end of the mirrored range
 * @tlb: the simulated device TLB the device's accesses go through
 * @tgid: the opener's thread group, as the netlink family reports it
 */
struct hmm_dummy_file {
	struct hmm_mirror mirror;
	/*
	 * Protects @start and @end and the registration of @mirror: held for
	 * reading by every ioctl (hmm_dummy_ioctl_begin()), which may use
	 * @mirror, and for writing by HMM_DUMMY_IOC_SET_RANGE, which registers
	 * it again. The netlink family reads @start and @end under it
	 * (down_read, inside hmm_dummy_nl_lock): hmm_dummy_nl_mirror_add() and
	 * _del(), which take hmm_dummy_nl_lock, must never be called with it
	 * held.
	 */
	struct rw_semaphore range_sem;
	struct hmm_dummy_device *dev;
	/*
	 * Protects @pt (every table page and entry of it, and its counts),
	 * @counters and @exclusive. Taken by the invalidation callback
	 * around clearing entries, and by the populate side around
	 * hmm_mirror_range_retry() and the commit. Nothing may allocate with
	 * reclaim (GFP_KERNEL) while holding it: reclaim invalidates, and the
	 * invalidation takes it: table pages are allocated before it is
	 * taken (hmm_dummy_pt_prealloc()). hmm_dummy_open() teaches lockdep
	 * that rule.
	 */
	struct mutex pt_lock;
	struct hmm_dummy_pt pt;
	struct hmm_dummy_counters counters;
	struct list_head exclusive;
	unsigned long registered;
	struct completion unregistered;
	u32 nl_id;
	struct pid *tgid;
	unsigned long start;
	unsigned long end;
	struct hmm_dummy_tlb tlb;
};

/**
 * struct hmm_dummy_exclusive - one EXCLUSIVE batch in flight
 * @link: entry in &hmm_dummy_file.exclusive, under its pt_lock
 * @start: first address of the batch
 * @end: end of the batch
 * @changed: an invalidation other than MMU_NOTIFY_EXCLUSIVE overlapped the
 *	batch since it was listed
 */
struct hmm_dummy_exclusive {
	struct list_head link;
	unsigned long start;
	unsigned long end;
	bool changed;
};

/*
 * Packing of a device page-table entry into a u64 of the table
 * (hmm_dummy_pt.c), 0 for none. DEVICE: the pfn is the backing page of a
 * device page (hmm_dummy_devmem.c). ATOMIC: an exclusive mapping
 * (HMM_DMIRROR_EXCLUSIVE).
 */
#define HMM_DUMMY_PTE_WRITE	BIT(0)
#define HMM_DUMMY_PTE_ORDER	GENMASK(5, 1)
#define HMM_DUMMY_PTE_DEVICE	BIT(6)
#define HMM_DUMMY_PTE_ATOMIC	BIT(7)
#define HMM_DUMMY_PTE_PFN_SHIFT	8

static inline unsigned long hmm_dummy_pte_pack(unsigned long pfn,
					       unsigned int order,
					       unsigned long flags)
{
	return pfn << HMM_DUMMY_PTE_PFN_SHIFT |
	       FIELD_PREP(HMM_DUMMY_PTE_ORDER, order) | flags;
}

static inline unsigned long hmm_dummy_pte_pfn(unsigned long pte)
{
	return pte >> HMM_DUMMY_PTE_PFN_SHIFT;
}

static inline unsigned int hmm_dummy_pte_order(unsigned long pte)
{
	return FIELD_GET(HMM_DUMMY_PTE_ORDER, pte);
}

/* The devices, in the order they were created: index = netlink DEV_INDEX. */
extern struct hmm_dummy_device *hmm_dummy_devices;
extern unsigned int hmm_dummy_nr_devices;

/* What a populate takes from the CPU page table. */
#define HMM_DUMMY_POP_WRITE	BIT(0)	/* fault every page for writing */
#define HMM_DUMMY_POP_OWN_ONLY	BIT(1)	/* no fault; the device's own pages only */

/* hmm_dummy_pt.c: the device page table */
int hmm_dummy_pt_init(struct hmm_dummy_pt *pt, unsigned long end);
void hmm_dummy_pt_reset(struct hmm_dummy_pt *pt, unsigned long end);
void hmm_dummy_pt_destroy(struct hmm_dummy_pt *pt);
int hmm_dummy_pt_prealloc(struct hmm_dummy_pt *pt,
			  struct hmm_dummy_pt_cache *cache,
			  unsigned long start, unsigned long end);
void hmm_dummy_pt_cache_free(struct hmm_dummy_pt_cache *cache);
int hmm_dummy_pt_commit(struct hmm_dummy_pt *pt,
			struct hmm_dummy_pt_cache *cache, unsigned long start,
			const unsigned long *ptes, unsigned long npages,
			unsigned long max_pages, unsigned long *stored);
unsigned long hmm_dummy_pt_clear(struct hmm_dummy_pt *pt, unsigned long start,
				 unsigned long end, bool may_sleep);
unsigned long hmm_dummy_pt_lookup(struct hmm_dummy_pt *pt, unsigned long addr);
int hmm_dummy_pt_walk(struct hmm_dummy_pt *pt, unsigned long first,
		      unsigned long last, hmm_dummy_pt_fn fn, void *arg);

/* hmm_dummy.c: the core both ABIs call */
int hmm_dummy_open(struct inode *inode, struct file *file);
int hmm_dummy_file_release(struct inode *inode, struct file *file);
int hmm_dummy_ioctl_begin(struct hmm_dummy_file *dfile);
void hmm_dummy_ioctl_end(struct hmm_dummy_file *dfile);
int hmm_dummy_check_range(struct hmm_dummy_file *dfile, u64 addr, u64 npages,
			  unsigned long *end);
unsigned int hmm_dummy_event(enum mmu_notifier_event event);
int hmm_dummy_pt_store(struct hmm_dummy_file *dfile,
		       struct hmm_dummy_pt_cache *cache, unsigned long start,
		       const unsigned long *ptes, unsigned long npages);
bool hmm_dummy_pt_any(struct hmm_dummy_file *dfile, unsigned long start,
		      unsigned long end, unsigned long flags);
int hmm_dummy_populate(struct hmm_dummy_file *dfile, unsigned long start,
		       unsigned long end, unsigned int how, u64 *done);
int hmm_dummy_fault_write(struct hmm_dummy_file *dfile, unsigned long start,
			  unsigned long end);
int hmm_dummy_copy(struct hmm_dummy_file *dfile, unsigned long addr,
		   char __user *ubuf, unsigned long npages, bool write,
		   bool nofault, u64 *done, u64 *faults);
int hmm_dummy_snapshot(struct hmm_dummy_file *dfile, unsigned long addr,
		       u8 __user *uptr, unsigned long npages,
		       u8 (*snap_byte)(unsigned long entry));

int hmm_dummy_clear(struct hmm_dummy_file *dfile,
		    const struct hmm_update *update);
void hmm_dummy_release(struct hmm_mirror *mirror);
int hmm_dummy_reregister(struct hmm_dummy_file *dfile,
			 const struct hmm_mirror_ops *ops);

/* hmm_dummy_tlb.c: the simulated device TLB, and the mirror's passes */
extern const struct hmm_mirror_ops hmm_dummy_mirror_ops;
extern const struct hmm_mirror_ops hmm_dummy_mirror_ops_2p;
void hmm_dummy_tlb_init(struct hmm_dummy_tlb *tlb);
void hmm_dummy_tlb_flush_all(struct hmm_dummy_tlb *tlb);
int hmm_dummy_tlb_access(struct hmm_dummy_file *dfile, unsigned long addr,
			 unsigned long pte,
			 int (*use)(unsigned long pte, void *arg), void *arg);
int hmm_dummy_sync_cpu_device_pagetables(struct hmm_mirror *mirror,
					 const struct hmm_update *update);
long hmm_dummy_ioc_tlb(struct hmm_dummy_file *dfile, void __user *uarg);

/* hmm_dummy_dmirror.c: the test_hmm ABI, /dev/hmm_dmirrorN */
extern const struct file_operations hmm_dmirror_fops;

/* hmm_dummy_devmem.c: built where the kernel has device-private memory */
#ifdef COMPAT_HAVE_DEVICE_MEMORY
#define HMM_DUMMY_CAN_DEVMEM	true
int hmm_dummy_devmem_init(struct hmm_dummy_device *dev);
void hmm_dummy_devmem_fini(struct hmm_dummy_device *dev);
int hmm_dummy_devmem_migrate(struct hmm_dummy_file *dfile, unsigned long start,
			     unsigned long end, bool to_dev, u64 *moved);
void hmm_dummy_devmem_release(struct hmm_dummy_device *dev);
unsigned long hmm_dummy_devmem_backing_pfn(unsigned long pfn);
#else
#define HMM_DUMMY_CAN_DEVMEM	false
static inline int hmm_dummy_devmem_init(struct hmm_dummy_device *dev)
{
	return 0;
}

static inline void hmm_dummy_devmem_fini(struct hmm_dummy_device *dev)
{
}

static inline int hmm_dummy_devmem_migrate(struct hmm_dummy_file *dfile,
					   unsigned long start,
					   unsigned long end, bool to_dev,
					   u64 *moved)
{
	return -EOPNOTSUPP;
}

static inline void hmm_dummy_devmem_release(struct hmm_dummy_device *dev)
{
}

static inline unsigned long hmm_dummy_devmem_backing_pfn(unsigned long pfn)
{
	return pfn;
}
#endif

/* hmm_dummy_exclusive.c: built where the kernel has device-exclusive pages */
#if defined(COMPAT_HAVE_MAKE_DEVICE_EXCLUSIVE) || \
	defined(COMPAT_HAVE_MAKE_DEVICE_EXCLUSIVE_RANGE)
#define HMM_DUMMY_CAN_EXCLUSIVE	true
/* Pages one make_device_exclusive step takes. */
#define HMM_DUMMY_EXCLUSIVE_BATCH	64
int hmm_dummy_exclusive(struct hmm_dummy_file *dfile, unsigned long start,
			unsigned long end);
#else
#define HMM_DUMMY_CAN_EXCLUSIVE	false
static inline int hmm_dummy_exclusive(struct hmm_dummy_file *dfile,
				      unsigned long start, unsigned long end)
{
	return -EOPNOTSUPP;
}
#endif

/* hmm_dummy_nl.c */
int hmm_dummy_nl_init(void);
void hmm_dummy_nl_exit(void);
int hmm_dummy_nl_mirror_add(struct hmm_dummy_file *dfile);
void hmm_dummy_nl_mirror_del(struct hmm_dummy_file *dfile);

#endif /* _HMM_DUMMY_INTERNAL_H */
