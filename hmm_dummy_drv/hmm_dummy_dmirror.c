// SPDX-License-Identifier: GPL-2.0
/*
 * hmm_dummy_dmirror.c - the ABI of the kernel's lib/test_hmm.c
 *
 * /dev/hmm_dmirror0 and 1 answer the ioctls of uapi/hmm_dmirror.h, so the
 * kernel's own hmm-tests (tools/testing/selftests/mm/hmm-tests.c) run against
 * hmm_dummy. This file is that ABI only: its file operations, its ioctl
 * dispatcher and the encoding of its answers. The mirror, the device page
 * table and the populate protocol are hmm_dummy.c's (hmm_dummy_internal.h),
 * the device memory and exclusive access hmm_dummy_devmem.c's.
 */
#include <linux/capability.h>
#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/sched/signal.h>
#include <linux/uaccess.h>

#include <hmm_mirror.h>
#include "hmm_dummy_internal.h"
#include "uapi/hmm_dmirror.h"

/* Longest mapping of a /dev/hmm_dmirrorN file (hmm-tests map one page). */
#define HMM_DMIRROR_MMAP_MAX_PAGES	512

/* One byte of SNAPSHOT per page: HMM_DMIRROR_PROT_*, as test_hmm says it. */
static u8 hmm_dmirror_prot_byte(unsigned long entry)
{
	unsigned int order = hmm_mirror_entry_order(entry);
	u8 b;

	if (entry & HMM_MIRROR_ENTRY_ERROR)
		return HMM_DMIRROR_PROT_ERROR;
	if (!(entry & HMM_MIRROR_ENTRY_VALID))
		return HMM_DMIRROR_PROT_NONE;
	/* test_hmm's bytes say READ or WRITE, not both. */
	b = entry & HMM_MIRROR_ENTRY_WRITE ? HMM_DMIRROR_PROT_WRITE :
					     HMM_DMIRROR_PROT_READ;
	if (entry & HMM_MIRROR_ENTRY_ZERO)
		b |= HMM_DMIRROR_PROT_ZERO;
	if (entry & HMM_MIRROR_ENTRY_DEVICE_PRIVATE)
		b |= HMM_DMIRROR_PROT_DEV_PRIVATE_LOCAL;
	if (order == PMD_SHIFT - PAGE_SHIFT)
		b |= HMM_DMIRROR_PROT_PMD;
	else if (order == PUD_SHIFT - PAGE_SHIFT)
		b |= HMM_DMIRROR_PROT_PUD;
	return b;
}

/*
 * MIGRATE_TO_DEV: move the range's pages to the device's memory, and map
 * what is there now: its own pages only, without faulting.
 */
static int hmm_dmirror_migrate_to_dev(struct hmm_dummy_file *dfile,
				      unsigned long start, unsigned long end)
{
	u64 moved, done = 0;
	int ret;

	ret = hmm_dummy_devmem_migrate(dfile, start, end, true, &moved);
	if (!ret)
		ret = hmm_dummy_populate(dfile, start, end,
					 HMM_DUMMY_POP_OWN_ONLY, &done);
	return ret;
}

/* Which commands of the test_hmm ABI this device answers. */
static int hmm_dmirror_cmd_ok(struct hmm_dummy_file *dfile, unsigned int cmd)
{
	switch (cmd) {
	case HMM_DMIRROR_READ:
	case HMM_DMIRROR_WRITE:
	case HMM_DMIRROR_SNAPSHOT:
		return 0;
	case HMM_DMIRROR_MIGRATE_TO_DEV:
	case HMM_DMIRROR_MIGRATE_TO_SYS:
	case HMM_DMIRROR_RELEASE:
		return dfile->dev->devmem ? 0 : -EOPNOTSUPP;
	case HMM_DMIRROR_EXCLUSIVE:
	case HMM_DMIRROR_CHECK_EXCLUSIVE:
		return HMM_DUMMY_CAN_EXCLUSIVE ? 0 : -EOPNOTSUPP;
	}
	return -ENOTTY;
}

/* The commands of lib/test_hmm.c, called with range_sem held. */
static long hmm_dmirror_cmd(struct hmm_dummy_file *dfile, unsigned int cmd,
			    void __user *uarg)
{
	struct hmm_dmirror_cmd arg;
	void __user *uptr;
	unsigned long end;
	long ret;

	ret = hmm_dmirror_cmd_ok(dfile, cmd);
	if (ret)
		return ret;
	if (copy_from_user(&arg, uarg, sizeof(arg)))
		return -EFAULT;
	ret = hmm_dummy_check_range(dfile, arg.addr, arg.npages, &end);
	if (ret)
		return ret;
	uptr = u64_to_user_ptr(arg.ptr);
	arg.faults = 0;
	arg.cpages = 0;
	switch (cmd) {
	case HMM_DMIRROR_SNAPSHOT:
		ret = hmm_dummy_snapshot(dfile, arg.addr, uptr, arg.npages,
					 hmm_dmirror_prot_byte);
		if (!ret)
			arg.cpages = arg.npages;
		break;
	case HMM_DMIRROR_READ:
	case HMM_DMIRROR_WRITE:
		ret = hmm_dummy_copy(dfile, arg.addr, uptr, arg.npages,
				     cmd == HMM_DMIRROR_WRITE, false,
				     &arg.cpages, &arg.faults);
		break;
	case HMM_DMIRROR_MIGRATE_TO_DEV:
		ret = hmm_dmirror_migrate_to_dev(dfile, arg.addr, end);
		break;
	case HMM_DMIRROR_MIGRATE_TO_SYS:
		ret = hmm_dummy_devmem_migrate(dfile, arg.addr, end, false,
					       &arg.cpages);
		break;
	case HMM_DMIRROR_RELEASE:
		/* It evicts every process's pages from the device. */
		if (!capable(CAP_SYS_ADMIN))
			return -EPERM;
		hmm_dummy_devmem_release(dfile->dev);
		break;
	case HMM_DMIRROR_EXCLUSIVE:
		ret = hmm_dummy_exclusive(dfile, arg.addr, end);
		break;
	case HMM_DMIRROR_CHECK_EXCLUSIVE:
		/* -EPERM if the device still holds an exclusive mapping. */
		if (hmm_dummy_pt_any(dfile, arg.addr, end,
				     HMM_DUMMY_PTE_ATOMIC))
			ret = -EPERM;
		break;
	}
	/*
	 * MIGRATE_TO_DEV and EXCLUSIVE give back what the device maps now,
	 * for the caller to check: -ENOENT where it maps nothing.
	 */
	if (!ret && (cmd == HMM_DMIRROR_MIGRATE_TO_DEV ||
		     cmd == HMM_DMIRROR_EXCLUSIVE))
		ret = hmm_dummy_copy(dfile, arg.addr, uptr, arg.npages, false,
				     true, &arg.cpages, &arg.faults);
	if (ret)
		return ret;
	if (copy_to_user(uarg, &arg, sizeof(arg)))
		return -EFAULT;
	return 0;
}

static long hmm_dmirror_ioctl(struct file *file, unsigned int cmd,
			      unsigned long arg)
{
	struct hmm_dummy_file *dfile = file->private_data;
	long ret;

	ret = hmm_dummy_ioctl_begin(dfile);
	if (ret)
		return ret;
	ret = hmm_dmirror_cmd(dfile, cmd, (void __user *)arg);
	hmm_dummy_ioctl_end(dfile);
	return ret;
}

/*
 * test_hmm's devices can be mapped: fresh zeroed pages, inserted as a
 * mixed map, so that hmm-tests' "mixedmap" case sees a driver-owned page.
 * At most HMM_DMIRROR_MMAP_MAX_PAGES pages (-EINVAL past it), charged to the
 * caller's memory cgroup, all allocated here, under mmap_lock.
 */
static int hmm_dmirror_mmap(struct file *file, struct vm_area_struct *vma)
{
	unsigned long addr;
	int ret;

	if (vma_pages(vma) > HMM_DMIRROR_MMAP_MAX_PAGES)
		return -EINVAL;
	for (addr = vma->vm_start; addr < vma->vm_end; addr += PAGE_SIZE) {
		struct page *page;

		if (fatal_signal_pending(current))
			return -EINTR;
		page = alloc_page(GFP_KERNEL_ACCOUNT | __GFP_ZERO);
		if (!page)
			return -ENOMEM;
		ret = vm_insert_page(vma, addr, page);
		/* On success the mapping holds its own reference. */
		put_page(page);
		if (ret)
			return ret;
	}
	return 0;
}

const struct file_operations hmm_dmirror_fops = {
	.owner = THIS_MODULE,
	.open = hmm_dummy_open,
	.release = hmm_dummy_file_release,
	.unlocked_ioctl = hmm_dmirror_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.mmap = hmm_dmirror_mmap,
	.llseek = noop_llseek,
};
