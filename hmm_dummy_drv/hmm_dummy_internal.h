/* SPDX-License-Identifier: GPL-2.0 */
/*
 * hmm_dummy_internal.h - what hmm_dummy.c shares with hmm_dummy_nl.c
 *
 * The device and open-file structs, the packing of device page-table
 * entries, and the hooks by which the driver tells its generic netlink
 * family (hmm_dummy_nl.c) that a mirror was opened, invalidated, released
 * or closed.
 */
#ifndef _HMM_DUMMY_INTERNAL_H
#define _HMM_DUMMY_INTERNAL_H

#include <linux/bitfield.h>
#include <linux/completion.h>
#include <linux/list.h>
#include <linux/miscdevice.h>
#include <linux/mutex.h>
#include <linux/rwsem.h>
#include <linux/xarray.h>

#include <hmm_core_compat.h>
#include <hmm_mirror.h>
#include "uapi/hmm_dummy.h"

struct hmm_dummy_devmem;

/* Which ioctl set a device node answers. */
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

/**
 * struct hmm_dummy_file - an open device: one mirror of one address space
 * @mirror: registered on the opener's mm at open, unregistered at release
 * @range_sem: held for reading by every ioctl, which may use @mirror, and
 *	for writing by HMM_DUMMY_IOC_SET_RANGE, which registers it again
 * @dev: the device opened
 * @pt_lock: taken by the invalidation callback around clearing entries, and
 *	by the populate side around hmm_mirror_range_retry() and the commit
 * @pt: the device page table: virtual page number -> packed entry
 * @nr_ptes: entries in @pt now
 * @counters: this file's counters
 * @exclusive: the &struct hmm_dummy_exclusive of each EXCLUSIVE batch in
 *	flight: an exclusive mapping is only committed if nothing but its
 *	own conversion changed its batch meanwhile
 * @registered: bit 0 set while @mirror is registered; whoever clears it
 *	unregisters
 * @unregistered: completed when ->release() has unregistered @mirror
 * @nl_id: the mirror's id in the netlink family, 0 if it has none
 * @start: start of the mirrored range
 * @end: end of the mirrored range
 * @tgid: the opener's thread group, as the netlink family reports it
 *
 * @pt_lock protects @pt (its contents, not its internal locking), @nr_ptes,
 * @counters and @exclusive. Nothing may allocate with GFP_KERNEL while holding it:
 * reclaim invalidates, and the invalidation takes it. @range_sem protects
 * @start and @end, which the netlink family reads under it (down_read,
 * inside hmm_dummy_nl_lock): hmm_dummy_nl_mirror_add() and _del(), which
 * take hmm_dummy_nl_lock, must never be called with @range_sem held.
 */
struct hmm_dummy_file {
	struct hmm_mirror mirror;
	struct rw_semaphore range_sem; /* protects mirror's range: start, end */
	struct hmm_dummy_device *dev;
	struct mutex pt_lock; /* protects pt, nr_ptes and counters */
	struct xarray pt;
	unsigned long nr_ptes;
	struct hmm_dummy_counters counters;
	struct list_head exclusive;
	unsigned long registered;
	struct completion unregistered;
	u32 nl_id;
	struct pid *tgid;
	unsigned long start;
	unsigned long end;
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
 * Packing of a device page-table entry into an xarray value. DEVICE: the pfn
 * is the backing page of a device page (hmm_dummy_devmem.c). ATOMIC: an
 * exclusive mapping (HMM_DMIRROR_EXCLUSIVE).
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

unsigned int hmm_dummy_event(enum mmu_notifier_event event);
int hmm_dummy_pt_store(struct hmm_dummy_file *dfile, unsigned long addr,
		       unsigned long pte);
int hmm_dummy_fault_write(struct hmm_dummy_file *dfile, unsigned long start,
			  unsigned long end);

/* hmm_dummy_devmem.c: where the kernel has device-private memory */
#ifdef HMM_CORE_HAVE_DEVICE_MEMORY
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

#if defined(HMM_CORE_HAVE_MAKE_DEVICE_EXCLUSIVE) || \
	defined(HMM_CORE_HAVE_MAKE_DEVICE_EXCLUSIVE_RANGE)
#define HMM_DUMMY_HAVE_EXCLUSIVE 1
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
void hmm_dummy_nl_invalidate(struct hmm_dummy_file *dfile,
			     const struct hmm_update *update);
void hmm_dummy_nl_release(struct hmm_dummy_file *dfile);

#endif /* _HMM_DUMMY_INTERNAL_H */
