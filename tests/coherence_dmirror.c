// SPDX-License-Identifier: GPL-2.0
/*
 * coherence_dmirror - the coherence invariant through the test_hmm ABI only
 *
 * Every case here speaks only the ioctls of the kernel's lib/test_hmm.c on
 * /dev/hmm_dmirror0 (uapi/hmm_dmirror.h: READ, WRITE, SNAPSHOT), so the same
 * binary runs against whichever driver provides that device: hmm_dummy or
 * the kernel's own test_hmm.ko. After every operation, over every page of
 * the range:
 *   - what the device READs is what the CPU reads there now;
 *   - what the device WRITEs the CPU then reads, and a device WRITE never
 *     lands where the CPU could not store: a read-only mapping fails it, a
 *     copy-on-write page after fork keeps it from the other process;
 *   - SNAPSHOT never gives more than the CPU does, against
 *     /proc/self/pagemap, /proc/self/smaps and /proc/kpageflags: a valid
 *     byte only where the CPU maps the page, WRITE only in a writable vma
 *     on a page that is not the zero page nor an anonymous page shared
 *     (copy-on-write, KSM), ZERO only on the zero page, PMD only where the
 *     CPU maps a huge page, ERROR exactly where no readable vma is.
 * Those rules are the shared oracle's (oracle.h, struct oracle of
 * ABI_DMIRROR): ASSERT_COHERENT() checks them, ASSERT_COHERENT_DATA() adds
 * a device READ against the CPU's, ASSERT_WRITE_SEEN() a device WRITE the
 * CPU must then read. A violation of the SNAPSHOT rules is looked at twice
 * more, 20 ms apart: khugepaged, ksmd or NUMA balancing may change a page
 * between the SNAPSHOT and the look at pagemap.
 *
 * Where the two drivers answer differently by design, the case says what it
 * expects of each and prints the driver loaded (from /sys/module): see
 * fork_inherited_fd. Every errno a case expects is printed with the driver
 * that gave it. EBUSY is a transient answer of both (RETRY_EBUSY()).
 *
 * One fixture, dmirror: /dev/hmm_dmirror0 open, its oracle, and the driver
 * that answers it.
 */
#define _GNU_SOURCE
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "oracle.h"

#define N	16
#define HPAGES	(HPAGE / PAGE)

enum { DRV_NONE, DRV_HMM_DUMMY, DRV_TEST_HMM };

static int drv;
static const char *drv_name = "no driver";

/* Which driver answers /dev/hmm_dmirror0: the one /sys/module shows. */
static void detect_driver(void)
{
	char c = 'N';
	int fd = open("/sys/module/hmm_dummy/parameters/dmirror", O_RDONLY);

	if (fd >= 0) {
		if (read(fd, &c, 1) != 1)
			c = 'N';
		close(fd);
	}
	drv = DRV_NONE;
	drv_name = "no driver";
	if (c == 'Y') {
		drv = DRV_HMM_DUMMY;
		drv_name = "hmm_dummy";
	} else if (!access("/sys/module/test_hmm", F_OK)) {
		drv = DRV_TEST_HMM;
		drv_name = "test_hmm";
	}
}

/* One test_hmm-ABI command, again while it answers EBUSY. */
static int dm(int fd, unsigned long req, void *addr, void *buf,
	      uint64_t npages, uint64_t *cpages)
{
	return RETRY_EBUSY(dmirror_cmd(fd, req, addr, buf, npages, cpages));
}

/*
 * expr must fail with the errno this driver gives: err_dummy from
 * hmm_dummy, err_test_hmm from test_hmm. The answer is printed either way.
 */
#define ASSERT_DRV_ERR(expr, err_dummy, err_test_hmm, what) do {	\
	int _want = drv == DRV_TEST_HMM ? (err_test_hmm) : (err_dummy);	\
	long _r;							\
	int _e;								\
									\
	errno = 0;							\
	_r = (long)(expr);						\
	_e = errno;							\
	hmm_diag("%s: %s from %s (%s expected)", (what),		\
		 _r == -1 ? oracle_errname(_e) : "success", drv_name,	\
		 oracle_errname(_want));				\
	ASSERT_TRUE(_r == -1 && _e == _want)				\
		TH_LOG("%s: want -1/%s, got %ld/%s", #expr,		\
		       oracle_errname(_want), _r,			\
		       _r == -1 ? oracle_errname(_e) : "no error");	\
} while (0)

/*
 * Every SNAPSHOT byte of the range is want, in a SNAPSHOT that gives no
 * more than the CPU (the oracle's look, then the bytes).
 */
static void snap_all(struct __test_metadata *_metadata,
		     const struct oracle *o, void *p, size_t n, uint8_t want,
		     const char *what)
{
	uint8_t *s = malloc(n);
	size_t i;

	ASSERT_NE(NULL, s);
	ASSERT_EQ(0, oracle_coherent(o, p, n))
		TH_LOG("%s: SNAPSHOT gives more than the CPU", what);
	ASSERT_EQ(0, dm(o->fd, HMM_DMIRROR_SNAPSHOT, p, s, n, NULL))
		TH_LOG("%s: SNAPSHOT: %s", what, oracle_errname(errno));
	for (i = 0; i < n; i++) {
		ASSERT_EQ(want, s[i])
			TH_LOG("%s: page %zu: SNAPSHOT 0x%02x, want 0x%02x (%s)",
			       what, i, s[i], want, drv_name);
	}
	free(s);
}

/*
 * How many pages of the range SNAPSHOT gives this flag, in a SNAPSHOT that
 * gives no more than the CPU; -1 if it gives more, or fails.
 */
static long snap_count(const struct oracle *o, void *p, size_t n,
		       uint8_t flag)
{
	uint8_t *s = malloc(n);
	long c = 0;
	size_t i;

	if (!s || oracle_coherent(o, p, n) ||
	    dm(o->fd, HMM_DMIRROR_SNAPSHOT, p, s, n, NULL)) {
		free(s);
		return -1;
	}
	for (i = 0; i < n; i++)
		c += (s[i] != HMM_DMIRROR_PROT_ERROR) && (s[i] & flag);
	free(s);
	return c;
}

/* Fill n pages with seed (CPU), then device READ and WRITE them (seed2). */
static void populate(struct __test_metadata *_metadata,
		     const struct oracle *o, char *p, size_t n, uint32_t seed,
		     uint32_t seed2)
{
	fill_pattern(p, n, seed);
	ASSERT_COHERENT_DATA(o, p, n);
	ASSERT_WRITE_SEEN(o, p, n, seed2);
	ASSERT_COHERENT_DATA(o, p, n);
}

/*
 * fork's two sides take turns over two pipes: the parent gives "go", the
 * child answers "done". Each side closes the ends it does not use, so a
 * side that ended early is an end of file, not a hang. A child's failed
 * ASSERT fails the case (the harness's _metadata is shared) and ends the
 * child: the parent then sees an end of file.
 */
struct sides {
	int go[2], done[2];
	pid_t pid;
};

static int give(int wfd)
{
	char c = 'g';

	return write(wfd, &c, 1) == 1 ? 0 : -1;
}

static int take(int rfd)
{
	char c;

	return read(rfd, &c, 1) == 1 ? 0 : -1;
}

/*
 * fork: the pid in the parent (kept in *kid too, for the teardown to kill
 * if the case fails), 0 in the child, -1 on error.
 */
static pid_t split(struct sides *s, pid_t *kid)
{
	if (pipe(s->go) || pipe(s->done))
		return -1;
	fflush(stdout);
	fflush(stderr);
	s->pid = fork();
	if (s->pid == 0) {
		close(s->go[1]);
		close(s->done[0]);
	} else if (s->pid > 0) {
		*kid = s->pid;
		close(s->go[0]);
		close(s->done[1]);
	}
	return s->pid;
}

/*
 * Wait for the child *kid (no longer the teardown's to kill): 0 if it
 * exited with status 0, else -1 (diagnosed).
 */
static int reap(pid_t *kid)
{
	pid_t pid = *kid;
	int st;

	*kid = -1;
	if (waitpid(pid, &st, 0) != pid) {
		hmm_diag("waitpid %d: %s", pid, strerror(errno));
		return -1;
	}
	if (!WIFEXITED(st) || WEXITSTATUS(st)) {
		hmm_diag("child: %s %d",
			 WIFEXITED(st) ? "exit status" : "signal",
			 WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
		return -1;
	}
	return 0;
}

/* A forked child's own /dev/hmm_dmirror0 and its oracle. */
static struct oracle child_oracle(struct __test_metadata *_metadata)
{
	struct oracle co = { .fd = dmirror_open(0), .abi = ABI_DMIRROR };

	ASSERT_LE(0, co.fd) TH_LOG("child: /dev/hmm_dmirror0: %s",
				   strerror(errno));
	return co;
}

#define CHILD_WAIT(s)	ASSERT_EQ(0, take((s).go[0]))
#define CHILD_DONE(s)	ASSERT_EQ(0, give((s).done[1]))
#define PARENT_GO(s)	ASSERT_EQ(0, give((s).go[1]))
#define PARENT_WAIT(s) do {						\
	ASSERT_EQ(0, take((s).done[0]))					\
		TH_LOG("the child ended early");			\
} while (0)

FIXTURE(dmirror) {
	struct oracle o;	/* /dev/hmm_dmirror0, ABI_DMIRROR */
	pid_t kid;		/* a child of the case, or -1 */
};

/* /dev/hmm_dmirror0 open, the driver that answers it known. */
FIXTURE_SETUP(dmirror)
{
	self->kid = -1;
	detect_driver();
	self->o.abi = ABI_DMIRROR;
	self->o.fd = dmirror_open(0);
	ASSERT_LE(0, self->o.fd)
		TH_LOG("/dev/hmm_dmirror0: %s (driver: %s)", strerror(errno),
		       drv_name);
}

/* A child left by a failed case is killed and reaped. */
FIXTURE_TEARDOWN(dmirror)
{
	if (self->kid > 0) {
		kill(self->kid, SIGKILL);
		waitpid(self->kid, NULL, 0);
	}
	if (self->o.fd >= 0)
		close(self->o.fd);
}

/* Fresh anonymous memory: nothing mapped, zero pages read, then data. */
TEST_F_TIMEOUT(dmirror, anon_read_write, 60)
{
	struct oracle *o = &self->o;
	int fd = o->fd;
	char *p = anon_map(N), *q = anon_map(N);
	long z;

	ASSERT_TRUE(fd >= 0 && p && q);
	hmm_diag("driver: %s; zero page pfn 0x%llx", drv_name,
		 oracle_zero_pfn());
	snap_all(_metadata, o, p, N, HMM_DMIRROR_PROT_NONE, "untouched");
	/* a device READ maps the zero page, as a CPU read does */
	ASSERT_COHERENT_DATA(o, p, N);
	ASSERT_TRUE(is_zero(p, N * PAGE));
	z = snap_count(o, p, N, HMM_DMIRROR_PROT_ZERO);
	hmm_diag("after a device READ, %ld of %d pages are the zero page (%s)",
		 z, N, drv_name);
	ASSERT_TRUE(z >= 0);
	/* test_hmm's bytes, which hmm_dummy gives too: READ | ZERO */
	if (oracle_zero_pfn())
		snap_all(_metadata, o, p, N, HMM_DMIRROR_PROT_READ | HMM_DMIRROR_PROT_ZERO,
			 "zero pages");
	/* a CPU write replaces the zero page: the device follows */
	fill_pattern(p, N, 1);
	ASSERT_COHERENT_DATA(o, p, N);
	ASSERT_WRITE_SEEN(o, p, N, 2);
	ASSERT_EQ(0, snap_count(o, p, N, HMM_DMIRROR_PROT_ZERO));
	/* a device WRITE first, to memory the CPU never touched */
	ASSERT_WRITE_SEEN(o, q, N, 3);
	snap_all(_metadata, o, q, N, HMM_DMIRROR_PROT_WRITE, "written by the device");
	ASSERT_COHERENT_DATA(o, q, N);
	fill_pattern(q + 4 * PAGE, 4, 4);
	ASSERT_COHERENT_DATA(o, q, N);
	ASSERT_EQ(-1, check_pattern(q + 4 * PAGE, 4, 4));
}

/* Read-only refuses a device WRITE and keeps the data; writable again works. */
TEST_F_TIMEOUT(dmirror, mprotect_readonly_and_back, 60)
{
	struct oracle *o = &self->o;
	int fd = o->fd;
	char *p = anon_map(N);
	char *buf = malloc(N * PAGE), *ref = malloc(N * PAGE);

	ASSERT_TRUE(fd >= 0 && p && buf && ref);
	fill_pattern(ref, N, 6);
	populate(_metadata, o, p, N, 5, 6);
	ASSERT_EQ(0, mprotect(p, N * PAGE, PROT_READ));
	ASSERT_EQ(0, snap_count(o, p, N, HMM_DMIRROR_PROT_WRITE));
	ASSERT_COHERENT_DATA(o, p, N);
	fill_pattern(buf, N, 7);
	ASSERT_DRV_ERR(dm(fd, HMM_DMIRROR_WRITE, p, buf, N, NULL),
		       EPERM, EPERM, "device WRITE of a read-only mapping");
	ASSERT_DRV_ERR(dm(fd, HMM_DMIRROR_WRITE, p + 3 * PAGE, buf, 1, NULL),
		       EPERM, EPERM, "device WRITE of one read-only page");
	ASSERT_EQ(-1, check_pattern(p, N, 6));
	ASSERT_COHERENT_DATA(o, p, N);
	/* a part writable again: only there may the device write */
	ASSERT_EQ(0, mprotect(p, 4 * PAGE, PROT_READ | PROT_WRITE));
	ASSERT_COHERENT(o, p, N);
	ASSERT_WRITE_SEEN(o, p, 4, 8);
	ASSERT_DRV_ERR(dm(fd, HMM_DMIRROR_WRITE, p + 4 * PAGE, buf, 1, NULL),
		       EPERM, EPERM, "device WRITE past the writable part");
	ASSERT_TRUE(!memcmp(p + 4 * PAGE, ref + 4 * PAGE, (N - 4) * PAGE));
	ASSERT_EQ(0, mprotect(p, N * PAGE, PROT_READ | PROT_WRITE));
	ASSERT_COHERENT_DATA(o, p, N);
	ASSERT_WRITE_SEEN(o, p, N, 9);
	ASSERT_EQ(-1, check_pattern(p, N, 9));
}

/* munmap, then a new mapping at the same address: never the old pages. */
TEST_F_TIMEOUT(dmirror, munmap_mmap_same_address, 60)
{
	struct oracle *o = &self->o;
	int fd = o->fd;
	char *p = anon_map(N), *q;
	char buf[PAGE];

	ASSERT_TRUE(fd >= 0 && p);
	populate(_metadata, o, p, N, 10, 11);
	ASSERT_EQ(0, munmap(p, N * PAGE));
	snap_all(_metadata, o, p, N, HMM_DMIRROR_PROT_ERROR, "unmapped");
	ASSERT_DRV_ERR(dm(fd, HMM_DMIRROR_READ, p, buf, 1, NULL),
		       EFAULT, EFAULT, "device READ of an unmapped page");
	ASSERT_DRV_ERR(dm(fd, HMM_DMIRROR_WRITE, p + PAGE, buf, 1, NULL),
		       EFAULT, EFAULT, "device WRITE of an unmapped page");
	q = mmap(p, N * PAGE, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	ASSERT_TRUE(q == p);
	/* the new mapping's zero pages first, then new data */
	ASSERT_COHERENT_DATA(o, p, N);
	ASSERT_TRUE(is_zero(p, N * PAGE));
	fill_pattern(p, N, 12);
	ASSERT_COHERENT_PATTERN(o, p, N, 12);
	ASSERT_WRITE_SEEN(o, p, N, 13);
	/* and once more with the device's entries writable when unmapped */
	ASSERT_EQ(0, munmap(p, N * PAGE));
	q = mmap(p, N * PAGE, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	ASSERT_TRUE(q == p);
	fill_pattern(p, N, 14);
	ASSERT_COHERENT_PATTERN(o, p, N, 14);
}

/* MADV_DONTNEED: the dropped pages read as zeros, by the device too. */
TEST_F_TIMEOUT(dmirror, madvise_dontneed, 60)
{
	struct oracle *o = &self->o;
	int fd = o->fd;
	char *p = anon_map(N);

	ASSERT_TRUE(fd >= 0 && p);
	populate(_metadata, o, p, N, 15, 16);
	ASSERT_EQ(0, madvise(p + 4 * PAGE, 8 * PAGE, MADV_DONTNEED));
	snap_all(_metadata, o, p + 4 * PAGE, 8, HMM_DMIRROR_PROT_NONE, "dropped");
	ASSERT_COHERENT_DATA(o, p, N);
	ASSERT_TRUE(is_zero(p + 4 * PAGE, 8 * PAGE));
	ASSERT_EQ(-1, check_pattern(p, 4, 16));
	ASSERT_WRITE_SEEN(o, p, N, 17);
	/* the whole range, its entries writable */
	ASSERT_EQ(0, madvise(p, N * PAGE, MADV_DONTNEED));
	ASSERT_COHERENT_DATA(o, p, N);
	ASSERT_TRUE(is_zero(p, N * PAGE));
}

/* mremap moving the range: the old address is gone, the new has the data. */
TEST_F_TIMEOUT(dmirror, mremap_move, 60)
{
	struct oracle *o = &self->o;
	int fd = o->fd;
	char *p = anon_map(N), *dst = anon_map(N), *q;
	char buf[PAGE];

	ASSERT_TRUE(fd >= 0 && p && dst);
	populate(_metadata, o, p, N, 18, 19);
	ASSERT_COHERENT_DATA(o, dst, N);	/* zero pages there first */
	q = mremap(p, N * PAGE, N * PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, dst);
	ASSERT_TRUE(q == dst);
	snap_all(_metadata, o, p, N, HMM_DMIRROR_PROT_ERROR, "moved away");
	ASSERT_DRV_ERR(dm(fd, HMM_DMIRROR_READ, p, buf, 1, NULL),
		       EFAULT, EFAULT, "device READ of the old address");
	ASSERT_COHERENT_PATTERN(o, dst, N, 19);
	ASSERT_WRITE_SEEN(o, dst, N, 20);
	/* back again, its entries writable */
	q = mremap(dst, N * PAGE, N * PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, p);
	ASSERT_TRUE(q == p);
	snap_all(_metadata, o, dst, N, HMM_DMIRROR_PROT_ERROR, "moved back");
	ASSERT_COHERENT_PATTERN(o, p, N, 20);
}

/* fork; the parent's device writes: the child keeps the old data. */
TEST_F_TIMEOUT(dmirror, fork_cow_parent_device_write, 60)
{
	struct oracle *o = &self->o;
	int fd = o->fd;
	char *p = anon_map(N);
	struct sides s;

	ASSERT_TRUE(fd >= 0 && p);
	populate(_metadata, o, p, N, 21, 22);
	ASSERT_LE(0, split(&s, &self->kid));
	if (s.pid == 0) {
		struct oracle co = child_oracle(_metadata);

		CHILD_WAIT(s);
		/* the parent's device wrote 23: not here */
		ASSERT_COHERENT_PATTERN(&co, p, N, 22);
		/* and the child's own device write stays here */
		ASSERT_WRITE_SEEN(&co, p, N, 24);
		CHILD_DONE(s);
		_exit(0);
	}
	/* both sides share the pages read-only now */
	ASSERT_EQ(0, snap_count(o, p, N, HMM_DMIRROR_PROT_WRITE));
	ASSERT_COHERENT_DATA(o, p, N);
	ASSERT_WRITE_SEEN(o, p, N, 23);
	PARENT_GO(s);
	PARENT_WAIT(s);
	ASSERT_COHERENT_PATTERN(o, p, N, 23);
	ASSERT_EQ(0, reap(&self->kid));
}

/*
 * fork; the parent's CPU writes first (its side of copy-on-write broken:
 * the old pages are the child's alone), then the child's device writes
 * them: the parent's device must not see it, nor the child the parent's.
 */
TEST_F_TIMEOUT(dmirror, fork_cow_child_device_write, 60)
{
	struct oracle *o = &self->o;
	int fd = o->fd;
	char *p = anon_map(N);
	struct sides s;

	ASSERT_TRUE(fd >= 0 && p);
	populate(_metadata, o, p, N, 25, 26);
	ASSERT_LE(0, split(&s, &self->kid));
	if (s.pid == 0) {
		struct oracle co = child_oracle(_metadata);

		CHILD_WAIT(s);
		ASSERT_COHERENT_PATTERN(&co, p, N, 26);
		ASSERT_WRITE_SEEN(&co, p, N, 27);
		CHILD_DONE(s);
		CHILD_WAIT(s);
		/* the parent's device wrote 29 meanwhile: not here */
		ASSERT_COHERENT_PATTERN(&co, p, N, 27);
		_exit(0);
	}
	fill_pattern(p, N, 28);
	ASSERT_COHERENT_DATA(o, p, N);
	PARENT_GO(s);
	PARENT_WAIT(s);
	/* the parent's device reads its own data, not the child's 27 */
	ASSERT_COHERENT_PATTERN(o, p, N, 28);
	ASSERT_WRITE_SEEN(o, p, N, 29);
	PARENT_GO(s);
	ASSERT_EQ(0, reap(&self->kid));
	ASSERT_COHERENT_PATTERN(o, p, N, 29);
}

/*
 * A dmirror file used from a forked child: the drivers differ by design.
 * hmm_dummy refuses every access from an address space other than the
 * opener's (EPERM). test_hmm binds the file to its opener's mm and copies
 * to and from the caller's buffer: the child's device READ gives the
 * parent's data, and its WRITE lands in the parent's pages, not the child's.
 */
TEST_F_TIMEOUT(dmirror, fork_inherited_fd, 60)
{
	struct oracle *o = &self->o;
	int fd = o->fd;
	char *p = anon_map(N), *buf = malloc(N * PAGE);
	uint8_t snap[N];
	struct sides s;

	ASSERT_TRUE(fd >= 0 && p && buf);
	populate(_metadata, o, p, N, 30, 31);
	ASSERT_LE(0, split(&s, &self->kid));
	if (s.pid == 0) {
		struct oracle co = { .fd = -1, .abi = ABI_DMIRROR };

		fill_pattern(p, N, 32);	/* the child's own copy */
		if (drv == DRV_TEST_HMM) {
			hmm_diag("test_hmm: the inherited file reaches the parent's address space");
			ASSERT_EQ(0, dm(fd, HMM_DMIRROR_READ, p, buf, N, NULL));
			ASSERT_EQ(-1, check_pattern(buf, N, 31));
			ASSERT_EQ(0, dm(fd, HMM_DMIRROR_SNAPSHOT, p, snap, N, NULL));
			fill_pattern(buf, N, 33);
			ASSERT_EQ(0, dm(fd, HMM_DMIRROR_WRITE, p, buf, N, NULL));
			ASSERT_EQ(-1, check_pattern(p, N, 32));
		} else {
			ASSERT_DRV_ERR(dm(fd, HMM_DMIRROR_READ, p, buf, N, NULL),
				       EPERM, 0, "device READ from another address space");
			ASSERT_DRV_ERR(dm(fd, HMM_DMIRROR_WRITE, p, buf, N, NULL),
				       EPERM, 0, "device WRITE from another address space");
			ASSERT_DRV_ERR(dm(fd, HMM_DMIRROR_SNAPSHOT, p, snap, N, NULL),
				       EPERM, 0, "SNAPSHOT from another address space");
		}
		/* a file of its own mirrors the child */
		co = child_oracle(_metadata);
		ASSERT_COHERENT_PATTERN(&co, p, N, 32);
		CHILD_DONE(s);
		CHILD_WAIT(s);
		_exit(0);
	}
	PARENT_WAIT(s);
	ASSERT_COHERENT_DATA(o, p, N);
	if (drv == DRV_TEST_HMM) {
		hmm_diag("test_hmm: the child's device WRITE is in the parent's pages");
		ASSERT_EQ(-1, check_pattern(p, N, 33));
	} else {
		hmm_diag("%s: the child's device accesses were refused", drv_name);
		ASSERT_EQ(-1, check_pattern(p, N, 31));
	}
	PARENT_GO(s);
	ASSERT_EQ(0, reap(&self->kid));
}

/*
 * One 2 MiB aligned range, THP if the kernel gives one; NULL with the
 * reason in why.
 */
static char *thp_map(char *why, size_t len)
{
	struct oracle_vma *vmas = malloc(ORACLE_MAX_VMAS * sizeof(*vmas));
	const struct oracle_vma *v = NULL;
	int nvmas;
	char *p;

	if (access("/sys/kernel/mm/transparent_hugepage/enabled", R_OK)) {
		snprintf(why, len, "no THP in this kernel (/sys/kernel/mm/transparent_hugepage: %s)",
			 strerror(errno));
		return NULL;
	}
	p = thp_map_advised();
	if (!p) {
		snprintf(why, len, "%s", oracle_why);
		free(vmas);
		return NULL;
	}
	if (vmas && !oracle_load_vmas(vmas, &nvmas))
		v = oracle_vma_of(vmas, nvmas, (uintptr_t)p);
	if (!v || v->anon_huge_kb * 1024 < HPAGE) {
		snprintf(why, len, "no THP in this guest (AnonHugePages 0 after a fault of a 2 MiB aligned MADV_HUGEPAGE range)");
		p = NULL;
	}
	free(vmas);
	return p;
}

/* THP-backed range, then split by mprotect of one page. */
TEST_F_TIMEOUT(dmirror, thp_split_mprotect, 120)
{
	struct oracle *o = &self->o;
	int fd = o->fd;
	char *p, *buf = malloc(HPAGE);
	char *ro, why[256];
	long pmd;

	ASSERT_TRUE(fd >= 0 && buf);
	p = thp_map(why, sizeof(why));
	if (!p)
		SKIP(return, "%s", why);
	populate(_metadata, o, p, HPAGES, 34, 35);
	pmd = snap_count(o, p, HPAGES, HMM_DMIRROR_PROT_PMD);
	hmm_diag("THP: SNAPSHOT gives PMD to %ld of %lu pages (%s)",
		 pmd, HPAGES, drv_name);
	ASSERT_TRUE(pmd >= 0);
	/* one read-only page splits the PMD: no PMD, no WRITE there */
	ro = p + 100 * PAGE;
	ASSERT_EQ(0, mprotect(ro, PAGE, PROT_READ));
	ASSERT_EQ(0, snap_count(o, p, HPAGES, HMM_DMIRROR_PROT_PMD));
	ASSERT_EQ(0, snap_count(o, ro, 1, HMM_DMIRROR_PROT_WRITE));
	ASSERT_COHERENT_PATTERN(o, p, HPAGES, 35);
	fill_pattern(buf, 1, 36);
	ASSERT_DRV_ERR(dm(fd, HMM_DMIRROR_WRITE, ro, buf, 1, NULL),
		       EPERM, EPERM, "device WRITE of the read-only page of a split THP");
	/* a WRITE over the whole range stops at it, never writes it */
	fill_pattern(buf, HPAGES, 37);
	ASSERT_DRV_ERR(dm(fd, HMM_DMIRROR_WRITE, p, buf, HPAGES, NULL),
		       EPERM, EPERM, "device WRITE over the split THP");
	fill_pattern(buf, HPAGES, 35);
	ASSERT_TRUE(!memcmp(ro, buf + 100 * PAGE, PAGE));
	ASSERT_COHERENT_DATA(o, p, HPAGES);
	ASSERT_WRITE_SEEN(o, p, 100, 38);
	ASSERT_WRITE_SEEN(o, ro + PAGE, HPAGES - 101, 39);
	ASSERT_TRUE(!memcmp(ro, buf + 100 * PAGE, PAGE));
	ASSERT_EQ(0, mprotect(ro, PAGE, PROT_READ | PROT_WRITE));
	ASSERT_COHERENT_DATA(o, p, HPAGES);
	ASSERT_WRITE_SEEN(o, p, HPAGES, 40);
}

/* A memfd mapped shared: device writes reach the file, file writes the device. */
TEST_F_TIMEOUT(dmirror, memfd_shared_pread, 60)
{
	struct oracle *o = &self->o;
	int fd = o->fd;
	int mfd;
	char *p, *buf = malloc(N * PAGE);

	ASSERT_TRUE(fd >= 0 && buf);
	mfd = memfd_create("coherence_dmirror", MFD_CLOEXEC);
	ASSERT_TRUE(mfd >= 0);
	ASSERT_EQ(0, ftruncate(mfd, N * PAGE));
	fill_pattern(buf, N, 41);
	ASSERT_EQ((ssize_t)(N * PAGE), pwrite(mfd, buf, N * PAGE, 0));
	p = mmap(NULL, N * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	ASSERT_TRUE(p != MAP_FAILED);
	ASSERT_COHERENT_PATTERN(o, p, N, 41);
	/* the device writes the file's pages: pread() reads it */
	ASSERT_WRITE_SEEN(o, p, N, 42);
	ASSERT_EQ((ssize_t)(N * PAGE), pread(mfd, buf, N * PAGE, 0));
	ASSERT_EQ(-1, check_pattern(buf, N, 42));
	/* write() through the fd: the device reads the new data */
	fill_pattern(buf, 4, 43);
	ASSERT_EQ((ssize_t)(4 * PAGE), pwrite(mfd, buf, 4 * PAGE, 4 * PAGE));
	ASSERT_COHERENT_DATA(o, p, N);
	ASSERT_EQ(-1, check_pattern(p + 4 * PAGE, 4, 43));
	/* truncated: the pages past the end are no one's, the device's neither */
	ASSERT_EQ(0, ftruncate(mfd, N / 2 * PAGE));
	snap_all(_metadata, o, p + N / 2 * PAGE, N / 2, HMM_DMIRROR_PROT_NONE,
		 "past the end of the file");
	ASSERT_DRV_ERR(dm(fd, HMM_DMIRROR_READ, p + N / 2 * PAGE, buf, 1, NULL),
		       EFAULT, EFAULT, "device READ past the end of the file");
	ASSERT_COHERENT_DATA(o, p, N / 2);
	ASSERT_WRITE_SEEN(o, p, N / 2, 44);
	ASSERT_EQ((ssize_t)(N / 2 * PAGE), pread(mfd, buf, N / 2 * PAGE, 0));
	ASSERT_EQ(-1, check_pattern(buf, N / 2, 44));
}

/* MAP_SHARED anonymous memory: each side's device writes reach the other. */
TEST_F_TIMEOUT(dmirror, shared_anon_with_child, 60)
{
	struct oracle *o = &self->o;
	int fd = o->fd;
	char *p = mmap(NULL, N * PAGE, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	struct sides s;

	ASSERT_TRUE(fd >= 0 && p != MAP_FAILED);
	populate(_metadata, o, p, N, 45, 46);
	ASSERT_LE(0, split(&s, &self->kid));
	if (s.pid == 0) {
		struct oracle co = child_oracle(_metadata);

		ASSERT_COHERENT_PATTERN(&co, p, N, 46);
		ASSERT_WRITE_SEEN(&co, p, N, 47);
		CHILD_DONE(s);
		CHILD_WAIT(s);
		ASSERT_COHERENT_PATTERN(&co, p, N, 48);
		_exit(0);
	}
	PARENT_WAIT(s);
	/* the parent's device entries still point at the shared pages */
	ASSERT_COHERENT_PATTERN(o, p, N, 47);
	ASSERT_WRITE_SEEN(o, p, N, 48);
	PARENT_GO(s);
	ASSERT_EQ(0, reap(&self->kid));
	ASSERT_COHERENT_DATA(o, p, N);
}

#define KSM "/sys/kernel/mm/ksm/"
#define KN 4

/* KSM merges two ranges: no device WRITE through the shared page. */
TEST_F_TIMEOUT(dmirror, ksm_merge, 120)
{
	struct oracle *o = &self->o;
	int fd = o->fd;
	uint64_t pa[KN], pb[KN];
	long long old_run, old_scan, old_sleep;
	char num[32], *a, *b, *ref;
	int i, j, merged = 0;

	if (access(KSM "run", W_OK))
		SKIP(return, "no KSM (%s): %s", KSM "run", strerror(errno));
	ASSERT_LE(0, fd);
	a = anon_map(KN);
	b = anon_map(KN);
	ref = anon_map(KN);
	ASSERT_TRUE(a && b && ref);
	fill_pattern(ref, KN, 49);
	populate(_metadata, o, a, KN, 50, 49);
	populate(_metadata, o, b, KN, 51, 49);
	if (madvise(a, KN * PAGE, MADV_MERGEABLE) ||
	    madvise(b, KN * PAGE, MADV_MERGEABLE))
		SKIP(return, "MADV_MERGEABLE: %s", strerror(errno));
	old_run = read_num(KSM "run");
	old_scan = read_num(KSM "pages_to_scan");
	old_sleep = read_num(KSM "sleep_millisecs");
	ASSERT_EQ(0, write_str(KSM "pages_to_scan", "10000"));
	ASSERT_EQ(0, write_str(KSM "sleep_millisecs", "10"));
	ASSERT_EQ(0, write_str(KSM "run", "1"));
	for (i = 0; i < 600 && !merged; i++) {
		ASSERT_EQ(0, pagemap_read(a, KN, pa));
		ASSERT_EQ(0, pagemap_read(b, KN, pb));
		for (j = 0, merged = 1; j < KN; j++)
			merged &= (pa[j] & PM_PRESENT) &&
				  (pa[j] & PM_PFN_MASK) == (pb[j] & PM_PFN_MASK);
		if (!merged)
			msleep(50);
	}
	snprintf(num, sizeof(num), "%lld", old_run < 0 ? 0 : old_run);
	write_str(KSM "run", num);
	if (old_scan > 0) {
		snprintf(num, sizeof(num), "%lld", old_scan);
		write_str(KSM "pages_to_scan", num);
	}
	if (old_sleep > 0) {
		snprintf(num, sizeof(num), "%lld", old_sleep);
		write_str(KSM "sleep_millisecs", num);
	}
	if (!merged)
		SKIP(return, "KSM merged nothing in 30 s (pages_shared %lld)",
		     read_num(KSM "pages_shared"));
	hmm_diag("merged after %d ms, pages_shared %lld", (i - 1) * 50,
		 read_num(KSM "pages_shared"));
	/* the merged pages are read-only to everyone */
	ASSERT_EQ(0, snap_count(o, a, KN, HMM_DMIRROR_PROT_WRITE));
	ASSERT_EQ(0, snap_count(o, b, KN, HMM_DMIRROR_PROT_WRITE));
	ASSERT_COHERENT_DATA(o, a, KN);
	ASSERT_COHERENT_DATA(o, b, KN);
	/* a device write to a breaks the sharing; b keeps its data */
	ASSERT_WRITE_SEEN(o, a, 1, 52);
	ASSERT_EQ(0, pagemap_read(a, KN, pa));
	ASSERT_EQ(0, pagemap_read(b, KN, pb));
	ASSERT_TRUE((pa[0] & PM_PFN_MASK) != (pb[0] & PM_PFN_MASK));
	ASSERT_TRUE(!memcmp(b, ref, KN * PAGE));
	ASSERT_TRUE(!memcmp(a + PAGE, ref + PAGE, (KN - 1) * PAGE));
	ASSERT_COHERENT_DATA(o, a, KN);
	ASSERT_COHERENT_DATA(o, b, KN);
	/* a CPU write to b: a's device still reads the merged data */
	fill_pattern(b + PAGE, 1, 53);
	ASSERT_COHERENT_DATA(o, a, KN);
	ASSERT_COHERENT_DATA(o, b, KN);
	ASSERT_TRUE(!memcmp(a + PAGE, ref + PAGE, PAGE));
}

/* PROT_NONE: SNAPSHOT says ERROR, device READ and WRITE fail, data kept. */
TEST_F_TIMEOUT(dmirror, prot_none, 60)
{
	struct oracle *o = &self->o;
	int fd = o->fd;
	char *p = anon_map(N), *q;
	char *buf = malloc(N * PAGE);

	ASSERT_TRUE(fd >= 0 && p && buf);
	populate(_metadata, o, p, N, 54, 55);
	ASSERT_EQ(0, mprotect(p + 4 * PAGE, 8 * PAGE, PROT_NONE));
	ASSERT_COHERENT(o, p, N);
	snap_all(_metadata, o, p + 4 * PAGE, 8, HMM_DMIRROR_PROT_ERROR, "PROT_NONE");
	ASSERT_DRV_ERR(dm(fd, HMM_DMIRROR_READ, p + 4 * PAGE, buf, 8, NULL),
		       EFAULT, EFAULT, "device READ of PROT_NONE");
	fill_pattern(buf, N, 56);
	ASSERT_DRV_ERR(dm(fd, HMM_DMIRROR_WRITE, p + 4 * PAGE, buf, 8, NULL),
		       EFAULT, EFAULT, "device WRITE of PROT_NONE");
	ASSERT_DRV_ERR(dm(fd, HMM_DMIRROR_READ, p, buf, N, NULL),
		       EFAULT, EFAULT, "device READ across a PROT_NONE hole");
	ASSERT_COHERENT_DATA(o, p, 4);
	ASSERT_COHERENT_DATA(o, p + 12 * PAGE, 4);
	/* back to read-write: the data is there, untouched by the device */
	ASSERT_EQ(0, mprotect(p + 4 * PAGE, 8 * PAGE, PROT_READ | PROT_WRITE));
	ASSERT_COHERENT_PATTERN(o, p, N, 55);
	ASSERT_WRITE_SEEN(o, p, N, 57);
	/* a range mapped PROT_NONE from the start */
	q = mmap(NULL, N * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_TRUE(q != MAP_FAILED);
	snap_all(_metadata, o, q, N, HMM_DMIRROR_PROT_ERROR, "fresh PROT_NONE");
	ASSERT_DRV_ERR(dm(fd, HMM_DMIRROR_READ, q, buf, 1, NULL),
		       EFAULT, EFAULT, "device READ of a fresh PROT_NONE mapping");
}

TEST_HARNESS_MAIN
