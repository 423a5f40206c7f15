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
 * A violation of the SNAPSHOT rules is looked at twice more, 20 ms apart:
 * khugepaged, ksmd or NUMA balancing may change a page between the
 * SNAPSHOT and the look at pagemap.
 *
 * Where the two drivers answer differently by design, the case says what it
 * expects of each and prints the driver loaded (from /sys/module): see
 * fork_inherited_fd. Every errno a case expects is printed with the driver
 * that gave it. EBUSY is a transient answer of both (RETRY_EBUSY()).
 */
#define _GNU_SOURCE
#include <sys/wait.h>

#include "oracle.h"

#define N	16
#define HPAGES	(HPAGE / PAGE)

#define PM_FILE		(1ULL << 61)
#define PM_EXCLUSIVE	(1ULL << 56)
#define KPF_THP		22
#define KPF_ZERO_PAGE	24

enum { DRV_NONE, DRV_HMM_DUMMY, DRV_TEST_HMM };

static int drv;
static const char *drv_name = "no driver";
static long long zero_pfn;	/* 0: not known */

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
	if (c == 'Y') {
		drv = DRV_HMM_DUMMY;
		drv_name = "hmm_dummy";
	} else if (!access("/sys/module/test_hmm", F_OK)) {
		drv = DRV_TEST_HMM;
		drv_name = "test_hmm";
	}
}

/* The pfn of the zero page, from a page that is only read. */
static void find_zero_pfn(void)
{
	char *p = anon_map(1);

	if (!p)
		return;
	(void)*(volatile char *)p;
	zero_pfn = cpu_pfn(p);
	if (zero_pfn < 0)
		zero_pfn = 0;
	munmap(p, PAGE);
}

static const char *errname(int e)
{
	const char *s = strerrorname_np(e);

	return s ? s : "?";
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
#define CHECK_DRV_ERR(expr, err_dummy, err_test_hmm, what) do {		\
	int _want = drv == DRV_TEST_HMM ? (err_test_hmm) : (err_dummy);	\
	errno = 0;							\
	long _r = (long)(expr);						\
	int _e = errno;							\
	diag("%s: %s from %s (%s expected)", (what),			\
	     _r == -1 ? errname(_e) : "success", drv_name,		\
	     errname(_want));						\
	if (_r != -1 || _e != _want) {					\
		diag("%s:%d: %s: want -1/%s, got %ld/%s", __func__,	\
		     __LINE__, #expr, errname(_want), _r,		\
		     _r == -1 ? errname(_e) : "no error");		\
		return TAP_FAIL;					\
	}								\
} while (0)

/* The vmas of this process, from /proc/self/smaps. */
struct vma {
	uintptr_t start, end;
	char perm[8];
	unsigned long anon_huge_kb;
};

#define MAX_VMAS	1024
static struct vma vmas[MAX_VMAS];
static int nvmas;

static int load_vmas(void)
{
	FILE *f = fopen("/proc/self/smaps", "re");
	char line[512];
	unsigned long a, b, kb;
	char perm[8];

	if (!f)
		return -1;
	nvmas = 0;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx %7s", &a, &b, perm) == 3) {
			if (nvmas == MAX_VMAS)
				break;
			vmas[nvmas].start = a;
			vmas[nvmas].end = b;
			memcpy(vmas[nvmas].perm, perm, sizeof(perm));
			vmas[nvmas].anon_huge_kb = 0;
			nvmas++;
		} else if (nvmas &&
			   sscanf(line, "AnonHugePages: %lu kB", &kb) == 1) {
			vmas[nvmas - 1].anon_huge_kb = kb;
		}
	}
	fclose(f);
	return 0;
}

static const struct vma *vma_of(uintptr_t addr)
{
	int i;

	for (i = 0; i < nvmas; i++)
		if (addr >= vmas[i].start && addr < vmas[i].end)
			return &vmas[i];
	return NULL;
}

/* /proc/kpageflags of pfn, or ~0 if it cannot be read. */
static uint64_t kpageflags(uint64_t pfn)
{
	uint64_t f;
	int fd = open("/proc/kpageflags", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return ~0ULL;
	if (pread(fd, &f, sizeof(f), (off_t)(pfn * 8)) != sizeof(f))
		f = ~0ULL;
	close(fd);
	return f;
}

/* May the CPU map the page of pfn at addr, in vma v, with a PMD? */
static int cpu_maps_huge(const struct vma *v, uintptr_t addr, uint64_t pfn)
{
	uintptr_t base = addr & ~(HPAGE - 1);
	uint64_t f = kpageflags(pfn);

	if (base < v->start || base + HPAGE > v->end)
		return 0;
	if (f != ~0ULL && !(f & (1ULL << KPF_THP)))
		return 0;
	/* the huge zero page is in no vma's AnonHugePages */
	if (f != ~0ULL && (f & (1ULL << KPF_ZERO_PAGE)))
		return 1;
	return v->anon_huge_kb * 1024 >= HPAGE;
}

#define SNAP_VALID	(HMM_DMIRROR_PROT_READ | HMM_DMIRROR_PROT_WRITE)
#define SNAP_KNOWN	(SNAP_VALID | HMM_DMIRROR_PROT_PMD | HMM_DMIRROR_PROT_ZERO)

/*
 * One look: the violations of SNAPSHOT's rules over [p, +n) (each
 * diagnosed, the first 8), or -1 if SNAPSHOT or the CPU's view failed.
 * The bytes go to s.
 */
static long snapshot_look(int fd, char *p, size_t n, uint8_t *s)
{
	uint64_t *pm = malloc(n * sizeof(*pm));
	uint64_t cp = 0;
	long bad = 0;
	size_t i;

#define BAD(...) do { if (bad++ < 8) diag(__VA_ARGS__); } while (0)
	if (!pm)
		return -1;
	if (dm(fd, HMM_DMIRROR_SNAPSHOT, p, s, n, &cp)) {
		diag("SNAPSHOT of %p: %s", p, errname(errno));
		free(pm);
		return -1;
	}
	if (cp != n)
		BAD("SNAPSHOT of %p: cpages %llu, not %zu", p,
		    (unsigned long long)cp, n);
	if (pagemap_read(p, n, pm) || load_vmas()) {
		diag("pagemap or smaps: %s", strerror(errno));
		free(pm);
		return -1;
	}
	for (i = 0; i < n; i++) {
		uintptr_t a = (uintptr_t)p + i * PAGE;
		const struct vma *v = vma_of(a);
		uint64_t pfn = pm[i] & PM_PFN_MASK;
		int present = !!(pm[i] & PM_PRESENT);
		uint8_t b = s[i];

		if (!v || v->perm[0] != 'r') {
			if (b != HMM_DMIRROR_PROT_ERROR)
				BAD("0x%lx: SNAPSHOT 0x%02x where the CPU has %s (ERROR wanted)",
				    (unsigned long)a, b,
				    v ? "a vma without read" : "no vma");
			continue;
		}
		if (b == HMM_DMIRROR_PROT_ERROR) {
			BAD("0x%lx: SNAPSHOT ERROR in a readable vma (%s)",
			    (unsigned long)a, v->perm);
			continue;
		}
		if (b & ~SNAP_KNOWN)
			BAD("0x%lx: SNAPSHOT 0x%02x: bits this case cannot give",
			    (unsigned long)a, b);
		if (!(b & SNAP_VALID)) {
			if (b)
				BAD("0x%lx: SNAPSHOT 0x%02x: flags on no page",
				    (unsigned long)a, b);
			continue;
		}
		if ((b & SNAP_VALID) == SNAP_VALID)
			BAD("0x%lx: SNAPSHOT 0x%02x: both READ and WRITE",
			    (unsigned long)a, b);
		if (!present) {
			BAD("0x%lx: SNAPSHOT 0x%02x, the CPU maps no page (pagemap 0x%llx)",
			    (unsigned long)a, b, (unsigned long long)pm[i]);
			continue;
		}
		if (b & HMM_DMIRROR_PROT_WRITE) {
			if (v->perm[1] != 'w')
				BAD("0x%lx: SNAPSHOT WRITE in a vma %s",
				    (unsigned long)a, v->perm);
			if (zero_pfn && (long long)pfn == zero_pfn)
				BAD("0x%lx: SNAPSHOT WRITE on the zero page",
				    (unsigned long)a);
			if (!(pm[i] & PM_FILE) && !(pm[i] & PM_EXCLUSIVE))
				BAD("0x%lx: SNAPSHOT WRITE on a shared anonymous page (pagemap 0x%llx)",
				    (unsigned long)a, (unsigned long long)pm[i]);
		}
		if ((b & HMM_DMIRROR_PROT_ZERO) &&
		    (b & HMM_DMIRROR_PROT_WRITE))
			BAD("0x%lx: SNAPSHOT ZERO and WRITE", (unsigned long)a);
		if ((b & HMM_DMIRROR_PROT_ZERO) && zero_pfn &&
		    (long long)pfn != zero_pfn)
			BAD("0x%lx: SNAPSHOT ZERO, CPU pfn 0x%llx is not the zero page",
			    (unsigned long)a, (unsigned long long)pfn);
		if ((b & HMM_DMIRROR_PROT_PMD) && !cpu_maps_huge(v, a, pfn))
			BAD("0x%lx: SNAPSHOT PMD, the CPU maps 4 KiB (AnonHugePages %lu kB)",
			    (unsigned long)a, v->anon_huge_kb);
	}
#undef BAD
	free(pm);
	return bad;
}

/* snapshot_look(), again twice 20 ms apart while it finds violations. */
static long snapshot_ok(int fd, void *p, size_t n, uint8_t *out)
{
	uint8_t *s = out ? out : malloc(n);
	long bad = -1;
	int tries;

	if (!s)
		return -1;
	for (tries = 0; tries < 3; tries++) {
		if (tries) {
			diag("snapshot: %ld violation(s) at %p, looking again",
			     bad, p);
			msleep(20);
		}
		bad = snapshot_look(fd, p, n, s);
		if (bad <= 0)
			break;
	}
	if (!out)
		free(s);
	return bad;
}

/*
 * Device READ of [p, +n) against the CPU's read of the same pages after
 * it: the number of pages that differ, or -1 if the READ failed.
 */
static long read_agrees(int fd, void *p, size_t n)
{
	char *buf = malloc(n * PAGE);
	uint64_t cp = 0;
	long bad;

	if (!buf)
		return -1;
	memset(buf, 0xa5, n * PAGE);
	if (dm(fd, HMM_DMIRROR_READ, p, buf, n, &cp)) {
		diag("device READ of %p: %s", p, errname(errno));
		free(buf);
		return -1;
	}
	if (cp != n)
		diag("device READ of %p: cpages %llu, not %zu", p,
		     (unsigned long long)cp, n);
	bad = oracle_pages_differ(buf, p, n, "reads", "") + (cp != n);
	free(buf);
	return bad;
}

/*
 * Device WRITE of seed's pattern over [p, +n); the CPU must then read just
 * that: 0, the number of pages it reads otherwise, or -1 if the WRITE failed.
 */
static long write_seen(int fd, void *p, size_t n, uint32_t seed)
{
	char *buf = malloc(n * PAGE);
	uint64_t cp = 0;
	long bad;

	if (!buf)
		return -1;
	fill_pattern(buf, n, seed);
	if (dm(fd, HMM_DMIRROR_WRITE, p, buf, n, &cp)) {
		diag("device WRITE of %p: %s", p, errname(errno));
		free(buf);
		return -1;
	}
	if (cp != n)
		diag("device WRITE of %p: cpages %llu, not %zu", p,
		     (unsigned long long)cp, n);
	bad = oracle_pages_differ(buf, p, n, "wrote", " reads") + (cp != n);
	free(buf);
	return bad;
}

/* SNAPSHOT gives no more than the CPU over the range. */
#define SNAP_OK(fd, p, n) do {						\
	long _b = snapshot_ok((fd), (p), (n), NULL);			\
	if (_b) {							\
		diag("%s:%d: SNAPSHOT over %s gives more than the CPU (%ld)", \
		     __func__, __LINE__, #p, _b);			\
		return TAP_FAIL;					\
	}								\
} while (0)

/* ... and the device reads what the CPU reads there. */
#define COHERENT(fd, p, n) do {						\
	SNAP_OK(fd, p, n);						\
	long _d = read_agrees((fd), (p), (n));				\
	if (_d) {							\
		diag("%s:%d: device and CPU disagree over %s (%ld)",	\
		     __func__, __LINE__, #p, _d);			\
		return TAP_FAIL;					\
	}								\
	SNAP_OK(fd, p, n);						\
} while (0)

/* A device WRITE of seed's pattern is what the CPU then reads. */
#define WRITE_SEEN(fd, p, n, seed) do {					\
	long _w = write_seen((fd), (p), (n), (seed));			\
	if (_w) {							\
		diag("%s:%d: device WRITE over %s not seen by the CPU (%ld)", \
		     __func__, __LINE__, #p, _w);			\
		return TAP_FAIL;					\
	}								\
	SNAP_OK(fd, p, n);						\
} while (0)

/* Every SNAPSHOT byte of the range is want. */
static int snap_all(int fd, void *p, size_t n, uint8_t want, const char *what)
{
	uint8_t *s = malloc(n);
	size_t i;
	long bad;

	CHECK(s);
	bad = snapshot_ok(fd, p, n, s);
	if (bad) {
		diag("%s: SNAPSHOT gives more than the CPU (%ld)", what, bad);
		return TAP_FAIL;
	}
	for (i = 0; i < n; i++)
		if (s[i] != want) {
			diag("%s: page %zu: SNAPSHOT 0x%02x, want 0x%02x (%s)",
			     what, i, s[i], want, drv_name);
			return TAP_FAIL;
		}
	free(s);
	return TAP_PASS;
}

#define SNAP_ALL(fd, p, n, want, what) do {				\
	if (snap_all((fd), (p), (n), (want), (what)))			\
		return TAP_FAIL;					\
} while (0)

/* How many pages of the range SNAPSHOT gives this flag. */
static long snap_count(int fd, void *p, size_t n, uint8_t flag)
{
	uint8_t *s = malloc(n);
	long c = 0;
	size_t i;

	if (!s || snapshot_ok(fd, p, n, s)) {
		free(s);
		return -1;
	}
	for (i = 0; i < n; i++)
		c += (s[i] != HMM_DMIRROR_PROT_ERROR) && (s[i] & flag);
	free(s);
	return c;
}

static int open_dev(void)
{
	int fd = dmirror_open(0);

	if (fd < 0)
		diag("/dev/hmm_dmirror0: %s (driver: %s)", strerror(errno),
		     drv_name);
	return fd;
}

/* Fill n pages with seed (CPU), then device READ and WRITE them (seed2). */
static int populate(int fd, char *p, size_t n, uint32_t seed, uint32_t seed2)
{
	fill_pattern(p, n, seed);
	COHERENT(fd, p, n);
	WRITE_SEEN(fd, p, n, seed2);
	COHERENT(fd, p, n);
	return TAP_PASS;
}

#define POPULATE(fd, p, n, s1, s2) do {					\
	if (populate((fd), (p), (n), (s1), (s2)))			\
		return TAP_FAIL;					\
} while (0)

/*
 * fork's two sides take turns over two pipes: the parent gives "go", the
 * child answers "done". Each side closes the ends it does not use, so a
 * side that ended early is an end of file, not a hang.
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

/* fork: the pid in the parent, 0 in the child, -1 on error. */
static pid_t split(struct sides *s)
{
	if (pipe(s->go) || pipe(s->done))
		return -1;
	fflush(stdout);
	s->pid = fork();
	if (s->pid == 0) {
		close(s->go[1]);
		close(s->done[0]);
	} else if (s->pid > 0) {
		close(s->go[0]);
		close(s->done[1]);
	}
	return s->pid;
}

static int reap(pid_t pid)
{
	int st;

	CHECK_EQ(waitpid(pid, &st, 0), pid);
	if (!WIFEXITED(st) || WEXITSTATUS(st)) {
		diag("child: %s %d", WIFEXITED(st) ? "exit status" : "signal",
		     WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
		return TAP_FAIL;
	}
	return TAP_PASS;
}

#define CHILD_WAIT(s)	CHECK_OK(take((s).go[0]))
#define CHILD_DONE(s)	CHECK_OK(give((s).done[1]))
#define PARENT_GO(s)	CHECK_OK(give((s).go[1]))
#define PARENT_WAIT(s) do {						\
	if (take((s).done[0])) {					\
		diag("%s:%d: the child ended early", __func__, __LINE__); \
		reap((s).pid);						\
		return TAP_FAIL;					\
	}								\
} while (0)

/* Fresh anonymous memory: nothing mapped, zero pages read, then data. */
static int t_anon_read_write(void)
{
	int fd = open_dev();
	char *p = anon_map(N), *q = anon_map(N);
	long z;

	CHECK(fd >= 0 && p && q);
	diag("driver: %s; zero page pfn 0x%llx", drv_name, zero_pfn);
	SNAP_ALL(fd, p, N, HMM_DMIRROR_PROT_NONE, "untouched");
	/* a device READ maps the zero page, as a CPU read does */
	COHERENT(fd, p, N);
	CHECK(is_zero(p, N * PAGE));
	z = snap_count(fd, p, N, HMM_DMIRROR_PROT_ZERO);
	diag("after a device READ, %ld of %d pages are the zero page (%s)",
	     z, N, drv_name);
	CHECK(z >= 0);
	/* test_hmm's bytes, which hmm_dummy gives too: READ | ZERO */
	if (zero_pfn)
		SNAP_ALL(fd, p, N, HMM_DMIRROR_PROT_READ | HMM_DMIRROR_PROT_ZERO,
			 "zero pages");
	/* a CPU write replaces the zero page: the device follows */
	fill_pattern(p, N, 1);
	COHERENT(fd, p, N);
	WRITE_SEEN(fd, p, N, 2);
	CHECK_EQ(snap_count(fd, p, N, HMM_DMIRROR_PROT_ZERO), 0);
	/* a device WRITE first, to memory the CPU never touched */
	WRITE_SEEN(fd, q, N, 3);
	SNAP_ALL(fd, q, N, HMM_DMIRROR_PROT_WRITE, "written by the device");
	COHERENT(fd, q, N);
	fill_pattern(q + 4 * PAGE, 4, 4);
	COHERENT(fd, q, N);
	CHECK_EQ(check_pattern(q + 4 * PAGE, 4, 4), -1);
	return TAP_PASS;
}

/* Read-only refuses a device WRITE and keeps the data; writable again works. */
static int t_mprotect_ro_and_back(void)
{
	int fd = open_dev();
	char *p = anon_map(N);
	char *buf = malloc(N * PAGE), *ref = malloc(N * PAGE);

	CHECK(fd >= 0 && p && buf && ref);
	fill_pattern(ref, N, 6);
	POPULATE(fd, p, N, 5, 6);
	CHECK_OK(mprotect(p, N * PAGE, PROT_READ));
	CHECK_EQ(snap_count(fd, p, N, HMM_DMIRROR_PROT_WRITE), 0);
	COHERENT(fd, p, N);
	fill_pattern(buf, N, 7);
	CHECK_DRV_ERR(dm(fd, HMM_DMIRROR_WRITE, p, buf, N, NULL),
		      EPERM, EPERM, "device WRITE of a read-only mapping");
	CHECK_DRV_ERR(dm(fd, HMM_DMIRROR_WRITE, p + 3 * PAGE, buf, 1, NULL),
		      EPERM, EPERM, "device WRITE of one read-only page");
	CHECK_EQ(check_pattern(p, N, 6), -1);
	COHERENT(fd, p, N);
	/* a part writable again: only there may the device write */
	CHECK_OK(mprotect(p, 4 * PAGE, PROT_READ | PROT_WRITE));
	SNAP_OK(fd, p, N);
	WRITE_SEEN(fd, p, 4, 8);
	CHECK_DRV_ERR(dm(fd, HMM_DMIRROR_WRITE, p + 4 * PAGE, buf, 1, NULL),
		      EPERM, EPERM, "device WRITE past the writable part");
	CHECK(!memcmp(p + 4 * PAGE, ref + 4 * PAGE, (N - 4) * PAGE));
	CHECK_OK(mprotect(p, N * PAGE, PROT_READ | PROT_WRITE));
	COHERENT(fd, p, N);
	WRITE_SEEN(fd, p, N, 9);
	CHECK_EQ(check_pattern(p, N, 9), -1);
	return TAP_PASS;
}

/* munmap, then a new mapping at the same address: never the old pages. */
static int t_munmap_mmap_same_addr(void)
{
	int fd = open_dev();
	char *p = anon_map(N), *q;
	char buf[PAGE];

	CHECK(fd >= 0 && p);
	POPULATE(fd, p, N, 10, 11);
	CHECK_OK(munmap(p, N * PAGE));
	SNAP_ALL(fd, p, N, HMM_DMIRROR_PROT_ERROR, "unmapped");
	CHECK_DRV_ERR(dm(fd, HMM_DMIRROR_READ, p, buf, 1, NULL),
		      EFAULT, EFAULT, "device READ of an unmapped page");
	CHECK_DRV_ERR(dm(fd, HMM_DMIRROR_WRITE, p + PAGE, buf, 1, NULL),
		      EFAULT, EFAULT, "device WRITE of an unmapped page");
	q = mmap(p, N * PAGE, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	CHECK(q == p);
	/* the new mapping's zero pages first, then new data */
	COHERENT(fd, p, N);
	CHECK(is_zero(p, N * PAGE));
	fill_pattern(p, N, 12);
	COHERENT(fd, p, N);
	CHECK_EQ(check_pattern(p, N, 12), -1);
	WRITE_SEEN(fd, p, N, 13);
	/* and once more with the device's entries writable when unmapped */
	CHECK_OK(munmap(p, N * PAGE));
	q = mmap(p, N * PAGE, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	CHECK(q == p);
	fill_pattern(p, N, 14);
	COHERENT(fd, p, N);
	CHECK_EQ(check_pattern(p, N, 14), -1);
	return TAP_PASS;
}

/* MADV_DONTNEED: the dropped pages read as zeros, by the device too. */
static int t_madv_dontneed(void)
{
	int fd = open_dev();
	char *p = anon_map(N);

	CHECK(fd >= 0 && p);
	POPULATE(fd, p, N, 15, 16);
	CHECK_OK(madvise(p + 4 * PAGE, 8 * PAGE, MADV_DONTNEED));
	SNAP_ALL(fd, p + 4 * PAGE, 8, HMM_DMIRROR_PROT_NONE, "dropped");
	COHERENT(fd, p, N);
	CHECK(is_zero(p + 4 * PAGE, 8 * PAGE));
	CHECK_EQ(check_pattern(p, 4, 16), -1);
	WRITE_SEEN(fd, p, N, 17);
	/* the whole range, its entries writable */
	CHECK_OK(madvise(p, N * PAGE, MADV_DONTNEED));
	COHERENT(fd, p, N);
	CHECK(is_zero(p, N * PAGE));
	return TAP_PASS;
}

/* mremap moving the range: the old address is gone, the new has the data. */
static int t_mremap_move(void)
{
	int fd = open_dev();
	char *p = anon_map(N), *dst = anon_map(N), *q;
	char buf[PAGE];

	CHECK(fd >= 0 && p && dst);
	POPULATE(fd, p, N, 18, 19);
	COHERENT(fd, dst, N);	/* zero pages there first */
	q = mremap(p, N * PAGE, N * PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, dst);
	CHECK(q == dst);
	SNAP_ALL(fd, p, N, HMM_DMIRROR_PROT_ERROR, "moved away");
	CHECK_DRV_ERR(dm(fd, HMM_DMIRROR_READ, p, buf, 1, NULL),
		      EFAULT, EFAULT, "device READ of the old address");
	COHERENT(fd, dst, N);
	CHECK_EQ(check_pattern(dst, N, 19), -1);
	WRITE_SEEN(fd, dst, N, 20);
	/* back again, its entries writable */
	q = mremap(dst, N * PAGE, N * PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, p);
	CHECK(q == p);
	SNAP_ALL(fd, dst, N, HMM_DMIRROR_PROT_ERROR, "moved back");
	COHERENT(fd, p, N);
	CHECK_EQ(check_pattern(p, N, 20), -1);
	return TAP_PASS;
}

/* fork; the parent's device writes: the child keeps the old data. */
static int t_fork_cow_parent_write(void)
{
	int fd = open_dev();
	char *p = anon_map(N);
	struct sides s;

	CHECK(fd >= 0 && p);
	POPULATE(fd, p, N, 21, 22);
	CHECK(split(&s) >= 0);
	if (s.pid == 0) {
		int cfd = open_dev();

		CHECK(cfd >= 0);
		CHILD_WAIT(s);
		/* the parent's device wrote 23: not here */
		COHERENT(cfd, p, N);
		CHECK_EQ(check_pattern(p, N, 22), -1);
		/* and the child's own device write stays here */
		WRITE_SEEN(cfd, p, N, 24);
		CHILD_DONE(s);
		_exit(TAP_PASS);
	}
	/* both sides share the pages read-only now */
	CHECK_EQ(snap_count(fd, p, N, HMM_DMIRROR_PROT_WRITE), 0);
	COHERENT(fd, p, N);
	WRITE_SEEN(fd, p, N, 23);
	PARENT_GO(s);
	PARENT_WAIT(s);
	COHERENT(fd, p, N);
	CHECK_EQ(check_pattern(p, N, 23), -1);
	return reap(s.pid);
}

/*
 * fork; the parent's CPU writes first (its side of copy-on-write broken:
 * the old pages are the child's alone), then the child's device writes
 * them: the parent's device must not see it, nor the child the parent's.
 */
static int t_fork_cow_child_write(void)
{
	int fd = open_dev();
	char *p = anon_map(N);
	struct sides s;

	CHECK(fd >= 0 && p);
	POPULATE(fd, p, N, 25, 26);
	CHECK(split(&s) >= 0);
	if (s.pid == 0) {
		int cfd = open_dev();

		CHECK(cfd >= 0);
		CHILD_WAIT(s);
		COHERENT(cfd, p, N);
		CHECK_EQ(check_pattern(p, N, 26), -1);
		WRITE_SEEN(cfd, p, N, 27);
		CHILD_DONE(s);
		CHILD_WAIT(s);
		/* the parent's device wrote 29 meanwhile: not here */
		COHERENT(cfd, p, N);
		CHECK_EQ(check_pattern(p, N, 27), -1);
		_exit(TAP_PASS);
	}
	fill_pattern(p, N, 28);
	COHERENT(fd, p, N);
	PARENT_GO(s);
	PARENT_WAIT(s);
	/* the parent's device reads its own data, not the child's 27 */
	COHERENT(fd, p, N);
	CHECK_EQ(check_pattern(p, N, 28), -1);
	WRITE_SEEN(fd, p, N, 29);
	PARENT_GO(s);
	CHECK_OK(reap(s.pid));
	COHERENT(fd, p, N);
	CHECK_EQ(check_pattern(p, N, 29), -1);
	return TAP_PASS;
}

/*
 * A dmirror file used from a forked child: the drivers differ by design.
 * hmm_dummy refuses every access from an address space other than the
 * opener's (EPERM). test_hmm binds the file to its opener's mm and copies
 * to and from the caller's buffer: the child's device READ gives the
 * parent's data, and its WRITE lands in the parent's pages, not the child's.
 */
static int t_fork_inherited_fd(void)
{
	int fd = open_dev();
	char *p = anon_map(N), *buf = malloc(N * PAGE);
	uint8_t snap[N];
	struct sides s;

	CHECK(fd >= 0 && p && buf);
	POPULATE(fd, p, N, 30, 31);
	CHECK(split(&s) >= 0);
	if (s.pid == 0) {
		fill_pattern(p, N, 32);	/* the child's own copy */
		if (drv == DRV_TEST_HMM) {
			diag("test_hmm: the inherited file reaches the parent's address space");
			CHECK_OK(dm(fd, HMM_DMIRROR_READ, p, buf, N, NULL));
			CHECK_EQ(check_pattern(buf, N, 31), -1);
			CHECK_OK(dm(fd, HMM_DMIRROR_SNAPSHOT, p, snap, N, NULL));
			fill_pattern(buf, N, 33);
			CHECK_OK(dm(fd, HMM_DMIRROR_WRITE, p, buf, N, NULL));
			CHECK_EQ(check_pattern(p, N, 32), -1);
		} else {
			CHECK_DRV_ERR(dm(fd, HMM_DMIRROR_READ, p, buf, N, NULL),
				      EPERM, 0, "device READ from another address space");
			CHECK_DRV_ERR(dm(fd, HMM_DMIRROR_WRITE, p, buf, N, NULL),
				      EPERM, 0, "device WRITE from another address space");
			CHECK_DRV_ERR(dm(fd, HMM_DMIRROR_SNAPSHOT, p, snap, N, NULL),
				      EPERM, 0, "SNAPSHOT from another address space");
		}
		/* a file of its own mirrors the child */
		CHECK((fd = open_dev()) >= 0);
		COHERENT(fd, p, N);
		CHECK_EQ(check_pattern(p, N, 32), -1);
		CHILD_DONE(s);
		CHILD_WAIT(s);
		_exit(TAP_PASS);
	}
	PARENT_WAIT(s);
	COHERENT(fd, p, N);
	if (drv == DRV_TEST_HMM) {
		diag("test_hmm: the child's device WRITE is in the parent's pages");
		CHECK_EQ(check_pattern(p, N, 33), -1);
	} else {
		diag("%s: the child's device accesses were refused", drv_name);
		CHECK_EQ(check_pattern(p, N, 31), -1);
	}
	PARENT_GO(s);
	return reap(s.pid);
}

/* One 2 MiB aligned range, THP if the kernel gives one; NULL with a reason. */
static char *thp_map(void)
{
	const struct vma *v;
	char *p;

	if (access("/sys/kernel/mm/transparent_hugepage/enabled", R_OK)) {
		tap_skip_reason("no THP in this kernel (/sys/kernel/mm/transparent_hugepage: %s)",
				strerror(errno));
		return NULL;
	}
	p = thp_map_advised();
	if (!p)
		return NULL;
	v = load_vmas() ? NULL : vma_of((uintptr_t)p);
	if (!v || v->anon_huge_kb * 1024 < HPAGE) {
		tap_skip_reason("no THP in this guest (AnonHugePages 0 after a fault of a 2 MiB aligned MADV_HUGEPAGE range)");
		return NULL;
	}
	return p;
}

/* THP-backed range, then split by mprotect of one page. */
static int t_thp_split_mprotect(void)
{
	int fd = open_dev();
	char *p, *buf = malloc(HPAGE);
	char *ro;
	long pmd;

	CHECK(fd >= 0 && buf);
	p = thp_map();
	if (!p)
		return TAP_SKIP;
	POPULATE(fd, p, HPAGES, 34, 35);
	pmd = snap_count(fd, p, HPAGES, HMM_DMIRROR_PROT_PMD);
	diag("THP: SNAPSHOT gives PMD to %ld of %lu pages (%s)", pmd, HPAGES,
	     drv_name);
	CHECK(pmd >= 0);
	/* one read-only page splits the PMD: no PMD, no WRITE there */
	ro = p + 100 * PAGE;
	CHECK_OK(mprotect(ro, PAGE, PROT_READ));
	CHECK_EQ(snap_count(fd, p, HPAGES, HMM_DMIRROR_PROT_PMD), 0);
	CHECK_EQ(snap_count(fd, ro, 1, HMM_DMIRROR_PROT_WRITE), 0);
	COHERENT(fd, p, HPAGES);
	CHECK_EQ(check_pattern(p, HPAGES, 35), -1);
	fill_pattern(buf, 1, 36);
	CHECK_DRV_ERR(dm(fd, HMM_DMIRROR_WRITE, ro, buf, 1, NULL),
		      EPERM, EPERM, "device WRITE of the read-only page of a split THP");
	/* a WRITE over the whole range stops at it, never writes it */
	fill_pattern(buf, HPAGES, 37);
	CHECK_DRV_ERR(dm(fd, HMM_DMIRROR_WRITE, p, buf, HPAGES, NULL),
		      EPERM, EPERM, "device WRITE over the split THP");
	fill_pattern(buf, HPAGES, 35);
	CHECK(!memcmp(ro, buf + 100 * PAGE, PAGE));
	COHERENT(fd, p, HPAGES);
	WRITE_SEEN(fd, p, 100, 38);
	WRITE_SEEN(fd, ro + PAGE, HPAGES - 101, 39);
	CHECK(!memcmp(ro, buf + 100 * PAGE, PAGE));
	CHECK_OK(mprotect(ro, PAGE, PROT_READ | PROT_WRITE));
	COHERENT(fd, p, HPAGES);
	WRITE_SEEN(fd, p, HPAGES, 40);
	return TAP_PASS;
}

/* A memfd mapped shared: device writes reach the file, file writes the device. */
static int t_memfd_shared_pread(void)
{
	int fd = open_dev(), mfd;
	char *p, *buf = malloc(N * PAGE);

	CHECK(fd >= 0 && buf);
	mfd = memfd_create("coherence_dmirror", MFD_CLOEXEC);
	CHECK(mfd >= 0);
	CHECK_OK(ftruncate(mfd, N * PAGE));
	fill_pattern(buf, N, 41);
	CHECK_EQ(pwrite(mfd, buf, N * PAGE, 0), N * PAGE);
	p = mmap(NULL, N * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	CHECK(p != MAP_FAILED);
	COHERENT(fd, p, N);
	CHECK_EQ(check_pattern(p, N, 41), -1);
	/* the device writes the file's pages: pread() reads it */
	WRITE_SEEN(fd, p, N, 42);
	CHECK_EQ(pread(mfd, buf, N * PAGE, 0), N * PAGE);
	CHECK_EQ(check_pattern(buf, N, 42), -1);
	/* write() through the fd: the device reads the new data */
	fill_pattern(buf, 4, 43);
	CHECK_EQ(pwrite(mfd, buf, 4 * PAGE, 4 * PAGE), 4 * PAGE);
	COHERENT(fd, p, N);
	CHECK_EQ(check_pattern(p + 4 * PAGE, 4, 43), -1);
	/* truncated: the pages past the end are no one's, the device's neither */
	CHECK_OK(ftruncate(mfd, N / 2 * PAGE));
	SNAP_ALL(fd, p + N / 2 * PAGE, N / 2, HMM_DMIRROR_PROT_NONE,
		 "past the end of the file");
	CHECK_DRV_ERR(dm(fd, HMM_DMIRROR_READ, p + N / 2 * PAGE, buf, 1, NULL),
		      EFAULT, EFAULT, "device READ past the end of the file");
	COHERENT(fd, p, N / 2);
	WRITE_SEEN(fd, p, N / 2, 44);
	CHECK_EQ(pread(mfd, buf, N / 2 * PAGE, 0), N / 2 * PAGE);
	CHECK_EQ(check_pattern(buf, N / 2, 44), -1);
	return TAP_PASS;
}

/* MAP_SHARED anonymous memory: each side's device writes reach the other. */
static int t_shared_anon_child(void)
{
	int fd = open_dev();
	char *p = mmap(NULL, N * PAGE, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	struct sides s;

	CHECK(fd >= 0 && p != MAP_FAILED);
	POPULATE(fd, p, N, 45, 46);
	CHECK(split(&s) >= 0);
	if (s.pid == 0) {
		int cfd = open_dev();

		CHECK(cfd >= 0);
		COHERENT(cfd, p, N);
		CHECK_EQ(check_pattern(p, N, 46), -1);
		WRITE_SEEN(cfd, p, N, 47);
		CHILD_DONE(s);
		CHILD_WAIT(s);
		COHERENT(cfd, p, N);
		CHECK_EQ(check_pattern(p, N, 48), -1);
		_exit(TAP_PASS);
	}
	PARENT_WAIT(s);
	/* the parent's device entries still point at the shared pages */
	COHERENT(fd, p, N);
	CHECK_EQ(check_pattern(p, N, 47), -1);
	WRITE_SEEN(fd, p, N, 48);
	PARENT_GO(s);
	CHECK_OK(reap(s.pid));
	COHERENT(fd, p, N);
	return TAP_PASS;
}

#define KSM "/sys/kernel/mm/ksm/"
#define KN 4

/* KSM merges two ranges: no device WRITE through the shared page. */
static int t_ksm_merge(void)
{
	uint64_t pa[KN], pb[KN];
	long long old_run, old_scan, old_sleep;
	char num[32], *a, *b, *ref;
	int fd, i, j, merged = 0;

	if (access(KSM "run", W_OK))
		return tap_skip_reason("no KSM (%s): %s", KSM "run",
				       strerror(errno));
	fd = open_dev();
	CHECK(fd >= 0);
	a = anon_map(KN);
	b = anon_map(KN);
	ref = anon_map(KN);
	CHECK(a && b && ref);
	fill_pattern(ref, KN, 49);
	POPULATE(fd, a, KN, 50, 49);
	POPULATE(fd, b, KN, 51, 49);
	if (madvise(a, KN * PAGE, MADV_MERGEABLE) ||
	    madvise(b, KN * PAGE, MADV_MERGEABLE))
		return tap_skip_reason("MADV_MERGEABLE: %s", strerror(errno));
	old_run = read_num(KSM "run");
	old_scan = read_num(KSM "pages_to_scan");
	old_sleep = read_num(KSM "sleep_millisecs");
	CHECK_OK(write_str(KSM "pages_to_scan", "10000"));
	CHECK_OK(write_str(KSM "sleep_millisecs", "10"));
	CHECK_OK(write_str(KSM "run", "1"));
	for (i = 0; i < 600 && !merged; i++) {
		CHECK_OK(pagemap_read(a, KN, pa));
		CHECK_OK(pagemap_read(b, KN, pb));
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
		return tap_skip_reason("KSM merged nothing in 30 s (pages_shared %lld)",
				       read_num(KSM "pages_shared"));
	diag("merged after %d ms, pages_shared %lld", (i - 1) * 50,
	     read_num(KSM "pages_shared"));
	/* the merged pages are read-only to everyone */
	CHECK_EQ(snap_count(fd, a, KN, HMM_DMIRROR_PROT_WRITE), 0);
	CHECK_EQ(snap_count(fd, b, KN, HMM_DMIRROR_PROT_WRITE), 0);
	COHERENT(fd, a, KN);
	COHERENT(fd, b, KN);
	/* a device write to a breaks the sharing; b keeps its data */
	WRITE_SEEN(fd, a, 1, 52);
	CHECK_OK(pagemap_read(a, KN, pa));
	CHECK_OK(pagemap_read(b, KN, pb));
	CHECK((pa[0] & PM_PFN_MASK) != (pb[0] & PM_PFN_MASK));
	CHECK(!memcmp(b, ref, KN * PAGE));
	CHECK(!memcmp(a + PAGE, ref + PAGE, (KN - 1) * PAGE));
	COHERENT(fd, a, KN);
	COHERENT(fd, b, KN);
	/* a CPU write to b: a's device still reads the merged data */
	fill_pattern(b + PAGE, 1, 53);
	COHERENT(fd, a, KN);
	COHERENT(fd, b, KN);
	CHECK(!memcmp(a + PAGE, ref + PAGE, PAGE));
	return TAP_PASS;
}

/* PROT_NONE: SNAPSHOT says ERROR, device READ and WRITE fail, data kept. */
static int t_prot_none(void)
{
	int fd = open_dev();
	char *p = anon_map(N), *q;
	char *buf = malloc(N * PAGE);

	CHECK(fd >= 0 && p && buf);
	POPULATE(fd, p, N, 54, 55);
	CHECK_OK(mprotect(p + 4 * PAGE, 8 * PAGE, PROT_NONE));
	SNAP_OK(fd, p, N);
	SNAP_ALL(fd, p + 4 * PAGE, 8, HMM_DMIRROR_PROT_ERROR, "PROT_NONE");
	CHECK_DRV_ERR(dm(fd, HMM_DMIRROR_READ, p + 4 * PAGE, buf, 8, NULL),
		      EFAULT, EFAULT, "device READ of PROT_NONE");
	fill_pattern(buf, N, 56);
	CHECK_DRV_ERR(dm(fd, HMM_DMIRROR_WRITE, p + 4 * PAGE, buf, 8, NULL),
		      EFAULT, EFAULT, "device WRITE of PROT_NONE");
	CHECK_DRV_ERR(dm(fd, HMM_DMIRROR_READ, p, buf, N, NULL),
		      EFAULT, EFAULT, "device READ across a PROT_NONE hole");
	COHERENT(fd, p, 4);
	COHERENT(fd, p + 12 * PAGE, 4);
	/* back to read-write: the data is there, untouched by the device */
	CHECK_OK(mprotect(p + 4 * PAGE, 8 * PAGE, PROT_READ | PROT_WRITE));
	COHERENT(fd, p, N);
	CHECK_EQ(check_pattern(p, N, 55), -1);
	WRITE_SEEN(fd, p, N, 57);
	/* a range mapped PROT_NONE from the start */
	q = mmap(NULL, N * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(q != MAP_FAILED);
	SNAP_ALL(fd, q, N, HMM_DMIRROR_PROT_ERROR, "fresh PROT_NONE");
	CHECK_DRV_ERR(dm(fd, HMM_DMIRROR_READ, q, buf, 1, NULL),
		      EFAULT, EFAULT, "device READ of a fresh PROT_NONE mapping");
	return TAP_PASS;
}

static const struct tap_case cases[] = {
	{ "anon_read_write", t_anon_read_write, 60 },
	{ "mprotect_readonly_and_back", t_mprotect_ro_and_back, 60 },
	{ "munmap_mmap_same_address", t_munmap_mmap_same_addr, 60 },
	{ "madvise_dontneed", t_madv_dontneed, 60 },
	{ "mremap_move", t_mremap_move, 60 },
	{ "fork_cow_parent_device_write", t_fork_cow_parent_write, 60 },
	{ "fork_cow_child_device_write", t_fork_cow_child_write, 60 },
	{ "fork_inherited_fd", t_fork_inherited_fd, 60 },
	{ "thp_split_mprotect", t_thp_split_mprotect, 120 },
	{ "memfd_shared_pread", t_memfd_shared_pread, 60 },
	{ "shared_anon_with_child", t_shared_anon_child, 60 },
	{ "ksm_merge", t_ksm_merge, 120 },
	{ "prot_none", t_prot_none, 60 },
};

int main(void)
{
	detect_driver();
	find_zero_pfn();
	return TAP_MAIN(cases);
}
