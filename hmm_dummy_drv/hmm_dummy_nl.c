// SPDX-License-Identifier: GPL-2.0
/*
 * hmm_dummy_nl - the hmm_dummy generic netlink family
 *
 * netlink/hmm_dummy.yaml is the source of truth for what this file speaks:
 * scripts/ynl-gen generates from it uapi/hmm_dummy_nl.h (the numbers) and
 * hmm_dummy_nl_gen.[ch] (the policies and the split ops table naming the
 * handlers below). This file has the handlers and the family. What is
 * about mirrors (the list, their counters, the events) is hmm_core's own
 * family, for every driver; this one has what is about the device. Two
 * operations, both strict (resv_start_op covers them: an attribute an
 * operation does not take, one its dump has no policy for, is rejected by
 * the core, and so is a non-zero reserved header field):
 *
 *	DEV_GET		dump: the devices
 *	PTE_GET		dump: one mirror's device page table over a range;
 *			CAP_NET_ADMIN (GENL_ADMIN_PERM) and CAP_SYS_ADMIN, as
 *			it shows page frame numbers
 *
 * Every dump resumes from cb->args over as many recv() calls as it takes.
 *
 * A mirror is named by hmm_core's id of it (&hmm_mirror.id), the one the
 * core's family lists. That id changes when SET_RANGE registers the
 * mirror again, so it is not the key of hmm_dummy_mirrors: a file keeps
 * its key (nl_id) while it is open, and a request's id is looked up among
 * the files, each read under its range_sem, which SET_RANGE holds while
 * the id changes. The id also drops to 0 when ->release() unregisters the
 * mirror (module parameter unregister_in_release), without range_sem: it
 * is read with READ_ONCE(), and a file found just as it goes is still a
 * file.
 *
 * Who sees what: DEV_GET counts on each device only the mirrors the
 * caller may see by hmm_core's rule, hmm_mirror_owner_visible() (the
 * caller is current: for a dump, the process reading the socket).
 *
 * Locking: hmm_dummy_nl_lock keeps the files in hmm_dummy_mirrors alive: a
 * file is erased under it before it is freed, and the dumps look files up
 * and read them under it. Order: hmm_dummy_nl_lock, then a file's
 * range_sem (read, to read start, end and the id), then its pt_lock, the
 * last two never nested here. Taking range_sem while holding
 * hmm_dummy_nl_lock is safe because no holder of range_sem ever waits for
 * hmm_dummy_nl_lock: hmm_dummy.c takes hmm_dummy_nl_lock only in open and
 * release (through hmm_dummy_nl_mirror_add() and _del()), which hold no
 * range_sem and cannot run while an ioctl of the same file does;
 * SET_RANGE, the writer, waits only for hmm_core (SRCU, mmap_lock) and
 * pt_lock, and the invalidation callbacks it may wait for take neither of
 * our locks. A dump may so wait behind one SET_RANGE, as long as that
 * takes; it never waits with pt_lock held. Nothing here allocates with
 * GFP_KERNEL or touches user memory with a file's pt_lock held: the dumps
 * fill an skb the netlink core allocated.
 */

#include <linux/capability.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/rwsem.h>
#include <linux/xarray.h>
#include <net/genetlink.h>

#include "hmm_dummy_internal.h"
#include "hmm_dummy_nl_gen.h"

/* The open files by a key of their own (nl_id), stable while open. */
static DEFINE_XARRAY_ALLOC1(hmm_dummy_mirrors);
/* Held to erase from hmm_dummy_mirrors, and to use a file found there. */
static DEFINE_MUTEX(hmm_dummy_nl_lock); /* protects the files' lifetime */
static u32 hmm_dummy_next_id;	/* xa_alloc_cyclic()'s cursor, under the xarray's lock */

static struct genl_family hmm_dummy_nl_family;

static const struct nlattr *const *hmm_dummy_nl_dump_attrs(struct netlink_callback *cb)
{
	return (const struct nlattr *const *)genl_info_dump(cb)->attrs;
}

static void *hmm_dummy_nl_dump_put(struct sk_buff *skb,
				   struct netlink_callback *cb, u8 cmd)
{
	return genlmsg_put(skb, NETLINK_CB(cb->skb).portid,
			   cb->nlh->nlmsg_seq, &hmm_dummy_nl_family,
			   NLM_F_MULTI, cmd);
}

/*
 * Whether the caller (current; @admin: it has CAP_SYS_ADMIN) may see
 * @dfile's mirror: hmm_core's rule, the one its own family applies.
 */
static bool hmm_dummy_nl_visible(const struct hmm_dummy_file *dfile,
				 bool admin)
{
	return hmm_mirror_owner_visible(dfile->tgid, admin, NULL);
}

/*
 * The file whose mirror has hmm_core's id @id, or NULL. If found, and
 * @start is not NULL, *@start and *@end are its mirrored range, read with
 * the id. Context: hmm_dummy_nl_lock held.
 */
static struct hmm_dummy_file *hmm_dummy_nl_find(u32 id, u64 *start, u64 *end)
{
	struct hmm_dummy_file *dfile;
	unsigned long key;
	bool found;

	lockdep_assert_held(&hmm_dummy_nl_lock);
	if (!id)
		return NULL;
	xa_for_each(&hmm_dummy_mirrors, key, dfile) {
		down_read(&dfile->range_sem);
		found = READ_ONCE(dfile->mirror.id) == id;
		if (found && start) {
			*start = dfile->start;
			*end = dfile->end;
		}
		up_read(&dfile->range_sem);
		if (found)
			return dfile;
	}
	return NULL;
}

/* The mirrors on @dev the caller may see. */
static unsigned int hmm_dummy_nl_dev_mirrors(const struct hmm_dummy_device *dev,
					     bool admin)
{
	struct hmm_dummy_file *dfile;
	unsigned int n = 0;
	unsigned long id;

	lockdep_assert_held(&hmm_dummy_nl_lock);
	xa_for_each(&hmm_dummy_mirrors, id, dfile)
		n += dfile->dev == dev && hmm_dummy_nl_visible(dfile, admin);
	return n;
}

int hmm_dummy_nl_dev_get_dumpit(struct sk_buff *skb,
				struct netlink_callback *cb)
{
	bool admin = netlink_capable(cb->skb, CAP_SYS_ADMIN);
	unsigned int i;
	int ret = 0;

	mutex_lock(&hmm_dummy_nl_lock);
	for (i = cb->args[0]; i < hmm_dummy_nr_devices; i++) {
		const struct hmm_dummy_device *dev = &hmm_dummy_devices[i];
		void *hdr = hmm_dummy_nl_dump_put(skb, cb, HMM_DUMMY_CMD_DEV_GET);

		if (!hdr ||
		    nla_put_u32(skb, HMM_DUMMY_A_DEV_INDEX, i) ||
		    nla_put_string(skb, HMM_DUMMY_A_DEV_NAME, dev->name) ||
		    nla_put_u32(skb, HMM_DUMMY_A_DEV_ABI,
				dev->abi == HMM_DUMMY_ABI_DMIRROR ?
				HMM_DUMMY_DEV_ABI_DMIRROR :
				HMM_DUMMY_DEV_ABI_NATIVE) ||
		    nla_put_u32(skb, HMM_DUMMY_A_DEV_MIRRORS,
				hmm_dummy_nl_dev_mirrors(dev, admin))) {
			if (hdr)
				genlmsg_cancel(skb, hdr);
			ret = -EMSGSIZE;
			break;
		}
		genlmsg_end(skb, hdr);
	}
	mutex_unlock(&hmm_dummy_nl_lock);
	cb->args[0] = i;
	/* A full skb with something in it: go on at the next recv(). */
	if (ret == -EMSGSIZE && skb->len)
		return skb->len;
	return ret;
}

/*
 * PTE_GET: cb->args[0] the file's key in hmm_dummy_mirrors, [1] next page
 * index, [2] last one, [3] hmm_core's id of the mirror, as requested.
 */
int hmm_dummy_nl_pte_get_start(struct netlink_callback *cb)
{
	const struct nlattr *const *attrs = hmm_dummy_nl_dump_attrs(cb);
	const struct nlattr *a_id = attrs[HMM_DUMMY_A_PTE_MIRROR_ID];
	const struct nlattr *a_start = attrs[HMM_DUMMY_A_PTE_START];
	const struct nlattr *a_end = attrs[HMM_DUMMY_A_PTE_END];
	struct hmm_dummy_file *dfile;
	u64 start, end, mirror_start = 0, mirror_end = 0;
	u32 id;

	/* GENL_ADMIN_PERM checked CAP_NET_ADMIN; pfns also need this. */
	if (!netlink_capable(cb->skb, CAP_SYS_ADMIN)) {
		NL_SET_ERR_MSG(cb->extack, "dumping pfns needs CAP_SYS_ADMIN");
		return -EPERM;
	}
	if (!a_id) {
		NL_SET_ERR_MSG(cb->extack, "the mirror id is missing");
		return -EINVAL;
	}
	id = nla_get_u32(a_id);

	mutex_lock(&hmm_dummy_nl_lock);
	dfile = hmm_dummy_nl_find(id, &mirror_start, &mirror_end);
	if (dfile)
		cb->args[0] = dfile->nl_id;
	mutex_unlock(&hmm_dummy_nl_lock);
	if (!dfile) {
		NL_SET_ERR_MSG_ATTR(cb->extack, a_id, "no such mirror");
		return -ENOENT;
	}

	start = mirror_start;
	end = mirror_end;
	if (a_start)
		start = nla_get_u64(a_start);
	if (a_end)
		end = nla_get_u64(a_end);
	if (!PAGE_ALIGNED(start) || !PAGE_ALIGNED(end)) {
		NL_SET_ERR_MSG(cb->extack, "start and end must be page aligned");
		return -EINVAL;
	}
	if (start >= end || start < mirror_start || end > mirror_end) {
		NL_SET_ERR_MSG(cb->extack,
			       "the range must be non-empty and inside the mirror");
		return -EINVAL;
	}
	cb->args[1] = start >> PAGE_SHIFT;
	cb->args[2] = (end >> PAGE_SHIFT) - 1;
	cb->args[3] = id;
	return 0;
}

/*
 * One PTE_GET message. @key is the file's key (cb->args[0]); the message
 * names the mirror as the request did, by hmm_core's id (cb->args[3]).
 */
static int hmm_dummy_nl_pte_fill(struct sk_buff *skb,
				 struct netlink_callback *cb, u32 key,
				 unsigned long index, unsigned long pte)
{
	void *hdr = hmm_dummy_nl_dump_put(skb, cb, HMM_DUMMY_CMD_PTE_GET);

	if (!hdr)
		return -EMSGSIZE;
	genl_dump_check_consistent(cb, hdr);
	if (nla_put_u32(skb, HMM_DUMMY_A_PTE_MIRROR_ID, cb->args[3]) ||
	    nla_put_u64_64bit(skb, HMM_DUMMY_A_PTE_ADDR, (u64)index << PAGE_SHIFT,
			      HMM_DUMMY_A_PTE_PAD) ||
	    nla_put_u64_64bit(skb, HMM_DUMMY_A_PTE_PFN, hmm_dummy_pte_pfn(pte),
			      HMM_DUMMY_A_PTE_PAD) ||
	    nla_put_u32(skb, HMM_DUMMY_A_PTE_ORDER, hmm_dummy_pte_order(pte)) ||
	    ((pte & HMM_DUMMY_PTE_WRITE) &&
	     nla_put_flag(skb, HMM_DUMMY_A_PTE_WRITE))) {
		genlmsg_cancel(skb, hdr);
		return -EMSGSIZE;
	}
	genlmsg_end(skb, hdr);
	return 0;
}

/* What hmm_dummy_nl_pte_get_dumpit() fills each entry of the table in. */
struct hmm_dummy_nl_pte_walk {
	struct sk_buff *skb;
	struct netlink_callback *cb;
	u32 id;
	unsigned long index;
};

static int hmm_dummy_nl_pte_one(unsigned long index, unsigned long pte,
				void *arg)
{
	struct hmm_dummy_nl_pte_walk *w = arg;

	w->index = index;
	return hmm_dummy_nl_pte_fill(w->skb, w->cb, w->id, index, pte);
}

int hmm_dummy_nl_pte_get_dumpit(struct sk_buff *skb,
				struct netlink_callback *cb)
{
	unsigned long index = cb->args[1], last = cb->args[2];
	struct hmm_dummy_nl_pte_walk w = { .skb = skb, .cb = cb };
	struct hmm_dummy_file *dfile;
	u32 id = cb->args[0];
	int ret;

	if (index > last)
		return 0;
	mutex_lock(&hmm_dummy_nl_lock);
	dfile = xa_load(&hmm_dummy_mirrors, id);
	if (!dfile) {
		/* Closed since the dump started. */
		mutex_unlock(&hmm_dummy_nl_lock);
		return -ENOENT;
	}
	/* The skb is allocated already: filling it under pt_lock is safe. */
	mutex_lock(&dfile->pt_lock);
	/* Any populate or invalidation between two parts marks the dump. */
	cb->seq = dfile->counters.pages_populated +
		  dfile->counters.pages_invalidated + 1;
	w.id = id;
	ret = hmm_dummy_pt_walk(&dfile->pt, index, last, hmm_dummy_nl_pte_one,
				&w);
	mutex_unlock(&dfile->pt_lock);
	mutex_unlock(&hmm_dummy_nl_lock);

	if (!ret) {
		cb->args[1] = last + 1;
		return skb->len;
	}
	cb->args[1] = w.index;
	if (ret == -EMSGSIZE && skb->len)
		return skb->len;
	return ret;
}

/*
 * Not netnsok: mirrors are not per network namespace, so the family is only
 * seen from the initial one. parallel_ops: the operations lock for
 * themselves (hmm_dummy_nl_lock), they need no genl_mutex.
 */
static struct genl_family hmm_dummy_nl_family __ro_after_init = {
	.name = HMM_DUMMY_FAMILY_NAME,
	.version = HMM_DUMMY_FAMILY_VERSION,
	.parallel_ops = true,
	.module = THIS_MODULE,
	.resv_start_op = HMM_DUMMY_CMD_DEV_GET,
};

/**
 * hmm_dummy_nl_mirror_add() - list an open file in the family
 * @dfile: a file whose mirror was just registered
 *
 * Context: Process context, the opener's; takes hmm_dummy_nl_lock.
 * Return: 0, or -ENOMEM or -EBUSY if no id could be allocated.
 */
int hmm_dummy_nl_mirror_add(struct hmm_dummy_file *dfile)
{
	u32 id;
	int ret;

	mutex_lock(&hmm_dummy_nl_lock);
	ret = xa_alloc_cyclic(&hmm_dummy_mirrors, &id, dfile, xa_limit_31b,
			      &hmm_dummy_next_id, GFP_KERNEL);
	if (ret >= 0)
		dfile->nl_id = id;
	mutex_unlock(&hmm_dummy_nl_lock);
	return ret < 0 ? ret : 0;
}

/**
 * hmm_dummy_nl_mirror_del() - take a file off the family
 * @dfile: a file being closed, with an id from hmm_dummy_nl_mirror_add()
 *
 * Once this returns, no dump can see @dfile any more: it may be freed.
 *
 * Context: Process context; takes hmm_dummy_nl_lock.
 */
void hmm_dummy_nl_mirror_del(struct hmm_dummy_file *dfile)
{
	mutex_lock(&hmm_dummy_nl_lock);
	xa_erase(&hmm_dummy_mirrors, dfile->nl_id);
	dfile->nl_id = 0;
	mutex_unlock(&hmm_dummy_nl_lock);
}

/**
 * hmm_dummy_nl_init() - register the family, with its generated ops
 *
 * Context: Module init, after the devices are created.
 * Return: 0 or genl_register_family()'s error.
 */
int hmm_dummy_nl_init(void)
{
	/* hmm_dummy_nl_gen.c's, from the spec; each op is strict (see top). */
	int ret = compat_genl_register_family(&hmm_dummy_nl_family,
					      hmm_dummy_nl_ops,
					      ARRAY_SIZE(hmm_dummy_nl_ops));

	if (ret) {
		pr_err("cannot register the %s generic netlink family: %d\n",
		       HMM_DUMMY_FAMILY_NAME, ret);
		return ret;
	}
	return 0;
}

/**
 * hmm_dummy_nl_exit() - unregister the family
 *
 * Context: Module exit, before the devices are removed; no file is open.
 */
void hmm_dummy_nl_exit(void)
{
	compat_genl_unregister_family(&hmm_dummy_nl_family);
	WARN_ON(!xa_empty(&hmm_dummy_mirrors));
}
