// SPDX-License-Identifier: GPL-2.0
/*
 * hmm_dummy_nl - the hmm_dummy generic netlink family
 *
 * netlink/hmm_dummy.yaml is the source of truth for what this file speaks:
 * scripts/ynl-gen generates from it uapi/hmm_dummy_nl.h (the numbers) and
 * hmm_dummy_nl_gen.[ch] (the policies and the split ops table naming the
 * handlers below). This file has the handlers and the family. Four
 * operations, every one strict (resv_start_op covers them all: an
 * attribute an operation does not take, one its do or dump has no policy
 * for, is rejected by the core, and so is a non-zero reserved header field):
 *
 *	DEV_GET		dump: the devices
 *	MIRROR_GET	dump: the open files, each one mirror; do: one of them
 *	PTE_GET		dump: one mirror's device page table over a range;
 *			CAP_NET_ADMIN (GENL_ADMIN_PERM) and CAP_SYS_ADMIN, as
 *			it shows page frame numbers
 *	STATS_GET	do: hmm_core's global counters and the family's own
 *
 * and the "events" multicast group (CAP_NET_ADMIN to join): one message per
 * invalidation a mirror receives, per register, unregister and mm release.
 *
 * Every dump resumes from cb->args over as many recv() calls as it takes.
 *
 * A mirror is named by hmm_core's id of it (&hmm_mirror.id), the one the
 * core's own family lists, so that a mirror found there is the same number
 * here. That id changes when SET_RANGE registers the mirror again, so it
 * is not the key of hmm_dummy_mirrors: a file keeps its key (nl_id) while
 * it is open, and a request's id is looked up among the files, each read
 * under its range_sem, which SET_RANGE holds while the id changes. The
 * id also drops to 0 when ->release() unregisters the mirror (module
 * parameter unregister_in_release), without range_sem: it is read with
 * READ_ONCE(), and a file found just as it goes is still a file.
 *
 * Who sees what: a mirror shows its owner's address-space activity (its
 * range, its invalidations by reason), so DEV_GET and MIRROR_GET show a
 * mirror only to a caller with CAP_SYS_ADMIN (netlink_capable(): the
 * socket's opener and the caller both) or one that may read its owner as
 * /proc does (hmm_core's hmm_mirror_owner_visible()). A mirror whose owner
 * has exited is shown to CAP_SYS_ADMIN only. A dump omits the others, and
 * a direct MIRROR_GET of one fails with ENOENT, as if it did not exist. The
 * caller is current: the process that sent a do, and for a dump the process
 * reading the socket, which is the one the dump's data goes to. The owner's
 * tgid is given in the caller's pid namespace, 0 if it is not in it (or
 * exited).
 * Events are not filtered: joining the events group takes CAP_NET_ADMIN,
 * and their tgid is in the initial pid namespace (one skb goes to every
 * listener, so it cannot be per listener).
 *
 * Events are best effort and bounded: an invalidation may run in reclaim, so
 * its message is built only when the group has a listener, allocated with
 * GFP_NOWAIT and without the emergency reserves, and sent with no lock of
 * the driver held. A message that cannot be allocated, or that a listener
 * cannot queue (its receive buffer, which bounds what the kernel holds for
 * it, is full), is counted in events_dropped; every event tried has a
 * sequence number, so a listener sees its losses as gaps.
 *
 * Locking: hmm_dummy_nl_lock keeps the files in hmm_dummy_mirrors alive: a
 * file is erased under it before it is freed, and the dumps look files up
 * and read them under it. Order: hmm_dummy_nl_lock, then a file's
 * range_sem (read, to read start and end), then its pt_lock, the last two
 * never nested here. Taking range_sem while holding hmm_dummy_nl_lock is
 * safe because no holder of range_sem ever waits for hmm_dummy_nl_lock:
 * hmm_dummy.c takes hmm_dummy_nl_lock only in open and release (through
 * hmm_dummy_nl_mirror_add() and _del()), which hold no range_sem and cannot
 * run while an ioctl of the same file does; SET_RANGE, the writer, waits
 * only for hmm_core (SRCU, mmap_lock) and pt_lock, and the invalidation
 * callbacks it may wait for take neither of our locks. A dump may so wait
 * behind one SET_RANGE, as long as that takes; it never waits with pt_lock
 * held.
 * The invalidation callback takes neither of them to send its event, and
 * nothing here allocates with GFP_KERNEL or touches user memory with a
 * file's pt_lock held: the dumps fill an skb the netlink core allocated.
 */

#include <linux/atomic.h>
#include <linux/capability.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/pid.h>
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

/* Set once the family is registered: events are sent only then. */
static bool hmm_dummy_nl_ready;

static atomic64_t hmm_dummy_events_seq;
static atomic64_t hmm_dummy_events_sent;
static atomic64_t hmm_dummy_events_dropped;

static struct genl_family hmm_dummy_nl_family;

/* Allocation flags of an event sent from an invalidation (maybe reclaim). */
#define HMM_DUMMY_NL_GFP_ATOMIC	(GFP_NOWAIT | __GFP_NOWARN | __GFP_NOMEMALLOC)

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

/* Sum per-event counters (enum hmm_dummy_event) into a COUNTS nest. */
static int hmm_dummy_nl_put_counts(struct sk_buff *skb, int attr,
				   const u64 *counts)
{
	struct nlattr *nest;
	unsigned int ev;

	BUILD_BUG_ON(HMM_DUMMY_A_COUNTS_PAD - HMM_DUMMY_NR_EVENTS != 1);
	nest = nla_nest_start(skb, attr);
	if (!nest)
		return -EMSGSIZE;
	for (ev = 0; ev < HMM_DUMMY_NR_EVENTS; ev++) {
		if (nla_put_u64_64bit(skb, ev + 1, counts[ev],
				      HMM_DUMMY_A_COUNTS_PAD)) {
			nla_nest_cancel(skb, nest);
			return -EMSGSIZE;
		}
	}
	nla_nest_end(skb, nest);
	return 0;
}

/*
 * Whether the caller (current; @admin: it has CAP_SYS_ADMIN, see the top of
 * this file) may see @dfile's mirror: hmm_core's rule, the one its own
 * family applies. If so, and @tgid is not NULL, *@tgid is the owner's tgid
 * in the caller's pid namespace: 0 if the owner is not in it, or has exited.
 */
static bool hmm_dummy_nl_visible(const struct hmm_dummy_file *dfile,
				 bool admin, u32 *tgid)
{
	return hmm_mirror_owner_visible(dfile->tgid, admin, tgid);
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
		n += dfile->dev == dev && hmm_dummy_nl_visible(dfile, admin, NULL);
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
 * One MIRROR_GET message, of a mirror the caller may see (@tgid: its
 * owner, as the caller sees it). The range is read under range_sem, which
 * SET_RANGE holds for writing while it changes it; the counters under
 * pt_lock. Context: hmm_dummy_nl_lock held (see the top of this file).
 */
static int hmm_dummy_nl_mirror_fill(struct sk_buff *skb, u32 portid, u32 seq,
				    int flags, struct hmm_dummy_file *dfile,
				    u32 tgid)
{
	struct hmm_dummy_counters counters;
	unsigned long nr_ptes, start, end;
	void *hdr;
	u32 id;

	lockdep_assert_held(&hmm_dummy_nl_lock);
	down_read(&dfile->range_sem);
	id = READ_ONCE(dfile->mirror.id);
	start = dfile->start;
	end = dfile->end;
	up_read(&dfile->range_sem);

	mutex_lock(&dfile->pt_lock);
	counters = dfile->counters;
	nr_ptes = dfile->nr_ptes;
	mutex_unlock(&dfile->pt_lock);

	hdr = genlmsg_put(skb, portid, seq, &hmm_dummy_nl_family, flags,
			  HMM_DUMMY_CMD_MIRROR_GET);
	if (!hdr)
		return -EMSGSIZE;
	if (nla_put_u32(skb, HMM_DUMMY_A_MIRROR_ID, id) ||
	    nla_put_u32(skb, HMM_DUMMY_A_MIRROR_TGID, tgid) ||
	    nla_put_u32(skb, HMM_DUMMY_A_MIRROR_DEV_INDEX,
			dfile->dev - hmm_dummy_devices) ||
	    nla_put_string(skb, HMM_DUMMY_A_MIRROR_DEV_NAME, dfile->dev->name) ||
	    nla_put_u64_64bit(skb, HMM_DUMMY_A_MIRROR_START, start,
			      HMM_DUMMY_A_MIRROR_PAD) ||
	    nla_put_u64_64bit(skb, HMM_DUMMY_A_MIRROR_END, end,
			      HMM_DUMMY_A_MIRROR_PAD) ||
	    nla_put_u64_64bit(skb, HMM_DUMMY_A_MIRROR_PAGES, nr_ptes,
			      HMM_DUMMY_A_MIRROR_PAD) ||
	    nla_put_u64_64bit(skb, HMM_DUMMY_A_MIRROR_DEVICE_FAULTS,
			      counters.device_faults, HMM_DUMMY_A_MIRROR_PAD) ||
	    nla_put_u64_64bit(skb, HMM_DUMMY_A_MIRROR_PAGES_POPULATED,
			      counters.pages_populated, HMM_DUMMY_A_MIRROR_PAD) ||
	    nla_put_u64_64bit(skb, HMM_DUMMY_A_MIRROR_PAGES_INVALIDATED,
			      counters.pages_invalidated,
			      HMM_DUMMY_A_MIRROR_PAD) ||
	    nla_put_u64_64bit(skb, HMM_DUMMY_A_MIRROR_RETRIES,
			      counters.retries, HMM_DUMMY_A_MIRROR_PAD) ||
	    (counters.releases &&
	     nla_put_flag(skb, HMM_DUMMY_A_MIRROR_RELEASED)) ||
	    hmm_dummy_nl_put_counts(skb, HMM_DUMMY_A_MIRROR_INVALIDATIONS,
				    counters.invalidations)) {
		genlmsg_cancel(skb, hdr);
		return -EMSGSIZE;
	}
	genlmsg_end(skb, hdr);
	return 0;
}

int hmm_dummy_nl_mirror_get_start(struct netlink_callback *cb)
{
	const struct nlattr *const *attrs = hmm_dummy_nl_dump_attrs(cb);

	/* Before 6.2 the dump shares the do's policy: see compat.h. */
	if (attrs && attrs[HMM_DUMMY_A_MIRROR_ID]) {
		NL_SET_ERR_MSG_ATTR(cb->extack, attrs[HMM_DUMMY_A_MIRROR_ID],
				    "the dump lists every mirror: it takes no id");
		return -EINVAL;
	}
	return 0;
}

int hmm_dummy_nl_mirror_get_dumpit(struct sk_buff *skb,
				   struct netlink_callback *cb)
{
	bool admin = netlink_capable(cb->skb, CAP_SYS_ADMIN);
	struct hmm_dummy_file *dfile;
	unsigned long id;
	int ret = 0;
	u32 tgid;

	mutex_lock(&hmm_dummy_nl_lock);
	xa_for_each_start(&hmm_dummy_mirrors, id, dfile, cb->args[0]) {
		if (hmm_dummy_nl_visible(dfile, admin, &tgid)) {
			ret = hmm_dummy_nl_mirror_fill(skb,
						       NETLINK_CB(cb->skb).portid,
						       cb->nlh->nlmsg_seq,
						       NLM_F_MULTI, dfile, tgid);
			if (ret)
				break;
		}
		cb->args[0] = id + 1;
	}
	mutex_unlock(&hmm_dummy_nl_lock);
	if (ret == -EMSGSIZE && skb->len)
		return skb->len;
	return ret;
}

int hmm_dummy_nl_mirror_get_doit(struct sk_buff *skb, struct genl_info *info)
{
	const struct nlattr *a_id = info->attrs[HMM_DUMMY_A_MIRROR_ID];
	bool admin = netlink_capable(skb, CAP_SYS_ADMIN);
	struct hmm_dummy_file *dfile;
	struct sk_buff *msg;
	int ret = -ENOENT;
	u32 tgid;

	if (!a_id) {
		NL_SET_ERR_MSG(info->extack, "the mirror id is missing");
		return -EINVAL;
	}
	msg = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (!msg)
		return -ENOMEM;
	mutex_lock(&hmm_dummy_nl_lock);
	dfile = hmm_dummy_nl_find(nla_get_u32(a_id), NULL, NULL);
	/* One the caller may not see does not exist, as in /proc. */
	if (dfile && hmm_dummy_nl_visible(dfile, admin, &tgid))
		ret = hmm_dummy_nl_mirror_fill(msg, info->snd_portid,
					       info->snd_seq, 0, dfile, tgid);
	mutex_unlock(&hmm_dummy_nl_lock);
	if (ret) {
		nlmsg_free(msg);
		if (ret == -ENOENT)
			NL_SET_ERR_MSG_ATTR(info->extack, a_id, "no such mirror");
		return ret;
	}
	return genlmsg_reply(msg, info);
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

int hmm_dummy_nl_stats_get_doit(struct sk_buff *skb, struct genl_info *info)
{
	u64 counts[HMM_DUMMY_NR_EVENTS] = {};
	struct hmm_mirror_stats stats;
	struct sk_buff *msg;
	unsigned int i;
	void *hdr;

	hmm_mirror_read_stats(&stats);
	/* hmm_core counts by enum mmu_notifier_event; the last slot is "other". */
	for (i = 0; i < HMM_MIRROR_NR_EVENTS; i++)
		counts[i < HMM_MIRROR_NR_EVENTS - 1 ?
		       hmm_dummy_event(i) : HMM_DUMMY_EVENT_OTHER] +=
			stats.invalidations[i];

	msg = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (!msg)
		return -ENOMEM;
	hdr = genlmsg_put_reply(msg, info, &hmm_dummy_nl_family, 0,
				HMM_DUMMY_CMD_STATS_GET);
	if (!hdr ||
	    nla_put_u64_64bit(msg, HMM_DUMMY_A_STATS_MMS, stats.nr_mms,
			      HMM_DUMMY_A_STATS_PAD) ||
	    nla_put_u64_64bit(msg, HMM_DUMMY_A_STATS_MIRRORS, stats.nr_mirrors,
			      HMM_DUMMY_A_STATS_PAD) ||
	    hmm_dummy_nl_put_counts(msg, HMM_DUMMY_A_STATS_INVALIDATIONS,
				    counts) ||
	    nla_put_u64_64bit(msg, HMM_DUMMY_A_STATS_NONBLOCK_FAILURES,
			      stats.nonblock_failures, HMM_DUMMY_A_STATS_PAD) ||
	    nla_put_u64_64bit(msg, HMM_DUMMY_A_STATS_RETRIES, stats.retries,
			      HMM_DUMMY_A_STATS_PAD) ||
	    nla_put_u64_64bit(msg, HMM_DUMMY_A_STATS_EVENTS_SENT,
			      atomic64_read(&hmm_dummy_events_sent),
			      HMM_DUMMY_A_STATS_PAD) ||
	    nla_put_u64_64bit(msg, HMM_DUMMY_A_STATS_EVENTS_DROPPED,
			      atomic64_read(&hmm_dummy_events_dropped),
			      HMM_DUMMY_A_STATS_PAD)) {
		nlmsg_free(msg);
		return -EMSGSIZE;
	}
	genlmsg_end(msg, hdr);
	return genlmsg_reply(msg, info);
}

/*
 * The group of hmm_dummy_nl_gen.c, but with its flag: ynl-gen-c.py of 6.12
 * cannot say a group needs CAP_NET_ADMIN.
 */
static const struct genl_multicast_group hmm_dummy_nl_mcgrps_cap[] = {
	[HMM_DUMMY_NLGRP_EVENTS] = {
		.name = HMM_DUMMY_MCGRP_EVENTS,
		.flags = GENL_MCAST_CAP_NET_ADMIN,
	},
};

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
	.mcgrps = hmm_dummy_nl_mcgrps_cap,
	.n_mcgrps = ARRAY_SIZE(hmm_dummy_nl_mcgrps_cap),
	/* Where the kernel has no group flag, a bind callback (compat.h). */
	COMPAT_GENL_MCAST_CAP_BIND
};

/* Room for the largest event message. */
static size_t hmm_dummy_nl_event_size(void)
{
	return nla_total_size_64bit(sizeof(u64)) * 3 +	/* seq, start, end */
	       nla_total_size(sizeof(u32)) * 3 +	/* id, tgid, reason */
	       nla_total_size(sizeof_field(struct hmm_dummy_device, name)) +
	       nla_total_size(0);			/* blockable */
}

/*
 * Send one event to the "events" group, if it has a listener. Any failure
 * is a drop, counted; the message's sequence number is spent either way.
 */
static void hmm_dummy_nl_notify(u8 cmd, const struct hmm_dummy_file *dfile,
				u32 id, const struct hmm_update *update,
				gfp_t gfp)
{
	struct sk_buff *skb;
	void *hdr;
	u64 seq;

	if (!id || !READ_ONCE(hmm_dummy_nl_ready) ||
	    !genl_has_listeners(&hmm_dummy_nl_family, &init_net,
				HMM_DUMMY_NLGRP_EVENTS))
		return;

	seq = atomic64_inc_return(&hmm_dummy_events_seq);
	skb = genlmsg_new(hmm_dummy_nl_event_size(), gfp);
	if (!skb)
		goto drop;
	hdr = genlmsg_put(skb, 0, 0, &hmm_dummy_nl_family, 0, cmd);
	if (!hdr)
		goto free;
	if (nla_put_u64_64bit(skb, HMM_DUMMY_A_EVENT_SEQ, seq,
			      HMM_DUMMY_A_EVENT_PAD) ||
	    nla_put_u32(skb, HMM_DUMMY_A_EVENT_MIRROR_ID, id))
		goto free;
	/* In the initial pid namespace: see the top of this file. */
	if (cmd == HMM_DUMMY_CMD_REGISTER_NTF &&
	    (nla_put_u32(skb, HMM_DUMMY_A_EVENT_TGID, pid_nr(dfile->tgid)) ||
	     nla_put_string(skb, HMM_DUMMY_A_EVENT_DEV_NAME, dfile->dev->name)))
		goto free;
	if (update &&
	    (nla_put_u64_64bit(skb, HMM_DUMMY_A_EVENT_START, update->start,
			       HMM_DUMMY_A_EVENT_PAD) ||
	     nla_put_u64_64bit(skb, HMM_DUMMY_A_EVENT_END, update->end,
			       HMM_DUMMY_A_EVENT_PAD) ||
	     nla_put_u32(skb, HMM_DUMMY_A_EVENT_REASON,
			 hmm_dummy_event(update->event)) ||
	     (update->blockable &&
	      nla_put_flag(skb, HMM_DUMMY_A_EVENT_BLOCKABLE))))
		goto free;
	genlmsg_end(skb, hdr);

	/* Consumes skb; -ESRCH: nobody got it, -ENOBUFS: someone did not. */
	if (genlmsg_multicast(&hmm_dummy_nl_family, skb, 0,
			      HMM_DUMMY_NLGRP_EVENTS, gfp))
		goto drop;
	atomic64_inc(&hmm_dummy_events_sent);
	return;
free:
	nlmsg_free(skb);
drop:
	atomic64_inc(&hmm_dummy_events_dropped);
}

/**
 * hmm_dummy_nl_mirror_add() - list an open file in the family, and tell
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
	if (ret < 0)
		return ret;
	hmm_dummy_nl_notify(HMM_DUMMY_CMD_REGISTER_NTF, dfile, dfile->mirror.id,
			    NULL, GFP_KERNEL);
	return 0;
}

/**
 * hmm_dummy_nl_mirror_del() - take a file's mirror off the family, and tell
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
	/* 0 (no event) if the mirror is unregistered already. */
	hmm_dummy_nl_notify(HMM_DUMMY_CMD_UNREGISTER_NTF, dfile,
			    READ_ONCE(dfile->mirror.id), NULL, GFP_KERNEL);
}

/**
 * hmm_dummy_nl_invalidate() - tell the events group of an invalidation
 * @dfile: the file whose mirror is invalidated
 * @update: the invalidation, as hmm_core gave it
 *
 * Context: The invalidation callback, maybe in reclaim, maybe not allowed
 * to sleep (!@update->blockable); no lock of the driver held. Allocates
 * only with GFP_NOWAIT, and nothing at all without a listener.
 */
void hmm_dummy_nl_invalidate(struct hmm_dummy_file *dfile,
			     const struct hmm_update *update)
{
	/* The mirror is registered while its callbacks run: its id is still. */
	hmm_dummy_nl_notify(HMM_DUMMY_CMD_INVALIDATE_NTF, dfile,
			    dfile->mirror.id, update, HMM_DUMMY_NL_GFP_ATOMIC);
}

/**
 * hmm_dummy_nl_release() - tell the events group the mirrored mm is gone
 * @dfile: the file whose mirror's ->release() runs
 *
 * Context: The mirror's ->release(), no lock of the driver held.
 */
void hmm_dummy_nl_release(struct hmm_dummy_file *dfile)
{
	hmm_dummy_nl_notify(HMM_DUMMY_CMD_RELEASE_NTF, dfile, dfile->mirror.id,
			    NULL, GFP_KERNEL);
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
	WRITE_ONCE(hmm_dummy_nl_ready, true);
	return 0;
}

/**
 * hmm_dummy_nl_exit() - unregister the family
 *
 * Context: Module exit, before the devices are removed; no file is open.
 */
void hmm_dummy_nl_exit(void)
{
	WRITE_ONCE(hmm_dummy_nl_ready, false);
	compat_genl_unregister_family(&hmm_dummy_nl_family);
	WARN_ON(!xa_empty(&hmm_dummy_mirrors));
}
