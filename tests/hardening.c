// SPDX-License-Identifier: GPL-2.0
/*
 * hardening - what a local user can and cannot make hmm_dummy do: who may
 * open its nodes, what it may allocate (each allocation bounded, nothing
 * left behind by a failure), and that no call can be kept spinning. Each
 * case names the hole it closes; each failed on the driver before it was
 * closed. Runs as root in the guest and drops to uid 65534 where it says.
 *
 * kselftest_harness.h: one fixture, hardening; run one case with
 * "hardening -t NAME", list them with "hardening -l".
 */
#define _GNU_SOURCE
#include "kselftest_harness.h"
#include "oracle.h"

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#define PARAM_DIR	"/sys/module/hmm_dummy/parameters/"

/* Write a module parameter: 0, or -1 with errno set by the kernel. */
static int param_write(const char *name, const char *val)
{
	char path[128];

	snprintf(path, sizeof(path), PARAM_DIR "%s", name);
	return write_str(path, val);
}

/* Read a module parameter, its newline dropped: 0 or -1. */
static int param_read(const char *name, char *val, size_t len)
{
	char path[128];

	snprintf(path, sizeof(path), PARAM_DIR "%s", name);
	return read_str(path, val, len);
}

/*
 * Nothing every case needs; a case that changes max_entries saves its old
 * value here, and the teardown puts it back whether the case passed or not.
 */
FIXTURE(hardening) {
	char max_entries[32];
};

FIXTURE_SETUP(hardening)
{
	self->max_entries[0] = '\0';
}

FIXTURE_TEARDOWN(hardening)
{
	if (self->max_entries[0]) {
		EXPECT_EQ(0, param_write("max_entries", self->max_entries))
			TH_LOG("cannot restore max_entries=%s: %s",
			       self->max_entries, strerror(errno));
	}
}

/* The nodes are root-only: uid 65534 cannot open any of them. */
TEST_F_TIMEOUT(hardening, unprivileged_open_eacces, 60)
{
	const char *nodes[] = { "/dev/hmm_dummy0", "/dev/hmm_dummy1",
				"/dev/hmm_dmirror0", "/dev/hmm_dmirror1" };
	struct stat st;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(nodes); i++) {
		ASSERT_OK(stat(nodes[i], &st));
		ASSERT_EQ(0600, st.st_mode & 0777) TH_LOG("%s", nodes[i]);
		ASSERT_EQ(0, st.st_uid) TH_LOG("%s", nodes[i]);
	}
	ASSERT_OK(drop_to_nobody());
	for (i = 0; i < ARRAY_SIZE(nodes); i++)
		ASSERT_ERRNO(open(nodes[i], O_RDWR | O_CLOEXEC), EACCES);
}

/* RELEASE evicts every process's device pages: CAP_SYS_ADMIN only. */
TEST_F_TIMEOUT(hardening, release_needs_admin, 60)
{
	char val[16];
	uint8_t *p;
	int fd;

	if (param_read("device_memory", val, sizeof(val)) || val[0] != 'Y')
		SKIP(return, "no device memory in this kernel");
	fd = dmirror_open(0);
	ASSERT_LE(0, fd) TH_LOG("/dev/hmm_dmirror0: %s", strerror(errno));
	p = anon_map(4);
	ASSERT_NE(NULL, p);
	memset(p, 1, 4 * PAGE);
	ASSERT_OK(drop_to_nobody());
	ASSERT_ERRNO(dmirror_cmd(fd, HMM_DMIRROR_RELEASE, p, NULL, 4, NULL),
		     EPERM);
	/* The rest of the file is the caller's own, and still works. */
	ASSERT_OK(RETRY_EBUSY(dmirror_cmd(fd, HMM_DMIRROR_SNAPSHOT, p,
					   (uint8_t[4]){ 0 }, 4, NULL)));
}

/*
 * max_entries caps one file's device page table: the fault that would add
 * one more entry fails with ENOSPC, done saying exactly how far it got;
 * bad values of the parameter are refused.
 */
TEST_F_TIMEOUT(hardening, entry_cap_enospc, 60)
{
	struct oracle o = { .abi = ABI_NATIVE };
	uint64_t done = 99;
	uint8_t *p;
	int fd, fd2;

	ASSERT_OK(param_read("max_entries", self->max_entries,
			     sizeof(self->max_entries)));
	ASSERT_ERRNO(param_write("max_entries", "0"), EINVAL);
	ASSERT_ERRNO(param_write("max_entries", "junk"), EINVAL);
	ASSERT_ERRNO(param_write("max_entries", "268435457"), EINVAL);
	ASSERT_OK(param_write("max_entries", "64"));
	fd = dummy_open(0);
	ASSERT_LE(0, fd) TH_LOG("/dev/hmm_dummy0: %s", strerror(errno));
	p = anon_map(600);
	ASSERT_NE(NULL, p);
	memset(p, 2, 600 * PAGE);
	ASSERT_ERRNO(dummy_fault(fd, p, 600, 0, &done), ENOSPC);
	ASSERT_EQ(64, done);
	ASSERT_EQ(64, dummy_nr_entries(fd, p, 600));
	/* Faulting what is there already adds nothing: no error. */
	ASSERT_OK(dummy_fault(fd, p, 64, 0, &done));
	ASSERT_EQ(64, done);
	ASSERT_ERRNO(dummy_fault(fd, p + 64 * PAGE, 1, 0, &done), ENOSPC);
	ASSERT_EQ(0, done);
	/* The cap is per file: another file has its own. */
	fd2 = dummy_open(0);
	ASSERT_LE(0, fd2) TH_LOG("/dev/hmm_dummy0: %s", strerror(errno));
	ASSERT_OK(dummy_fault(fd2, p + 100 * PAGE, 64, 0, &done));
	/* An unmap frees entries, and room with them. */
	ASSERT_OK(munmap(p, 32 * PAGE));
	ASSERT_OK(dummy_fault(fd, p + 64 * PAGE, 32, 0, &done));
	ASSERT_EQ(32, done);
	o.fd = fd;
	ASSERT_COHERENT(&o, p + 32 * PAGE, 568);
}

/* pt_pages: the device page tables' pages, every open file's; -1 if unread. */
static long pt_pages(void)
{
	char v[32];

	return param_read("pt_pages", v, sizeof(v)) ? -1 : atol(v);
}

/*
 * Shrink every slab cache (SLUB's /sys/kernel/slab/CACHE/shrink): what is
 * left is what is in use. Freed objects can otherwise sit in per-cpu
 * partial slabs, and on a KASAN kernel in its quarantine, which holds up to
 * 1/32 of memory of freed objects until allocations push them out: there
 * every FAULT's freed buffers looked like 17 MB of growth after 2,000.
 * Shrinking a cache empties its share of the quarantine.
 */
static void slab_shrink_all(void)
{
	struct dirent *d;
	char path[300];
	DIR *dir;

	dir = opendir("/sys/kernel/slab");
	if (!dir)
		return;
	while ((d = readdir(dir))) {
		if (d->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/sys/kernel/slab/%s/shrink",
			 d->d_name);
		write_str(path, "1");
	}
	closedir(dir);
}

/*
 * A FAULT that fails leaves nothing behind: 2,000 failed 512-page faults
 * (every page PROT_NONE) must not grow the slab, nor keep a page of the
 * device page table (pt_pages: table pages are whole pages, not slab; each
 * fault sets aside the tables its range could need before it faults). The
 * file stays open, so nothing is freed at close either. Slab, not
 * SUnreclaim, is read, as when the table was an xarray whose nodes are
 * reclaimable slab: each failed fault then left about 5 KiB of
 * reservations (about 10 MB in all). The bound is half of that: freeing is
 * not immediate everywhere, and the debug kernel's KASAN quarantine keeps
 * freed objects in the slab for a while.
 */
#define FAILED_FAULTS_SLAB_KB	5120
TEST_F_TIMEOUT(hardening, failed_faults_leave_no_slab, 180)
{
	const unsigned long n = 2000, chunk = 512;
	long before, after, tables;
	uint64_t done;
	uint8_t *p;
	unsigned long i;
	int fd;

	fd = dummy_open(0);
	ASSERT_LE(0, fd) TH_LOG("/dev/hmm_dummy0: %s", strerror(errno));
	p = mmap(NULL, n * chunk * PAGE, PROT_NONE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ASSERT_NE(MAP_FAILED, p);
	/* Once, so that whatever a first fault sets up is not counted. */
	ASSERT_ERRNO(dummy_fault(fd, p, chunk, 0, &done), EFAULT);
	slab_shrink_all();
	before = meminfo_kb("Slab");
	ASSERT_LT(0, before);
	tables = pt_pages();
	ASSERT_LE(0, tables);
	for (i = 1; i < n; i++) {
		ASSERT_ERRNO(dummy_fault(fd, p + i * chunk * PAGE, chunk, 0,
					 &done), EFAULT);
		ASSERT_EQ(0, done);
	}
	/*
	 * xarray nodes are freed after an RCU grace period, which a kernel
	 * with lazy RCU (7.x) may put off for seconds: a leak stays, the
	 * churn of freed nodes goes. Look again for up to 30 s.
	 */
	for (i = 0; i < 30; i++) {
		slab_shrink_all();
		after = meminfo_kb("Slab");
		ASSERT_LT(0, after);
		if (after - before < FAILED_FAULTS_SLAB_KB)
			break;
		sleep(1);
	}
	hmm_diag("Slab %ld kB before, %ld kB %lu s after %lu failed faults",
		 before, after, i, n);
	ASSERT_LT(after - before, FAILED_FAULTS_SLAB_KB);
	ASSERT_EQ(0, dummy_nr_entries(fd, p, 4096));
	ASSERT_EQ(tables, pt_pages());
}

/*
 * The table's own pages are capped too (max_entries / 32 + 64 per file):
 * one page in every 2 MiB needs a 4 KiB leaf table each, so without that
 * cap a file mapping max_entries such pages would hold max_entries pages
 * of tables. With max_entries 2048, faults of one page every 2 MiB must
 * fail with ENOSPC once the file holds 128 table pages, long before 2048
 * pages are mapped; and closing the file gives every table page back.
 */
#define SPARSE_STEP	(512 * PAGE)
TEST_F_TIMEOUT(hardening, table_pages_capped, 60)
{
	const unsigned long n = 300;
	long base, held, mapped;
	unsigned long i, j;
	uint64_t done;
	uint8_t *p;
	int fd, ret = 0;

	ASSERT_OK(param_read("max_entries", self->max_entries,
			     sizeof(self->max_entries)));
	ASSERT_OK(param_write("max_entries", "2048"));
	base = pt_pages();
	ASSERT_LE(0, base);
	fd = dummy_open(0);
	ASSERT_LE(0, fd) TH_LOG("/dev/hmm_dummy0: %s", strerror(errno));
	p = mmap(NULL, n * SPARSE_STEP, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ASSERT_NE(MAP_FAILED, p);
	/* One 4 KiB page each: no THP, whose one entry needs no leaf. */
	ASSERT_OK(madvise(p, n * SPARSE_STEP, MADV_NOHUGEPAGE));
	for (i = 0; i < n; i++) {
		p[i * SPARSE_STEP] = 1;
		ret = dummy_fault(fd, p + i * SPARSE_STEP, 1, 0, &done);
		if (ret)
			break;
	}
	held = pt_pages() - base;
	hmm_diag("%lu sparse pages mapped, %ld table pages", i, held);
	ASSERT_EQ(-1, ret);
	ASSERT_EQ(ENOSPC, errno);
	ASSERT_EQ(0, done);
	ASSERT_LE(held, 2048 / 32 + 64);
	/* Not the entry cap: far fewer pages than it allows. */
	ASSERT_GT(2048 / 4, i);
	for (mapped = 0, j = 0; j < n; j++)
		mapped += dummy_nr_entries(fd, p + j * SPARSE_STEP, 1);
	ASSERT_EQ(i, mapped);
	ASSERT_OK(close(fd));
	ASSERT_EQ(base, pt_pages());
	ASSERT_OK(munmap(p, n * SPARSE_STEP));
}

/*
 * mmap() of a dmirror file allocates its pages at once: a huge one is
 * refused at once, with memory intact; 512 pages is the most it gives.
 */
TEST_F_TIMEOUT(hardening, dmirror_mmap_bounded, 30)
{
	long avail0, avail1;
	double t0, t;
	void *p;
	int fd;

	fd = dmirror_open(0);
	ASSERT_LE(0, fd) TH_LOG("/dev/hmm_dmirror0: %s", strerror(errno));
	avail0 = meminfo_kb("MemAvailable");
	ASSERT_LT(0, avail0);
	t0 = now_s();
	p = mmap(NULL, 1UL << 40, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	t = now_s() - t0;
	ASSERT_EQ(MAP_FAILED, p);
	ASSERT_EQ(EINVAL, errno);
	avail1 = meminfo_kb("MemAvailable");
	ASSERT_LT(0, avail1);
	hmm_diag("1 TiB mmap refused in %.3f s; MemAvailable %ld -> %ld kB",
		 t, avail0, avail1);
	/* A liveness bound, far above the microseconds it takes. */
	ASSERT_TRUE(t < 5.0) TH_LOG("took %.3f s", t);
	ASSERT_LT(avail0 - avail1, 64 * 1024);
	p = mmap(NULL, 513 * PAGE, PROT_READ, MAP_SHARED, fd, 0);
	ASSERT_TRUE(p == MAP_FAILED && errno == EINVAL);
	p = mmap(NULL, 512 * PAGE, PROT_READ, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_TRUE(is_zero(p, 512 * PAGE));
	ASSERT_OK(munmap(p, 512 * PAGE));
}

struct toggler {
	uint8_t *page;
	volatile bool stop;
	unsigned long toggles;
};

/*
 * Zap one page, elsewhere in the mm, and touch it again, without end.
 * MADV_DONTNEED invalidates with mmap_lock held for reading only, so its
 * invalidations run while a device fault reads the CPU page table
 * (mprotect() or munmap() would wait for that read to end).
 */
static void *toggle(void *arg)
{
	struct toggler *t = arg;

	while (!t->stop) {
		t->page[0] = 1;
		madvise(t->page, PAGE, MADV_DONTNEED);
		t->toggles++;
	}
	return NULL;
}

/*
 * A FAULT under a stream of invalidations elsewhere in a whole-mm mirror
 * returns, done or EBUSY, within its deadline: one second from the first
 * read of each 512-page step, which the commit's retries no longer restart.
 */
TEST_F_TIMEOUT(hardening, fault_busy_deadline, 120)
{
	struct hmm_dummy_counters c;
	struct toggler t = { 0 };
	unsigned int calls = 0, busy = 0;
	double t0, start, dt, worst = 0;
	pthread_t thr;
	uint64_t done;
	uint8_t *p;
	int fd, ret;

	fd = dummy_open(0);
	ASSERT_LE(0, fd) TH_LOG("/dev/hmm_dummy0: %s", strerror(errno));
	p = anon_map(512);
	ASSERT_NE(NULL, p);
	memset(p, 3, 512 * PAGE);
	t.page = anon_map(1);
	ASSERT_NE(NULL, t.page);
	ASSERT_OK(pthread_create(&thr, NULL, toggle, &t));
	while (t.toggles < 10)
		usleep(1000);
	/* Device faults, one after the other, for 4 s of the stream. */
	for (start = now_s(); now_s() - start < 4.0; calls++) {
		t0 = now_s();
		ret = dummy_fault(fd, p, 512, 0, &done);
		dt = now_s() - t0;
		if (dt > worst)
			worst = dt;
		if (ret) {
			ASSERT_EQ(EBUSY, errno);
			busy++;
		}
	}
	t.stop = true;
	pthread_join(thr, NULL);
	ASSERT_OK(dummy_counters(fd, &c));
	hmm_diag("%u faults: %u EBUSY, slowest %.2f s, %llu commit retries, %lu toggles",
		 calls, busy, worst, (unsigned long long)c.retries, t.toggles);
	/* The deadline is 1 s; the rest is slack for a loaded TCG guest. */
	ASSERT_TRUE(worst < 3.0) TH_LOG("slowest %.2f s", worst);
	/* The stream did send commits back: the bound was exercised. */
	ASSERT_LT(0, c.retries);
}

/* The test knob is bounded: more than 100 ms per invalidation is refused. */
TEST_F_TIMEOUT(hardening, delay_knob_bounded, 60)
{
	char val[32];

	ASSERT_ERRNO(param_write("invalidate_delay_us", "100001"), EINVAL);
	ASSERT_ERRNO(param_write("invalidate_delay_us", "4294967295"), EINVAL);
	ASSERT_ERRNO(param_write("invalidate_delay_us", "-1"), EINVAL);
	ASSERT_OK(param_read("invalidate_delay_us", val, sizeof(val)));
	ASSERT_STREQ("0", val);
	ASSERT_OK(param_write("invalidate_delay_us", "100000"));
	ASSERT_OK(param_write("invalidate_delay_us", "0"));
}

TEST_HARNESS_MAIN
