// SPDX-License-Identifier: GPL-2.0
/*
 * The smallest third-party driver of hmm_core.
 *
 * Built out of tree against an installed hmm-mirror (see the Makefile next to
 * it): one misc device, /dev/hmm_example. Each open file mirrors the address
 * space of the process that opened it; a read() faults the page holding the
 * reader's own buffer through hmm_core, commits it to a one-entry "device
 * page table" with the populate protocol, and answers one line:
 *
 *   hmm_example: mirror registered, buffer pfn valid, N invalidations
 *
 * A real driver keeps a device page table and a device TLB where this keeps
 * one entry and a counter; the locking is the same.
 */

#include <linux/atomic.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include <hmm_mirror.h>

HMM_MIRROR_IMPORT_NS();

/**
 * struct hmm_example_file - one open file of /dev/hmm_example
 * @mirror: the subscription to the opener's mm
 * @lock: protects @pte and @va, the one-entry device page table
 * @pte: the entry committed by the last read, 0 when invalidated
 * @va: the address @pte translates
 * @invalidations: ->sync_cpu_device_pagetables() calls seen
 */
struct hmm_example_file {
	struct hmm_mirror mirror;
	struct mutex lock;		/* protects pte and va */
	unsigned long pte;
	unsigned long va;
	atomic_long_t invalidations;
};

static int hmm_example_sync(struct hmm_mirror *mirror,
			    const struct hmm_update *update)
{
	struct hmm_example_file *ef =
		container_of(mirror, struct hmm_example_file, mirror);

	if (update->blockable)
		mutex_lock(&ef->lock);
	else if (!mutex_trylock(&ef->lock))
		return -EAGAIN;
	/* A device would also flush its TLB for [start, end) here. */
	/* Optional: what was cleared, for hmm_core's pages-invalidated. */
	hmm_mirror_report_invalidated(mirror, ef->pte & HMM_MIRROR_ENTRY_VALID);
	ef->pte = 0;
	mutex_unlock(&ef->lock);
	atomic_long_inc(&ef->invalidations);
	return 0;
}

/*
 * What hmm_core's coherence verifier asks (hmm_core.verify=1): the entries
 * the device may still use, under the lock the commit and the invalidation
 * take. A device with a TLB reports what it caches too.
 */
static int hmm_example_report(struct hmm_mirror *mirror, unsigned long start,
			      unsigned long end,
			      int (*fn)(struct hmm_mirror *mirror,
					unsigned long addr,
					unsigned long entry, void *ctx),
			      void *ctx)
{
	struct hmm_example_file *ef =
		container_of(mirror, struct hmm_example_file, mirror);
	int ret = 0;

	mutex_lock(&ef->lock);
	if ((ef->pte & HMM_MIRROR_ENTRY_VALID) && ef->va >= start &&
	    ef->va < end)
		ret = fn(mirror, ef->va, ef->pte, ctx);
	mutex_unlock(&ef->lock);
	return ret;
}

static const struct hmm_mirror_ops hmm_example_mirror_ops = {
	.sync_cpu_device_pagetables = hmm_example_sync,
	.report_entries = hmm_example_report,
};

static int hmm_example_open(struct inode *inode, struct file *file)
{
	struct hmm_example_file *ef;
	int ret;

	ef = kzalloc(sizeof(*ef), GFP_KERNEL);
	if (!ef)
		return -ENOMEM;
	mutex_init(&ef->lock);
	atomic_long_set(&ef->invalidations, 0);
	ef->mirror.ops = &hmm_example_mirror_ops;
	ret = hmm_mirror_register(&ef->mirror, current->mm);
	if (ret) {
		kfree(ef);
		return ret;
	}
	file->private_data = ef;
	return 0;
}

static int hmm_example_release(struct inode *inode, struct file *file)
{
	struct hmm_example_file *ef = file->private_data;

	/* Returns once no callback can run on the mirror any more. */
	hmm_mirror_unregister(&ef->mirror);
	kfree(ef);
	return 0;
}

/*
 * Fault the page at @addr for writing and commit it to the device. The
 * range's deadline, started by its first read, bounds the loop: once it has
 * passed, the fault helper fails with -EBUSY however many invalidations
 * keep sending the commit back.
 */
static int hmm_example_populate(struct hmm_example_file *ef, unsigned long addr)
{
	unsigned long entry;
	struct hmm_mirror_range range = {
		.start = addr & PAGE_MASK,
		.end = (addr & PAGE_MASK) + PAGE_SIZE,
		.entries = &entry,
		.write = true,
	};
	int ret;

again:
	ret = hmm_mirror_range_fault(&ef->mirror, &range);
	if (ret)
		return ret;
	mutex_lock(&ef->lock);
	if (hmm_mirror_range_retry(&ef->mirror, &range)) {
		mutex_unlock(&ef->lock);
		goto again;
	}
	ef->pte = entry;
	ef->va = range.start;
	mutex_unlock(&ef->lock);
	return 0;
}

static ssize_t hmm_example_read(struct file *file, char __user *buf,
				size_t count, loff_t *ppos)
{
	struct hmm_example_file *ef = file->private_data;
	char line[96];
	bool valid;
	int len, ret;

	if (*ppos || !count)
		return 0;
	if (current->mm != hmm_mirror_mm(&ef->mirror))
		return -EPERM;
	ret = hmm_example_populate(ef, (unsigned long)buf);
	if (ret)
		return ret;
	mutex_lock(&ef->lock);
	valid = (ef->pte & HMM_MIRROR_ENTRY_VALID) &&
		(ef->pte & HMM_MIRROR_ENTRY_WRITE);
	mutex_unlock(&ef->lock);
	len = scnprintf(line, sizeof(line),
			"hmm_example: mirror registered, buffer pfn %s, %ld invalidations\n",
			valid ? "valid" : "invalid",
			atomic_long_read(&ef->invalidations));
	return simple_read_from_buffer(buf, count, ppos, line, len);
}

static const struct file_operations hmm_example_fops = {
	.owner = THIS_MODULE,
	.open = hmm_example_open,
	.release = hmm_example_release,
	.read = hmm_example_read,
};

static struct miscdevice hmm_example_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "hmm_example",
	.fops = &hmm_example_fops,
	.mode = 0666,
};

module_misc_device(hmm_example_misc);

MODULE_DESCRIPTION("Skeleton third-party driver of hmm_core");
MODULE_LICENSE("GPL");
