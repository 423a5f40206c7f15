// SPDX-License-Identifier: GPL-2.0
/*
 * fault_inject - fail every allocation of every hmm_dummy system call, one
 * at a time (debug-kernel lane only: needs CONFIG_FAILSLAB,
 * CONFIG_FAIL_PAGE_ALLOC and CONFIG_FAULT_INJECTION_DEBUG_FS).
 *
 * For each system call (open of both device kinds, every native ioctl, the
 * test_hmm-ABI ioctls, device memory's among them, mmap of a dmirror file,
 * close) and each request of
 * the generic netlink family (where the uapi header has one: the send and
 * every reply read count as one call), for N = 1, 2, ...:
 * write N to /proc/thread-self/fail-nth, make the call, read fail-nth back.
 * 0 means the N-th allocation of the call was failed (slab or page, GFP
 * flags no matter): the call must then succeed anyway or fail with ENOMEM
 * (EFAULT too where the failed allocation is a page the CPU fault needed,
 * which the kernel reports as EFAULT; ENOBUFS for a netlink reply the
 * socket could not get), and the same call made again without
 * injection must succeed with the device page table coherent. Non-zero
 * means the call made fewer than N allocations: it must have succeeded, and
 * the next call is taken. Leaks and splats are the host's to see
 * (scripts/vm-run --debug: kmemleak after the unload, the log).
 *
 * Most calls span NPAGES pages. Some are made again over more: a FAULT,
 * READ and WRITE of BIG_PAGES, more than one of the HMM_MIRROR_RANGE_MAX_PAGES
 * chunks hmm_dummy populates at a time (a failure in the second after the
 * first committed); a DUMP of DUMP_PAGES entries, more than two of its
 * batches; an EXCLUSIVE of EXCL_PAGES, more than two of its batches of 64.
 * Their memory is written before the call but for one page of the second
 * chunk (setup_holed()): a CPU fault that allocates there, not one per page.
 *
 * SET_RANGE unregisters the file's mirror and registers it again over the
 * new range: a failure must leave the file failing every call with EPERM,
 * as the uapi says, and closing cleanly, or (failed before the old
 * registration was let go) still mirroring what it did (check_set_range()).
 *
 * The "events" multicast group's messages are built only when it has a
 * listener: the *_events calls (open, close, munmap of mirrored memory)
 * are made with one (a raw generic netlink socket that joined the group).
 * An event that cannot be allocated is dropped and counted (events_dropped
 * of STATS_GET): each of those ops must see at least one step whose forced
 * failure dropped an event, and the listener must get the event of a call
 * that completed with nothing failed.
 *
 * Each forced failure prints its stack (verbose=2) to the kernel log; the
 * innermost frame in hmm_dummy or hmm_core is the allocation site in our
 * code. The distinct sites are printed as "# fi-site: FUNC+OFF/SIZE [MOD]"
 * lines and counted; scripts/check-debug matches them against the
 * allocating call sites it finds in the modules.
 *
 * The N-th allocation of a call is not always the same one. Around ours,
 * the kernel allocates for itself, silently (__GFP_NOWARN: a failure forced
 * there prints nothing): kmemleak's metadata after each allocation, and
 * slab refills, which try a higher order first. How many refills a call
 * meets depends on the state of the caches (under KASAN, freed objects sit
 * in a quarantine: refills come at any point), so from one step's process
 * to the next an allocation of ours may move by one: two steps then fail
 * the same allocation and none fails the one before it (open's
 * hmm_mirror_mm_alloc() was missed so in about one run in three). A step
 * whose failure printed nothing is therefore made once more
 * (SILENT_TRIES): where the shift hid an allocation, the second try most
 * often lands on it.
 *
 * With --module PATH (the hmm_dummy.ko the guest loaded; scripts/check-debug
 * passes it) two more things are stepped, each hmm_dummy load made with the
 * parameters the module was loaded with (read from sysfs first):
 * - module_load: the load itself (finit_module(2)), from a little before
 *   hmm_dummy_init() to its end: see t_module_load();
 * - the growth of device memory: the first MIGRATE_TO_DEV of a device after
 *   a load adds a chunk (memremap_pages()); RELEASE evicts pages but keeps
 *   the chunks, so each step of that op loads hmm_dummy afresh.
 * At the end hmm_dummy is loaded again as it was, for the guest's unload.
 *
 * --only CASE,... runs those cases only (the others skip): for working on
 * one of them.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>

#include "tap.h"
#include "dummy_util.h"
#include "hmm_dmirror.h"

#if __has_include("hmm_dummy_nl.h")
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <sys/socket.h>
#include "hmm_dummy_nl.h"
#define HAVE_NL 1
#endif

#define NPAGES		4
#define BIG_PAGES	600	/* 2 populate chunks: 512 and 88 pages */
#define BIG_HOLE	(BIG_PAGES - 8)	/* the page not written, in chunk 2 */
#define DUMP_PAGES	400	/* 3 DUMP batches of PAGE / 24 entries */
#define EXCL_PAGES	130	/* 3 EXCLUSIVE batches of 64 */
#define MAX_STEPS	400
#define MAX_SITES	256
#define SITE_LEN	128
#define SILENT_TRIES	2	/* tries of a step whose failure printed nothing */

/* Sites seen, shared by the per-case children (MAP_SHARED). */
struct sites {
	int n;
	int forced;		/* failures forced, in all cases */
	int attributed;		/* ... whose stack had a frame of ours */
	int dropped;		/* steps whose call dropped an event */
	char site[MAX_SITES][SITE_LEN];
};

static struct sites *sites;

struct ctx {
	int fd;			/* the device file (or socket) the call uses */
	int fd2;		/* a device file netlink calls report on */
	unsigned int id;	/* fd2's netlink mirror id */
	int ls;			/* a listener of the events group, or -1 */
	unsigned long n;	/* pages of p and buf: the op's npages */
	char *p;		/* n pages of process memory */
	char *buf;		/* n pages of user buffer */
	long ret;		/* what the call returned */
	const struct op *op;	/* the call's description */
};

struct op {
	const char *name;
	const char *dev;	/* "dummy" or "dmirror" */
	int (*setup)(struct ctx *c);	/* after the device is open */
	long (*call)(struct ctx *c);
	void (*undo)(struct ctx *c);	/* after a successful call */
	int also;		/* an errno allowed besides ENOMEM, or 0 */
	unsigned long cmd;	/* call_dmirror()'s ioctl, call_nl()'s command */
	int flags;		/* call_nl()'s netlink flags */
	int fresh;		/* hmm_dummy loaded afresh before each step */
	unsigned long npages;	/* pages the call spans; 0: NPAGES */
	int listen;		/* made with a listener of the events group */
	/*
	 * What follows the call with injection, instead of recheck()'s
	 * "the same call again": r is what the call returned.
	 */
	int (*check)(struct ctx *c, long r);
	/*
	 * Stop after the first failure forced under this kernel function: it
	 * is reached (unless @may_stop: it may be); what lies deeper is the
	 * kernel's own, and warns.
	 */
	const char *stop_at;
	int may_stop;
};


#ifdef HAVE_NL
static int nl_socket(void)
{
	return socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
}
#endif

static int dev_open(const char *dev)
{
#ifdef HAVE_NL
	if (!strcmp(dev, "nl"))
		return nl_socket();
#endif
	return open(!strcmp(dev, "dummy") ? "/dev/hmm_dummy0" :
		    "/dev/hmm_dmirror0", O_RDWR | O_CLOEXEC);
}

/* Fresh, unpopulated memory: the call's own CPU faults allocate. */
static int setup_fresh(struct ctx *c)
{
	c->p = mmap(NULL, c->n * PAGE, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (c->p == MAP_FAILED)
		return -1;
	return 0;
}

/* Memory the device (file fd) already maps: device entries present. */
static int setup_mapped_fd(struct ctx *c, int fd)
{
	if (setup_fresh(c))
		return -1;
	memset(c->p, 0x5a, c->n * PAGE);
	return dummy_fault(fd, c->p, c->n, HMM_DUMMY_FAULT_WRITE, NULL);
}

static int setup_mapped(struct ctx *c)
{
	return setup_mapped_fd(c, c->fd);
}

static int setup_none(struct ctx *c)
{
	(void)c;
	return 0;
}

static long call_open(struct ctx *c)
{
	(void)c;
	return open("/dev/hmm_dummy0", O_RDWR | O_CLOEXEC);
}

static long call_open_dmirror(struct ctx *c)
{
	(void)c;
	return open("/dev/hmm_dmirror0", O_RDWR | O_CLOEXEC);
}

static void undo_open(struct ctx *c)
{
	close((int)c->ret);
}

static long call_close(struct ctx *c)
{
	long r = close(c->fd);

	c->fd = -1;
	return r;
}

static long call_fault_read(struct ctx *c)
{
	return dummy_fault(c->fd, c->p, c->n, 0, NULL);
}

static long call_fault_write(struct ctx *c)
{
	return dummy_fault(c->fd, c->p, c->n, HMM_DUMMY_FAULT_WRITE, NULL);
}

static long call_read(struct ctx *c)
{
	return dummy_rw(c->fd, HMM_DUMMY_IOC_READ, c->p, c->buf, c->n,
			NULL, NULL);
}

static long call_write(struct ctx *c)
{
	return dummy_rw(c->fd, HMM_DUMMY_IOC_WRITE, c->p, c->buf, c->n,
			NULL, NULL);
}

static long call_snapshot(struct ctx *c)
{
	return dummy_snapshot(c->fd, c->p, c->n, (uint8_t *)c->buf);
}

static long call_dump(struct ctx *c)
{
	return dummy_dump(c->fd, c->p, c->n, (struct hmm_dummy_pte *)c->buf,
			  c->n, NULL);
}

static long call_counters(struct ctx *c)
{
	return dummy_counters(c->fd, (struct hmm_dummy_counters *)c->buf);
}

static long call_set_range(struct ctx *c)
{
	return dummy_set_range(c->fd, c->p, c->n);
}

/* Each native ioctl of fd fails with EPERM: the file mirrors nothing. */
static int all_eperm(struct ctx *c)
{
	static const char *const names[] = {
		"FAULT", "READ", "WRITE", "SNAPSHOT", "DUMP", "COUNTERS",
		"SET_RANGE",
	};
	struct hmm_dummy_counters cnt;
	unsigned int i;
	int r = 0;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		errno = 0;
		switch (i) {
		case 0:
			r = dummy_fault(c->fd, c->p, c->n, 0, NULL);
			break;
		case 1:
		case 2:
			r = dummy_rw(c->fd, i == 1 ? HMM_DUMMY_IOC_READ :
				     HMM_DUMMY_IOC_WRITE, c->p, c->buf, c->n,
				     NULL, NULL);
			break;
		case 3:
			r = dummy_snapshot(c->fd, c->p, c->n, (uint8_t *)c->buf);
			break;
		case 4:
			r = dummy_dump(c->fd, c->p, c->n,
				       (struct hmm_dummy_pte *)c->buf, c->n,
				       NULL);
			break;
		case 5:
			r = dummy_counters(c->fd, &cnt);
			break;
		case 6:
			r = dummy_set_range(c->fd, c->p, c->n);
			break;
		}
		if (r != -1 || errno != EPERM) {
			diag("SET_RANGE failed, then %s returned %d (%s), not EPERM",
			     names[i], r, strerror(errno));
			return -1;
		}
	}
	return 0;
}

/*
 * After a SET_RANGE with injection. If it failed, the file either fails
 * every call with EPERM, as the uapi says of a range that could not be
 * registered, and closes (its close does not wait for an unregistration
 * that never comes), and then a new file's SET_RANGE works; or it failed
 * before it let go of its old registration, and the file still mirrors
 * what it did, whole address space, coherent, and takes the SET_RANGE
 * again. Either way the file then mirrors [p, p + n pages) only: its
 * device page table was emptied, a call outside the range fails with
 * EINVAL, a FAULT inside works and stays coherent across an mprotect() of
 * the range (its invalidation reaches the new registration).
 */
static int check_set_range(struct ctx *c, long r)
{
	struct hmm_dummy_counters cnt;
	long nr;

	if (r < 0 && dummy_counters(c->fd, &cnt) && errno == EPERM) {
		if (all_eperm(c))
			return TAP_FAIL;
		if (close(c->fd)) {
			diag("SET_RANGE failed, then close: %s", strerror(errno));
			return TAP_FAIL;
		}
		c->fd = dummy_open(0);
		if (c->fd < 0 || dummy_set_range(c->fd, c->p, c->n)) {
			diag("SET_RANGE failed, then a new file's SET_RANGE: %s",
			     strerror(errno));
			return TAP_FAIL;
		}
	} else if (r < 0) {
		/* Still the old mirror: outside the new range too. */
		if (RETRY_EBUSY(dummy_fault(c->fd, c->buf, 1, 0, NULL)) ||
		    check_coherent(c->fd, c->p, c->n)) {
			diag("SET_RANGE failed, the file not EPERM: its old mirror does not work (%s)",
			     strerror(errno));
			return TAP_FAIL;
		}
		if (dummy_set_range(c->fd, c->p, c->n)) {
			diag("SET_RANGE failed, then without injection: %s",
			     strerror(errno));
			return TAP_FAIL;
		}
	}
	nr = dummy_nr_entries(c->fd, c->p, c->n);
	if (nr) {
		diag("SET_RANGE: %ld device entries left (DUMP: %s)", nr,
		     nr < 0 ? strerror(errno) : "ok");
		return TAP_FAIL;
	}
	if (dummy_fault(c->fd, c->buf, 1, 0, NULL) != -1 || errno != EINVAL) {
		diag("SET_RANGE: a FAULT outside the range: %s, not EINVAL",
		     strerror(errno));
		return TAP_FAIL;
	}
	if (RETRY_EBUSY(dummy_fault(c->fd, c->p, c->n, HMM_DUMMY_FAULT_WRITE,
				    NULL))) {
		diag("SET_RANGE: a FAULT inside the range: %s", strerror(errno));
		return TAP_FAIL;
	}
	if (mprotect(c->p, c->n * PAGE, PROT_READ)) {
		diag("mprotect: %s", strerror(errno));
		return TAP_FAIL;
	}
	if (check_coherent(c->fd, c->p, c->n)) {
		diag("SET_RANGE: device page table not coherent after mprotect()");
		return TAP_FAIL;
	}
	return TAP_PASS;
}

/* Unmap mirrored memory: its invalidation (and event, with a listener). */
static long call_munmap(struct ctx *c)
{
	return munmap(c->p, c->n * PAGE);
}

static long dmirror(struct ctx *c, unsigned long cmd)
{
	return dmirror_cmd(c->fd, cmd, c->p, c->buf, c->n, NULL);
}

/* The op's test_hmm-ABI ioctl. */
static long call_dmirror(struct ctx *c)
{
	return dmirror(c, c->op->cmd);
}

/* Memory with data in it, in system memory. */
static int setup_written(struct ctx *c)
{
	if (setup_fresh(c))
		return -1;
	memset(c->p, 0x3c, c->n * PAGE);
	return 0;
}

/*
 * Memory with data in it but for page BIG_HOLE, never touched: the call's
 * own CPU fault allocates it (a write fault), in the second chunk.
 */
static int setup_holed(struct ctx *c)
{
	if (setup_fresh(c))
		return -1;
	memset(c->p, 0x3c, BIG_HOLE * PAGE);
	memset(c->p + (BIG_HOLE + 1) * PAGE, 0x3c,
	       (c->n - BIG_HOLE - 1) * PAGE);
	return 0;
}

/* Memory with data in it, in the device's memory. */
static int setup_migrated(struct ctx *c)
{
	if (setup_written(c))
		return -1;
	return dmirror(c, HMM_DMIRROR_MIGRATE_TO_DEV) ? -1 : 0;
}

/*
 * 1 TiB up, where no other mapping of the process is: hmm_dummy's
 * vm_insert_page() then has the page tables of the range to allocate, and
 * those allocations are stepped too (next to another mapping they exist).
 */
#define FRESH_VA	((void *)(1UL << 40))

static long call_dmirror_mmap(struct ctx *c)
{
	void *m = mmap(FRESH_VA, NPAGES * PAGE, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_FIXED_NOREPLACE, c->fd, 0);

	return m == MAP_FAILED ? -1 : (long)(uintptr_t)m;
}

static void undo_mmap(struct ctx *c)
{
	munmap((void *)(uintptr_t)c->ret, NPAGES * PAGE);
}

#ifdef HAVE_NL
static int nl_family;
static unsigned int nl_seq;

/* A request's attributes: at most one u32 and two u64. */
struct nl_req {
	struct nlmsghdr n;
	struct genlmsghdr g;
	char attrs[64];
};

static void nl_put(struct nl_req *r, int type, const void *val, int len)
{
	struct nlattr *a = (void *)((char *)r + NLMSG_ALIGN(r->n.nlmsg_len));

	a->nla_type = type;
	a->nla_len = NLA_HDRLEN + len;
	memcpy((char *)a + NLA_HDRLEN, val, len);
	r->n.nlmsg_len = NLMSG_ALIGN(r->n.nlmsg_len) + NLA_ALIGN(a->nla_len);
}

/*
 * Send one request and read every reply to its end. cb, if any, sees each
 * attribute of each reply message. Returns 0 or -errno, as the kernel's
 * error message or a failed send/recv gave it.
 */
static int nl_xfer(int s, struct nl_req *r,
		   void (*cb)(int type, const void *val, void *arg), void *arg)
{
	static char buf[65536];
	int dump = r->n.nlmsg_flags & NLM_F_DUMP;

	r->n.nlmsg_flags |= NLM_F_REQUEST | (dump ? 0 : NLM_F_ACK);
	r->n.nlmsg_seq = ++nl_seq;
	if (send(s, r, r->n.nlmsg_len, 0) < 0)
		return -errno;
	for (;;) {
		ssize_t n = recv(s, buf, sizeof(buf), 0);
		struct nlmsghdr *h;

		if (n < 0)
			return -errno;
		for (h = (void *)buf; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
			struct nlattr *a;
			int len;

			if (h->nlmsg_type == NLMSG_DONE)
				return *(int *)NLMSG_DATA(h);
			if (h->nlmsg_type == NLMSG_ERROR)
				return ((struct nlmsgerr *)NLMSG_DATA(h))->error;
			if (!cb)
				continue;
			a = (void *)((char *)NLMSG_DATA(h) + GENL_HDRLEN);
			len = h->nlmsg_len - NLMSG_LENGTH(GENL_HDRLEN);
			while (len >= NLA_HDRLEN && a->nla_len >= NLA_HDRLEN &&
			       a->nla_len <= len) {
				cb(a->nla_type & NLA_TYPE_MASK,
				   (char *)a + NLA_HDRLEN, arg);
				len -= NLA_ALIGN(a->nla_len);
				a = (void *)((char *)a + NLA_ALIGN(a->nla_len));
			}
		}
	}
}

static void nl_init_req(struct nl_req *r, int family, int cmd, int flags)
{
	memset(r, 0, sizeof(*r));
	r->n.nlmsg_len = NLMSG_LENGTH(GENL_HDRLEN);
	r->n.nlmsg_type = family;
	r->n.nlmsg_flags = flags;
	r->g.cmd = cmd;
	r->g.version = 1;
}

static int nl_events_grp;	/* the events group's id, 0 if unknown */

/* The next attribute of a nest, or NULL past its end (*len: what is left). */
static const struct nlattr *nla_next_in(const struct nlattr *a, int *len)
{
	if (*len < NLA_HDRLEN || a->nla_len < NLA_HDRLEN || a->nla_len > *len)
		return NULL;
	*len -= NLA_ALIGN(a->nla_len);
	return (const void *)((const char *)a + NLA_ALIGN(a->nla_len));
}

/* The events group's id, from CTRL_ATTR_MCAST_GROUPS' nests. */
static void mcast_groups(const struct nlattr *nest)
{
	const struct nlattr *g = (const void *)((const char *)nest + NLA_HDRLEN);
	const struct nlattr *next;
	int len = nest->nla_len - NLA_HDRLEN;

	for (; (next = nla_next_in(g, &len)); g = next) {
		const struct nlattr *f = (const void *)((const char *)g + NLA_HDRLEN);
		const struct nlattr *fnext;
		int flen = g->nla_len - NLA_HDRLEN, id = 0, events = 0;

		for (; (fnext = nla_next_in(f, &flen)); f = fnext) {
			const char *v = (const char *)f + NLA_HDRLEN;

			if (f->nla_type == CTRL_ATTR_MCAST_GRP_ID)
				id = *(const uint32_t *)v;
			if (f->nla_type == CTRL_ATTR_MCAST_GRP_NAME)
				events = !strcmp(v, HMM_DUMMY_MCGRP_EVENTS);
		}
		if (events)
			nl_events_grp = id;
	}
}

static void family_cb(int type, const void *val, void *arg)
{
	if (type == CTRL_ATTR_FAMILY_ID)
		*(int *)arg = *(const uint16_t *)val;
	if (type == CTRL_ATTR_MCAST_GROUPS)
		mcast_groups((const void *)((const char *)val - NLA_HDRLEN));
}

/* The family's id (0 if it is not registered) and nl_events_grp. */
static int nl_resolve(void)
{
	struct nl_req r;
	int s = nl_socket(), id = 0;

	nl_events_grp = 0;
	if (s < 0)
		return 0;
	nl_init_req(&r, GENL_ID_CTRL, CTRL_CMD_GETFAMILY, 0);
	nl_put(&r, CTRL_ATTR_FAMILY_NAME, HMM_DUMMY_FAMILY_NAME,
	       sizeof(HMM_DUMMY_FAMILY_NAME));
	if (nl_xfer(s, &r, family_cb, &id))
		id = 0;
	close(s);
	return id;
}

/*
 * A socket that joined the events group, or -1. Bound first: an unbound
 * socket's port id is 0, the sender's of an event, which the kernel does
 * not send to.
 */
static int nl_listen(void)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	int s = nl_socket();

	if (s >= 0 && (bind(s, (struct sockaddr *)&sa, sizeof(sa)) ||
		       setsockopt(s, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP,
				  &nl_events_grp, sizeof(nl_events_grp)))) {
		diag("joining the events group: %s", strerror(errno));
		close(s);
		return -1;
	}
	return s;
}

/* Events in the listener's queue now (read and dropped), or -1. */
static int nl_events_queued(int ls)
{
	static char buf[65536];
	int n = 0;

	for (;;) {
		ssize_t r = recv(ls, buf, sizeof(buf), MSG_DONTWAIT);
		struct nlmsghdr *h;

		if (r < 0)
			return errno == EAGAIN ? n : -1;
		for (h = (void *)buf; NLMSG_OK(h, (size_t)r); h = NLMSG_NEXT(h, r))
			n += h->nlmsg_type == nl_family;
	}
}

static void dropped_cb(int type, const void *val, void *arg)
{
	if (type == HMM_DUMMY_A_STATS_EVENTS_DROPPED)
		memcpy(arg, val, sizeof(uint64_t));
}

/* STATS_GET's events_dropped, or -1. */
static long long nl_events_dropped(void)
{
	uint64_t dropped = ~0ULL;
	struct nl_req r;
	int s = nl_socket(), e;

	if (s < 0)
		return -1;
	nl_init_req(&r, nl_family, HMM_DUMMY_CMD_STATS_GET, 0);
	e = nl_xfer(s, &r, dropped_cb, &dropped);
	close(s);
	return e || dropped == ~0ULL ? -1 : (long long)dropped;
}

/* The last mirror id of the MIRROR_GET dump: the newest, fd2's. */
static void mirror_cb(int type, const void *val, void *arg)
{
	if (type == HMM_DUMMY_A_MIRROR_ID)
		*(unsigned int *)arg = *(const uint32_t *)val;
}

static int setup_nl(struct ctx *c)
{
	struct nl_req r;

	c->fd2 = dummy_open(0);
	if (c->fd2 < 0 || setup_mapped_fd(c, c->fd2))
		return -1;
	nl_init_req(&r, nl_family, HMM_DUMMY_CMD_MIRROR_GET, NLM_F_DUMP);
	return nl_xfer(c->fd, &r, mirror_cb, &c->id) || !c->id ? -1 : 0;
}

static long nl_call(struct ctx *c, int cmd, int flags)
{
	struct nl_req r;
	int e;

	nl_init_req(&r, nl_family, cmd, flags);
	if (cmd == HMM_DUMMY_CMD_PTE_GET)
		nl_put(&r, HMM_DUMMY_A_PTE_MIRROR_ID, &c->id, sizeof(c->id));
	if (cmd == HMM_DUMMY_CMD_MIRROR_GET && !(flags & NLM_F_DUMP))
		nl_put(&r, HMM_DUMMY_A_MIRROR_ID, &c->id, sizeof(c->id));
	e = nl_xfer(c->fd, &r, NULL, NULL);
	if (e) {
		errno = -e;
		return -1;
	}
	return 0;
}

/* The op's netlink request. */
static long call_nl(struct ctx *c)
{
	return nl_call(c, c->op->cmd, c->op->flags);
}
#endif

/*
 * Rows of ops[]: a call of its own, one test_hmm-ABI ioctl, one netlink
 * request (designated, so that the fields a row does not use stay zero).
 */
#define OP(n, d, s, c, u, e) \
	{ .name = n, .dev = d, .setup = s, .call = c, .undo = u, .also = e }
#define DMIRROR_OP(n, s, e, c) \
	{ .name = n, .dev = "dmirror", .setup = s, .call = call_dmirror, \
	  .also = e, .cmd = c }
#define NL_OP(n, c, f) \
	{ .name = n, .dev = "nl", .setup = setup_nl, .call = call_nl, \
	  .also = ENOBUFS, .cmd = c, .flags = f }
/* A call of its own over np pages. */
#define BIG_OP(n, d, s, c, e, np) \
	{ .name = n, .dev = d, .setup = s, .call = c, .also = e, .npages = np }
/* A call of its own with a listener of the events group. */
#define EVENTS_OP(n, d, s, c, u) \
	{ .name = n, .dev = d, .setup = s, .call = c, .undo = u, .listen = 1 }

static const struct op ops[] = {
	OP("open_dummy", "none", setup_none, call_open, undo_open, 0),
	OP("open_dmirror", "none", setup_none, call_open_dmirror, undo_open, 0),
	OP("close", "dummy", setup_mapped, call_close, NULL, 0),
	OP("FAULT_read", "dummy", setup_fresh, call_fault_read, NULL, EFAULT),
	OP("FAULT_write", "dummy", setup_fresh, call_fault_write, NULL, EFAULT),
	OP("READ", "dummy", setup_fresh, call_read, NULL, EFAULT),
	OP("WRITE", "dummy", setup_fresh, call_write, NULL, EFAULT),
	/* More than one populate chunk (see the top). */
	BIG_OP("FAULT_write_600p", "dummy", setup_holed, call_fault_write,
	       EFAULT, BIG_PAGES),
	BIG_OP("READ_600p", "dummy", setup_holed, call_read, EFAULT,
	       BIG_PAGES),
	BIG_OP("WRITE_600p", "dummy", setup_holed, call_write, EFAULT,
	       BIG_PAGES),
	OP("SNAPSHOT", "dummy", setup_mapped, call_snapshot, NULL, EFAULT),
	OP("DUMP", "dummy", setup_mapped, call_dump, NULL, EFAULT),
	BIG_OP("DUMP_400p", "dummy", setup_mapped, call_dump, EFAULT,
	       DUMP_PAGES),
	OP("COUNTERS", "dummy", setup_mapped, call_counters, NULL, EFAULT),
	{ .name = "SET_RANGE", .dev = "dummy", .setup = setup_mapped,
	  .call = call_set_range, .check = check_set_range },
	DMIRROR_OP("DMIRROR_READ", setup_fresh, EFAULT, HMM_DMIRROR_READ),
	DMIRROR_OP("DMIRROR_WRITE", setup_fresh, EFAULT, HMM_DMIRROR_WRITE),
	DMIRROR_OP("DMIRROR_SNAPSHOT", setup_fresh, EFAULT, HMM_DMIRROR_SNAPSHOT),
	/*
	 * Device memory: the debug kernel has it. A page that could not move
	 * is not in the device's memory: MIGRATE_TO_DEV says ENOENT. Device
	 * memory grows a chunk when it needs one, so this may add one too
	 * (whether it does depends on what earlier steps left): if it does,
	 * stepped no deeper than memremap_pages()'s first failure, as below.
	 */
	{ .name = "DMIRROR_MIGRATE_TO_DEV", .dev = "dmirror",
	  .setup = setup_written, .call = call_dmirror, .also = ENOENT,
	  .cmd = HMM_DMIRROR_MIGRATE_TO_DEV, .stop_at = "memremap_pages+",
	  .may_stop = 1 },
	/*
	 * The same on a device with no memory yet: it adds a chunk
	 * (request_free_mem_region(), memremap_pages()). Needs a fresh load:
	 * RELEASE evicts pages but keeps the chunks. memremap_pages() is
	 * stepped only to its first failure: deeper, x86's add_pages() WARNs
	 * on any error and the vmemmap allocator warn_alloc()s, which the
	 * lane counts as splats.
	 */
	{ .name = "DMIRROR_MIGRATE_TO_DEV_grow", .dev = "dmirror",
	  .setup = setup_written, .call = call_dmirror, .also = ENOENT,
	  .cmd = HMM_DMIRROR_MIGRATE_TO_DEV, .fresh = 1,
	  .stop_at = "memremap_pages+" },
	DMIRROR_OP("DMIRROR_MIGRATE_TO_SYS", setup_migrated, 0,
		   HMM_DMIRROR_MIGRATE_TO_SYS),
	DMIRROR_OP("DMIRROR_RELEASE", setup_migrated, 0, HMM_DMIRROR_RELEASE),
	DMIRROR_OP("DMIRROR_EXCLUSIVE", setup_written, EBUSY,
		   HMM_DMIRROR_EXCLUSIVE),
	/* Over more than one of its batches of 64. */
	{ .name = "DMIRROR_EXCLUSIVE_130p", .dev = "dmirror",
	  .setup = setup_written, .call = call_dmirror, .also = EBUSY,
	  .cmd = HMM_DMIRROR_EXCLUSIVE, .npages = EXCL_PAGES },
	OP("dmirror_mmap", "dmirror", setup_none, call_dmirror_mmap, undo_mmap, 0),
#ifdef HAVE_NL
	NL_OP("nl_DEV_GET", HMM_DUMMY_CMD_DEV_GET, NLM_F_DUMP),
	NL_OP("nl_MIRROR_GET", HMM_DUMMY_CMD_MIRROR_GET, NLM_F_DUMP),
	NL_OP("nl_MIRROR_GET_do", HMM_DUMMY_CMD_MIRROR_GET, 0),
	NL_OP("nl_PTE_GET", HMM_DUMMY_CMD_PTE_GET, NLM_F_DUMP),
	NL_OP("nl_STATS_GET", HMM_DUMMY_CMD_STATS_GET, 0),
	/* The events' path: register, unregister, invalidate. */
	EVENTS_OP("open_dummy_events", "none", setup_none, call_open, undo_open),
	EVENTS_OP("close_events", "dummy", setup_mapped, call_close, NULL),
	EVENTS_OP("munmap_events", "dummy", setup_mapped, call_munmap, NULL),
#endif
};

static int nth_fd = -1;
static int kmsg_fd = -1;

static int set_nth(unsigned int n)
{
	char s[16];
	int len = snprintf(s, sizeof(s), "%u", n);

	return pwrite(nth_fd, s, len, 0) == len ? 0 : -1;
}

static long get_nth(void)
{
	char s[16] = "";

	if (pread(nth_fd, s, sizeof(s) - 1, 0) <= 0)
		return -1;
	return strtol(s, NULL, 10);
}

static void add_site(const char *site)
{
	int i;

	for (i = 0; i < sites->n; i++)
		if (!strcmp(sites->site[i], site))
			return;
	if (sites->n < MAX_SITES)
		snprintf(sites->site[sites->n++], SITE_LEN, "%s", site);
}

/* What scan_kmsg() found in the kernel log. */
struct scan {
	int forced;	/* failures forced (their messages) */
	int ours;	/* ... whose stack had a frame in our modules */
	int stop;	/* ... whose stack had a frame starting with stop_at */
	int lost;	/* times records were overwritten before they were read */
};

/*
 * Read the kernel log since the last call; for each forced failure, the
 * innermost reliable frame in our modules is its site. Every line of a
 * stack is a record of its own (at most 1 KiB: rec is large enough).
 */
static void scan_kmsg(struct scan *sc, const char *stop_at)
{
	static char rec[8192];
	int in_stack = 0, found = 0;
	ssize_t n;

	memset(sc, 0, sizeof(*sc));
	for (;;) {
		char *msg, *nl;

		n = read(kmsg_fd, rec, sizeof(rec) - 1);
		if (n < 0 && errno == EPIPE) {
			/* Overwritten before read: the next read goes on. */
			sc->lost++;
			in_stack = 0;
			continue;
		}
		if (n <= 0)
			break;
		rec[n] = '\0';
		msg = strchr(rec, ';');
		if (!msg)
			continue;
		msg++;
		nl = strchr(msg, '\n');
		if (nl)
			*nl = '\0';
		if (strstr(msg, "FAULT_INJECTION: forcing a failure")) {
			sc->forced++;
			in_stack = 1;
			found = 0;
			continue;
		}
		if (!in_stack)
			continue;
		if (strstr(msg, "</TASK>")) {
			in_stack = 0;
			continue;
		}
		while (*msg == ' ')
			msg++;
		if (!strncmp(msg, "? ", 2))
			continue;
		if (stop_at && !strncmp(msg, stop_at, strlen(stop_at)))
			sc->stop = 1;
		if (found)
			continue;
		if (strstr(msg, " [hmm_dummy]") || strstr(msg, " [hmm_core]")) {
			found = 1;
			sc->ours++;
			add_site(msg);
		}
	}
}

/* A forced failure's scan, into the totals of the run. */
static void count_scan(const struct scan *sc, const char *name, int step)
{
	if (sc->forced)
		sites->forced++;
	if (sc->ours)
		sites->attributed++;
	if (sc->lost)
		diag("%s: step %d: kernel log records lost before they were read",
		     name, step);
}

/* The hmm_dummy.ko the guest loaded (--module), its parameters as loaded. */
static const char *mod_path;
static char mod_params[512];
static int mod_devmem;		/* it has device memory (device_memory=Y) */

/* One "name=value" of /sys/module/hmm_dummy/parameters, appended. */
static int add_mod_param(const char *dir, const char *name, size_t *len)
{
	char path[320], val[64] = "";
	int fd = -1, n = 0;

	if (snprintf(path, sizeof(path), "%s/%s", dir, name) < (int)sizeof(path))
		fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, val, sizeof(val) - 1);
		close(fd);
	}
	if (n <= 0)
		return -1;
	val[strcspn(val, "\n")] = '\0';
	if (!strcmp(name, "device_memory"))
		mod_devmem = val[0] == 'Y';
	n = snprintf(mod_params + *len, sizeof(mod_params) - *len, "%s%s=%s",
		     *len ? " " : "", name, val);
	if (n < 0 || (size_t)n >= sizeof(mod_params) - *len)
		return -1;
	*len += n;
	return 0;
}

/* mod_params: the parameters hmm_dummy has now; "" if it is not loaded. */
static int read_mod_params(void)
{
	static const char dir[] = "/sys/module/hmm_dummy/parameters";
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t len = 0;
	int ret = 0;

	if (!d)
		return 0;
	while (!ret && (de = readdir(d)))
		if (de->d_name[0] != '.')
			ret = add_mod_param(dir, de->d_name, &len);
	closedir(d);
	if (ret) {
		fprintf(stderr, "fault_inject: cannot read %s\n", dir);
		mod_params[0] = '\0';
	}
	return ret;
}

/*
 * 1 if hmm_dummy is in /proc/modules (loaded, loading or going), 0 if not,
 * -1 if /proc/modules cannot be read.
 */
static int mod_loaded(void)
{
	long refs = module_refs("hmm_dummy");

	return refs == -2 ? -1 : refs >= 0;
}

static int mod_unload(void)
{
	int i;

	/* A closed file may still hold the module for a moment. */
	for (i = 0; i < 100; i++) {
		if (!syscall(SYS_delete_module, "hmm_dummy", 0))
			return 0;
		if (errno != EAGAIN && errno != EBUSY)
			break;
		usleep(20000);
	}
	diag("delete_module(hmm_dummy): %s", strerror(errno));
	return -1;
}

/*
 * finit_module(2) of mod_path with params; with its step-th allocation
 * failed if step is not 0 (*left: fail-nth read back, -1 if unreadable).
 * Returns the call's result, errno as the call left it.
 */
static int mod_load(const char *params, unsigned int step, long *left)
{
	int fd = open(mod_path, O_RDONLY | O_CLOEXEC), r, e;

	*left = 0;
	if (fd < 0)
		return -1;
	if (step && set_nth(step)) {
		*left = -1;
		close(fd);
		return -1;
	}
	r = syscall(SYS_finit_module, fd, params, 0);
	e = errno;
	if (step) {
		*left = get_nth();
		if (set_nth(0))
			*left = -1;
	}
	close(fd);
	errno = e;
	return r;
}

/* hmm_dummy unloaded if it is loaded, and loaded as it was. */
static int mod_reload(void)
{
	long left;

	if (mod_loaded() && mod_unload())
		return -1;
	if (mod_load(mod_params, 0, &left)) {
		diag("loading %s %s: %s", mod_path, mod_params, strerror(errno));
		return -1;
	}
	return 0;
}

/* /dev/hmm_dummy0 opens, and a FAULT through it maps what the CPU maps. */
static int mod_check(void)
{
	char *p = mmap(NULL, NPAGES * PAGE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int fd, ret = -1;

	if (p == MAP_FAILED)
		return -1;
	memset(p, 0x69, NPAGES * PAGE);
	fd = dummy_open(0);
	if (fd < 0)
		diag("/dev/hmm_dummy0: %s", strerror(errno));
	else if (RETRY_EBUSY(dummy_fault(fd, p, NPAGES, HMM_DUMMY_FAULT_WRITE,
					 NULL)))
		diag("FAULT on /dev/hmm_dummy0: %s", strerror(errno));
	else if (check_coherent(fd, p, NPAGES))
		diag("/dev/hmm_dummy0: device page table not coherent after FAULT");
	else
		ret = 0;
	if (fd >= 0)
		close(fd);
	munmap(p, NPAGES * PAGE);
	return ret;
}

/*
 * check_coherent()'s invariant, the CPU side read from /proc/self/pagemap
 * in one pread(): check_coherent() opens it once per entry, which over the
 * big ops' hundreds of entries costs about a second a step on the debug
 * kernel under TCG. For NPAGES, check_coherent() itself.
 */
static long coherent(int fd, void *addr, uint64_t npages)
{
	static struct hmm_dummy_pte ents[BIG_PAGES];
	static uint64_t pm[BIG_PAGES];
	static uint8_t snap[BIG_PAGES];
	uintptr_t start = (uintptr_t)addr;
	uint64_t nr, i;
	long bad = 0;
	int pfd;

	if (npages <= NPAGES)
		return check_coherent(fd, addr, npages);
	if (npages > BIG_PAGES)
		return -1;
	if (dummy_dump(fd, addr, npages, ents, npages, &nr) ||
	    dummy_snapshot(fd, addr, npages, snap)) {
		diag("coherence check: DUMP/SNAPSHOT failed: %s", strerror(errno));
		return -1;
	}
	pfd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (pfd < 0 || pread(pfd, pm, npages * sizeof(pm[0]),
			     start / PAGE * sizeof(pm[0])) !=
		       (ssize_t)(npages * sizeof(pm[0]))) {
		diag("coherence check: /proc/self/pagemap: %s", strerror(errno));
		if (pfd >= 0)
			close(pfd);
		return -1;
	}
	close(pfd);
	for (i = 0; i < nr; i++) {
		struct hmm_dummy_pte *e = &ents[i];
		uint64_t idx = (e->va - start) / PAGE;
		long long pfn;

		if (e->va < start || idx >= npages || e->va % PAGE ||
		    (i && e->va <= ents[i - 1].va)) {
			diag("entry %llu: va 0x%llx out of range or order",
			     (unsigned long long)i, (unsigned long long)e->va);
			bad++;
			continue;
		}
		pfn = pm[idx] & (1ULL << 63) ?
		      (long long)(pm[idx] & ((1ULL << 55) - 1)) : 0;
		if (pfn != (long long)e->pfn) {
			diag("va 0x%llx: device pfn 0x%llx, cpu pfn 0x%llx",
			     (unsigned long long)e->va,
			     (unsigned long long)e->pfn, pfn);
			bad++;
		}
		if (!(e->perm & HMM_DUMMY_PERM_READ) ||
		    (e->perm & ~(HMM_DUMMY_PERM_READ | HMM_DUMMY_PERM_WRITE))) {
			diag("va 0x%llx: bad perm 0x%x",
			     (unsigned long long)e->va, e->perm);
			bad++;
		}
		if ((e->perm & HMM_DUMMY_PERM_WRITE) &&
		    !(snap[idx] & HMM_DUMMY_SNAP_WRITE)) {
			diag("va 0x%llx: device may write, CPU may not (snap 0x%x)",
			     (unsigned long long)e->va, snap[idx]);
			bad++;
		}
		if (e->order && !(snap[idx] & HMM_DUMMY_SNAP_HUGE)) {
			diag("va 0x%llx: device order %u, CPU maps 4 KiB",
			     (unsigned long long)e->va, e->order);
			bad++;
		}
	}
	return bad;
}

/*
 * The same call made again, no injection: it must work (or the op's own
 * check, given what the call with injection returned).
 */
static int recheck(const struct op *o, struct ctx *c, long first)
{
	long r;

	if (o->check)
		return o->check(c, first);
	if (o->call == call_close)
		return TAP_PASS;
	if (!strcmp(o->dev, "nl")) {
		/* A dump cut short may still run on the old socket. */
		close(c->fd);
		c->fd = dev_open(o->dev);
		CHECK(c->fd >= 0);
	}
	r = o->call(c);
	if (r < 0) {
		diag("%s: without injection: %s", o->name, strerror(errno));
		return TAP_FAIL;
	}
	c->ret = r;
	if (o->undo)
		o->undo(c);
	if (!strcmp(o->dev, "dummy") && c->p &&
	    coherent(c->fd, c->p, c->n)) {
		diag("%s: device page table not coherent after the failure",
		     o->name);
		return TAP_FAIL;
	}
	return TAP_PASS;
}

/*
 * A step's result. FORCED, SILENT and STOP: a failure was forced and
 * handled; it printed nothing (SILENT), or its stack had the op's stop_at
 * (STOP). DONE: the call made fewer allocations and succeeded.
 */
enum {
	STEP_FORCED = 0, STEP_BAD = 1, STEP_DONE = 2, STEP_SILENT = 3,
	STEP_STOP = 4,
};

/*
 * One step, in a process of its own (a fresh mm: what the kernel allocates
 * once per mm, it allocates again here): fail the step-th allocation of the
 * call.
 */
static int run_step(const struct op *o, int step)
{
	static char buf[NPAGES * PAGE];
	struct ctx c = {
		.fd = -1, .fd2 = -1, .ls = -1, .buf = buf, .op = o,
		.n = o->npages ? o->npages : NPAGES,
	};
	long long dropped = 0;
	struct scan sc;
	long r, left;
	int e;

	/* fail-nth is the calling thread's: this process's own. */
	nth_fd = open("/proc/thread-self/fail-nth", O_RDWR);
	if (nth_fd < 0)
		return STEP_BAD;
	/* A buffer of the call's size, its pages present. */
	if (c.n > NPAGES) {
		c.buf = mmap(NULL, c.n * PAGE, PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (c.buf == MAP_FAILED)
			return STEP_BAD;
	}
	memset(c.buf, 0, c.n * PAGE);
#ifdef HAVE_NL
	if (o->listen) {
		c.ls = nl_listen();
		if (c.ls < 0)
			return STEP_BAD;
	}
#endif
	if (strcmp(o->dev, "none")) {
		c.fd = dev_open(o->dev);
		if (c.fd < 0)
			return STEP_BAD;
	}
	if (o->setup(&c))
		return STEP_BAD;
#ifdef HAVE_NL
	/* The setup's events read; the count of drops before the call. */
	if (o->listen) {
		dropped = nl_events_dropped();
		if (nl_events_queued(c.ls) < 0 || dropped < 0)
			return STEP_BAD;
	}
#endif
	scan_kmsg(&sc, NULL);

	if (set_nth(step))
		return STEP_BAD;
	errno = 0;
	r = o->call(&c);
	e = errno;
	left = get_nth();
	if (set_nth(0) || left < 0)
		return STEP_BAD;
	c.ret = r;

	if (left > 0) {
		/* Fewer than step allocations: nothing was failed. */
		if (r < 0) {
			diag("%s: failed with %s and no failure forced",
			     o->name, strerror(e));
			return STEP_BAD;
		}
		diag("%s: the call completes with %ld allocation(s)", o->name,
		     step - left);
#ifdef HAVE_NL
		/* The listener is one: it got the call's event. */
		if (o->listen && nl_events_queued(c.ls) <= 0) {
			diag("%s: the listener got no event of the call",
			     o->name);
			return STEP_BAD;
		}
#endif
		return STEP_DONE;
	}
	scan_kmsg(&sc, o->stop_at);
	count_scan(&sc, o->name, step);
#ifdef HAVE_NL
	if (o->listen) {
		long long now = nl_events_dropped();

		if (now < 0)
			return STEP_BAD;
		if (now > dropped)
			__atomic_fetch_add(&sites->dropped, 1, __ATOMIC_RELAXED);
	}
#endif
	if (r >= 0) {
		if (o->undo)
			o->undo(&c);
	} else if (!(e == ENOMEM || (o->also && e == o->also))) {
		diag("%s: allocation %d failed: call failed with %s, not ENOMEM%s%s",
		     o->name, step, strerror(e), o->also ? " or " : "",
		     o->also ? strerror(o->also) : "");
		return STEP_BAD;
	}
	if (recheck(o, &c, r) != TAP_PASS) {
		diag("%s: after allocation %d was failed", o->name, step);
		return STEP_BAD;
	}
	if (sc.stop)
		return STEP_STOP;
	return sc.forced ? STEP_FORCED : STEP_SILENT;
}

static int fork_step(const struct op *o, int step)
{
	int status;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		diag("%s: fork: %s", o->name, strerror(errno));
		return STEP_BAD;
	}
	if (!pid)
		_exit(run_step(o, step));
	if (waitpid(pid, &status, 0) != pid) {
		diag("%s: waitpid: %s", o->name, strerror(errno));
		return STEP_BAD;
	}
	if (!WIFEXITED(status)) {
		diag("%s: step %d: killed by signal %d", o->name, step,
		     WTERMSIG(status));
		return STEP_BAD;
	}
	return WEXITSTATUS(status);
}

/* EXCLUSIVE is answered: not EOPNOTSUPP (no make_device_exclusive*()). */
static int exclusive_works(void)
{
	char *p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	static char buf[PAGE];
	int fd = dmirror_open(0), ok = 1;

	if (p != MAP_FAILED && fd >= 0) {
		memset(p, 1, PAGE);
		ok = dmirror_cmd(fd, HMM_DMIRROR_EXCLUSIVE, p, buf, 1, NULL) == 0 ||
		     errno != EOPNOTSUPP;
	}
	if (fd >= 0)
		close(fd);
	if (p != MAP_FAILED)
		munmap(p, PAGE);
	return ok;
}

/* Why an op cannot run here, or NULL. */
static const char *op_skip(const struct op *o)
{
#ifdef HAVE_NL
	/* Its id, as the last load of hmm_dummy registered it. */
	if (!strcmp(o->dev, "nl") || o->listen) {
		nl_family = nl_resolve();
		if (!nl_family)
			return "no " HMM_DUMMY_FAMILY_NAME " generic netlink family";
	}
	if (o->listen && !nl_events_grp)
		return "no events multicast group";
#endif
	if (!strcmp(o->dev, "dmirror") && o->cmd == HMM_DMIRROR_EXCLUSIVE &&
	    !exclusive_works())
		return "no device-exclusive access in this kernel (EOPNOTSUPP)";
	if (o->fresh && !mod_path)
		return "no --module PATH: hmm_dummy cannot be loaded afresh";
	if (o->fresh && !mod_devmem)
		return "hmm_dummy has no device memory (device_memory=N)";
	return NULL;
}

static int run_op(const struct op *o)
{
	int step, r = STEP_BAD, forced = 0, ours = 0, silent = 0, made = 0;
	const char *skip = op_skip(o);
	int dropped = sites->dropped;
	double t0 = now_s();

	if (skip)
		return tap_skip_reason("%s", skip);
	for (step = 1; step <= MAX_STEPS; step++) {
		int try, before = sites->attributed;

		for (try = 0; try < SILENT_TRIES; try++) {
			if (o->fresh && mod_reload())
				return TAP_FAIL;
			made++;
			r = fork_step(o, step);
			if (r != STEP_SILENT)
				break;
		}
		if (r == STEP_DONE)
			break;
		if (r == STEP_BAD) {
			diag("%s: step %d failed", o->name, step);
			return TAP_FAIL;
		}
		forced++;
		silent += r == STEP_SILENT;
		ours += sites->attributed - before;
		if (r == STEP_STOP) {
			diag("%s: step %d failed an allocation under %s: the last step",
			     o->name, step, o->stop_at);
			break;
		}
	}
	if (step > MAX_STEPS) {
		diag("%s: still allocating after %d steps", o->name, MAX_STEPS);
		return TAP_FAIL;
	}
	diag("%s: %d failure(s) forced, %d with a frame of ours, %d printed nothing; %d step(s) made again; %.1f s",
	     o->name, forced, ours, silent, made - forced - (r == STEP_DONE),
	     now_s() - t0);
	if (o->stop_at && !o->may_stop && r != STEP_STOP) {
		diag("%s: no failure was forced under %s", o->name, o->stop_at);
		return TAP_FAIL;
	}
	if (o->listen) {
		dropped = sites->dropped - dropped;
		diag("%s: %d step(s) dropped an event", o->name, dropped);
		/* Else the event's allocation was never failed. */
		CHECK(dropped > 0);
	}
	return TAP_PASS;
}

#define NR_OPS	((int)(sizeof(ops) / sizeof(ops[0])))

#define OP_CASE(i) \
	static int t_##i(void) { return i < NR_OPS ? run_op(&ops[i]) : TAP_FAIL; }
OP_CASE(0) OP_CASE(1) OP_CASE(2) OP_CASE(3) OP_CASE(4) OP_CASE(5) OP_CASE(6)
OP_CASE(7) OP_CASE(8) OP_CASE(9) OP_CASE(10) OP_CASE(11) OP_CASE(12)
OP_CASE(13) OP_CASE(14) OP_CASE(15) OP_CASE(16) OP_CASE(17) OP_CASE(18)
OP_CASE(19) OP_CASE(20) OP_CASE(21) OP_CASE(22) OP_CASE(23) OP_CASE(24)
OP_CASE(25) OP_CASE(26) OP_CASE(27) OP_CASE(28) OP_CASE(29) OP_CASE(30)
OP_CASE(31) OP_CASE(32) OP_CASE(33) OP_CASE(34) OP_CASE(35)

static int (*const op_fns[])(void) = {
	t_0, t_1, t_2, t_3, t_4, t_5, t_6, t_7, t_8, t_9, t_10, t_11, t_12,
	t_13, t_14, t_15, t_16, t_17, t_18, t_19, t_20, t_21, t_22, t_23,
	t_24, t_25, t_26, t_27, t_28, t_29, t_30, t_31, t_32, t_33, t_34,
	t_35,
};

_Static_assert(sizeof(op_fns) / sizeof(op_fns[0]) >= sizeof(ops) / sizeof(ops[0]),
	       "more ops than case functions");

#define LOAD_PROBE_NTH	1000000	/* more allocations than any load makes */
#define LOAD_MARGIN	32	/* kernel allocations stepped before ours */
#define MAX_LOAD_STEPS	2000

/*
 * About how many allocations a load makes before hmm_dummy_init()'s
 * first: those of a load with ndevices=0, which hmm_dummy_init() refuses
 * before it allocates anything.
 */
static long load_probe(void)
{
	long left;

	if (!mod_load("ndevices=0", LOAD_PROBE_NTH, &left)) {
		diag("module_load: hmm_dummy loaded with ndevices=0");
		mod_unload();
		return -1;
	}
	if (errno != EINVAL || left <= 0) {
		diag("module_load: a load with ndevices=0: %s (fail-nth read back %ld), not EINVAL",
		     strerror(errno), left);
		return -1;
	}
	return LOAD_PROBE_NTH - left;
}

/*
 * One step of module_load, hmm_dummy not loaded: the load with its
 * step-th allocation failed, then the checks. hmm_dummy is unloaded again
 * unless the load made fewer allocations (STEP_DONE).
 */
static int load_step(int step, struct scan *sc)
{
	long left;
	int r, e;

	scan_kmsg(sc, NULL);
	r = mod_load(mod_params, step, &left);
	e = errno;
	if (left < 0) {
		diag("module_load: step %d: fail-nth: %s", step, strerror(errno));
		return STEP_BAD;
	}
	if (left > 0) {
		if (r) {
			diag("module_load: the load failed with %s and no failure forced",
			     strerror(e));
			return STEP_BAD;
		}
		diag("module_load: the load completes with %ld allocation(s)",
		     step - left);
		return mod_check() ? STEP_BAD : STEP_DONE;
	}
	scan_kmsg(sc, NULL);
	count_scan(sc, "module_load", step);
	if (r) {
		if (e != ENOMEM) {
			diag("module_load: allocation %d failed: the load failed with %s, not ENOMEM",
			     step, strerror(e));
			return STEP_BAD;
		}
		if (mod_loaded()) {
			diag("module_load: allocation %d failed: the load failed, yet hmm_dummy is in /proc/modules",
			     step);
			return STEP_BAD;
		}
		if (mod_load(mod_params, 0, &left)) {
			diag("module_load: allocation %d failed: then a load without injection failed with %s",
			     step, strerror(errno));
			return STEP_BAD;
		}
	}
	if (mod_check()) {
		diag("module_load: after allocation %d was failed", step);
		return STEP_BAD;
	}
	if (mod_unload())
		return STEP_BAD;
	return sc->forced ? STEP_FORCED : STEP_SILENT;
}

enum { LOAD_EARLIER = 100 };	/* load_from(): the first failure was ours */

/*
 * The steps of module_load from allocation start to the load's last, with
 * hmm_dummy not loaded: TAP_PASS, TAP_FAIL, or LOAD_EARLIER if the first
 * failure that printed its stack was in our code already (the load's
 * allocations before ours are fewer than the probe said: start earlier).
 */
static int load_from(int start)
{
	int step, r = STEP_BAD, forced = 0, ours = 0, silent = 0, made = 0;
	int first = 1, first_ours = 0;

	diag("module_load: from allocation %d on", start);
	for (step = start; step < start + MAX_LOAD_STEPS; step++) {
		int try, before = sites->attributed;
		struct scan sc;

		for (try = 0; try < SILENT_TRIES; try++) {
			made++;
			r = load_step(step, &sc);
			if (r != STEP_SILENT)
				break;
		}
		if (r == STEP_DONE || r == STEP_BAD)
			break;
		forced++;
		silent += r == STEP_SILENT;
		ours += sites->attributed - before;
		if (first && sc.forced) {
			first = 0;
			if (sc.ours) {
				diag("module_load: the first failure forced (allocation %d) is in our code already",
				     step);
				return LOAD_EARLIER;
			}
		}
		if (!first_ours && sc.ours)
			first_ours = step;
	}
	if (r == STEP_BAD)
		return TAP_FAIL;
	if (r != STEP_DONE) {
		diag("module_load: still allocating after %d steps", MAX_LOAD_STEPS);
		return TAP_FAIL;
	}
	diag("module_load: %d failure(s) forced, %d with a frame of ours (the first at allocation %d), %d printed nothing; %d step(s) made again",
	     forced, ours, first_ours, silent, made - forced - 1);
	CHECK(ours > 0);
	return TAP_PASS;
}

/* The steps of module_load, from hmm_dummy loaded to hmm_dummy loaded. */
static int load_steps(void)
{
	long c0, back = LOAD_MARGIN;
	int r;

	CHECK(!mod_unload());
	c0 = load_probe();
	if (c0 < 0)
		return TAP_FAIL;
	diag("module_load: %ld allocations before hmm_dummy_init() allocates, about",
	     c0);
	do {
		r = load_from(c0 > back ? c0 - back : 1);
		back *= 2;
	} while (r == LOAD_EARLIER && c0 > back / 2);
	return r == LOAD_EARLIER ? TAP_FAIL : r;
}

/*
 * module_load: finit_module(2) of hmm_dummy.ko with, in turn, each of its
 * allocations failed from LOAD_MARGIN before hmm_dummy_init()'s first to
 * the last. The load must succeed or fail with ENOMEM, and leave nothing
 * behind: not in /proc/modules, a load without injection then works, and
 * so does the device. (misc_register() turns a failed minor allocation
 * into EBUSY, but the minor's IDA first tries GFP_NOWAIT under its lock:
 * fail-nth fails one allocation, never the retry that would fail it.)
 *
 * Not stepped: the kernel's allocations before those, which are the same
 * for any module (reading the image, module memory and its KASAN shadow,
 * relocations): a failed vmalloc() there prints a warn_alloc() report,
 * stack and all, which the lane rightly counts as a splat.
 */
static int t_module_load(void)
{
	long left;
	int ret;

	if (!mod_path)
		return tap_skip_reason("no --module PATH of the hmm_dummy.ko the guest loaded");
	if (!mod_params[0])
		return tap_skip_reason("hmm_dummy is not loaded");
	nth_fd = open("/proc/thread-self/fail-nth", O_RDWR);
	CHECK(nth_fd >= 0);
	ret = load_steps();
	/* Loaded as the guest loaded it, for its unload at the end. */
	if (mod_loaded() != 1 && mod_load(mod_params, 0, &left)) {
		diag("module_load: loading %s %s again: %s", mod_path,
		     mod_params, strerror(errno));
		ret = TAP_FAIL;
	}
	return ret;
}

/* The summary: sites hit, printed for scripts/check-debug. */
static int t_sites(void)
{
	int i;

	for (i = 0; i < sites->n; i++)
		printf("# fi-site: %s\n", sites->site[i]);
	diag("%d distinct allocation site(s) in hmm_dummy/hmm_core hit, "
	     "%d failures forced (%d with a frame of ours)",
	     sites->n, sites->forced, sites->attributed);
	CHECK(sites->n > 0);
	return TAP_PASS;
}

/* --only: the cases to run, comma separated; NULL: all. */
static const char *only;

static int selected(const char *name)
{
	size_t len = strlen(name);
	const char *s;

	if (!only)
		return 1;
	for (s = only; (s = strstr(s, name)); s += len)
		if ((s == only || s[-1] == ',') && (s[len] == ',' || !s[len]))
			return 1;
	return 0;
}

static int t_not_selected(void)
{
	return tap_skip_reason("not in --only");
}

static int knob(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, val, strlen(val));
	close(fd);
	return n == (ssize_t)strlen(val) ? 0 : -1;
}

int main(int argc, char **argv)
{
	static struct tap_case cases[sizeof(ops) / sizeof(ops[0]) + 2];
	/* Fail any allocation, sleeping or not, of any order; say where. */
	static const char *const knobs[][2] = {
		{ "/sys/kernel/debug/failslab/ignore-gfp-wait", "N" },
		{ "/sys/kernel/debug/failslab/verbose", "2" },
		{ "/sys/kernel/debug/fail_page_alloc/ignore-gfp-wait", "N" },
		{ "/sys/kernel/debug/fail_page_alloc/ignore-gfp-highmem", "N" },
		{ "/sys/kernel/debug/fail_page_alloc/min-order", "0" },
		{ "/sys/kernel/debug/fail_page_alloc/verbose", "2" },
	};
	size_t i;

	for (i = 1; i + 1 < (size_t)argc; i += 2) {
		if (!strcmp(argv[i], "--module"))
			mod_path = argv[i + 1];
		else if (!strcmp(argv[i], "--only"))
			only = argv[i + 1];
		else
			break;
	}
	if (i != (size_t)argc) {
		fprintf(stderr, "usage: fault_inject [--module PATH-OF-hmm_dummy.ko] [--only CASE,...]\n");
		return 2;
	}
	if (access("/proc/thread-self/fail-nth", W_OK) ||
	    access("/sys/kernel/debug/failslab", F_OK)) {
		printf("TAP version 13\n1..0 # SKIP no fault injection in this kernel\n");
		return 0;
	}
	for (i = 0; i < sizeof(knobs) / sizeof(knobs[0]); i++) {
		if (knob(knobs[i][0], knobs[i][1])) {
			fprintf(stderr, "fault_inject: cannot set %s: %s\n",
				knobs[i][0], strerror(errno));
			return 1;
		}
	}
	if (read_mod_params())
		return 1;
	sites = mmap(NULL, sizeof(*sites), PROT_READ | PROT_WRITE,
		     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sites == MAP_FAILED)
		return 1;
	kmsg_fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK);
	if (kmsg_fd < 0 || lseek(kmsg_fd, 0, SEEK_END) < 0) {
		perror("/dev/kmsg");
		return 1;
	}
	for (i = 0; i < (size_t)NR_OPS; i++)
		cases[i] = (struct tap_case){ ops[i].name,
					      selected(ops[i].name) ? op_fns[i] :
					      t_not_selected, 300 };
	cases[i++] = (struct tap_case){ "module_load",
					selected("module_load") ? t_module_load :
					t_not_selected, 900 };
	cases[i] = (struct tap_case){ "allocation_sites", t_sites, 10 };
	return TAP_MAIN(cases);
}
