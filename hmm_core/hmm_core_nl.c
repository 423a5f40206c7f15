// SPDX-License-Identifier: GPL-2.0
/*
 * hmm_core_nl - the hmm_core generic netlink family: every driver's mirrors
 *
 * netlink/hmm_core.yaml is the source of truth for what this file speaks:
 * scripts/ynl-gen generates from it include/uapi/hmm_core_nl.h (the
 * numbers) and hmm_core_nl_gen.[ch] (the policies and the split ops table
 * naming the handlers below). This file has the handlers, the family and
 * the registry of mirrors they list. Three operations, all strict
 * (resv_start_op covers them: an attribute an operation does not take, one
 * its do or dump has no policy for, is rejected by the core, and so is a
 * non-zero reserved header field):
 *
 *	MIRROR_GET	dump: every registered mirror of every driver; do: one
 *	STATS_GET	do: hmm_core's global counters and the family's own
 *	MM_GET		dump: every mm with mirrors, and its counters
 *
 * and the "events" multicast group (CAP_NET_ADMIN to join): one message per
 * invalidation a mirror receives, per register, unregister and mm release.
 * A driver writes no netlink code to have its mirrors listed: they are
 * hmm_core's own &struct hmm_mirror. Nothing here shows a page frame
 * number.
 *
 * Who sees what: a mirror shows its owner's address-space activity (its
 * range, its invalidations by reason), so MIRROR_GET shows a mirror only to
 * a caller with CAP_SYS_ADMIN (netlink_capable(): the socket's opener and
 * the caller both) or one that may read its owner (the thread group that
 * registered it) as /proc does: hmm_mirror_owner_visible(), which drivers'
 * own families call too. A mirror whose owner has exited is shown to
 * CAP_SYS_ADMIN only. A dump omits the others, and a direct MIRROR_GET of
 * one fails with ENOENT, as if it did not exist. The caller is current: the
 * process that sent a do, and for a dump the process reading the socket.
 * The owner's tgid is given in the caller's pid namespace, 0 if it is not
 * in it (or exited). Events are not filtered: joining the events group
 * takes CAP_NET_ADMIN, and their tgid is in the initial pid namespace (one
 * skb goes to every listener, so it cannot be per listener).
 *
 * Events are best effort and bounded: an invalidation may run in reclaim
 * and may not sleep, so its message is built only when the group has a
 * listener, allocated with GFP_NOWAIT and without the emergency reserves.
 * A message that cannot be allocated, or that no listener can queue (its
 * receive buffer, which bounds what the kernel holds for it, is full), is
 * counted in events_dropped; every event tried has a sequence number, so a
 * listener sees its losses as gaps. The three event counters are shared
 * atomics, touched only while the group has a listener.
 *
 * The registry: hmm_core_mirrors holds every registered mirror by its id,
 * from hmm_mirror_register() (its slot reserved before the kernel may call
 * the mirror, filled once it is registered) to hmm_mirror_unregister().
 * Only those two slow paths change it; the invalidation path never looks
 * at it. hmm_core_mms holds every mm with a mirror added, by its own id
 * (&struct hmm_core_mm_nl), from the add of its first mirror to the del
 * (or abort) of its last: each of those mirrors holds the mm's notifier,
 * so an mm found there under hmm_core_nl_lock is alive. MM_GET lists
 * them, with counters summed from its mirrors' (hmm_core_mm_read()).
 */

#include <linux/atomic.h>
#include <linux/capability.h>
#include <linux/cred.h>
#include <linux/minmax.h>
#include <linux/mutex.h>
#include <linux/percpu.h>
#include <linux/pid.h>
#include <linux/pid_namespace.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>
#include <linux/string.h>
#include <linux/xarray.h>
#include <net/genetlink.h>

#include <hmm_mirror.h>
#include "hmm_core_internal.h"
#include "hmm_core_nl_gen.h"

/* Every registered mirror by its id; a reserved slot while registering. */
static DEFINE_XARRAY_ALLOC1(hmm_core_mirrors);
/*
 * Protects the mirrors' lifetime as the family sees them: a mirror is
 * erased from hmm_core_mirrors under it before hmm_mirror_unregister()
 * returns, and the handlers look mirrors up and read them under it. Also
 * protects every mirror's @label. Taken in process context only, by
 * register, unregister, hmm_mirror_set_label() and the handlers; nothing
 * is called with it held that could wait for a mirror's callback.
 */
static DEFINE_MUTEX(hmm_core_nl_lock);
static u32 hmm_core_next_id;	/* xa_alloc_cyclic()'s cursor, under the xarray's lock */
/* Every mm with a mirror added, by its id; changed under hmm_core_nl_lock. */
static DEFINE_XARRAY_ALLOC1(hmm_core_mms);
static u32 hmm_core_next_mm_id;	/* its cursor, under hmm_core_nl_lock */

/* Set once the family is registered: events are sent only then. */
static bool hmm_core_nl_ready;

static atomic64_t hmm_core_events_seq;
static atomic64_t hmm_core_events_sent;
static atomic64_t hmm_core_events_dropped;

static struct genl_family hmm_core_nl_family;

/* Allocation flags of an event sent from an invalidation (maybe reclaim). */
#define HMM_CORE_NL_GFP_ATOMIC	(GFP_NOWAIT | __GFP_NOWARN | __GFP_NOMEMALLOC)

static inline unsigned long hmm_core_nl_start(const struct hmm_mirror *mirror)
{
	return mirror->interval.interval_tree.start;
}

static inline unsigned long hmm_core_nl_end(const struct hmm_mirror *mirror)
{
	return mirror->interval.interval_tree.last + 1;
}

/* The uapi's enum hmm_core_event of a kernel enum mmu_notifier_event. */
static unsigned int hmm_core_nl_event(unsigned int event)
{
	switch (event) {
	case MMU_NOTIFY_UNMAP:
		return HMM_CORE_EVENT_UNMAP;
	case MMU_NOTIFY_CLEAR:
		return HMM_CORE_EVENT_CLEAR;
	case MMU_NOTIFY_PROTECTION_VMA:
		return HMM_CORE_EVENT_PROTECTION_VMA;
	case MMU_NOTIFY_PROTECTION_PAGE:
		return HMM_CORE_EVENT_PROTECTION_PAGE;
	case MMU_NOTIFY_SOFT_DIRTY:
		return HMM_CORE_EVENT_SOFT_DIRTY;
	case MMU_NOTIFY_RELEASE:
		return HMM_CORE_EVENT_RELEASE;
	case MMU_NOTIFY_MIGRATE:
		return HMM_CORE_EVENT_MIGRATE;
	case MMU_NOTIFY_EXCLUSIVE:
		return HMM_CORE_EVENT_EXCLUSIVE;
	default:
		return HMM_CORE_EVENT_OTHER;
	}
}

/*
 * Put counters kept by enum mmu_notifier_event (hmm_core_event_index(),
 * the last slot "any later event") into a COUNTS nest, by the uapi's enum.
 */
static int hmm_core_nl_put_counts(struct sk_buff *skb, int attr,
				  const u64 *by_kernel_event)
{
	u64 counts[HMM_CORE_EVENT_OTHER + 1] = {};
	struct nlattr *nest;
	unsigned int i;

	BUILD_BUG_ON(HMM_CORE_A_COUNTS_PAD - HMM_CORE_EVENT_OTHER != 2);
	for (i = 0; i < HMM_MIRROR_NR_EVENTS; i++)
		counts[i < HMM_MIRROR_NR_EVENTS - 1 ? hmm_core_nl_event(i) :
		       HMM_CORE_EVENT_OTHER] += by_kernel_event[i];
	nest = nla_nest_start(skb, attr);
	if (!nest)
		return -EMSGSIZE;
	for (i = 0; i <= HMM_CORE_EVENT_OTHER; i++) {
		if (nla_put_u64_64bit(skb, i + 1, counts[i],
				      HMM_CORE_A_COUNTS_PAD)) {
			nla_nest_cancel(skb, nest);
			return -EMSGSIZE;
		}
	}
	nla_nest_end(skb, nest);
	return 0;
}

/*
 * Whether current may read @task's mirrors: its own thread group; else the
 * credential checks of ptrace_may_access(@task, PTRACE_MODE_READ_FSCREDS),
 * which a module cannot call (it is not exported): the same fsuid and fsgid
 * as all of @task's uids and gids, and @task's permitted capabilities
 * within current's effective ones in the same user namespace (the
 * capability LSM's check), either waived by CAP_SYS_PTRACE over @task's
 * user namespace. Not checked, unlike ptrace: whether @task is dumpable
 * (7.x no longer gives modules a way to read it) and the other LSMs'
 * hooks (security_ptrace_access_check(), not exported either). What is
 * shown, a range and counts, is no more than the same user reads of its
 * own processes in /proc/PID/stat. Checked without audit: a listing asks
 * about every mirror, and a refusal here only hides one.
 */
static bool hmm_core_may_read(struct task_struct *task)
{
	const struct cred *cred = current_cred(), *tcred;
	bool ok;

	if (same_thread_group(task, current))
		return true;
	rcu_read_lock();
	tcred = __task_cred(task);
	ok = (uid_eq(cred->fsuid, tcred->euid) &&
	      uid_eq(cred->fsuid, tcred->suid) &&
	      uid_eq(cred->fsuid, tcred->uid) &&
	      gid_eq(cred->fsgid, tcred->egid) &&
	      gid_eq(cred->fsgid, tcred->sgid) &&
	      gid_eq(cred->fsgid, tcred->gid) &&
	      cred->user_ns == tcred->user_ns &&
	      cap_issubset(tcred->cap_permitted, cred->cap_effective)) ||
	     ns_capable_noaudit(tcred->user_ns, CAP_SYS_PTRACE);
	rcu_read_unlock();
	return ok;
}

/**
 * hmm_mirror_owner_visible() - may the caller see a mirror of @owner's?
 * @owner: the mirror's owner, a thread group's &struct pid (the task that
 *	opened the device, that registered the mirror)
 * @admin: the caller has CAP_SYS_ADMIN (netlink_capable() of its request)
 * @tgid: if not NULL and the answer is yes, set to @owner's tgid in the
 *	caller's pid namespace: 0 if @owner is not in it, or has exited
 *
 * The one visibility rule of hmm_core's netlink family, for drivers that
 * list their own mirrors to people too: a caller with CAP_SYS_ADMIN sees
 * every mirror; any other sees those of its own thread group and of owners
 * it may read as it may read their /proc files (the credential checks of
 * ptrace read access with its filesystem ids, or CAP_SYS_PTRACE over the
 * owner's user namespace); nobody but @admin sees a mirror whose owner has
 * exited. The caller is current.
 *
 * Context: Process context (the caller's), any lock held.
 * Return: true if the caller may see the mirror.
 */
bool hmm_mirror_owner_visible(struct pid *owner, bool admin, u32 *tgid)
{
	struct task_struct *task = get_pid_task(owner, PIDTYPE_TGID);
	bool ok = admin || (task && hmm_core_may_read(task));

	if (ok && tgid)
		*tgid = task ? pid_nr_ns(owner, task_active_pid_ns(current)) : 0;
	if (task)
		put_task_struct(task);
	return ok;
}
EXPORT_SYMBOL_NS_GPL(hmm_mirror_owner_visible, HMM_MIRROR_NS);

/**
 * hmm_mirror_set_label() - name a mirror for people
 * @mirror: a mirror, registered or not
 * @label: a NUL-terminated string, cut to %HMM_MIRROR_LABEL_LEN - 1 bytes;
 *	the device's name, say
 *
 * hmm_core's netlink family shows the label beside the mirror's driver, so
 * that someone listing the mirrors of every driver knows which device each
 * one is. It is kept across hmm_mirror_unregister() and a new
 * hmm_mirror_register().
 *
 * Context: Process context; may sleep.
 */
void hmm_mirror_set_label(struct hmm_mirror *mirror, const char *label)
{
	mutex_lock(&hmm_core_nl_lock);
	strscpy(mirror->label, label, sizeof(mirror->label));
	mutex_unlock(&hmm_core_nl_lock);
}
EXPORT_SYMBOL_NS_GPL(hmm_mirror_set_label, HMM_MIRROR_NS);

static void hmm_core_nl_notify(u8 cmd, const struct hmm_mirror *mirror,
			       const struct hmm_update *update, u64 ns,
			       gfp_t gfp);

/* One more mirror of @mirror_mm added: list the mm if it is its first. */
static int hmm_core_nl_mm_get(struct hmm_mirror_mm *mirror_mm)
{
	struct hmm_core_mm_nl *nl = hmm_core_mm_nl(mirror_mm);
	int ret = 0;

	mutex_lock(&hmm_core_nl_lock);
	if (!nl->users)
		ret = xa_alloc_cyclic(&hmm_core_mms, &nl->id, mirror_mm,
				      xa_limit_31b, &hmm_core_next_mm_id,
				      GFP_KERNEL_ACCOUNT);
	if (ret >= 0)
		nl->users++;
	else
		nl->id = 0;
	mutex_unlock(&hmm_core_nl_lock);
	return ret < 0 ? ret : 0;
}

/* One mirror of @mirror_mm fewer: unlist the mm after its last. */
static void hmm_core_nl_mm_put(struct hmm_mirror_mm *mirror_mm)
{
	struct hmm_core_mm_nl *nl = hmm_core_mm_nl(mirror_mm);

	lockdep_assert_held(&hmm_core_nl_lock);
	if (--nl->users)
		return;
	xa_erase(&hmm_core_mms, nl->id);
	nl->id = 0;
}

/*
 * A mirror about to be registered on @mirror_mm: its counters, its owner
 * (current's thread group), a reserved id and its mm listed, before the
 * kernel may call it.
 */
int hmm_core_nl_mirror_add(struct hmm_mirror *mirror,
			   struct hmm_mirror_mm *mirror_mm)
{
	int ret;

	mirror->counters = alloc_percpu_gfp(struct hmm_mirror_pcpu,
					    GFP_KERNEL_ACCOUNT);
	if (!mirror->counters)
		return -ENOMEM;
	/* A NULL entry reserves the id: lookups and dumps do not see it. */
	ret = xa_alloc_cyclic(&hmm_core_mirrors, &mirror->id, NULL,
			      xa_limit_31b, &hmm_core_next_id,
			      GFP_KERNEL_ACCOUNT);
	if (ret >= 0) {
		ret = hmm_core_nl_mm_get(mirror_mm);
		if (ret)
			xa_erase(&hmm_core_mirrors, mirror->id);
	}
	if (ret < 0) {
		free_percpu(mirror->counters);
		mirror->counters = NULL;
		mirror->id = 0;
		return ret;
	}
	mirror->owner = get_task_pid(current, PIDTYPE_TGID);
	return 0;
}

/*
 * Undo hmm_core_nl_mirror_add() of @mirror on @mirror_mm: unlist it (and
 * the mm after its last mirror), tell if it was @published, and drop its
 * id, owner and counters. No handler can see it once this returns.
 */
static void hmm_core_nl_mirror_teardown(struct hmm_mirror *mirror,
					struct hmm_mirror_mm *mirror_mm,
					bool published)
{
	mutex_lock(&hmm_core_nl_lock);
	xa_erase(&hmm_core_mirrors, mirror->id);
	hmm_core_nl_mm_put(mirror_mm);
	mutex_unlock(&hmm_core_nl_lock);
	if (published)
		hmm_core_nl_notify(HMM_CORE_CMD_UNREGISTER_NTF, mirror, NULL, 0,
				   GFP_KERNEL);
	mirror->id = 0;
	put_pid(mirror->owner);
	mirror->owner = NULL;
	free_percpu(mirror->counters);
	mirror->counters = NULL;
}

/* Registering failed after hmm_core_nl_mirror_add(): undo it. */
void hmm_core_nl_mirror_abort(struct hmm_mirror *mirror,
			      struct hmm_mirror_mm *mirror_mm)
{
	hmm_core_nl_mirror_teardown(mirror, mirror_mm, false);
}

/* The mirror is registered: list it, and tell. */
void hmm_core_nl_mirror_publish(struct hmm_mirror *mirror)
{
	mutex_lock(&hmm_core_nl_lock);
	/* Fills the reserved slot: allocates nothing, cannot fail. */
	xa_store(&hmm_core_mirrors, mirror->id, mirror, GFP_KERNEL);
	mutex_unlock(&hmm_core_nl_lock);
	hmm_core_nl_notify(HMM_CORE_CMD_REGISTER_NTF, mirror, NULL, 0,
			   GFP_KERNEL);
}

/*
 * The mirror is being unregistered, and no callback can run on it any
 * more: once this returns, no handler can see it, and its counters are
 * gone.
 */
void hmm_core_nl_mirror_del(struct hmm_mirror *mirror)
{
	hmm_core_nl_mirror_teardown(mirror, mirror->mirror_mm, true);
}

/* One pass of a callback, timed: the calling CPU's counters only. */
static void hmm_core_nl_timed(struct hmm_mirror_pcpu *c, u64 ns)
{
	c->callbacks++;
	c->callback_ns += ns;
	if (ns > c->callback_max_ns)
		c->callback_max_ns = ns;
}

/*
 * The driver's first (or only) pass returned @ret after @ns nanoseconds:
 * count it on this CPU, and tell the events group if it has a listener.
 * Context: the invalidation path; maybe in reclaim, maybe not allowed to
 * sleep. Preemption is off only while this CPU's counters are written.
 */
void hmm_core_nl_invalidated(struct hmm_mirror *mirror,
			     const struct hmm_update *update, u64 ns, int ret)
{
	struct hmm_mirror_pcpu *c = get_cpu_ptr(mirror->counters);

	c->invalidations[hmm_core_event_index(update->event)]++;
	if (ret)
		c->nonblock_failures++;
	hmm_core_nl_timed(c, ns);
	put_cpu_ptr(mirror->counters);
	hmm_core_nl_notify(HMM_CORE_CMD_INVALIDATE_NTF, mirror, update, ns,
			   HMM_CORE_NL_GFP_ATOMIC);
}

/* A two-pass mirror's second pass took @ns nanoseconds. */
void hmm_core_nl_finished(struct hmm_mirror *mirror, u64 ns)
{
	hmm_core_nl_timed(get_cpu_ptr(mirror->counters), ns);
	put_cpu_ptr(mirror->counters);
}

/* The mirror's ->release() is about to run. */
void hmm_core_nl_release(struct hmm_mirror *mirror)
{
	hmm_core_nl_notify(HMM_CORE_CMD_RELEASE_NTF, mirror, NULL, 0,
			   GFP_KERNEL);
}

/**
 * hmm_core_mirror_sum() - a mirror's counters, summed over every CPU
 * @mirror: a mirror with counters (between hmm_core_nl_mirror_add() and
 *	hmm_core_nl_mirror_del())
 * @sum: filled with the sums (callback_max_ns: the largest)
 */
void hmm_core_mirror_sum(const struct hmm_mirror *mirror,
			 struct hmm_mirror_pcpu *sum)
{
	unsigned int i;
	int cpu;

	memset(sum, 0, sizeof(*sum));
	for_each_possible_cpu(cpu) {
		const struct hmm_mirror_pcpu *c =
			per_cpu_ptr(mirror->counters, cpu);

		for (i = 0; i < HMM_MIRROR_NR_EVENTS; i++)
			sum->invalidations[i] += READ_ONCE(c->invalidations[i]);
		sum->retries += READ_ONCE(c->retries);
		sum->nonblock_failures += READ_ONCE(c->nonblock_failures);
		sum->callbacks += READ_ONCE(c->callbacks);
		sum->callback_ns += READ_ONCE(c->callback_ns);
		sum->callback_max_ns = max(sum->callback_max_ns,
					   READ_ONCE(c->callback_max_ns));
		sum->pages_invalidated += READ_ONCE(c->pages_invalidated);
		sum->page_reports += READ_ONCE(c->page_reports);
	}
}

/*
 * One MIRROR_GET message, of a mirror the caller may see (@tgid: its
 * owner, as the caller sees it). Context: hmm_core_nl_lock held, which
 * keeps the mirror registered and its label still.
 */
static int hmm_core_nl_mirror_fill(struct sk_buff *skb, u32 portid, u32 seq,
				   int flags, const struct hmm_mirror *mirror,
				   u32 tgid)
{
	char label[HMM_MIRROR_LABEL_LEN];
	struct hmm_mirror_pcpu sum;
	void *hdr;

	lockdep_assert_held(&hmm_core_nl_lock);
	hmm_core_mirror_sum(mirror, &sum);
	/* Never past the array, whatever the driver wrote there. */
	strscpy(label, mirror->label, sizeof(label));
	hdr = genlmsg_put(skb, portid, seq, &hmm_core_nl_family, flags,
			  HMM_CORE_CMD_MIRROR_GET);
	if (!hdr)
		return -EMSGSIZE;
	if (nla_put_u32(skb, HMM_CORE_A_MIRROR_ID, mirror->id) ||
	    nla_put_string(skb, HMM_CORE_A_MIRROR_DRIVER, mirror->driver) ||
	    nla_put_string(skb, HMM_CORE_A_MIRROR_LABEL, label) ||
	    nla_put_u32(skb, HMM_CORE_A_MIRROR_TGID, tgid) ||
	    nla_put_u64_64bit(skb, HMM_CORE_A_MIRROR_START,
			      hmm_core_nl_start(mirror), HMM_CORE_A_MIRROR_PAD) ||
	    nla_put_u64_64bit(skb, HMM_CORE_A_MIRROR_END,
			      hmm_core_nl_end(mirror), HMM_CORE_A_MIRROR_PAD) ||
	    (mirror->ops->invalidate_start &&
	     nla_put_flag(skb, HMM_CORE_A_MIRROR_TWO_PHASE)) ||
	    hmm_core_nl_put_counts(skb, HMM_CORE_A_MIRROR_INVALIDATIONS,
				   sum.invalidations) ||
	    nla_put_u64_64bit(skb, HMM_CORE_A_MIRROR_RETRIES, sum.retries,
			      HMM_CORE_A_MIRROR_PAD) ||
	    nla_put_u64_64bit(skb, HMM_CORE_A_MIRROR_NONBLOCK_FAILURES,
			      sum.nonblock_failures, HMM_CORE_A_MIRROR_PAD) ||
	    nla_put_u64_64bit(skb, HMM_CORE_A_MIRROR_CALLBACKS, sum.callbacks,
			      HMM_CORE_A_MIRROR_PAD) ||
	    nla_put_u64_64bit(skb, HMM_CORE_A_MIRROR_CALLBACK_NS,
			      sum.callback_ns, HMM_CORE_A_MIRROR_PAD) ||
	    nla_put_u64_64bit(skb, HMM_CORE_A_MIRROR_CALLBACK_MAX_NS,
			      sum.callback_max_ns, HMM_CORE_A_MIRROR_PAD) ||
	    /* Only from a driver that reports it: see the spec. */
	    (sum.page_reports &&
	     nla_put_u64_64bit(skb, HMM_CORE_A_MIRROR_PAGES_INVALIDATED,
			       sum.pages_invalidated, HMM_CORE_A_MIRROR_PAD))) {
		genlmsg_cancel(skb, hdr);
		return -EMSGSIZE;
	}
	genlmsg_end(skb, hdr);
	return 0;
}

int hmm_core_nl_mirror_get_start(struct netlink_callback *cb)
{
	const struct nlattr *const *attrs =
		(const struct nlattr *const *)genl_info_dump(cb)->attrs;

	/* Before 6.2 the dump shares the do's policy: see compat.h. */
	if (attrs && attrs[HMM_CORE_A_MIRROR_ID]) {
		NL_SET_ERR_MSG_ATTR(cb->extack, attrs[HMM_CORE_A_MIRROR_ID],
				    "the dump lists every mirror: it takes no id");
		return -EINVAL;
	}
	return 0;
}

int hmm_core_nl_mirror_get_dumpit(struct sk_buff *skb,
				  struct netlink_callback *cb)
{
	bool admin = netlink_capable(cb->skb, CAP_SYS_ADMIN);
	struct hmm_mirror *mirror;
	unsigned long id;
	int ret = 0;
	u32 tgid;

	mutex_lock(&hmm_core_nl_lock);
	xa_for_each_start(&hmm_core_mirrors, id, mirror, cb->args[0]) {
		if (hmm_mirror_owner_visible(mirror->owner, admin, &tgid)) {
			ret = hmm_core_nl_mirror_fill(skb,
						      NETLINK_CB(cb->skb).portid,
						      cb->nlh->nlmsg_seq,
						      NLM_F_MULTI, mirror, tgid);
			if (ret)
				break;
		}
		cb->args[0] = id + 1;
	}
	mutex_unlock(&hmm_core_nl_lock);
	/* A full skb with something in it: go on at the next recv(). */
	if (ret == -EMSGSIZE && skb->len)
		return skb->len;
	return ret;
}

int hmm_core_nl_mirror_get_doit(struct sk_buff *skb, struct genl_info *info)
{
	const struct nlattr *a_id = info->attrs[HMM_CORE_A_MIRROR_ID];
	bool admin = netlink_capable(skb, CAP_SYS_ADMIN);
	struct hmm_mirror *mirror;
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
	mutex_lock(&hmm_core_nl_lock);
	mirror = xa_load(&hmm_core_mirrors, nla_get_u32(a_id));
	/* One the caller may not see does not exist, as in /proc. */
	if (mirror && hmm_mirror_owner_visible(mirror->owner, admin, &tgid))
		ret = hmm_core_nl_mirror_fill(msg, info->snd_portid,
					      info->snd_seq, 0, mirror, tgid);
	mutex_unlock(&hmm_core_nl_lock);
	if (ret) {
		nlmsg_free(msg);
		if (ret == -ENOENT)
			NL_SET_ERR_MSG_ATTR(info->extack, a_id, "no such mirror");
		return ret;
	}
	return genlmsg_reply(msg, info);
}

int hmm_core_nl_stats_get_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct hmm_mirror_stats stats;
	struct sk_buff *msg;
	void *hdr;

	hmm_mirror_read_stats(&stats);
	msg = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (!msg)
		return -ENOMEM;
	hdr = genlmsg_put_reply(msg, info, &hmm_core_nl_family, 0,
				HMM_CORE_CMD_STATS_GET);
	if (!hdr ||
	    nla_put_u64_64bit(msg, HMM_CORE_A_STATS_MMS, stats.nr_mms,
			      HMM_CORE_A_STATS_PAD) ||
	    nla_put_u64_64bit(msg, HMM_CORE_A_STATS_MIRRORS, stats.nr_mirrors,
			      HMM_CORE_A_STATS_PAD) ||
	    hmm_core_nl_put_counts(msg, HMM_CORE_A_STATS_INVALIDATIONS,
				   stats.invalidations) ||
	    nla_put_u64_64bit(msg, HMM_CORE_A_STATS_NONBLOCK_FAILURES,
			      stats.nonblock_failures, HMM_CORE_A_STATS_PAD) ||
	    nla_put_u64_64bit(msg, HMM_CORE_A_STATS_RETRIES, stats.retries,
			      HMM_CORE_A_STATS_PAD) ||
	    nla_put_u64_64bit(msg, HMM_CORE_A_STATS_EVENTS_SENT,
			      atomic64_read(&hmm_core_events_sent),
			      HMM_CORE_A_STATS_PAD) ||
	    nla_put_u64_64bit(msg, HMM_CORE_A_STATS_EVENTS_DROPPED,
			      atomic64_read(&hmm_core_events_dropped),
			      HMM_CORE_A_STATS_PAD) ||
	    nla_put_u64_64bit(msg, HMM_CORE_A_STATS_VERIFY_VIOLATIONS,
			      stats.verify_violations, HMM_CORE_A_STATS_PAD)) {
		nlmsg_free(msg);
		return -EMSGSIZE;
	}
	genlmsg_end(msg, hdr);
	return genlmsg_reply(msg, info);
}

/* One MM_GET message, of an mm the caller may see. */
static int hmm_core_nl_mm_fill(struct sk_buff *skb,
			       struct netlink_callback *cb, u32 id,
			       const struct hmm_core_mm_stats *st)
{
	const struct hmm_core_counters *c = &st->counters;
	unsigned int i;
	void *hdr;

	hdr = genlmsg_put(skb, NETLINK_CB(cb->skb).portid, cb->nlh->nlmsg_seq,
			  &hmm_core_nl_family, NLM_F_MULTI, HMM_CORE_CMD_MM_GET);
	if (!hdr)
		return -EMSGSIZE;
	if (nla_put_u32(skb, HMM_CORE_A_MM_ID, id) ||
	    nla_put_u32(skb, HMM_CORE_A_MM_MIRRORS, st->nr_mirrors))
		goto cancel;
	for (i = 0; i < st->nr_owners; i++)
		if (nla_put_u32(skb, HMM_CORE_A_MM_TGID, st->tgids[i]))
			goto cancel;
	if (hmm_core_nl_put_counts(skb, HMM_CORE_A_MM_INVALIDATIONS,
				   c->invalidations) ||
	    nla_put_u64_64bit(skb, HMM_CORE_A_MM_RETRIES, c->retries,
			      HMM_CORE_A_MM_PAD) ||
	    nla_put_u64_64bit(skb, HMM_CORE_A_MM_NONBLOCK_FAILURES,
			      c->nonblock_failures, HMM_CORE_A_MM_PAD))
		goto cancel;
	genlmsg_end(skb, hdr);
	return 0;
cancel:
	genlmsg_cancel(skb, hdr);
	return -EMSGSIZE;
}

int hmm_core_nl_mm_get_dumpit(struct sk_buff *skb, struct netlink_callback *cb)
{
	bool admin = netlink_capable(cb->skb, CAP_SYS_ADMIN);
	struct hmm_mirror_mm *mirror_mm;
	struct hmm_core_mm_stats st;
	unsigned long id;
	int ret = 0;

	mutex_lock(&hmm_core_nl_lock);
	xa_for_each_start(&hmm_core_mms, id, mirror_mm, cb->args[0]) {
		if (hmm_core_mm_read(mirror_mm, admin, &st)) {
			ret = hmm_core_nl_mm_fill(skb, cb, id, &st);
			if (ret)
				break;
		}
		cb->args[0] = id + 1;
	}
	mutex_unlock(&hmm_core_nl_lock);
	if (ret == -EMSGSIZE && skb->len)
		return skb->len;
	return ret;
}

/*
 * The group of hmm_core_nl_gen.c, but with its flag: ynl-gen-c.py of 6.12
 * cannot say a group needs CAP_NET_ADMIN.
 */
static const struct genl_multicast_group hmm_core_nl_mcgrps_cap[] = {
	[HMM_CORE_NLGRP_EVENTS] = {
		.name = HMM_CORE_MCGRP_EVENTS,
		.flags = GENL_MCAST_CAP_NET_ADMIN,
	},
};

/*
 * Not netnsok: mirrors are not per network namespace, so the family is only
 * seen from the initial one. parallel_ops: the operations lock for
 * themselves (hmm_core_nl_lock), they need no genl_mutex.
 */
static struct genl_family hmm_core_nl_family __ro_after_init = {
	.name = HMM_CORE_FAMILY_NAME,
	.version = HMM_CORE_FAMILY_VERSION,
	.parallel_ops = true,
	.module = THIS_MODULE,
	.resv_start_op = HMM_CORE_CMD_MIRROR_GET,
	.mcgrps = hmm_core_nl_mcgrps_cap,
	.n_mcgrps = ARRAY_SIZE(hmm_core_nl_mcgrps_cap),
	/* Where the kernel has no group flag, a bind callback (compat.h). */
	COMPAT_GENL_MCAST_CAP_BIND
};

/* Room for the largest event message. */
static size_t hmm_core_nl_event_size(void)
{
	return nla_total_size_64bit(sizeof(u64)) * 5 +	/* seq, start, end, ns/addr */
	       nla_total_size(sizeof(u32)) * 3 +	/* id, tgid, reason/kind */
	       nla_total_size(MODULE_NAME_LEN) +	/* driver */
	       nla_total_size(HMM_MIRROR_LABEL_LEN) +	/* label */
	       nla_total_size(0);			/* blockable */
}

/*
 * The start of one event about @mirror for the "events" group: NULL if the
 * group has no listener, or (a drop, counted) no memory. The message's
 * sequence number is spent either way.
 */
static struct sk_buff *hmm_core_nl_event_begin(u8 cmd,
					       const struct hmm_mirror *mirror,
					       gfp_t gfp, void **hdr)
{
	struct sk_buff *skb;
	u64 seq;

	if (!READ_ONCE(hmm_core_nl_ready) ||
	    !genl_has_listeners(&hmm_core_nl_family, &init_net,
				HMM_CORE_NLGRP_EVENTS))
		return NULL;

	seq = atomic64_inc_return(&hmm_core_events_seq);
	skb = genlmsg_new(hmm_core_nl_event_size(), gfp);
	if (!skb)
		goto drop;
	*hdr = genlmsg_put(skb, 0, 0, &hmm_core_nl_family, 0, cmd);
	if (!*hdr ||
	    nla_put_u64_64bit(skb, HMM_CORE_A_EVENT_SEQ, seq,
			      HMM_CORE_A_EVENT_PAD) ||
	    nla_put_u32(skb, HMM_CORE_A_EVENT_MIRROR_ID, mirror->id)) {
		nlmsg_free(skb);
		goto drop;
	}
	return skb;
drop:
	atomic64_inc(&hmm_core_events_dropped);
	return NULL;
}

/* Send an event hmm_core_nl_event_begin() began; @ok false: a drop. */
static void hmm_core_nl_event_send(struct sk_buff *skb, void *hdr, bool ok,
				   gfp_t gfp)
{
	if (!ok) {
		nlmsg_free(skb);
		goto drop;
	}
	genlmsg_end(skb, hdr);
	/* Consumes skb; -ESRCH: nobody got it, -ENOBUFS: someone did not. */
	if (genlmsg_multicast(&hmm_core_nl_family, skb, 0,
			      HMM_CORE_NLGRP_EVENTS, gfp))
		goto drop;
	atomic64_inc(&hmm_core_events_sent);
	return;
drop:
	atomic64_inc(&hmm_core_events_dropped);
}

/*
 * Send one event about @mirror to the "events" group, if it has a listener.
 * The label is read without hmm_core_nl_lock (an invalidation cannot take
 * it): a label changed meanwhile may show torn, never past the end of its
 * array.
 */
static void hmm_core_nl_notify(u8 cmd, const struct hmm_mirror *mirror,
			       const struct hmm_update *update, u64 ns,
			       gfp_t gfp)
{
	char label[HMM_MIRROR_LABEL_LEN];
	struct sk_buff *skb;
	void *hdr;
	bool ok = true;

	skb = hmm_core_nl_event_begin(cmd, mirror, gfp, &hdr);
	if (!skb)
		return;
	strscpy(label, mirror->label, sizeof(label));
	/* In the initial pid namespace: see the top of this file. */
	if (cmd == HMM_CORE_CMD_REGISTER_NTF)
		ok = !nla_put_string(skb, HMM_CORE_A_EVENT_DRIVER, mirror->driver) &&
		     !nla_put_string(skb, HMM_CORE_A_EVENT_LABEL, label) &&
		     !nla_put_u32(skb, HMM_CORE_A_EVENT_TGID,
				  pid_nr(mirror->owner)) &&
		     !nla_put_u64_64bit(skb, HMM_CORE_A_EVENT_START,
					hmm_core_nl_start(mirror),
					HMM_CORE_A_EVENT_PAD) &&
		     !nla_put_u64_64bit(skb, HMM_CORE_A_EVENT_END,
					hmm_core_nl_end(mirror),
					HMM_CORE_A_EVENT_PAD);
	if (ok && update)
		ok = !nla_put_u64_64bit(skb, HMM_CORE_A_EVENT_START,
					update->start, HMM_CORE_A_EVENT_PAD) &&
		     !nla_put_u64_64bit(skb, HMM_CORE_A_EVENT_END, update->end,
					HMM_CORE_A_EVENT_PAD) &&
		     !nla_put_u32(skb, HMM_CORE_A_EVENT_REASON,
				  hmm_core_nl_event(update->event)) &&
		     !(update->blockable &&
		       nla_put_flag(skb, HMM_CORE_A_EVENT_BLOCKABLE)) &&
		     !nla_put_u64_64bit(skb, HMM_CORE_A_EVENT_DURATION_NS, ns,
					HMM_CORE_A_EVENT_PAD);
	hmm_core_nl_event_send(skb, hdr, ok, gfp);
}

/* The uapi's enum hmm_core_finding of the verifier's kinds. */
static const u32 hmm_core_nl_verify_kind[] = {
	[HMM_CORE_VERIFY_LEFT] = HMM_CORE_FINDING_LEFT,
	[HMM_CORE_VERIFY_PFN] = HMM_CORE_FINDING_PFN,
	[HMM_CORE_VERIFY_WRITE] = HMM_CORE_FINDING_WRITE,
	[HMM_CORE_VERIFY_ORDER] = HMM_CORE_FINDING_ORDER,
};

/**
 * hmm_core_nl_verify_violation - the verifier's first finding on a mirror
 * @mirror: the mirror, registered
 * @kind: what is wrong
 * @start: first address of the range checked
 * @end: first address past it
 * @addr: the address of the wrong entry
 *
 * Sends verify-ntf to the "events" group, if it has a listener; no pfn.
 * Context: any (the message is allocated without sleeping).
 */
void hmm_core_nl_verify_violation(const struct hmm_mirror *mirror,
				  enum hmm_core_verify_kind kind,
				  unsigned long start, unsigned long end,
				  unsigned long addr)
{
	struct sk_buff *skb;
	void *hdr;

	skb = hmm_core_nl_event_begin(HMM_CORE_CMD_VERIFY_NTF, mirror,
				      GFP_NOWAIT, &hdr);
	if (!skb)
		return;
	hmm_core_nl_event_send(skb, hdr,
			       !nla_put_u64_64bit(skb, HMM_CORE_A_EVENT_START,
						  start, HMM_CORE_A_EVENT_PAD) &&
			       !nla_put_u64_64bit(skb, HMM_CORE_A_EVENT_END,
						  end, HMM_CORE_A_EVENT_PAD) &&
			       !nla_put_u64_64bit(skb, HMM_CORE_A_EVENT_ADDR,
						  addr, HMM_CORE_A_EVENT_PAD) &&
			       !nla_put_u32(skb, HMM_CORE_A_EVENT_FINDING,
					    hmm_core_nl_verify_kind[kind]),
			       GFP_NOWAIT);
}

/*
 * Register the family, with its generated ops (each strict, see the top).
 * Context: module init, the last thing hmm_core does there.
 */
int hmm_core_nl_init(void)
{
	int ret;

	BUILD_BUG_ON(HMM_MIRROR_LABEL_LEN != HMM_CORE_LABEL_LEN);
	ret = compat_genl_register_family(&hmm_core_nl_family, hmm_core_nl_ops,
					  ARRAY_SIZE(hmm_core_nl_ops));
	if (ret) {
		pr_err("cannot register the %s generic netlink family: %d\n",
		       HMM_CORE_FAMILY_NAME, ret);
		return ret;
	}
	WRITE_ONCE(hmm_core_nl_ready, true);
	return 0;
}

/*
 * Unregister the family. Context: module exit, the first thing hmm_core
 * does there; no mirror is registered (every driver holds a reference on
 * hmm_core while it has one).
 */
void hmm_core_nl_exit(void)
{
	WRITE_ONCE(hmm_core_nl_ready, false);
	compat_genl_unregister_family(&hmm_core_nl_family);
	WARN_ON(!xa_empty(&hmm_core_mirrors));
	WARN_ON(!xa_empty(&hmm_core_mms));
}
