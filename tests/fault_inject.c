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
#define MAX_STEPS	400
#define MAX_SITES	256
#define SITE_LEN	128
#define SILENT_TRIES	2	/* tries of a step whose failure printed nothing */

/* Sites seen, shared by the per-case children (MAP_SHARED). */
struct sites {
	int n;
	int forced;		/* failures forced, in all cases */
	int attributed;		/* ... whose stack had a frame of ours */
	char site[MAX_SITES][SITE_LEN];
};

static struct sites *sites;

struct ctx {
	int fd;			/* the device file (or socket) the call uses */
	int fd2;		/* a device file netlink calls report on */
	unsigned int id;	/* fd2's netlink mirror id */
	char *p;		/* NPAGES pages of process memory */
	char *buf;		/* NPAGES pages of user buffer */
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
	/*
	 * Stop after the first failure forced under this kernel function: it
	 * is reached; what lies deeper is the kernel's own, and warns.
	 */
	const char *stop_at;
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
	c->p = mmap(NULL, NPAGES * PAGE, PROT_READ | PROT_WRITE,
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
	memset(c->p, 0x5a, NPAGES * PAGE);
	return dummy_fault(fd, c->p, NPAGES, HMM_DUMMY_FAULT_WRITE, NULL);
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
	return dummy_fault(c->fd, c->p, NPAGES, 0, NULL);
}

static long call_fault_write(struct ctx *c)
{
	return dummy_fault(c->fd, c->p, NPAGES, HMM_DUMMY_FAULT_WRITE, NULL);
}

static long call_read(struct ctx *c)
{
	return dummy_rw(c->fd, HMM_DUMMY_IOC_READ, c->p, c->buf, NPAGES,
			NULL, NULL);
}

static long call_write(struct ctx *c)
{
	return dummy_rw(c->fd, HMM_DUMMY_IOC_WRITE, c->p, c->buf, NPAGES,
			NULL, NULL);
}

static long call_snapshot(struct ctx *c)
{
	return dummy_snapshot(c->fd, c->p, NPAGES, (uint8_t *)c->buf);
}

static long call_dump(struct ctx *c)
{
	return dummy_dump(c->fd, c->p, NPAGES, (struct hmm_dummy_pte *)c->buf,
			  NPAGES, NULL);
}

static long call_counters(struct ctx *c)
{
	return dummy_counters(c->fd, (struct hmm_dummy_counters *)c->buf);
}

static long dmirror(struct ctx *c, unsigned long cmd)
{
	return dmirror_cmd(c->fd, cmd, c->p, c->buf, NPAGES, NULL);
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
	memset(c->p, 0x3c, NPAGES * PAGE);
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

static void family_cb(int type, const void *val, void *arg)
{
	if (type == CTRL_ATTR_FAMILY_ID)
		*(int *)arg = *(const uint16_t *)val;
}

/* The family's id, 0 if it is not registered. */
static int nl_resolve(void)
{
	struct nl_req r;
	int s = nl_socket(), id = 0;

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

static const struct op ops[] = {
	OP("open_dummy", "none", setup_none, call_open, undo_open, 0),
	OP("open_dmirror", "none", setup_none, call_open_dmirror, undo_open, 0),
	OP("close", "dummy", setup_mapped, call_close, NULL, 0),
	OP("FAULT_read", "dummy", setup_fresh, call_fault_read, NULL, EFAULT),
	OP("FAULT_write", "dummy", setup_fresh, call_fault_write, NULL, EFAULT),
	OP("READ", "dummy", setup_fresh, call_read, NULL, EFAULT),
	OP("WRITE", "dummy", setup_fresh, call_write, NULL, EFAULT),
	OP("SNAPSHOT", "dummy", setup_mapped, call_snapshot, NULL, EFAULT),
	OP("DUMP", "dummy", setup_mapped, call_dump, NULL, EFAULT),
	OP("COUNTERS", "dummy", setup_mapped, call_counters, NULL, EFAULT),
	DMIRROR_OP("DMIRROR_READ", setup_fresh, EFAULT, HMM_DMIRROR_READ),
	DMIRROR_OP("DMIRROR_WRITE", setup_fresh, EFAULT, HMM_DMIRROR_WRITE),
	DMIRROR_OP("DMIRROR_SNAPSHOT", setup_fresh, EFAULT, HMM_DMIRROR_SNAPSHOT),
	/* Device memory: the debug kernel has it. A page that could not move
	 * is not in the device's memory: MIGRATE_TO_DEV says ENOENT. */
	DMIRROR_OP("DMIRROR_MIGRATE_TO_DEV", setup_written, ENOENT,
		   HMM_DMIRROR_MIGRATE_TO_DEV),
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
	OP("dmirror_mmap", "dmirror", setup_none, call_dmirror_mmap, undo_mmap, 0),
#ifdef HAVE_NL
	NL_OP("nl_DEV_GET", HMM_DUMMY_CMD_DEV_GET, NLM_F_DUMP),
	NL_OP("nl_MIRROR_GET", HMM_DUMMY_CMD_MIRROR_GET, NLM_F_DUMP),
	NL_OP("nl_PTE_GET", HMM_DUMMY_CMD_PTE_GET, NLM_F_DUMP),
	NL_OP("nl_STATS_GET", HMM_DUMMY_CMD_STATS_GET, 0),
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

/* The same call made again, no injection: it must work. */
static int recheck(const struct op *o, struct ctx *c)
{
	long r;

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
	    check_coherent(c->fd, c->p, NPAGES)) {
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
	struct ctx c = { .fd = -1, .fd2 = -1, .buf = buf, .op = o };
	struct scan sc;
	long r, left;
	int e;

	/* fail-nth is the calling thread's: this process's own. */
	nth_fd = open("/proc/thread-self/fail-nth", O_RDWR);
	if (nth_fd < 0)
		return STEP_BAD;
	memset(buf, 0, sizeof(buf));
	if (strcmp(o->dev, "none")) {
		c.fd = dev_open(o->dev);
		if (c.fd < 0)
			return STEP_BAD;
	}
	if (o->setup(&c))
		return STEP_BAD;
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
		return STEP_DONE;
	}
	scan_kmsg(&sc, o->stop_at);
	count_scan(&sc, o->name, step);
	if (r >= 0) {
		if (o->undo)
			o->undo(&c);
	} else if (!(e == ENOMEM || (o->also && e == o->also))) {
		diag("%s: allocation %d failed: call failed with %s, not ENOMEM%s%s",
		     o->name, step, strerror(e), o->also ? " or " : "",
		     o->also ? strerror(o->also) : "");
		return STEP_BAD;
	}
	if (recheck(o, &c) != TAP_PASS) {
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

/* Why an op cannot run here, or NULL. */
static const char *op_skip(const struct op *o)
{
#ifdef HAVE_NL
	/* Its id, as the last load of hmm_dummy registered it. */
	if (!strcmp(o->dev, "nl") && !(nl_family = nl_resolve()))
		return "no " HMM_DUMMY_FAMILY_NAME " generic netlink family";
#endif
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
	diag("%s: %d failure(s) forced, %d with a frame of ours, %d printed nothing; %d step(s) made again",
	     o->name, forced, ours, silent, made - forced - (r == STEP_DONE));
	if (o->stop_at && r != STEP_STOP) {
		diag("%s: no failure was forced under %s", o->name, o->stop_at);
		return TAP_FAIL;
	}
	return TAP_PASS;
}

#define NR_OPS	((int)(sizeof(ops) / sizeof(ops[0])))

#define OP_CASE(i) \
	static int t_##i(void) { return i < NR_OPS ? run_op(&ops[i]) : TAP_FAIL; }
OP_CASE(0) OP_CASE(1) OP_CASE(2) OP_CASE(3) OP_CASE(4) OP_CASE(5) OP_CASE(6)
OP_CASE(7) OP_CASE(8) OP_CASE(9) OP_CASE(10) OP_CASE(11) OP_CASE(12)
OP_CASE(13) OP_CASE(14) OP_CASE(15) OP_CASE(16) OP_CASE(17) OP_CASE(18)
OP_CASE(19) OP_CASE(20) OP_CASE(21) OP_CASE(22) OP_CASE(23)

static int (*const op_fns[])(void) = {
	t_0, t_1, t_2, t_3, t_4, t_5, t_6, t_7, t_8, t_9, t_10, t_11, t_12,
	t_13, t_14, t_15, t_16, t_17, t_18, t_19, t_20, t_21, t_22, t_23,
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

	if (argc == 3 && !strcmp(argv[1], "--module")) {
		mod_path = argv[2];
	} else if (argc != 1) {
		fprintf(stderr, "usage: fault_inject [--module PATH-OF-hmm_dummy.ko]\n");
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
		cases[i] = (struct tap_case){ ops[i].name, op_fns[i], 300 };
	cases[i++] = (struct tap_case){ "module_load", t_module_load, 900 };
	cases[i] = (struct tap_case){ "allocation_sites", t_sites, 10 };
	return TAP_MAIN(cases);
}
