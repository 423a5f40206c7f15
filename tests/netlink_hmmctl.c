// SPDX-License-Identifier: GPL-2.0
/*
 * netlink_hmmctl - hmmctl and the netlink families, end to end
 *
 * hmmctl's mirrors, stats, monitor and top read hmm_core's family (every
 * driver's mirrors); devices and pt read hmm_dummy's. Each case sets state
 * up through /dev/hmm_dummyN (or examples/hmm_example's /dev/hmm_example),
 * runs hmmctl --json (as the guest's root, or as uid 65534) and checks what
 * it prints against that state: the devices and their open files, a mirror
 * of 100 pages and its counters, its device page table against
 * /proc/self/pagemap, hmm_core's counters, a munmap seen live by `hmmctl
 * monitor`, the exit codes and messages of hmmctl(8), and an invalidation
 * storm with a stopped monitor: kernel memory stays bounded and comes back,
 * and every event is either delivered or counted as dropped. Also: the
 * range of a mirror after SET_RANGE, another driver's mirror in the list,
 * and that uid 65534 does not see root's mirrors.
 *
 * One fixture, hmmctl: its setup finds hmmctl next to this program, its
 * teardown kills and reaps the monitor and the child a case left running
 * (so their files are closed before family_missing unloads the module).
 * What a case has open on the devices is what it checks, so each case opens
 * its own files.
 */
#define _GNU_SOURCE
#include <grp.h>
#include <linux/mempolicy.h>
#include <math.h>
#include <pty.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <termios.h>

#include "kselftest_harness.h"
#include "dummy_util.h"
#include "netlink_util.h"

/*
 * The storm: invalidations of one mirrored page (mprotect toggles). A
 * million take about 30 s in a TCG guest; see storm(). Where they would
 * take more than STORM_SECONDS (a debug kernel: KASAN and lockdep make each
 * one ten times slower), fewer, but never below STORM_MIN.
 */
#define STORM_N		1000000UL
#define STORM_MIN	100000UL
#define STORM_SECONDS	60.0
/* SUnreclaim may move this much (kB) on its own; see storm(). */
#define SLAB_TOLERANCE_KB	2048

/*
 * The mirror of process TGID labelled LABEL (hmm_dummy labels a mirror with
 * its device's name, "hmm_dummy0"): its JSON line, or NULL.
 */
static char *mirror_of(pid_t pid, const char *label)
{
	struct hmmctl_result r;
	const char *pos, *l;
	char *line = NULL;
	char tgid[16];

	snprintf(tgid, sizeof(tgid), "%d", pid);
	if (HMMCTL(&r, "--json", "mirrors") != 0)
		goto out;
	for (pos = r.out; (l = next_line(&pos, "tgid", tgid));) {
		if (json_is(l, "label", label)) {
			line = strndup(l, strcspn(l, "\n"));
			break;
		}
	}
out:
	hmmctl_result_free(&r);
	return line;
}

static char *my_mirror(const char *label)
{
	return mirror_of(getpid(), label);
}

static uint64_t mirror_id_of(pid_t pid, const char *label)
{
	char *l = mirror_of(pid, label);
	uint64_t id = 0;

	if (l)
		json_u64(l, "id", &id);
	free(l);
	return id;
}

static uint64_t my_mirror_id(const char *label)
{
	return mirror_id_of(getpid(), label);
}

/* A mapping of n pages, written, and faulted into the device for writing. */
static char *mirrored(int fd, size_t n)
{
	char *p = anon_map(n);
	uint64_t done;

	if (!p)
		return NULL;
	memset(p, 0x5a, n * PAGE);
	if (dummy_fault(fd, p, n, HMM_DUMMY_FAULT_WRITE, &done) || done != n)
		return NULL;
	return p;
}

FIXTURE(hmmctl) {
	pid_t mon;		/* a running `hmmctl monitor`, or -1 */
	pid_t kid;		/* a child of the case, or -1 */
	int marker;		/* storm's marker file, or -1 */
	struct line_reader lr;	/* the monitor's stdout */
};

FIXTURE_SETUP(hmmctl)
{
	self->mon = self->kid = -1;
	self->marker = -1;
	self->lr.fd = -1;
	self->lr.len = 0;
	ASSERT_EQ(0, access(hmmctl_bin(), X_OK))
		TH_LOG("%s: %s", hmmctl_bin(), strerror(errno));
}

/* Reaped, not only killed: their files are closed when the case ends. */
FIXTURE_TEARDOWN(hmmctl)
{
	if (self->mon > 0) {
		kill(self->mon, SIGKILL);
		waitpid(self->mon, NULL, 0);
	}
	if (self->kid > 0) {
		kill(self->kid, SIGKILL);
		waitpid(self->kid, NULL, 0);
	}
	if (self->lr.fd >= 0)
		close(self->lr.fd);
	if (self->marker >= 0)
		close(self->marker);
}

/* devices: the four nodes, their ABI, and the files open on each. */
TEST_F_TIMEOUT(hmmctl, devices, 60)
{
	static const char *const names[] = {
		"hmm_dummy0", "hmm_dummy1", "hmm_dmirror0", "hmm_dmirror1",
	};
	struct hmmctl_result r;
	const char *pos, *l;
	uint64_t v;
	int fd1, fd2;
	unsigned int i;

	ASSERT_EQ(0, HMMCTL(&r, "devices"));
	ASSERT_NE(NULL, strstr(r.out, "hmm_dmirror1"));
	hmmctl_result_free(&r);

	fd1 = dummy_open(1);
	fd2 = dummy_open(1);
	ASSERT_TRUE(fd1 >= 0 && fd2 >= 0)
		TH_LOG("/dev/hmm_dummy1: %s", strerror(errno));
	ASSERT_EQ(0, HMMCTL(&r, "--json", "devices"));
	ASSERT_EQ('[', r.out[0]);
	for (i = 0; i < 4; i++) {
		pos = r.out;
		l = next_line(&pos, "name", names[i]);
		ASSERT_NE(NULL, l) TH_LOG("no line of %s", names[i]);
		ASSERT_TRUE(json_u64(l, "index", &v));
		ASSERT_EQ(i, v);
		ASSERT_TRUE(json_is(l, "abi", i < 2 ? "native" : "dmirror"))
			TH_LOG("%s", l);
		ASSERT_TRUE(json_u64(l, "mirrors", &v));
		ASSERT_EQ(i == 1 ? 2U : 0U, v) TH_LOG("%s", names[i]);
	}
	hmmctl_result_free(&r);
	close(fd1);
	close(fd2);
	ASSERT_EQ(0, HMMCTL(&r, "--json", "devices"));
	pos = r.out;
	ASSERT_NE(NULL, (l = next_line(&pos, "name", "hmm_dummy1")));
	ASSERT_TRUE(json_u64(l, "mirrors", &v) && v == 0) TH_LOG("%s", l);
	hmmctl_result_free(&r);
}

/* The sum of a mirror line's "invalidations":{...} counts. */
static uint64_t total_invalidations(const char *l)
{
	static const char *const names[] = {
		"unmap", "clear", "protection_vma", "protection_page",
		"soft_dirty", "release", "migrate", "exclusive", "other",
	};
	const char *inv = strstr(l, "\"invalidations\"");
	uint64_t v, sum = 0;
	unsigned int i;

	for (i = 0; inv && i < sizeof(names) / sizeof(names[0]); i++)
		if (json_u64(inv, names[i], &v))
			sum += v;
	return sum;
}

/*
 * mirrors: a mirror of 100 pages shows its driver, label, owner, range and
 * hmm_core's counters of it, which follow hmm_dummy's own.
 */
TEST_F_TIMEOUT(hmmctl, mirrors, 60)
{
	int fd = dummy_open(0);
	struct hmm_dummy_counters c0, c;
	struct hmmctl_result r;
	uint64_t v, u0, calls;
	char *l, *p;

	ASSERT_LE(0, fd) TH_LOG("/dev/hmm_dummy0: %s", strerror(errno));
	ASSERT_NE(NULL, (p = mirrored(fd, 100)));
	ASSERT_NE(NULL, (l = my_mirror("hmm_dummy0")));
	hmm_diag("%s", l);
	ASSERT_TRUE(json_u64(l, "id", &v) && v > 0);
	ASSERT_TRUE(json_is(l, "driver", "hmm_dummy")) TH_LOG("%s", l);
	ASSERT_TRUE(json_u64(l, "start", &v) && v == 0);
	ASSERT_TRUE(json_u64(l, "end", &v) && v >= (uintptr_t)p + 100 * PAGE);
	ASSERT_TRUE(json_is(l, "two_phase", "false"));
	ASSERT_TRUE(json_u64(l, "retries", &v));
	ASSERT_TRUE(json_u64(l, "nonblock_failures", &v) && v == 0);
	free(l);

	/*
	 * 40 pages unmapped: one more unmap invalidation, its callback timed,
	 * and (once hmm_dummy reports them) 40 more device entries cleared.
	 * The core's counts are read between two reads of the file's own:
	 * running hmmctl frees this process's buffers, which may unmap (trim
	 * the heap) after the dump and so before a single read after it.
	 */
	ASSERT_EQ(0, munmap(p, 40 * PAGE));
	ASSERT_EQ(0, dummy_counters(fd, &c0));
	u0 = c0.invalidations[HMM_DUMMY_EVENT_UNMAP];
	ASSERT_NE(NULL, (l = my_mirror("hmm_dummy0")));
	ASSERT_EQ(0, dummy_counters(fd, &c));
	hmm_diag("%s", l);
	ASSERT_TRUE(json_u64(strstr(l, "\"invalidations\""), "unmap", &v));
	ASSERT_TRUE(v >= u0 && v <= c.invalidations[HMM_DUMMY_EVENT_UNMAP])
		TH_LOG("unmap %" PRIu64 ", not in [%" PRIu64 ", %" PRIu64 "]",
		       v, u0, (uint64_t)c.invalidations[HMM_DUMMY_EVENT_UNMAP]);
	ASSERT_LE(1U, v);
	/* One pass each (not two-phase): a callback timed per invalidation. */
	ASSERT_TRUE(json_u64(l, "callbacks", &calls));
	ASSERT_LE(total_invalidations(l), calls);
	ASSERT_LE(1U, calls);
	ASSERT_TRUE(json_u64(l, "callback_ns", &v) && v > 0);
	ASSERT_TRUE(json_u64(l, "callback_max_ns", &v) && v > 0);
	/* hmm_dummy reports what it cleared: between the file's two reads. */
	ASSERT_TRUE(json_u64(l, "pages_invalidated", &v)) TH_LOG("%s", l);
	ASSERT_TRUE(v >= c0.pages_invalidated && v <= c.pages_invalidated)
		TH_LOG("pages_invalidated %" PRIu64 ", not in [%llu, %llu]",
		       v, (unsigned long long)c0.pages_invalidated,
		       (unsigned long long)c.pages_invalidated);
	ASSERT_LE(40U, v);
	free(l);

	/* Text: a header, and the mirror's line with its driver and label. */
	ASSERT_EQ(0, HMMCTL(&r, "mirrors"));
	ASSERT_EQ(0, strncmp(r.out, "ID ", 3)) TH_LOG("%s", r.out);
	ASSERT_NE(NULL, strstr(r.out, "DRIVER"));
	ASSERT_NE(NULL, strstr(r.out, " hmm_dummy      hmm_dummy0 "))
		TH_LOG("%s", r.out);
	hmmctl_result_free(&r);
	close(fd);
	ASSERT_EQ(NULL, my_mirror("hmm_dummy0"));
}

/*
 * This process's address space in mms: "tgids":[PID], or NULL. Its JSON
 * line, from a run of hmmctl --json mms.
 */
static char *my_mm(void)
{
	struct hmmctl_result r;
	const char *l;
	char *line = NULL, key[32];

	snprintf(key, sizeof(key), "\"tgids\":[%d]", getpid());
	if (HMMCTL(&r, "--json", "mms") == 0 && (l = strstr(r.out, key))) {
		while (l > r.out && l[-1] != '\n')
			l--;
		line = strndup(l, strcspn(l, "\n"));
	}
	hmmctl_result_free(&r);
	return line;
}

/*
 * mms: this process's address space, with its one mirror and the unmap
 * invalidations it took, summed over its mirrors, and gone once its last
 * mirror is; the text form's header; an argument refused.
 */
TEST_F_TIMEOUT(hmmctl, mms, 60)
{
	struct hmmctl_result r;
	uint64_t v, unmaps;
	char *l, *p;
	int fd = dummy_open(0);

	ASSERT_LE(0, fd) TH_LOG("/dev/hmm_dummy0: %s", strerror(errno));
	ASSERT_NE(NULL, (p = mirrored(fd, 64)));
	ASSERT_NE(NULL, (l = my_mm()));
	hmm_diag("%s", l);
	ASSERT_TRUE(json_u64(l, "id", &v) && v > 0);
	ASSERT_TRUE(json_u64(l, "mirrors", &v) && v == 1) TH_LOG("%s", l);
	ASSERT_TRUE(json_u64(strstr(l, "\"invalidations\""), "unmap",
			     &unmaps));
	free(l);

	ASSERT_EQ(0, munmap(p, 16 * PAGE));
	ASSERT_NE(NULL, (l = my_mm()));
	ASSERT_TRUE(json_u64(strstr(l, "\"invalidations\""), "unmap", &v));
	ASSERT_LT(unmaps, v) TH_LOG("%s", l);
	free(l);

	ASSERT_EQ(0, HMMCTL(&r, "mms"));
	ASSERT_EQ(0, strncmp(r.out, "MM ", 3)) TH_LOG("%s", r.out);
	hmmctl_result_free(&r);
	ASSERT_EQ(1, HMMCTL(&r, "mms", "extra"));
	hmmctl_result_free(&r);
	close(fd);
	ASSERT_EQ(NULL, my_mm());
}

/*
 * mirrors of another driver: examples/hmm_example, which has no netlink
 * code, shows with its driver's name, no label, its owner, and counters
 * that move (when vm-run shipped its module at /tests/hmm_example.ko).
 */
TEST_F_TIMEOUT(hmmctl, mirrors_example, 90)
{
	struct hmmctl_result r;
	const char *pos, *l;
	char tgid[16], line[128];
	uint64_t before, v;
	int fd, st;
	void *p;

	if (access("/tests/hmm_example.ko", R_OK))
		SKIP(return, "no /tests/hmm_example.ko (scripts/vm-run ships it)");
	st = system("grep -q '^hmm_example ' /proc/modules || insmod /tests/hmm_example.ko");
	ASSERT_EQ(0, st);
	fd = open("/dev/hmm_example", O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd) TH_LOG("/dev/hmm_example: %s", strerror(errno));
	ASSERT_LT(0, read(fd, line, sizeof(line)));
	snprintf(tgid, sizeof(tgid), "%d", getpid());

	ASSERT_EQ(0, HMMCTL(&r, "--json", "mirrors"));
	pos = r.out;
	while ((l = next_line(&pos, "driver", "hmm_example")) &&
	       !json_is(l, "tgid", tgid))
		;
	ASSERT_NE(NULL, l) TH_LOG("no hmm_example mirror of ours: %s", r.out);
	hmm_diag("%.*s", (int)strcspn(l, "\n"), l);
	ASSERT_TRUE(json_is(l, "label", "")) TH_LOG("%s", l);
	before = total_invalidations(l);
	hmmctl_result_free(&r);

	ASSERT_NE(NULL, (p = anon_map(4)));
	memset(p, 1, 4 * PAGE);
	ASSERT_EQ(0, munmap(p, 4 * PAGE));
	ASSERT_EQ(0, HMMCTL(&r, "--json", "mirrors"));
	pos = r.out;
	while ((l = next_line(&pos, "driver", "hmm_example")) &&
	       !json_is(l, "tgid", tgid))
		;
	ASSERT_NE(NULL, l);
	ASSERT_LT(before, total_invalidations(l)) TH_LOG("%s", l);
	ASSERT_TRUE(json_u64(l, "callbacks", &v) && v > 0);
	hmmctl_result_free(&r);

	/* Text: the driver's column, and "-" for no label. */
	ASSERT_EQ(0, HMMCTL(&r, "mirrors"));
	ASSERT_NE(NULL, strstr(r.out, " hmm_example    -  ")) TH_LOG("%s", r.out);
	hmmctl_result_free(&r);
	close(fd);
	EXPECT_EQ(0, system("rmmod hmm_example"));
}

/* pt output for [p, p + n pages): exactly those pages, the CPU's pfns. */
static void check_pt(struct __test_metadata *_metadata, const char *out,
		     char *p, size_t n, uint64_t id)
{
	const char *pos = out, *l;
	uint64_t v;
	size_t i = 0;

	for (; *pos; i++) {
		char idbuf[24];

		snprintf(idbuf, sizeof(idbuf), "%" PRIu64, id);
		l = next_line(&pos, "mirror", idbuf);
		if (!l)
			break;
		ASSERT_LT(i, n) TH_LOG("more than %zu entries", n);
		ASSERT_TRUE(json_u64(l, "addr", &v));
		ASSERT_EQ((uintptr_t)(p + i * PAGE), v) TH_LOG("entry %zu", i);
		ASSERT_TRUE(json_u64(l, "pfn", &v));
		ASSERT_EQ((uint64_t)cpu_pfn(p + i * PAGE), v)
			TH_LOG("entry %zu", i);
		ASSERT_NE(0U, v);
		ASSERT_TRUE(json_is(l, "write", "true")) TH_LOG("%s", l);
		ASSERT_TRUE(json_u64(l, "order", &v) && v == 0) TH_LOG("%s", l);
	}
	ASSERT_EQ(n, i);
}

/* mirrors after SET_RANGE: that range, and pt's default is all of it. */
TEST_F_TIMEOUT(hmmctl, mirrors_set_range, 60)
{
	int fd = dummy_open(0);
	struct hmmctl_result r;
	uint64_t v, done, mid;
	char id[24], *l, *p;

	ASSERT_LE(0, fd) TH_LOG("/dev/hmm_dummy0: %s", strerror(errno));
	ASSERT_NE(NULL, (p = anon_map(16)));
	memset(p, 0x5a, 16 * PAGE);
	ASSERT_EQ(0, dummy_set_range(fd, p + 4 * PAGE, 8));
	ASSERT_EQ(0, dummy_fault(fd, p + 4 * PAGE, 8, HMM_DUMMY_FAULT_WRITE,
				 &done));
	ASSERT_EQ(8U, done);
	ASSERT_NE(NULL, (l = my_mirror("hmm_dummy0")));
	hmm_diag("%s", l);
	ASSERT_TRUE(json_u64(l, "start", &v));
	ASSERT_EQ((uintptr_t)p + 4 * PAGE, v);
	ASSERT_TRUE(json_u64(l, "end", &v));
	ASSERT_EQ((uintptr_t)p + 12 * PAGE, v);
	ASSERT_TRUE(json_u64(l, "id", &mid));
	free(l);
	snprintf(id, sizeof(id), "%" PRIu64, mid);
	ASSERT_EQ(0, HMMCTL(&r, "--json", "pt", id));
	check_pt(_metadata, r.out, p + 4 * PAGE, 8, mid);
	hmmctl_result_free(&r);
	/* Below the mirrored range: the kernel says no. */
	ASSERT_EQ(5, HMMCTL(&r, "pt", id, "0", "0x1000"));
	hmmctl_result_free(&r);
	close(fd);
}

/* pt: the device page table of 100 pages lists exactly their pfns. */
TEST_F_TIMEOUT(hmmctl, pt_pagemap, 60)
{
	int fd = dummy_open(0);
	struct hmmctl_result r;
	char start[32], end[32], id[24];
	size_t lines = 0;
	const char *c;
	uint64_t mid;
	char *p;

	ASSERT_LE(0, fd) TH_LOG("/dev/hmm_dummy0: %s", strerror(errno));
	ASSERT_NE(NULL, (p = mirrored(fd, 100)));
	ASSERT_NE(0U, (mid = my_mirror_id("hmm_dummy0")));
	snprintf(id, sizeof(id), "%" PRIu64, mid);

	/* The whole mirror: only these 100 pages were ever populated. */
	ASSERT_EQ(0, HMMCTL(&r, "--json", "pt", id));
	check_pt(_metadata, r.out, p, 100, mid);
	hmmctl_result_free(&r);

	/* A sub-range, in hex. */
	snprintf(start, sizeof(start), "%#lx", (unsigned long)(p + 10 * PAGE));
	snprintf(end, sizeof(end), "%#lx", (unsigned long)(p + 20 * PAGE));
	ASSERT_EQ(0, HMMCTL(&r, "--json", "pt", id, start, end));
	check_pt(_metadata, r.out, p + 10 * PAGE, 10, mid);
	hmmctl_result_free(&r);

	/* Text: a header and one line per entry. */
	ASSERT_EQ(0, HMMCTL(&r, "pt", id, start, end));
	for (c = r.out; (c = strchr(c, '\n')); c++)
		lines++;
	ASSERT_EQ(11U, lines) TH_LOG("%s", r.out);
	hmmctl_result_free(&r);

	/* After munmap: nothing left. */
	ASSERT_EQ(0, munmap(p, 100 * PAGE));
	ASSERT_EQ(0, HMMCTL(&r, "--json", "pt", id));
	ASSERT_STREQ("[]\n", r.out);
	hmmctl_result_free(&r);
	close(fd);
}

/* pt over many recv() calls: 8192 entries, each one right, none twice. */
TEST_F_TIMEOUT(hmmctl, pt_resumable, 60)
{
	const size_t n = 8192;
	unsigned long node0 = 1;
	int fd = dummy_open(0);
	struct hmmctl_result r;
	char id[24];
	uint64_t mid;
	char *p;

	ASSERT_LE(0, fd) TH_LOG("/dev/hmm_dummy0: %s", strerror(errno));
	/*
	 * Out of NUMA balancing's scan (a preferred-node policy), which
	 * would unmap some of the 8192 pages, and so drop their entries,
	 * between the fault and the dump (seen once).
	 */
	ASSERT_EQ(0, syscall(SYS_set_mempolicy, MPOL_PREFERRED, &node0, 2))
		TH_LOG("set_mempolicy: %s", strerror(errno));
	ASSERT_NE(NULL, (p = mirrored(fd, n)));
	ASSERT_NE(0U, (mid = my_mirror_id("hmm_dummy0")));
	snprintf(id, sizeof(id), "%" PRIu64, mid);
	ASSERT_EQ(0, HMMCTL(&r, "--json", "pt", id));
	hmm_diag("%zu entries, %zu bytes of JSON", n, strlen(r.out));
	check_pt(_metadata, r.out, p, n, mid);
	hmmctl_result_free(&r);
	close(fd);
}

static bool stats_u64(const char *key, uint64_t *v)
{
	struct hmmctl_result r;
	bool ok = HMMCTL(&r, "--json", "stats") == 0 &&
		  json_u64(r.out, key, v);

	hmmctl_result_free(&r);
	return ok;
}

static bool stats_unmaps(uint64_t *v)
{
	struct hmmctl_result r;
	const char *inv;
	bool ok = HMMCTL(&r, "--json", "stats") == 0 &&
		  (inv = strstr(r.out, "\"invalidations\"")) &&
		  json_u64(inv, "unmap", v);

	hmmctl_result_free(&r);
	return ok;
}

/* stats: hmm_core's mirror count and unmap counter follow what we do. */
TEST_F_TIMEOUT(hmmctl, stats, 60)
{
	uint64_t m0, m1, u0, u1;
	int fd;
	char *p;

	ASSERT_TRUE(stats_u64("mirrors", &m0));
	ASSERT_LE(0, (fd = dummy_open(0)))
		TH_LOG("/dev/hmm_dummy0: %s", strerror(errno));
	ASSERT_TRUE(stats_u64("mirrors", &m1));
	ASSERT_EQ(m0 + 1, m1);
	ASSERT_NE(NULL, (p = mirrored(fd, 4)));
	ASSERT_TRUE(stats_unmaps(&u0));
	ASSERT_EQ(0, munmap(p, 4 * PAGE));
	ASSERT_TRUE(stats_unmaps(&u1));
	ASSERT_LE(u0 + 1, u1);
	close(fd);
	ASSERT_TRUE(stats_u64("mirrors", &m1));
	ASSERT_EQ(m0, m1);
}

/*
 * Start `hmmctl --json monitor ARGS` and wait until it listens: open and
 * close hmm_dummy1 until it reports a register of ours.
 */
static pid_t monitor_start(struct line_reader *lr, const char *arg1,
			   const char *arg2)
{
	const char *args[] = { "--json", "monitor", arg1, arg2, NULL };
	char line[1024], tgid[16];
	pid_t pid;
	int i;

	lr->len = 0;
	pid = hmmctl_spawn(&lr->fd, NULL, args);
	if (pid < 0)
		return -1;
	snprintf(tgid, sizeof(tgid), "%d", getpid());
	for (i = 0; i < 100; i++) {
		close(dummy_open(1));
		while (read_line(lr, line, sizeof(line), 100))
			if (json_is(line, "event", "register") &&
			    json_is(line, "tgid", tgid))
				return pid;
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	return -1;
}

/*
 * The monitor's summary line after SIGTERM, into line; its exit code. The
 * monitor is reaped and its pipe closed (lr->fd is -1 after).
 */
static int monitor_stop(pid_t pid, struct line_reader *lr, char *line,
			size_t n)
{
	int st;

	kill(pid, SIGCONT);
	kill(pid, SIGTERM);
	line[0] = '\0';
	while (read_line(lr, line, n, 10000))
		if (json_is(line, "event", "summary"))
			break;
	close(lr->fd);
	lr->fd = -1;
	if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

/*
 * monitor: the register of a mirror names its driver and label; a munmap
 * of a mirrored range arrives with that exact range and its callback's
 * duration.
 */
TEST_F_TIMEOUT(hmmctl, monitor_munmap, 60)
{
	struct line_reader *lr = &self->lr;
	uint64_t id, v, start, end;
	char line[1024], idbuf[24];
	bool seen = false;
	pid_t mon;
	char *p;
	int fd;

	ASSERT_LT(0, (self->mon = mon = monitor_start(lr, NULL, NULL)));
	ASSERT_LE(0, (fd = dummy_open(0)))
		TH_LOG("/dev/hmm_dummy0: %s", strerror(errno));
	ASSERT_NE(0U, (id = my_mirror_id("hmm_dummy0")));
	snprintf(idbuf, sizeof(idbuf), "%" PRIu64, id);
	while (!seen && read_line(lr, line, sizeof(line), 10000))
		seen = json_is(line, "event", "register") &&
		       json_is(line, "mirror", idbuf);
	ASSERT_TRUE(seen) TH_LOG("no register event of mirror %s", idbuf);
	hmm_diag("%s", line);
	ASSERT_TRUE(json_is(line, "driver", "hmm_dummy")) TH_LOG("%s", line);
	ASSERT_TRUE(json_is(line, "label", "hmm_dummy0")) TH_LOG("%s", line);
	seen = false;
	ASSERT_NE(NULL, (p = mirrored(fd, 16)));
	start = (uintptr_t)p;
	end = start + 16 * PAGE;
	ASSERT_EQ(0, munmap(p, 16 * PAGE));

	/*
	 * The test's own mallocs and frees (running hmmctl) unmap too: the
	 * munmap's event is the one with exactly its range.
	 */
	while (!seen && read_line(lr, line, sizeof(line), 10000)) {
		uint64_t s = 0, e = 0;

		if (!json_is(line, "event", "invalidate") ||
		    !json_is(line, "mirror", idbuf) ||
		    !json_is(line, "reason", "unmap"))
			continue;
		hmm_diag("%s", line);
		ASSERT_TRUE(json_u64(line, "start", &s) &&
			    json_u64(line, "end", &e));
		if (s != start || e != end)
			continue;
		ASSERT_TRUE(json_is(line, "blockable", "true"));
		ASSERT_TRUE(json_u64(line, "seq", &v) && v > 0);
		ASSERT_TRUE(json_u64(line, "duration_ns", &v)) TH_LOG("%s", line);
		seen = true;
	}
	ASSERT_TRUE(seen)
		TH_LOG("no unmap event for [%#" PRIx64 ", %#" PRIx64 ")",
		       start, end);
	/* Closing the file: an unregister event for the mirror. */
	close(fd);
	seen = false;
	while (!seen && read_line(lr, line, sizeof(line), 10000))
		seen = json_is(line, "event", "unregister") &&
		       json_is(line, "mirror", idbuf);
	ASSERT_TRUE(seen) TH_LOG("no unregister event of mirror %s", idbuf);
	ASSERT_EQ(0, monitor_stop(mon, lr, line, sizeof(line)));
	self->mon = -1;
	hmm_diag("%s", line);
	ASSERT_TRUE(json_u64(line, "received", &v) && v >= 3);
	ASSERT_TRUE(json_u64(line, "lost", &v) && v == 0);
}

/*
 * A child that mirrors 16 MiB of its memory and waits to be killed; its
 * tgid is @pid. 0 when it is ready, or -1.
 */
static int mirrored_child(pid_t *pid, bool two_phase)
{
	int sync[2];
	char c;

	if (pipe(sync))
		return -1;
	*pid = fork();
	if (*pid < 0)
		return -1;
	if (!*pid) {
		uint8_t *p = anon_map(4096);
		uint64_t done;
		int fd = dummy_open(0);

		if (fd < 0 || !p)
			_exit(1);
		if (two_phase) {
			struct hmm_dummy_tlb_ctl c = {
				.flags = HMM_DUMMY_TLB_SET |
					 HMM_DUMMY_TLB_TWO_PHASE,
			};

			if (ioctl(fd, HMM_DUMMY_IOC_TLB, &c))
				_exit(1);
		}
		memset(p, 1, 4096 * PAGE);
		if (dummy_fault(fd, p, 4096, 0, &done) ||
		    write(sync[1], "r", 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	close(sync[1]);
	c = 0;
	if (read(sync[0], &c, 1) != 1)
		c = 0;
	close(sync[0]);
	return c == 'r' ? 0 : -1;
}

/*
 * The OOM reaper's non-blocking invalidation reaches a mirror: a mirrored
 * process is killed and reaped at once with process_mrelease(), which runs
 * the reaper's path (non-blocking invalidations of every private vma). The
 * monitor must see an invalidation of the child's mirror that is not
 * blockable. The child's own exit_mmap() may win the race and leave
 * nothing to reap, so a child is made again, a few times at most.
 */
static void oom_reaper_case(struct __test_metadata *_metadata,
			    FIXTURE_DATA(hmmctl) *self, bool two_phase)
{
	struct line_reader *lr = &self->lr;
	char line[1024], id[24];
	unsigned int tries;
	bool seen = false;
	pid_t mon, child;
	uint64_t mid;
	int pfd, ret;

	ASSERT_LT(0, (self->mon = mon = monitor_start(lr, NULL, NULL)));
	for (tries = 0; tries < 10 && !seen; tries++) {
		ASSERT_EQ(0, mirrored_child(&child, two_phase));
		self->kid = child;
		/*
		 * Its mirror's id now: the two-pass switch registered the
		 * mirror again, under a new id, after a first register.
		 */
		mid = mirror_id_of(child, "hmm_dummy0");
		ASSERT_NE(0U, mid) TH_LOG("no mirror of child %d", child);
		snprintf(id, sizeof(id), "%" PRIu64, mid);
		ASSERT_LE(0, (pfd = syscall(SYS_pidfd_open, child, 0)))
			TH_LOG("pidfd_open: %s", strerror(errno));
		ASSERT_EQ(0, syscall(SYS_pidfd_send_signal, pfd, SIGKILL,
				     NULL, 0));
		/*
		 * ESRCH: the child's exit_mmap() won the race. EAGAIN: a
		 * non-blocking invalidation failed (a mirror's trylock lost to
		 * the exiting child), which is the path under test too.
		 */
		ret = syscall(SYS_process_mrelease, pfd, 0);
		if (ret)
			hmm_diag("process_mrelease: %s",
				 strerror(errno));
		ASSERT_TRUE(!ret || errno == ESRCH || errno == EAGAIN);
		close(pfd);
		ASSERT_EQ(child, waitpid(child, NULL, 0));
		self->kid = -1;
		/* Up to the unregister of the child's mirror. */
		while (read_line(lr, line, sizeof(line), 10000)) {
			if (!json_is(line, "mirror", id))
				continue;
			if (json_is(line, "event", "unregister"))
				break;
			if (json_is(line, "event", "invalidate") &&
			    json_is(line, "blockable", "false") && !seen) {
				hmm_diag("%s", line);
				seen = true;
			}
		}
	}
	hmm_diag("%u children for a non-blocking invalidation", tries);
	ASSERT_TRUE(seen);
	ASSERT_EQ(0, monitor_stop(mon, lr, line, sizeof(line)));
	self->mon = -1;
}

TEST_F_TIMEOUT(hmmctl, oom_reaper_nonblocking, 180)
{
	oom_reaper_case(_metadata, self, false);
}

/*
 * The same with a two-pass mirror: the reaper's non-blocking invalidation
 * reaches its first pass, and the mm is torn down with no second pass left
 * behind (hmm_mirror_mm_free() WARNs on one, which fails the guest run).
 * Before 7.1 hmm_core runs a non-blocking invalidation's second pass right
 * after the first, since the kernel skips the classic notifiers when any
 * interval callback fails; whether it ran there or from the mm's release is
 * not visible from here, so this shows the path works, not which way.
 */
TEST_F_TIMEOUT(hmmctl, oom_reaper_nonblocking_two_phase, 180)
{
	oom_reaper_case(_metadata, self, true);
}

/*
 * uid 65534: no pfns, no events; listing devices and mirrors, and top, is
 * fine, but root's mirror is not in the list nor in top's frame, nor in the
 * device's count, and a direct look-up of it finds nothing.
 */
TEST_F_TIMEOUT(hmmctl, unprivileged, 60)
{
	int fd = dummy_open(0), st;
	char id[24];
	pid_t pid;

	ASSERT_LE(0, fd) TH_LOG("/dev/hmm_dummy0: %s", strerror(errno));
	ASSERT_NE(NULL, mirrored(fd, 4));
	snprintf(id, sizeof(id), "%" PRIu64, my_mirror_id("hmm_dummy0"));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct hmmctl_result r;
		const char *pos, *l;
		char key[40];
		uint64_t v;

		if (setgroups(0, NULL) || setgid(65534) || setuid(65534))
			_exit(10);
		if (HMMCTL(&r, "pt", id) != 3 ||
		    !strstr(r.err, "hmmctl: permission denied: dumping pfns needs CAP_SYS_ADMIN"))
			_exit(11);
		hmmctl_result_free(&r);
		if (HMMCTL(&r, "monitor") != 3 ||
		    !strstr(r.err, "hmmctl: permission denied: watching events needs CAP_NET_ADMIN"))
			_exit(12);
		hmmctl_result_free(&r);
		if (HMMCTL(&r, "--json", "devices") != 0)
			_exit(13);
		pos = r.out;
		if (!(l = next_line(&pos, "name", "hmm_dummy0")) ||
		    !json_u64(l, "mirrors", &v) || v != 0)
			_exit(14);
		hmmctl_result_free(&r);
		if (HMMCTL(&r, "--json", "mirrors") != 0)
			_exit(15);
		pos = r.out;
		if (next_line(&pos, "id", id))
			_exit(16);
		hmmctl_result_free(&r);
		snprintf(key, sizeof(key), "{\"id\":%s,", id);
		if (HMMCTL(&r, "--json", "top", "-d", "0.1", "-n", "1") != 0 ||
		    !strstr(r.out, "\"mirrors\":[") || strstr(r.out, key))
			_exit(17);
		hmmctl_result_free(&r);
		_exit(0);
	}
	self->kid = pid;
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	self->kid = -1;
	ASSERT_TRUE(WIFEXITED(st));
	ASSERT_EQ(0, WEXITSTATUS(st)) TH_LOG("uid 65534 child: exit %d",
					     WEXITSTATUS(st));
	close(fd);
}

/* Exit codes and messages of hmmctl(8). */
TEST_F_TIMEOUT(hmmctl, exit_codes, 60)
{
	struct hmmctl_result r;
	char id[24], bad[32];
	int fd = dummy_open(0);
	char *p;

	ASSERT_LE(0, fd) TH_LOG("/dev/hmm_dummy0: %s", strerror(errno));
	ASSERT_NE(NULL, (p = mirrored(fd, 1)));
	snprintf(id, sizeof(id), "%" PRIu64, my_mirror_id("hmm_dummy0"));
	snprintf(bad, sizeof(bad), "%#lx", (unsigned long)p + 1);

	ASSERT_EQ(1, HMMCTL(&r, "frobnicate"));
	ASSERT_NE(NULL, strstr(r.err, "unknown command"));
	hmmctl_result_free(&r);
	ASSERT_EQ(1, HMMCTL(&r, "devices", "extra"));
	hmmctl_result_free(&r);
	ASSERT_EQ(1, HMMCTL(&r, "pt", "x1"));
	hmmctl_result_free(&r);
	ASSERT_EQ(1, HMMCTL(&r, "--bogus", "stats"));
	hmmctl_result_free(&r);
	ASSERT_EQ(4, HMMCTL(&r, "pt", "2147483000"));
	ASSERT_NE(NULL, strstr(r.err, "no such mirror"));
	hmmctl_result_free(&r);
	ASSERT_EQ(1, HMMCTL(&r, "pt", id, bad));
	ASSERT_NE(NULL, strstr(r.err, "page aligned"));
	hmmctl_result_free(&r);
	ASSERT_EQ(1, HMMCTL(&r, "pt", id, "0x2000", "0x1000"));
	ASSERT_NE(NULL, strstr(r.err, "below END"));
	hmmctl_result_free(&r);
	/* Past the end of user space: the kernel says no. */
	ASSERT_EQ(5, HMMCTL(&r, "pt", id, "0", "0x7ffffffffffff000"));
	hmmctl_result_free(&r);
	ASSERT_EQ(1, HMMCTL(&r, "--json", "monitor", "--count", "0"));
	hmmctl_result_free(&r);
	ASSERT_EQ(1, HMMCTL(&r, "top", "-d", "0"));
	ASSERT_NE(NULL, strstr(r.err, "bad --interval"));
	hmmctl_result_free(&r);
	ASSERT_EQ(1, HMMCTL(&r, "top", "-n", "0"));
	hmmctl_result_free(&r);
	ASSERT_EQ(1, HMMCTL(&r, "top", "extra"));
	hmmctl_result_free(&r);
	close(fd);
}

/*
 * The storm: up to STORM_N mprotect() toggles of one mirrored page, each one
 * invalidation and one event, while a monitor listens with a small receive
 * buffer but is stopped (SIGSTOP): almost every event is dropped.
 *
 * Checked: every event is delivered or counted dropped (sent + dropped ==
 * invalidations, exactly); drops happened and the monitor reports them;
 * unreclaimable slab (SUnreclaim) does not grow during the storm, with the
 * stopped monitor's queue full, nor after it. The tolerance, 2 MiB, is the
 * noise of an idle guest with room to spare; one event's skb costs at
 * least 768 bytes of slab (head and data), so leaking even 1% of a million
 * events would show as 7.5 MiB, and queueing them all as 750 MiB.
 */
/*
 * The storming child: its mirror is the only one in its address space, and
 * it does nothing but the storm between reading its counters, so every
 * event the family counts in that window is one of its invalidations. It
 * waits for a byte on go, times a few toggles (with the stopped monitor
 * there: each event costs what it will in the storm), writes how many the
 * storm will be on done, waits for a byte on go, storms, writes both counter
 * sets and the time on done, and waits for a byte on go again before it
 * exits.
 */
struct storm_report {
	struct hmm_dummy_counters c0, c1;
	double seconds;
	int ok;
};

/* How many toggles the storm can have in STORM_SECONDS here. */
static unsigned long storm_size(char *p)
{
	const unsigned long probe = 2000;
	double t = now_s();
	unsigned long i, n;

	/* As the storm toggles: an even number of them leaves the page RW. */
	for (i = 0; i < probe; i++)
		if (mprotect(p, PAGE, i & 1 ? PROT_READ | PROT_WRITE : PROT_READ))
			_exit(2);
	t = now_s() - t;
	n = t > 0 ? (unsigned long)(STORM_SECONDS / t * probe) : STORM_N;
	return n < STORM_MIN ? STORM_MIN : n > STORM_N ? STORM_N : n;
}

static void storm_child(int go, int done)
{
	struct storm_report rep = { 0 };
	unsigned long i, n;
	char b, *p;
	int fd;

	fd = dummy_open(0);
	p = fd >= 0 ? mirrored(fd, 1) : NULL;
	if (!p || read(go, &b, 1) != 1)
		_exit(1);
	n = storm_size(p);
	if (write(done, &n, sizeof(n)) != sizeof(n) || read(go, &b, 1) != 1 ||
	    dummy_counters(fd, &rep.c0))
		_exit(1);
	rep.seconds = now_s();
	for (i = 0; i < n; i++)
		if (mprotect(p, PAGE, i & 1 ? PROT_READ | PROT_WRITE : PROT_READ))
			_exit(2);
	rep.seconds = now_s() - rep.seconds;
	rep.ok = !dummy_counters(fd, &rep.c1);
	if (write(done, &rep, sizeof(rep)) != sizeof(rep) || read(go, &b, 1) < 0)
		_exit(3);
	_exit(0);
}

/*
 * KASAN's quarantine keeps freed slab objects allocated for a while: under
 * it SUnreclaim grows with the storm without a leak (the debug lane's
 * kmemleak scan is the leak check there).
 */
static int kasan_on(void)
{
	char line[256];
	FILE *f = fopen("/proc/kallsyms", "r");
	int on = 0;

	while (f && !on && fgets(line, sizeof(line), f))
		on = strstr(line, " kasan_report") != NULL;
	if (f)
		fclose(f);
	return on;
}

/*
 * After the storm, wait until the monitor has read everything the storm
 * left queued: open hmm_dummy1 and wait for the register event of that
 * mirror, by its id (the event, not just any register line: the storm
 * child's own register may still be queued). While the monitor's socket
 * is still congested the event is dropped, and counted, like the storm's:
 * then close, and try a new one. The file found is left open (in *fd)
 * until the monitor is stopped: its unregister comes after the summary's
 * counters, or it could be dropped outside every gap the monitor sees.
 * 0 once found, -1 (diagnosed) if not.
 */
static int storm_marker(struct line_reader *lr, int *fd)
{
	char line[1024], idbuf[24];
	uint64_t id;
	int tries;

	for (tries = 0; tries < 30; tries++) {
		*fd = dummy_open(1);
		if (*fd < 0) {
			hmm_diag("/dev/hmm_dummy1: %s", strerror(errno));
			return -1;
		}
		id = my_mirror_id("hmm_dummy1");
		if (!id) {
			hmm_diag("no mirror of ours on hmm_dummy1 in hmmctl mirrors");
			return -1;
		}
		snprintf(idbuf, sizeof(idbuf), "%" PRIu64, id);
		while (read_line(lr, line, sizeof(line), 2000))
			if (json_is(line, "event", "register") &&
			    json_is(line, "mirror", idbuf)) {
				hmm_diag("monitor: %s", line);
				return 0;
			}
		close(*fd);
		*fd = -1;
	}
	hmm_diag("no register event of a new mirror after 30 tries");
	return -1;
}

/*
 * The storm's monitor and child are the fixture's: whatever the case did,
 * the teardown reaps them, so their files are closed before family_missing
 * unloads the module.
 */
TEST_F_TIMEOUT(hmmctl, storm, 240)
{
	struct line_reader *lr = &self->lr;
	struct storm_report rep;
	uint64_t sent0, sent1, drop0, drop1, ev = 0, v, lost;
	unsigned long n;
	long slab0, slab1, slab2;
	int go[2], done[2], e, st;
	char line[1024];
	pid_t mon, child;

	ASSERT_EQ(0, pipe2(go, O_CLOEXEC));
	ASSERT_EQ(0, pipe2(done, O_CLOEXEC));
	child = fork();
	ASSERT_LE(0, child);
	if (child == 0) {
		/* EOF on go if this case dies: the child exits too. */
		close(go[1]);
		close(done[0]);
		storm_child(go[0], done[1]);
	}
	self->kid = child;
	close(go[0]);
	close(done[1]);

	ASSERT_LT(0, (self->mon = mon = monitor_start(lr, "--rcvbuf", "4096")));
	ASSERT_EQ(0, kill(mon, SIGSTOP));
	/* The child's timing toggles are over before anything is counted. */
	ASSERT_EQ(1, write(go[1], "c", 1));
	ASSERT_EQ((ssize_t)sizeof(n), read(done[0], &n, sizeof(n)));
	hmm_diag("storm of %lu toggles", n);
	slab0 = meminfo_kb("SUnreclaim");
	ASSERT_TRUE(stats_u64("events_sent", &sent0));
	ASSERT_TRUE(stats_u64("events_dropped", &drop0));

	ASSERT_EQ(1, write(go[1], "g", 1));
	ASSERT_EQ((ssize_t)sizeof(rep), read(done[0], &rep, sizeof(rep)));
	ASSERT_TRUE(rep.ok);

	ASSERT_TRUE(stats_u64("events_sent", &sent1));
	ASSERT_TRUE(stats_u64("events_dropped", &drop1));
	slab1 = meminfo_kb("SUnreclaim");
	for (e = 0; e < HMM_DUMMY_NR_EVENTS; e++)
		ev += rep.c1.invalidations[e] - rep.c0.invalidations[e];
	v = rep.c1.invalidations[HMM_DUMMY_EVENT_PROTECTION_VMA] -
	    rep.c0.invalidations[HMM_DUMMY_EVENT_PROTECTION_VMA];
	hmm_diag("%" PRIu64 " invalidations (%" PRIu64 " protection_vma) in %.1f s: %"
		 PRIu64 " events sent, %" PRIu64 " dropped", ev, v, rep.seconds,
		 sent1 - sent0, drop1 - drop0);
	hmm_diag("SUnreclaim %ld kB before, %ld kB after the storm",
		 slab0, slab1);
	ASSERT_LE(n, v);
	ASSERT_EQ(ev, (sent1 - sent0) + (drop1 - drop0));
	ASSERT_LE(n / 2, drop1 - drop0);
	if (kasan_on()) {
		hmm_diag("KASAN: slab growth not checked (its quarantine holds freed objects)");
	} else {
		ASSERT_GT(SLAB_TOLERANCE_KB, slab1 - slab0);
	}

	/*
	 * One more event after the storm, so the monitor sees the gap: with
	 * it the only listener, what it lost is what the kernel dropped.
	 * Waiting for any register line, after a second without output, let
	 * a slow monitor's queued one (the storm child's) pass for it: the
	 * monitor then stopped before the post-storm event, saw no gap, and
	 * said "lost 0" with the kernel's drops counted.
	 */
	ASSERT_EQ(0, kill(mon, SIGCONT));
	ASSERT_EQ(0, storm_marker(lr, &self->marker));
	e = monitor_stop(mon, lr, line, sizeof(line));
	self->mon = -1;
	close(self->marker);
	self->marker = -1;
	ASSERT_EQ(0, e);
	hmm_diag("monitor: %s", line);
	ASSERT_TRUE(json_u64(line, "kernel_dropped", &v)) TH_LOG("%s", line);
	ASSERT_LE(drop1 - drop0, v);
	ASSERT_TRUE(json_u64(line, "lost", &lost)) TH_LOG("%s", line);
	ASSERT_EQ(v, lost);
	ASSERT_TRUE(json_u64(line, "received", &v) && v < n / 2)
		TH_LOG("%s", line);

	ASSERT_EQ(1, write(go[1], "x", 1));
	ASSERT_TRUE(waitpid(child, &st, 0) == child && WIFEXITED(st));
	self->kid = -1;
	ASSERT_EQ(0, WEXITSTATUS(st));
	/* The monitor's socket and queue are gone: all of it came back. */
	sleep(1);
	slab2 = meminfo_kb("SUnreclaim");
	hmm_diag("SUnreclaim %ld kB after the monitor exited", slab2);
	if (!kasan_on()) {
		ASSERT_GT(SLAB_TOLERANCE_KB, slab2 - slab0);
	}
}

/* The sum of hmm_dummy's invalidation counts of a file. */
static uint64_t dummy_total(int fd)
{
	struct hmm_dummy_counters c;
	uint64_t sum = 0;
	int e;

	if (dummy_counters(fd, &c))
		return 0;
	for (e = 0; e < HMM_DUMMY_NR_EVENTS; e++)
		sum += c.invalidations[e];
	return sum;
}

/*
 * Run `hmmctl ARGS` while this process toggles the protection of its
 * mirrored page p (one invalidation each), the device faulting the page in
 * again after each pair (so that each write-protect clears one entry),
 * until hmmctl exits; its output into r. The number of toggles, or 0 on an
 * error.
 */
static unsigned long top_while_toggling(struct hmmctl_result *r, int fd,
					char *p, const char *const *args)
{
	unsigned long i = 0;
	bool reaped = false;
	int out, st = 0;
	pid_t pid = hmmctl_spawn(&out, NULL, args);

	r->status = -1;
	r->out = r->err = NULL;
	if (pid < 0)
		return 0;
	for (;;) {
		uint64_t done;

		if (mprotect(p, PAGE, i++ & 1 ? PROT_READ | PROT_WRITE : PROT_READ))
			break;
		if (!(i & 1) &&
		    dummy_fault(fd, p, 1, HMM_DUMMY_FAULT_WRITE, &done))
			break;
		if (!(i % 256) && waitpid(pid, &st, WNOHANG) == pid) {
			reaped = true;
			break;
		}
	}
	mprotect(p, PAGE, PROT_READ | PROT_WRITE);
	r->out = slurp(out);
	close(out);
	if (!reaped && waitpid(pid, &st, 0) != pid)
		return 0;
	r->status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	return r->out ? i : 0;
}

/* The number after "key": in s (a JSON object's text), or NAN. */
static double json_double(const char *s, const char *key)
{
	const char *v = json_field(s, key);

	return v && (*v == '-' || (*v >= '0' && *v <= '9')) ?
	       strtod(v, NULL) : NAN;
}

/*
 * top -b: plain frames, no escape code; our mirror's line in the last one,
 * with its driver, label, owner, a positive invalidation rate and a mean
 * callback time, and a positive pages/s where hmm_core reports it. --json: every frame's rate times its interval is what the
 * mirror received in it, so their sum is no more than what hmm_dummy
 * counted over the whole run, and the last one's is at least one.
 */
TEST_F_TIMEOUT(hmmctl, top_batch, 90)
{
	const char *const text[] = { "top", "-b", "-d", "0.5", "-n", "2", NULL };
	const char *const json[] = { "--json", "top", "-d", "0.5", "-n", "3",
				     NULL };
	char drv[64], label[64], pages[32], avg[32], key[32];
	unsigned int id, tgid;
	double inval, sum = 0, d;
	uint64_t mid, before, after;
	struct hmmctl_result r;
	const char *pos, *l, *nl, *frame = NULL;
	unsigned long toggles;
	int fd = dummy_open(0), frames = 0;
	char *p;

	ASSERT_LE(0, fd) TH_LOG("/dev/hmm_dummy0: %s", strerror(errno));
	ASSERT_NE(NULL, (p = mirrored(fd, 1)));
	ASSERT_NE(0U, (mid = my_mirror_id("hmm_dummy0")));

	toggles = top_while_toggling(&r, fd, p, text);
	ASSERT_LT(0UL, toggles);
	ASSERT_EQ(0, r.status);
	ASSERT_EQ(NULL, strchr(r.out, '\033'));
	for (pos = r.out; (pos = strstr(pos, "hmmctl top - ")); pos++, frames++)
		frame = pos;
	hmm_diag("%lu toggles; top -b's last frame:", toggles);
	for (l = frame; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL)
		hmm_diag("| %.*s", (int)strcspn(l, "\n"), l);
	ASSERT_EQ(2, frames);
	ASSERT_NE(NULL, strstr(frame, "INVAL/s"));
	for (l = frame; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
		if (sscanf(l, "%u %63s %63s %u %lf %31s", &id, drv, label,
			   &tgid, &inval, pages) == 6 && id == mid)
			break;
	}
	ASSERT_TRUE(l && *l) TH_LOG("no line of mirror %" PRIu64, mid);
	ASSERT_STREQ("hmm_dummy", drv);
	ASSERT_STREQ("hmm_dummy0", label);
	ASSERT_EQ((unsigned int)getpid(), tgid);
	ASSERT_LT(0.0, inval) TH_LOG("%.*s", (int)strcspn(l, "\n"), l);
	ASSERT_EQ(2, sscanf(l, "%*u %*s %*s %*u %*f %*s %*s %31s %31s", avg,
			    key)) TH_LOG("%.*s", (int)strcspn(l, "\n"), l);
	ASSERT_LT(0.0, strtod(avg, NULL)) TH_LOG("mean callback '%s'", avg);
	/* Where the core has hmm_dummy's reports: one entry per pair. */
	if (strcmp(pages, "-")) {
		ASSERT_LT(0.0, strtod(pages, NULL)) TH_LOG("pages/s '%s'", pages);
	}
	hmmctl_result_free(&r);

	before = dummy_total(fd);
	toggles = top_while_toggling(&r, fd, p, json);
	after = dummy_total(fd);
	ASSERT_LT(0UL, toggles);
	ASSERT_EQ(0, r.status);
	snprintf(key, sizeof(key), "{\"id\":%" PRIu64 ",", mid);
	frames = 0;
	for (l = r.out; (nl = strchr(l, '\n')); l = nl + 1) {
		const char *m = strstr(l, key);

		ASSERT_TRUE(m && m < nl && json_field(l, "interval"))
			TH_LOG("no mirror %" PRIu64 " in %.*s", mid,
			       (int)(nl - l), l);
		d = json_double(m, "invalidations_per_s") *
		    json_double(l, "interval");
		hmm_diag("frame %d: %.1f invalidations", frames, d);
		ASSERT_FALSE(isnan(d));
		sum += d;
		frames++;
	}
	ASSERT_EQ(3, frames) TH_LOG("%s", r.out);
	hmm_diag("%lu toggles; hmm_dummy counted %" PRIu64
		 ", top's frames %.1f", toggles, after - before, sum);
	ASSERT_LE(1.0, d);
	ASSERT_GE((double)(after - before) + 3, sum);
	hmmctl_result_free(&r);
	close(fd);
}

/*
 * Read the pty's master into buf (NUL-terminated) until it has held needle
 * n times after offset from, or timeout_ms without output. true if so.
 */
static bool pty_until(int fd, char *buf, size_t *len, size_t cap,
		      size_t from, const char *needle, int n, int timeout_ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	const char *s;
	ssize_t r;
	int seen;

	for (;;) {
		buf[*len] = '\0';
		for (seen = 0, s = buf + from; (s = strstr(s, needle)); s++)
			seen++;
		if (seen >= n)
			return true;
		if (*len + 1 >= cap || poll(&pfd, 1, timeout_ms) <= 0)
			return false;
		r = read(fd, buf + *len, cap - 1 - *len);
		if (r <= 0)
			return false;
		*len += r;
	}
}

/* The widest line of the last whole frame in s (escapes not counted). */
static size_t widest_line(const char *s)
{
	const char *last = NULL, *prev = NULL, *c;
	size_t w = 0, max = 0;

	for (c = s; (c = strstr(c, "\033[H")); c++) {
		prev = last;
		last = c;
	}
	for (c = prev ? prev + 3 : s; *c && c != last; c++) {
		if (*c == '\033') {
			c++;
			while (*c && !((*c >= 'A' && *c <= 'Z') ||
				       (*c >= 'a' && *c <= 'z')))
				c++;
			if (!*c)
				break;
		} else if (*c == '\r' || *c == '\n') {
			w = 0;
		} else if (++w > max) {
			max = w;
		}
	}
	return max;
}

/*
 * top on a pseudo-terminal: hmmctl top as the session leader of a pty,
 * run one way (quit with 'q', or SIGTERM) ; what it drew read back.
 */
static void top_tty_case(struct __test_metadata *_metadata,
			 FIXTURE_DATA(hmmctl) *self, bool by_signal)
{
	struct winsize ws = { .ws_row = 30, .ws_col = 120 };
	const size_t cap = 1 << 20;
	struct termios before, after;
	int master, slave, st, fd = dummy_open(0);
	size_t len = 0, mark;
	char *out, idbuf[48];
	uint64_t mid;
	pid_t pid;

	ASSERT_LE(0, fd) TH_LOG("/dev/hmm_dummy0: %s", strerror(errno));
	ASSERT_NE(NULL, mirrored(fd, 4));
	ASSERT_NE(0U, (mid = my_mirror_id("hmm_dummy0")));
	ASSERT_NE(NULL, (out = malloc(cap)));
	ASSERT_EQ(0, openpty(&master, &slave, NULL, NULL, &ws));
	ASSERT_EQ(0, tcgetattr(slave, &before));
	ASSERT_TRUE(before.c_lflag & ICANON);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		if (setsid() < 0 || ioctl(slave, TIOCSCTTY, 0) ||
		    dup2(slave, 0) < 0 || dup2(slave, 1) < 0 ||
		    dup2(slave, 2) < 0)
			_exit(126);
		close(master);
		close(slave);
		execl(hmmctl_bin(), "hmmctl", "top", "-d", "0.2", NULL);
		_exit(127);
	}
	self->kid = pid;

	/* It draws on the alternate screen, and again every interval. */
	ASSERT_TRUE(pty_until(master, out, &len, cap, 0, "hmmctl top - ", 3,
			      20000)) TH_LOG("%zu bytes: %s", len, out);
	ASSERT_EQ(out, strstr(out, "\033[?1049h"));
	ASSERT_NE(NULL, strstr(out, "\033[?25l"));
	snprintf(idbuf, sizeof(idbuf), "\n%7" PRIu64 " hmm_dummy ", mid);
	ASSERT_NE(NULL, strstr(out, idbuf + 1)) TH_LOG("no line of mirror %" PRIu64, mid);
	/* The widest line, the column heads, fits: not cut. */
	ASSERT_LT(50U, widest_line(out));
	ASSERT_GT(120U, widest_line(out));
	/* Narrower: redrawn at once, each line cut to the new width. */
	mark = len;
	ws.ws_col = 50;
	ASSERT_EQ(0, ioctl(master, TIOCSWINSZ, &ws));
	ASSERT_TRUE(pty_until(master, out, &len, cap, mark, "hmmctl top - ",
			      3, 20000));
	ASSERT_EQ(50U, widest_line(out + mark));

	if (by_signal) {
		ASSERT_EQ(0, kill(pid, SIGTERM));
	} else {
		ASSERT_EQ(1, write(master, "q", 1));
	}
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	self->kid = -1;
	ASSERT_TRUE(WIFEXITED(st)) TH_LOG("status %#x", st);
	ASSERT_EQ(0, WEXITSTATUS(st));
	mark = len;
	pty_until(master, out, &len, cap, mark, "\033[?1049l", 1, 1000);
	/* The terminal as it found it: main screen, cursor, line mode. */
	ASSERT_NE(NULL, strstr(out + mark > out + 16 ? out + mark - 16 : out,
			       "\033[?25h\033[?1049l")) TH_LOG("not restored");
	ASSERT_EQ(0, tcgetattr(slave, &after));
	ASSERT_EQ(before.c_lflag & (ICANON | ECHO),
		  after.c_lflag & (ICANON | ECHO));
	close(master);
	close(slave);
	free(out);
	close(fd);
}

/* top on a terminal: draws, redraws to a new width, quits on 'q'. */
TEST_F_TIMEOUT(hmmctl, top_tty_quit, 60)
{
	top_tty_case(_metadata, self, false);
}

/* top on a terminal, ended by SIGTERM: the terminal restored too. */
TEST_F_TIMEOUT(hmmctl, top_tty_sigterm, 60)
{
	top_tty_case(_metadata, self, true);
}

/*
 * No hmm_dummy loaded: devices fails with exit code 2 and the message, and
 * mirrors, on hmm_core's family, still works; then load it again.
 */
TEST_F_TIMEOUT(hmmctl, family_missing, 60)
{
	struct hmmctl_result r, r2;
	int ko = open("/hmm_dummy.ko", O_RDONLY | O_CLOEXEC), i, loaded, mirrors;

	if (ko < 0)
		SKIP(return, "no /hmm_dummy.ko to load again (not in a vm-run guest)");
	/* A file of an earlier case may still be closing. */
	for (i = 0; syscall(SYS_delete_module, "hmm_dummy", O_NONBLOCK); i++) {
		ASSERT_TRUE(errno == EAGAIN && i < 100)
			TH_LOG("cannot unload hmm_dummy (%s): %ld references",
			       strerror(errno), module_refs("hmm_dummy"));
		usleep(100000);
	}
	if (i)
		hmm_diag("hmm_dummy unloaded after %d tries", i + 1);
	HMMCTL(&r, "devices");
	mirrors = HMMCTL(&r2, "mirrors");
	hmmctl_result_free(&r2);
	loaded = syscall(SYS_finit_module, ko, "", 0);
	ASSERT_EQ(0, loaded)
		TH_LOG("loading /hmm_dummy.ko again failed: %s", strerror(errno));
	close(ko);
	ASSERT_EQ(2, r.status);
	ASSERT_NE(NULL, strstr(r.err, "hmmctl: the hmm_dummy netlink family is not available: is hmm_dummy loaded?"));
	hmmctl_result_free(&r);
	ASSERT_EQ(0, mirrors);
	ASSERT_EQ(0, HMMCTL(&r, "devices"));
	hmmctl_result_free(&r);
}

TEST_HARNESS_MAIN
