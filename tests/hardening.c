// SPDX-License-Identifier: GPL-2.0
/*
 * hardening - what a local user can and cannot make hmm_dummy do: who may
 * open its nodes, what it may allocate (each allocation bounded, nothing
 * left behind by a failure), and that no call can be kept spinning. Each
 * case names the hole it closes; each failed on the driver before it was
 * closed. Runs as root in the guest and drops to uid 65534 where it says.
 */
#include "tap.h"
#include "dummy_util.h"

#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#define PARAM_DIR	"/sys/module/hmm_dummy/parameters/"

/* Write a module parameter: 0, or -1 with errno set by the kernel. */
static int param_write(const char *name, const char *val)
{
	char path[128];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), PARAM_DIR "%s", name);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = write(fd, val, strlen(val));
	close(fd);
	return n < 0 ? -1 : 0;
}

static int param_read(const char *name, char *val, size_t len)
{
	char path[128];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), PARAM_DIR "%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, val, len - 1);
	close(fd);
	if (n <= 0)
		return -1;
	val[n] = '\0';
	val[strcspn(val, "\n")] = '\0';
	return 0;
}

static int drop_to_nobody(void)
{
	return setgroups(0, NULL) || setgid(65534) || setuid(65534) ? -1 : 0;
}

/* The nodes are root-only: uid 65534 cannot open any of them. */
static int t_unprivileged_open(void)
{
	const char *nodes[] = { "/dev/hmm_dummy0", "/dev/hmm_dummy1",
				"/dev/hmm_dmirror0", "/dev/hmm_dmirror1" };
	struct stat st;
	unsigned int i;

	for (i = 0; i < sizeof(nodes) / sizeof(nodes[0]); i++) {
		CHECK_OK(stat(nodes[i], &st));
		CHECK_EQ(st.st_mode & 0777, 0600);
		CHECK_EQ(st.st_uid, 0);
	}
	CHECK_OK(drop_to_nobody());
	for (i = 0; i < sizeof(nodes) / sizeof(nodes[0]); i++)
		CHECK_ERR(open(nodes[i], O_RDWR | O_CLOEXEC), EACCES);
	return TAP_PASS;
}

/* RELEASE evicts every process's device pages: CAP_SYS_ADMIN only. */
static int t_release_needs_admin(void)
{
	char val[16];
	uint8_t *p;
	int fd;

	if (param_read("device_memory", val, sizeof(val)) || val[0] != 'Y')
		return tap_skip_reason("no device memory in this kernel");
	CHECK((fd = dmirror_open(0)) >= 0);
	CHECK((p = anon_map(4)));
	memset(p, 1, 4 * PAGE);
	CHECK_OK(drop_to_nobody());
	CHECK_ERR(dmirror_cmd(fd, HMM_DMIRROR_RELEASE, p, NULL, 4, NULL),
		  EPERM);
	/* The rest of the file is the caller's own, and still works. */
	CHECK_OK(RETRY_EBUSY(dmirror_cmd(fd, HMM_DMIRROR_SNAPSHOT, p,
					  (uint8_t[4]){ 0 }, 4, NULL)));
	return TAP_PASS;
}

/*
 * max_entries caps one file's device page table: the fault that would add
 * one more entry fails with ENOSPC, done saying exactly how far it got;
 * bad values of the parameter are refused.
 */
static int entry_cap(void)
{
	uint64_t done = 99;
	uint8_t *p;
	int fd, fd2;

	CHECK_ERR(param_write("max_entries", "0"), EINVAL);
	CHECK_ERR(param_write("max_entries", "junk"), EINVAL);
	CHECK_ERR(param_write("max_entries", "268435457"), EINVAL);
	CHECK_OK(param_write("max_entries", "64"));
	CHECK((fd = dummy_open(0)) >= 0);
	CHECK((p = anon_map(600)));
	memset(p, 2, 600 * PAGE);
	CHECK_ERR(dummy_fault(fd, p, 600, 0, &done), ENOSPC);
	CHECK_EQ(done, 64);
	CHECK_EQ(dummy_nr_entries(fd, p, 600), 64);
	/* Faulting what is there already adds nothing: no error. */
	CHECK_OK(dummy_fault(fd, p, 64, 0, &done));
	CHECK_EQ(done, 64);
	CHECK_ERR(dummy_fault(fd, p + 64 * PAGE, 1, 0, &done), ENOSPC);
	CHECK_EQ(done, 0);
	/* The cap is per file: another file has its own. */
	CHECK((fd2 = dummy_open(0)) >= 0);
	CHECK_OK(dummy_fault(fd2, p + 100 * PAGE, 64, 0, &done));
	/* An unmap frees entries, and room with them. */
	CHECK_OK(munmap(p, 32 * PAGE));
	CHECK_OK(dummy_fault(fd, p + 64 * PAGE, 32, 0, &done));
	CHECK_EQ(done, 32);
	CHECK_EQ(check_coherent(fd, p + 32 * PAGE, 568), 0);
	return TAP_PASS;
}

static int t_entry_cap(void)
{
	char old[32];
	int ret;

	CHECK_OK(param_read("max_entries", old, sizeof(old)));
	ret = entry_cap();
	if (param_write("max_entries", old)) {
		diag("cannot restore max_entries=%s: %s", old, strerror(errno));
		return TAP_FAIL;
	}
	return ret;
}

/*
 * A FAULT that fails leaves nothing behind: 2,000 failed 512-page faults
 * (every page PROT_NONE) must not grow the slab. xarray nodes live in the
 * reclaimable radix_tree_node cache, so Slab, not SUnreclaim, is read; the
 * file stays open, so nothing is freed at close either. Each one left about
 * 5 KiB of reservations (about 10 MB in all) before.
 */
static int t_failed_faults_no_slab(void)
{
	const unsigned long n = 2000, chunk = 512;
	long before, after;
	uint64_t done;
	uint8_t *p;
	unsigned long i;
	int fd;

	CHECK((fd = dummy_open(0)) >= 0);
	p = mmap(NULL, n * chunk * PAGE, PROT_NONE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	CHECK(p != MAP_FAILED);
	/* Once, so that whatever a first fault sets up is not counted. */
	CHECK_ERR(dummy_fault(fd, p, chunk, 0, &done), EFAULT);
	CHECK((before = meminfo_kb("Slab")) > 0);
	for (i = 1; i < n; i++) {
		CHECK_ERR(dummy_fault(fd, p + i * chunk * PAGE, chunk, 0, &done),
			  EFAULT);
		CHECK_EQ(done, 0);
	}
	/*
	 * xarray nodes are freed after an RCU grace period, which a kernel
	 * with lazy RCU (7.x) may put off for seconds: a leak stays, the
	 * churn of freed nodes goes. Look again for up to 30 s.
	 */
	for (i = 0; i < 30; i++) {
		CHECK((after = meminfo_kb("Slab")) > 0);
		if (after - before < 2048)
			break;
		sleep(1);
	}
	diag("Slab %ld kB before, %ld kB %lu s after %lu failed faults",
	     before, after, i, n);
	CHECK(after - before < 2048);
	CHECK_EQ(dummy_nr_entries(fd, p, 4096), 0);
	return TAP_PASS;
}

/*
 * mmap() of a dmirror file allocates its pages at once: a huge one is
 * refused at once, with memory intact; 512 pages is the most it gives.
 */
static int t_dmirror_mmap_bound(void)
{
	long avail0, avail1;
	double t0, t;
	void *p;
	int fd;

	CHECK((fd = dmirror_open(0)) >= 0);
	CHECK((avail0 = meminfo_kb("MemAvailable")) > 0);
	t0 = now_s();
	p = mmap(NULL, 1UL << 40, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	t = now_s() - t0;
	CHECK(p == MAP_FAILED);
	CHECK_EQ(errno, EINVAL);
	CHECK((avail1 = meminfo_kb("MemAvailable")) > 0);
	diag("1 TiB mmap refused in %.3f s; MemAvailable %ld -> %ld kB", t,
	     avail0, avail1);
	/* A liveness bound, far above the microseconds it takes. */
	CHECK(t < 5.0);
	CHECK(avail0 - avail1 < 64 * 1024);
	p = mmap(NULL, 513 * PAGE, PROT_READ, MAP_SHARED, fd, 0);
	CHECK(p == MAP_FAILED && errno == EINVAL);
	p = mmap(NULL, 512 * PAGE, PROT_READ, MAP_SHARED, fd, 0);
	CHECK(p != MAP_FAILED);
	CHECK(is_zero(p, 512 * PAGE));
	CHECK_OK(munmap(p, 512 * PAGE));
	return TAP_PASS;
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
static int t_busy_deadline(void)
{
	struct hmm_dummy_counters c;
	struct toggler t = { 0 };
	unsigned int calls = 0, busy = 0;
	double t0, start, dt, worst = 0;
	pthread_t thr;
	uint64_t done;
	uint8_t *p;
	int fd, ret;

	CHECK((fd = dummy_open(0)) >= 0);
	CHECK((p = anon_map(512)));
	memset(p, 3, 512 * PAGE);
	CHECK((t.page = anon_map(1)));
	CHECK_OK(pthread_create(&thr, NULL, toggle, &t));
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
			CHECK_EQ(errno, EBUSY);
			busy++;
		}
	}
	t.stop = true;
	pthread_join(thr, NULL);
	CHECK_OK(dummy_counters(fd, &c));
	diag("%u faults: %u EBUSY, slowest %.2f s, %llu commit retries, %lu toggles",
	     calls, busy, worst, (unsigned long long)c.retries, t.toggles);
	/* The deadline is 1 s; the rest is slack for a loaded TCG guest. */
	CHECK(worst < 3.0);
	/* The stream did send commits back: the bound was exercised. */
	CHECK(c.retries > 0);
	return TAP_PASS;
}

/* The test knob is bounded: more than 100 ms per invalidation is refused. */
static int t_delay_knob_bounded(void)
{
	char val[32];

	CHECK_ERR(param_write("invalidate_delay_us", "100001"), EINVAL);
	CHECK_ERR(param_write("invalidate_delay_us", "4294967295"), EINVAL);
	CHECK_ERR(param_write("invalidate_delay_us", "-1"), EINVAL);
	CHECK_OK(param_read("invalidate_delay_us", val, sizeof(val)));
	CHECK(!strcmp(val, "0"));
	CHECK_OK(param_write("invalidate_delay_us", "100000"));
	CHECK_OK(param_write("invalidate_delay_us", "0"));
	return TAP_PASS;
}

static const struct tap_case cases[] = {
	{ "unprivileged_open_eacces", t_unprivileged_open, 0 },
	{ "release_needs_admin", t_release_needs_admin, 0 },
	{ "entry_cap_enospc", t_entry_cap, 0 },
	{ "failed_faults_leave_no_slab", t_failed_faults_no_slab, 180 },
	{ "dmirror_mmap_bounded", t_dmirror_mmap_bound, 30 },
	{ "fault_busy_deadline", t_busy_deadline, 120 },
	{ "delay_knob_bounded", t_delay_knob_bounded, 0 },
};

int main(void)
{
	return TAP_MAIN(cases);
}
