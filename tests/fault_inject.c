// SPDX-License-Identifier: GPL-2.0
/*
 * fault_inject - fail every allocation of every hmm_dummy system call, one
 * at a time (debug-kernel lane only: needs CONFIG_FAILSLAB,
 * CONFIG_FAIL_PAGE_ALLOC and CONFIG_FAULT_INJECTION_DEBUG_FS).
 *
 * For each system call (open of both device kinds, every native ioctl, the
 * test_hmm-ABI ioctls, device memory's among them, mmap of a dmirror file,
 * close) and each request of the generic netlink families (hmm_core's:
 * MIRROR_GET, STATS_GET, MM_GET; hmm_dummy's: DEV_GET, PTE_GET; where the
 * uapi headers have them: the send and every reply read count as one
 * call), for N = 1, 2, ...:
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
 * The "events" multicast group's messages (hmm_core's) are built only
 * when it has a listener: the *_events calls (open, close, munmap of mirrored memory)
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
 *   hmm_dummy_init() to its end: see the module_load case;
 * - the growth of device memory: the first MIGRATE_TO_DEV of a device after
 *   a load adds a chunk (memremap_pages()); RELEASE evicts pages but keeps
 *   the chunks, so each step of that op loads hmm_dummy afresh.
 * At the end hmm_dummy is loaded again as it was, for the guest's unload.
 *
 * The cases are fault_inject.OP (OP as in the ops below), then
 * fault_inject.module_load and fault_inject.allocation_sites, the summary,
 * which comes last. --only CASE,... runs those cases only (the others
 * skip): for working on one of them; the harness's options (-t CASE, -l)
 * work as in any kselftest.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>

#include "kselftest_harness.h"
#include "dummy_util.h"
#include "hmm_dmirror.h"
#include "oracle.h"

#if __has_include("hmm_dummy_nl.h") && __has_include("hmm_core_nl.h")
#include "nl_raw.h"
#include "hmm_core_nl.h"
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
	unsigned int id;	/* fd2's mirror id (hmm_core's) */
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
	unsigned long cmd;	/* call_dmirror()'s ioctl, call_nl()'s command
				 * (of hmm_core's family with .dev "nl",
				 * hmm_dummy's with "nl_dummy") */
	int flags;		/* call_nl()'s netlink flags */
	int fresh;		/* hmm_dummy loaded afresh before each step */
	unsigned long npages;	/* pages the call spans; 0: NPAGES */
	int listen;		/* made with a listener of the events group */
	/*
	 * What follows the call with injection, instead of recheck()'s
	 * "the same call again": r is what the call returned. 0, or -1
	 * after saying what went wrong.
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


static int dev_open(const char *dev)
{
#ifdef HAVE_NL
	if (!strncmp(dev, "nl", 2))
		return nl_socket_timeout(0);
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
			hmm_diag("SET_RANGE failed, then %s returned %d (%s), not EPERM",
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
 * the range (its invalidation reaches the new registration). 0, or -1
 * after saying what went wrong.
 */
static int check_set_range(struct ctx *c, long r)
{
	struct oracle o = { .fd = c->fd, .abi = ABI_NATIVE };
	struct hmm_dummy_counters cnt;
	long nr;

	if (r < 0 && dummy_counters(c->fd, &cnt) && errno == EPERM) {
		if (all_eperm(c))
			return -1;
		if (close(c->fd)) {
			hmm_diag("SET_RANGE failed, then close: %s", strerror(errno));
			return -1;
		}
		o.fd = c->fd = dummy_open(0);
		if (c->fd < 0 || dummy_set_range(c->fd, c->p, c->n)) {
			hmm_diag("SET_RANGE failed, then a new file's SET_RANGE: %s",
				 strerror(errno));
			return -1;
		}
	} else if (r < 0) {
		/* Still the old mirror: outside the new range too. */
		if (RETRY_EBUSY(dummy_fault(c->fd, c->buf, 1, 0, NULL)) ||
		    oracle_coherent(&o, c->p, c->n)) {
			hmm_diag("SET_RANGE failed, the file not EPERM: its old mirror does not work (%s)",
				 strerror(errno));
			return -1;
		}
		if (dummy_set_range(c->fd, c->p, c->n)) {
			hmm_diag("SET_RANGE failed, then without injection: %s",
				 strerror(errno));
			return -1;
		}
	}
	nr = dummy_nr_entries(c->fd, c->p, c->n);
	if (nr) {
		hmm_diag("SET_RANGE: %ld device entries left (DUMP: %s)", nr,
			 nr < 0 ? strerror(errno) : "ok");
		return -1;
	}
	if (dummy_fault(c->fd, c->buf, 1, 0, NULL) != -1 || errno != EINVAL) {
		hmm_diag("SET_RANGE: a FAULT outside the range: %s, not EINVAL",
			 strerror(errno));
		return -1;
	}
	if (RETRY_EBUSY(dummy_fault(c->fd, c->p, c->n, HMM_DUMMY_FAULT_WRITE,
				    NULL))) {
		hmm_diag("SET_RANGE: a FAULT inside the range: %s", strerror(errno));
		return -1;
	}
	if (mprotect(c->p, c->n * PAGE, PROT_READ)) {
		hmm_diag("mprotect: %s", strerror(errno));
		return -1;
	}
	if (oracle_coherent(&o, c->p, c->n)) {
		hmm_diag("SET_RANGE: device page table not coherent after mprotect()");
		return -1;
	}
	return 0;
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
static int nl_core;		/* hmm_core's family id, 0 if not registered */
static int nl_dummy;		/* hmm_dummy's family id, 0 if not registered */
static int nl_events_grp;	/* hmm_core's events group id, 0 if unknown */

/*
 * A request of cmd to family. A dump asks for no ACK: the kernel answers
 * a dump with its replies and NLMSG_DONE only.
 */
static void nl_req(struct nl_msg *m, int family, int cmd, int flags)
{
	nl_msg_init(m, family, cmd, flags);
	if (flags & NLM_F_DUMP)
		m->nlh.nlmsg_flags &= ~NLM_F_ACK;
}

/* The ids, as the last loads of hmm_core and hmm_dummy registered them. */
static void nl_resolve_family(void)
{
	struct nl_family f;
	int s = nl_socket_timeout(0);

	nl_core = 0;
	nl_dummy = 0;
	nl_events_grp = 0;
	if (s < 0)
		return;
	if (!nl_resolve(s, HMM_CORE_FAMILY_NAME, HMM_CORE_MCGRP_EVENTS, &f)) {
		nl_core = f.id;
		nl_events_grp = f.grp;
	}
	if (!nl_resolve(s, HMM_DUMMY_FAMILY_NAME, NULL, &f))
		nl_dummy = f.id;
	close(s);
}

/* A socket that joined the events group, or -1. */
static int nl_events_listen(void)
{
	int s = nl_listen(nl_events_grp, 0);

	if (s < 0)
		hmm_diag("joining the events group: %s", strerror(errno));
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
			n += h->nlmsg_type == nl_core;
	}
}

static void dropped_cb(int type, const void *val, int len, void *arg)
{
	if (type == HMM_CORE_A_STATS_EVENTS_DROPPED && len == sizeof(uint64_t))
		memcpy(arg, val, sizeof(uint64_t));
}

/* hmm_core's STATS_GET's events_dropped, or -1. */
static long long nl_events_dropped(void)
{
	uint64_t dropped = ~0ULL;
	struct nl_attr_walk w = { dropped_cb, &dropped };
	struct nl_msg m;
	int s = nl_socket_timeout(0), e;

	if (s < 0)
		return -1;
	nl_req(&m, nl_core, HMM_CORE_CMD_STATS_GET, 0);
	e = nl_xfer(s, &m, NULL, nl_attrs_cb, &w);
	close(s);
	return e || dropped == ~0ULL ? -1 : (long long)dropped;
}

/* The last mirror id of hmm_core's MIRROR_GET dump: the newest, fd2's. */
static void mirror_cb(int type, const void *val, int len, void *arg)
{
	if (type == HMM_CORE_A_MIRROR_ID && len == sizeof(uint32_t))
		*(unsigned int *)arg = *(const uint32_t *)val;
}

static int setup_nl(struct ctx *c)
{
	struct nl_attr_walk w = { mirror_cb, &c->id };
	struct nl_msg m;

	c->fd2 = dummy_open(0);
	if (c->fd2 < 0 || setup_mapped_fd(c, c->fd2))
		return -1;
	nl_req(&m, nl_core, HMM_CORE_CMD_MIRROR_GET, NLM_F_DUMP);
	return nl_xfer(c->fd, &m, NULL, nl_attrs_cb, &w) || !c->id ? -1 : 0;
}

/* The op's netlink request: 0, or -1 with errno as the kernel said. */
static long call_nl(struct ctx *c)
{
	int cmd = c->op->cmd, flags = c->op->flags, e;
	bool dummy = !strcmp(c->op->dev, "nl_dummy");
	struct nl_msg m;

	nl_req(&m, dummy ? nl_dummy : nl_core, cmd, flags);
	if (dummy && cmd == HMM_DUMMY_CMD_PTE_GET)
		nl_put_u32(&m, HMM_DUMMY_A_PTE_MIRROR_ID, c->id);
	if (!dummy && cmd == HMM_CORE_CMD_MIRROR_GET && !(flags & NLM_F_DUMP))
		nl_put_u32(&m, HMM_CORE_A_MIRROR_ID, c->id);
	e = nl_xfer(c->fd, &m, NULL, NULL, NULL);
	if (e) {
		errno = -e;
		return -1;
	}
	return 0;
}
#endif

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
		hmm_diag("%s: step %d: kernel log records lost before they were read",
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

/*
 * hmm_dummy's parameters that are counters: read-only, and refused at load
 * (EPERM), so not passed back. Others that are read-only in sysfs
 * (devmem_max_mb, device_memory) are load-time settings, and are.
 */
static const char *const mod_counters[] = { "pt_pages" };

static bool mod_param_is_counter(const char *name)
{
	for (size_t i = 0; i < sizeof(mod_counters) / sizeof(*mod_counters); i++)
		if (!strcmp(name, mod_counters[i]))
			return true;
	return false;
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
		if (de->d_name[0] != '.' && !mod_param_is_counter(de->d_name))
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
	hmm_diag("delete_module(hmm_dummy): %s", strerror(errno));
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
		hmm_diag("loading %s %s: %s", mod_path, mod_params, strerror(errno));
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
		hmm_diag("/dev/hmm_dummy0: %s", strerror(errno));
	else if (RETRY_EBUSY(dummy_fault(fd, p, NPAGES, HMM_DUMMY_FAULT_WRITE,
					 NULL)))
		hmm_diag("FAULT on /dev/hmm_dummy0: %s", strerror(errno));
	else if (oracle_coherent(&(struct oracle){ .fd = fd, .abi = ABI_NATIVE },
				 p, NPAGES))
		hmm_diag("/dev/hmm_dummy0: device page table not coherent after FAULT");
	else
		ret = 0;
	if (fd >= 0)
		close(fd);
	munmap(p, NPAGES * PAGE);
	return ret;
}

/*
 * The same call made again, no injection: it must work (or the op's own
 * check, given what the call with injection returned), the device page
 * table coherent after it. 0, or -1 after saying what went wrong.
 */
static int recheck(const struct op *o, struct ctx *c, long first)
{
	long r;

	if (o->check)
		return o->check(c, first);
	if (o->call == call_close)
		return 0;
	if (!strcmp(o->dev, "nl")) {
		/* A dump cut short may still run on the old socket. */
		close(c->fd);
		c->fd = dev_open(o->dev);
		if (c->fd < 0) {
			hmm_diag("%s: a new socket: %s", o->name,
				 strerror(errno));
			return -1;
		}
	}
	r = o->call(c);
	if (r < 0) {
		hmm_diag("%s: without injection: %s", o->name, strerror(errno));
		return -1;
	}
	c->ret = r;
	if (o->undo)
		o->undo(c);
	if (!strcmp(o->dev, "dummy") && c->p &&
	    oracle_coherent(&(struct oracle){ .fd = c->fd, .abi = ABI_NATIVE },
			    c->p, c->n)) {
		hmm_diag("%s: device page table not coherent after the failure",
			 o->name);
		return -1;
	}
	return 0;
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
		c.ls = nl_events_listen();
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
			hmm_diag("%s: failed with %s and no failure forced",
				 o->name, strerror(e));
			return STEP_BAD;
		}
		hmm_diag("%s: the call completes with %ld allocation(s)", o->name,
			 step - left);
#ifdef HAVE_NL
		/* The listener is one: it got the call's event. */
		if (o->listen && nl_events_queued(c.ls) <= 0) {
			hmm_diag("%s: the listener got no event of the call",
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
		hmm_diag("%s: allocation %d failed: call failed with %s, not ENOMEM%s%s",
			 o->name, step, strerror(e), o->also ? " or " : "",
			 o->also ? strerror(o->also) : "");
		return STEP_BAD;
	}
	if (recheck(o, &c, r)) {
		hmm_diag("%s: after allocation %d was failed", o->name, step);
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
		hmm_diag("%s: fork: %s", o->name, strerror(errno));
		return STEP_BAD;
	}
	if (!pid)
		_exit(run_step(o, step));
	if (waitpid(pid, &status, 0) != pid) {
		hmm_diag("%s: waitpid: %s", o->name, strerror(errno));
		return STEP_BAD;
	}
	if (!WIFEXITED(status)) {
		hmm_diag("%s: step %d: killed by signal %d", o->name, step,
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
	if (!strncmp(o->dev, "nl", 2) || o->listen) {
		nl_resolve_family();
		if (!nl_core)
			return "no " HMM_CORE_FAMILY_NAME " generic netlink family";
		if (!strcmp(o->dev, "nl_dummy") && !nl_dummy)
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

/* Whether --only selected the case name (no --only: all are). */
static int selected(const char *name);

/* Every step of op o, until the call makes fewer allocations than its step. */
static void run_op(struct __test_metadata *_metadata, const struct op *o)
{
	int step, r = STEP_BAD, forced = 0, ours = 0, silent = 0, made = 0;
	const char *skip;
	int dropped = sites->dropped;
	double t0 = now_s();

	if (!selected(o->name))
		SKIP(return, "not in --only");
	skip = op_skip(o);
	if (skip)
		SKIP(return, "%s", skip);
	for (step = 1; step <= MAX_STEPS; step++) {
		int try, before = sites->attributed;

		for (try = 0; try < SILENT_TRIES; try++) {
			if (o->fresh) {
				ASSERT_EQ(0, mod_reload());
			}
			made++;
			r = fork_step(o, step);
			if (r != STEP_SILENT)
				break;
		}
		if (r == STEP_DONE)
			break;
		ASSERT_NE(STEP_BAD, r)
			TH_LOG("%s: step %d failed", o->name, step);
		forced++;
		silent += r == STEP_SILENT;
		ours += sites->attributed - before;
		if (r == STEP_STOP) {
			hmm_diag("%s: step %d failed an allocation under %s: the last step",
				 o->name, step, o->stop_at);
			break;
		}
	}
	ASSERT_LE(step, MAX_STEPS)
		TH_LOG("%s: still allocating after %d steps", o->name, MAX_STEPS);
	hmm_diag("%s: %d failure(s) forced, %d with a frame of ours, %d printed nothing; %d step(s) made again; %.1f s",
		 o->name, forced, ours, silent, made - forced - (r == STEP_DONE),
		 now_s() - t0);
	ASSERT_FALSE(o->stop_at && !o->may_stop && r != STEP_STOP)
		TH_LOG("%s: no failure was forced under %s", o->name, o->stop_at);
	if (o->listen) {
		dropped = sites->dropped - dropped;
		hmm_diag("%s: %d step(s) dropped an event", o->name, dropped);
		/* Else the event's allocation was never failed. */
		ASSERT_TRUE(dropped > 0);
	}
}

/*
 * The ops, one case each: a call of its own, one test_hmm-ABI ioctl, one
 * netlink request (designated, so that the fields a row does not use stay
 * zero). OP_CASE(name, fields...) makes struct op op_name and its case.
 */
#define OP_TIMEOUT	300

FIXTURE(fault_inject) {
};

FIXTURE_SETUP(fault_inject)
{
}

/* hmm_dummy loaded again as the guest loaded it, whatever a case left. */
FIXTURE_TEARDOWN(fault_inject)
{
	long left;

	if (mod_path && mod_params[0] && mod_loaded() != 1) {
		EXPECT_EQ(0, mod_load(mod_params, 0, &left))
			TH_LOG("loading %s %s again: %s", mod_path, mod_params,
			       strerror(errno));
	}
}

#define OP_CASE(_name, ...)						\
	static const struct op op_##_name = { .name = #_name, __VA_ARGS__ }; \
	TEST_F_TIMEOUT(fault_inject, _name, OP_TIMEOUT)			\
	{								\
		run_op(_metadata, &op_##_name);				\
	}

/* Rows: a call of its own (over np pages; with a listener of the events group). */
#define OP(d, s, c, u, e) \
	.dev = d, .setup = s, .call = c, .undo = u, .also = e
#define BIG_OP(d, s, c, e, np) \
	.dev = d, .setup = s, .call = c, .also = e, .npages = np
#define EVENTS_OP(d, s, c, u) \
	.dev = d, .setup = s, .call = c, .undo = u, .listen = 1
/* One test_hmm-ABI ioctl; one netlink request. */
#define DMIRROR_OP(s, e, c) \
	.dev = "dmirror", .setup = s, .call = call_dmirror, .also = e, .cmd = c
#define NL_OP(d, c, f) \
	.dev = d, .setup = setup_nl, .call = call_nl, .also = ENOBUFS, \
	.cmd = c, .flags = f

OP_CASE(open_dummy, OP("none", setup_none, call_open, undo_open, 0))
OP_CASE(open_dmirror, OP("none", setup_none, call_open_dmirror, undo_open, 0))
OP_CASE(close, OP("dummy", setup_mapped, call_close, NULL, 0))
OP_CASE(FAULT_read, OP("dummy", setup_fresh, call_fault_read, NULL, EFAULT))
OP_CASE(FAULT_write, OP("dummy", setup_fresh, call_fault_write, NULL, EFAULT))
OP_CASE(READ, OP("dummy", setup_fresh, call_read, NULL, EFAULT))
OP_CASE(WRITE, OP("dummy", setup_fresh, call_write, NULL, EFAULT))
/* More than one populate chunk (see the top). */
OP_CASE(FAULT_write_600p, BIG_OP("dummy", setup_holed, call_fault_write,
				 EFAULT, BIG_PAGES))
OP_CASE(READ_600p, BIG_OP("dummy", setup_holed, call_read, EFAULT, BIG_PAGES))
OP_CASE(WRITE_600p, BIG_OP("dummy", setup_holed, call_write, EFAULT, BIG_PAGES))
OP_CASE(SNAPSHOT, OP("dummy", setup_mapped, call_snapshot, NULL, EFAULT))
OP_CASE(DUMP, OP("dummy", setup_mapped, call_dump, NULL, EFAULT))
OP_CASE(DUMP_400p, BIG_OP("dummy", setup_mapped, call_dump, EFAULT, DUMP_PAGES))
OP_CASE(COUNTERS, OP("dummy", setup_mapped, call_counters, NULL, EFAULT))
OP_CASE(SET_RANGE, .dev = "dummy", .setup = setup_mapped,
	.call = call_set_range, .check = check_set_range)
OP_CASE(DMIRROR_READ, DMIRROR_OP(setup_fresh, EFAULT, HMM_DMIRROR_READ))
OP_CASE(DMIRROR_WRITE, DMIRROR_OP(setup_fresh, EFAULT, HMM_DMIRROR_WRITE))
OP_CASE(DMIRROR_SNAPSHOT, DMIRROR_OP(setup_fresh, EFAULT, HMM_DMIRROR_SNAPSHOT))
/*
 * Device memory: the debug kernel has it. A page that could not move
 * is not in the device's memory: MIGRATE_TO_DEV says ENOENT. Device
 * memory grows a chunk when it needs one, so this may add one too
 * (whether it does depends on what earlier steps left): if it does,
 * stepped no deeper than memremap_pages()'s first failure, as below.
 */
OP_CASE(DMIRROR_MIGRATE_TO_DEV, .dev = "dmirror",
	.setup = setup_written, .call = call_dmirror, .also = ENOENT,
	.cmd = HMM_DMIRROR_MIGRATE_TO_DEV, .stop_at = "memremap_pages+",
	.may_stop = 1)
/*
 * The same on a device with no memory yet: it adds a chunk
 * (request_free_mem_region(), memremap_pages()). Needs a fresh load:
 * RELEASE evicts pages but keeps the chunks. memremap_pages() is
 * stepped only to its first failure: deeper, x86's add_pages() WARNs
 * on any error and the vmemmap allocator warn_alloc()s, which the
 * lane counts as splats.
 */
OP_CASE(DMIRROR_MIGRATE_TO_DEV_grow, .dev = "dmirror",
	.setup = setup_written, .call = call_dmirror, .also = ENOENT,
	.cmd = HMM_DMIRROR_MIGRATE_TO_DEV, .fresh = 1,
	.stop_at = "memremap_pages+")
OP_CASE(DMIRROR_MIGRATE_TO_SYS, DMIRROR_OP(setup_migrated, 0,
					   HMM_DMIRROR_MIGRATE_TO_SYS))
OP_CASE(DMIRROR_RELEASE, DMIRROR_OP(setup_migrated, 0, HMM_DMIRROR_RELEASE))
OP_CASE(DMIRROR_EXCLUSIVE, DMIRROR_OP(setup_written, EBUSY,
				      HMM_DMIRROR_EXCLUSIVE))
/* Over more than one of its batches of 64. */
OP_CASE(DMIRROR_EXCLUSIVE_130p, .dev = "dmirror",
	.setup = setup_written, .call = call_dmirror, .also = EBUSY,
	.cmd = HMM_DMIRROR_EXCLUSIVE, .npages = EXCL_PAGES)
OP_CASE(dmirror_mmap, OP("dmirror", setup_none, call_dmirror_mmap, undo_mmap, 0))
#ifdef HAVE_NL
/* hmm_dummy's family: what is about its device. */
OP_CASE(nl_DEV_GET, NL_OP("nl_dummy", HMM_DUMMY_CMD_DEV_GET, NLM_F_DUMP))
OP_CASE(nl_PTE_GET, NL_OP("nl_dummy", HMM_DUMMY_CMD_PTE_GET, NLM_F_DUMP))
/* hmm_core's: the mirrors, their mms, the counters. */
OP_CASE(nl_MIRROR_GET, NL_OP("nl", HMM_CORE_CMD_MIRROR_GET, NLM_F_DUMP))
OP_CASE(nl_MIRROR_GET_do, NL_OP("nl", HMM_CORE_CMD_MIRROR_GET, 0))
OP_CASE(nl_MM_GET, NL_OP("nl", HMM_CORE_CMD_MM_GET, NLM_F_DUMP))
OP_CASE(nl_STATS_GET, NL_OP("nl", HMM_CORE_CMD_STATS_GET, 0))
/* The events' path: register, unregister, invalidate. */
OP_CASE(open_dummy_events, EVENTS_OP("none", setup_none, call_open, undo_open))
OP_CASE(close_events, EVENTS_OP("dummy", setup_mapped, call_close, NULL))
OP_CASE(munmap_events, EVENTS_OP("dummy", setup_mapped, call_munmap, NULL))
#endif

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
		hmm_diag("module_load: hmm_dummy loaded with ndevices=0");
		mod_unload();
		return -1;
	}
	if (errno != EINVAL || left <= 0) {
		hmm_diag("module_load: a load with ndevices=0: %s (fail-nth read back %ld), not EINVAL",
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
		hmm_diag("module_load: step %d: fail-nth: %s", step, strerror(errno));
		return STEP_BAD;
	}
	if (left > 0) {
		if (r) {
			hmm_diag("module_load: the load failed with %s and no failure forced",
				 strerror(e));
			return STEP_BAD;
		}
		hmm_diag("module_load: the load completes with %ld allocation(s)",
			 step - left);
		return mod_check() ? STEP_BAD : STEP_DONE;
	}
	scan_kmsg(sc, NULL);
	count_scan(sc, "module_load", step);
	if (r) {
		if (e != ENOMEM) {
			hmm_diag("module_load: allocation %d failed: the load failed with %s, not ENOMEM",
				 step, strerror(e));
			return STEP_BAD;
		}
		if (mod_loaded()) {
			hmm_diag("module_load: allocation %d failed: the load failed, yet hmm_dummy is in /proc/modules",
				 step);
			return STEP_BAD;
		}
		if (mod_load(mod_params, 0, &left)) {
			hmm_diag("module_load: allocation %d failed: then a load without injection failed with %s",
				 step, strerror(errno));
			return STEP_BAD;
		}
	}
	if (mod_check()) {
		hmm_diag("module_load: after allocation %d was failed", step);
		return STEP_BAD;
	}
	if (mod_unload())
		return STEP_BAD;
	return sc->forced ? STEP_FORCED : STEP_SILENT;
}

enum { LOAD_EARLIER = 100 };	/* load_from(): the first failure was ours */

/*
 * The steps of module_load from allocation start to the load's last, with
 * hmm_dummy not loaded: 0, -1 (said why), or LOAD_EARLIER if the first
 * failure that printed its stack was in our code already (the load's
 * allocations before ours are fewer than the probe said: start earlier).
 */
static int load_from(int start)
{
	int step, r = STEP_BAD, forced = 0, ours = 0, silent = 0, made = 0;
	int first = 1, first_ours = 0;

	hmm_diag("module_load: from allocation %d on", start);
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
				hmm_diag("module_load: the first failure forced (allocation %d) is in our code already",
					 step);
				return LOAD_EARLIER;
			}
		}
		if (!first_ours && sc.ours)
			first_ours = step;
	}
	if (r == STEP_BAD)
		return -1;
	if (r != STEP_DONE) {
		hmm_diag("module_load: still allocating after %d steps", MAX_LOAD_STEPS);
		return -1;
	}
	hmm_diag("module_load: %d failure(s) forced, %d with a frame of ours (the first at allocation %d), %d printed nothing; %d step(s) made again",
		 forced, ours, first_ours, silent, made - forced - 1);
	if (ours <= 0) {
		hmm_diag("module_load: no failure forced had a frame of ours");
		return -1;
	}
	return 0;
}

/*
 * The steps of module_load, from hmm_dummy loaded to hmm_dummy not loaded
 * (the fixture's teardown loads it again): 0, or -1 (said why).
 */
static int load_steps(void)
{
	long c0, back = LOAD_MARGIN;
	int r;

	if (mod_unload())
		return -1;
	c0 = load_probe();
	if (c0 < 0)
		return -1;
	hmm_diag("module_load: %ld allocations before hmm_dummy_init() allocates, about",
		 c0);
	do {
		r = load_from(c0 > back ? c0 - back : 1);
		back *= 2;
	} while (r == LOAD_EARLIER && c0 > back / 2);
	return r == LOAD_EARLIER ? -1 : r;
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
TEST_F_TIMEOUT(fault_inject, module_load, 900)
{
	if (!selected("module_load"))
		SKIP(return, "not in --only");
	if (!mod_path)
		SKIP(return, "no --module PATH of the hmm_dummy.ko the guest loaded");
	if (!mod_params[0])
		SKIP(return, "hmm_dummy is not loaded");
	nth_fd = open("/proc/thread-self/fail-nth", O_RDWR);
	ASSERT_GE(nth_fd, 0) TH_LOG("fail-nth: %s", strerror(errno));
	ASSERT_EQ(0, load_steps());
}

/*
 * A counter parameter given at load is refused, EPERM, and the load with
 * the others still works: module parameter parsing calls a parameter's
 * .set with no NULL check, so a counter without one would oops (hmm_dummy's
 * pt_pages did, found by module_load, which then passed every parameter
 * back).
 */
TEST_F_TIMEOUT(fault_inject, counter_params, 120)
{
	char arg[64], path[128];
	long left;

	if (!selected("counter_params"))
		SKIP(return, "not in --only");
	if (!mod_path)
		SKIP(return, "no --module PATH of the hmm_dummy.ko the guest loaded");
	if (!mod_params[0])
		SKIP(return, "hmm_dummy is not loaded");
	for (size_t i = 0; i < sizeof(mod_counters) / sizeof(*mod_counters); i++) {
		snprintf(path, sizeof(path), "/sys/module/hmm_dummy/parameters/%s",
			 mod_counters[i]);
		ASSERT_EQ(0, access(path, R_OK)) TH_LOG("%s: %s", path, strerror(errno));
		ASSERT_EQ(0, mod_unload());
		snprintf(arg, sizeof(arg), "%s=1", mod_counters[i]);
		ASSERT_EQ(-1, mod_load(arg, 0, &left)) TH_LOG("%s accepted", arg);
		EXPECT_EQ(EPERM, errno) TH_LOG("%s: %s", arg, strerror(errno));
		ASSERT_EQ(0, mod_reload());
		hmm_diag("%s refused at load", arg);
	}
}

/* The summary: sites hit, printed for scripts/check-debug. */
TEST_F_TIMEOUT(fault_inject, allocation_sites, 10)
{
	int i;

	for (i = 0; i < sites->n; i++)
		hmm_diag("fi-site: %s", sites->site[i]);
	hmm_diag("%d distinct allocation site(s) in hmm_dummy/hmm_core hit, "
		 "%d failures forced (%d with a frame of ours)",
		 sites->n, sites->forced, sites->attributed);
	ASSERT_GT(sites->n, 0);
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

/*
 * Fault injection set up once for every case (the knobs, the kernel log
 * read from its end, the shared counts), then the harness: --module and
 * --only are taken out of argv, the rest (-t, -l, ...) is the harness's.
 */
int main(int argc, char **argv)
{
	/* Fail any allocation, sleeping or not, of any order; say where. */
	static const char *const knobs[][2] = {
		{ "/sys/kernel/debug/failslab/ignore-gfp-wait", "N" },
		{ "/sys/kernel/debug/failslab/verbose", "2" },
		{ "/sys/kernel/debug/fail_page_alloc/ignore-gfp-wait", "N" },
		{ "/sys/kernel/debug/fail_page_alloc/ignore-gfp-highmem", "N" },
		{ "/sys/kernel/debug/fail_page_alloc/min-order", "0" },
		{ "/sys/kernel/debug/fail_page_alloc/verbose", "2" },
	};
	char **hargv = calloc(argc + 1, sizeof(*hargv));
	int i, hargc = 0, listing = 0;
	size_t k;

	if (!hargv)
		ksft_exit_fail_msg("calloc: %s\n", strerror(errno));
	hargv[hargc++] = argv[0];
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--module") && i + 1 < argc) {
			mod_path = argv[++i];
		} else if (!strcmp(argv[i], "--only") && i + 1 < argc) {
			only = argv[++i];
		} else {
			listing |= !strcmp(argv[i], "-l") || !strcmp(argv[i], "-h");
			hargv[hargc++] = argv[i];
		}
	}
	if (listing)
		return test_harness_run(hargc, hargv);
	if (access("/proc/thread-self/fail-nth", W_OK) ||
	    access("/sys/kernel/debug/failslab", F_OK)) {
		ksft_print_header();
		ksft_exit_skip("no fault injection in this kernel\n");
	}
	for (k = 0; k < sizeof(knobs) / sizeof(knobs[0]); k++)
		if (knob(knobs[k][0], knobs[k][1]))
			ksft_exit_fail_msg("cannot set %s: %s\n", knobs[k][0],
					   strerror(errno));
	if (read_mod_params())
		ksft_exit_fail_msg("cannot read hmm_dummy's parameters\n");
	sites = mmap(NULL, sizeof(*sites), PROT_READ | PROT_WRITE,
		     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sites == MAP_FAILED)
		ksft_exit_fail_msg("mmap: %s\n", strerror(errno));
	kmsg_fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK);
	if (kmsg_fd < 0 || lseek(kmsg_fd, 0, SEEK_END) < 0)
		ksft_exit_fail_msg("/dev/kmsg: %s\n", strerror(errno));
	return test_harness_run(hargc, hargv);
}
