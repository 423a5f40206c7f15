// SPDX-License-Identifier: GPL-2.0
/*
 * netlink_hmmctl - hmmctl and the hmm_dummy netlink family, end to end
 *
 * Each case sets state up through /dev/hmm_dummyN, runs hmmctl --json (as
 * the guest's root, or as uid 65534) and checks what it prints against that
 * state: the devices and their open files, a mirror of 100 pages and its
 * counters, its device page table against /proc/self/pagemap, hmm_core's
 * counters, a munmap seen live by `hmmctl monitor`, the exit codes and
 * messages of hmmctl(8), and an invalidation storm with a stopped monitor:
 * kernel memory stays bounded and comes back, and every event is either
 * delivered or counted as dropped. Also: the range of a mirror after
 * SET_RANGE, and that uid 65534 does not see root's mirrors.
 */
#define _GNU_SOURCE
#include <grp.h>
#include <linux/mempolicy.h>
#include <signal.h>
#include <sys/syscall.h>

#include "tap.h"
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

/* The mirror of this process on DEV ("hmm_dummy0"): its JSON line, or NULL. */
static char *my_mirror(const char *dev)
{
	struct hmmctl_result r;
	const char *pos, *l;
	char *line = NULL;
	char tgid[16];

	snprintf(tgid, sizeof(tgid), "%d", getpid());
	if (HMMCTL(&r, "--json", "mirrors") != 0)
		goto out;
	for (pos = r.out; (l = next_line(&pos, "tgid", tgid));) {
		if (json_is(l, "dev", dev)) {
			line = strndup(l, strcspn(l, "\n"));
			break;
		}
	}
out:
	hmmctl_result_free(&r);
	return line;
}

static uint64_t my_mirror_id(const char *dev)
{
	char *l = my_mirror(dev);
	uint64_t id = 0;

	if (l)
		json_u64(l, "id", &id);
	free(l);
	return id;
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

/* devices: the four nodes, their ABI, and the files open on each. */
static int devices(void)
{
	static const char *const names[] = {
		"hmm_dummy0", "hmm_dummy1", "hmm_dmirror0", "hmm_dmirror1",
	};
	struct hmmctl_result r;
	const char *pos, *l;
	uint64_t v;
	int fd1, fd2;
	unsigned int i;

	CHECK_EQ(HMMCTL(&r, "devices"), 0);
	CHECK(strstr(r.out, "hmm_dmirror1"));
	hmmctl_result_free(&r);

	fd1 = dummy_open(1);
	fd2 = dummy_open(1);
	CHECK(fd1 >= 0 && fd2 >= 0);
	CHECK_EQ(HMMCTL(&r, "--json", "devices"), 0);
	CHECK(r.out[0] == '[');
	for (i = 0; i < 4; i++) {
		pos = r.out;
		l = next_line(&pos, "name", names[i]);
		CHECK(l);
		CHECK(json_u64(l, "index", &v));
		CHECK_EQ(v, i);
		CHECK(json_is(l, "abi", i < 2 ? "native" : "dmirror"));
		CHECK(json_u64(l, "mirrors", &v));
		CHECK_EQ(v, i == 1 ? 2 : 0);
	}
	hmmctl_result_free(&r);
	close(fd1);
	close(fd2);
	CHECK_EQ(HMMCTL(&r, "--json", "devices"), 0);
	pos = r.out;
	CHECK((l = next_line(&pos, "name", "hmm_dummy1")));
	CHECK(json_u64(l, "mirrors", &v) && v == 0);
	hmmctl_result_free(&r);
	return TAP_PASS;
}

/* mirrors: a mirror of 100 pages shows its owner, device and counters. */
static int mirrors(void)
{
	int fd = dummy_open(0);
	struct hmm_dummy_counters c;
	uint64_t v, u0;
	char *l, *p;

	CHECK(fd >= 0);
	CHECK((p = mirrored(fd, 100)));
	CHECK((l = my_mirror("hmm_dummy0")));
	diag("%s", l);
	CHECK(json_u64(l, "id", &v) && v > 0);
	CHECK(json_u64(l, "dev_index", &v) && v == 0);
	CHECK(json_u64(l, "start", &v) && v == 0);
	CHECK(json_u64(l, "end", &v) && v >= (uintptr_t)p + 100 * PAGE);
	CHECK(json_u64(l, "pages", &v));
	CHECK_EQ(v, 100);
	CHECK(json_u64(l, "pages_populated", &v));
	CHECK_EQ(v, 100);
	CHECK(json_u64(l, "device_faults", &v));
	CHECK_EQ(v, 1);
	CHECK(json_is(l, "released", "false"));
	CHECK_OK(dummy_counters(fd, &c));
	CHECK(json_u64(l, "pages_invalidated", &v));
	CHECK_EQ(v, c.pages_invalidated);
	free(l);

	/*
	 * 40 pages unmapped: 60 left, and one more unmap invalidation. Its
	 * count is read between two reads of the file's own: running hmmctl
	 * frees this process's buffers, which may unmap (trim the heap) after
	 * the dump and so before a single read after it.
	 */
	CHECK_OK(munmap(p, 40 * PAGE));
	CHECK_OK(dummy_counters(fd, &c));
	u0 = c.invalidations[HMM_DUMMY_EVENT_UNMAP];
	CHECK((l = my_mirror("hmm_dummy0")));
	CHECK_OK(dummy_counters(fd, &c));
	CHECK(json_u64(l, "pages", &v));
	CHECK_EQ(v, 60);
	CHECK(json_u64(strstr(l, "\"invalidations\""), "unmap", &v));
	if (v < u0 || v > c.invalidations[HMM_DUMMY_EVENT_UNMAP])
		diag("unmap %" PRIu64 ", not in [%" PRIu64 ", %" PRIu64 "]",
		     v, u0, (uint64_t)c.invalidations[HMM_DUMMY_EVENT_UNMAP]);
	CHECK(v >= u0 && v <= c.invalidations[HMM_DUMMY_EVENT_UNMAP]);
	CHECK(v >= 1);
	free(l);
	close(fd);
	CHECK(!my_mirror("hmm_dummy0"));
	return TAP_PASS;
}

/* pt output for [p, p + n pages): exactly those pages, the CPU's pfns. */
static int check_pt(const char *out, char *p, size_t n, uint64_t id)
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
		CHECK(i < n);
		CHECK(json_u64(l, "addr", &v));
		CHECK_EQ(v, (uintptr_t)(p + i * PAGE));
		CHECK(json_u64(l, "pfn", &v));
		CHECK_EQ(v, cpu_pfn(p + i * PAGE));
		CHECK(v != 0);
		CHECK(json_is(l, "write", "true"));
		CHECK(json_u64(l, "order", &v) && v == 0);
	}
	CHECK_EQ(i, n);
	return TAP_PASS;
}

/* mirrors after SET_RANGE: that range, and pt's default is all of it. */
static int mirrors_set_range(void)
{
	int fd = dummy_open(0);
	struct hmmctl_result r;
	uint64_t v, done, mid;
	char id[24], *l, *p;

	CHECK(fd >= 0);
	CHECK((p = anon_map(16)));
	memset(p, 0x5a, 16 * PAGE);
	CHECK_OK(dummy_set_range(fd, p + 4 * PAGE, 8));
	CHECK_OK(dummy_fault(fd, p + 4 * PAGE, 8, HMM_DUMMY_FAULT_WRITE, &done));
	CHECK_EQ(done, 8);
	CHECK((l = my_mirror("hmm_dummy0")));
	diag("%s", l);
	CHECK(json_u64(l, "start", &v));
	CHECK_EQ(v, (uintptr_t)p + 4 * PAGE);
	CHECK(json_u64(l, "end", &v));
	CHECK_EQ(v, (uintptr_t)p + 12 * PAGE);
	CHECK(json_u64(l, "id", &mid));
	free(l);
	snprintf(id, sizeof(id), "%" PRIu64, mid);
	CHECK_EQ(HMMCTL(&r, "--json", "pt", id), 0);
	CHECK_EQ(check_pt(r.out, p + 4 * PAGE, 8, mid), TAP_PASS);
	hmmctl_result_free(&r);
	/* Below the mirrored range: the kernel says no. */
	CHECK_EQ(HMMCTL(&r, "pt", id, "0", "0x1000"), 5);
	hmmctl_result_free(&r);
	close(fd);
	return TAP_PASS;
}

/* pt: the device page table of 100 pages lists exactly their pfns. */
static int pt_pagemap(void)
{
	int fd = dummy_open(0);
	struct hmmctl_result r;
	char start[32], end[32], id[24];
	uint64_t mid;
	char *p;

	CHECK(fd >= 0);
	CHECK((p = mirrored(fd, 100)));
	CHECK((mid = my_mirror_id("hmm_dummy0")));
	snprintf(id, sizeof(id), "%" PRIu64, mid);

	/* The whole mirror: only these 100 pages were ever populated. */
	CHECK_EQ(HMMCTL(&r, "--json", "pt", id), 0);
	CHECK_EQ(check_pt(r.out, p, 100, mid), TAP_PASS);
	hmmctl_result_free(&r);

	/* A sub-range, in hex. */
	snprintf(start, sizeof(start), "%#lx", (unsigned long)(p + 10 * PAGE));
	snprintf(end, sizeof(end), "%#lx", (unsigned long)(p + 20 * PAGE));
	CHECK_EQ(HMMCTL(&r, "--json", "pt", id, start, end), 0);
	CHECK_EQ(check_pt(r.out, p + 10 * PAGE, 10, mid), TAP_PASS);
	hmmctl_result_free(&r);

	/* Text: a header and one line per entry. */
	CHECK_EQ(HMMCTL(&r, "pt", id, start, end), 0);
	{
		size_t lines = 0;
		const char *c;

		for (c = r.out; (c = strchr(c, '\n')); c++)
			lines++;
		CHECK_EQ(lines, 11);
	}
	hmmctl_result_free(&r);

	/* After munmap: nothing left. */
	CHECK_OK(munmap(p, 100 * PAGE));
	CHECK_EQ(HMMCTL(&r, "--json", "pt", id), 0);
	CHECK(!strcmp(r.out, "[]\n"));
	hmmctl_result_free(&r);
	close(fd);
	return TAP_PASS;
}

/* pt over many recv() calls: 8192 entries, each one right, none twice. */
static int pt_resumable(void)
{
	const size_t n = 8192;
	unsigned long node0 = 1;
	int fd = dummy_open(0);
	struct hmmctl_result r;
	char id[24];
	uint64_t mid;
	char *p;

	CHECK(fd >= 0);
	/*
	 * Out of NUMA balancing's scan (a preferred-node policy), which
	 * would unmap some of the 8192 pages, and so drop their entries,
	 * between the fault and the dump (seen once).
	 */
	CHECK_OK(syscall(SYS_set_mempolicy, MPOL_PREFERRED, &node0, 2));
	CHECK((p = mirrored(fd, n)));
	CHECK((mid = my_mirror_id("hmm_dummy0")));
	snprintf(id, sizeof(id), "%" PRIu64, mid);
	CHECK_EQ(HMMCTL(&r, "--json", "pt", id), 0);
	diag("%zu entries, %zu bytes of JSON", n, strlen(r.out));
	CHECK_EQ(check_pt(r.out, p, n, mid), TAP_PASS);
	hmmctl_result_free(&r);
	close(fd);
	return TAP_PASS;
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
static int stats(void)
{
	uint64_t m0, m1, u0, u1;
	int fd;
	char *p;

	CHECK(stats_u64("mirrors", &m0));
	CHECK((fd = dummy_open(0)) >= 0);
	CHECK(stats_u64("mirrors", &m1));
	CHECK_EQ(m1, m0 + 1);
	CHECK((p = mirrored(fd, 4)));
	CHECK(stats_unmaps(&u0));
	CHECK_OK(munmap(p, 4 * PAGE));
	CHECK(stats_unmaps(&u1));
	CHECK(u1 >= u0 + 1);
	close(fd);
	CHECK(stats_u64("mirrors", &m1));
	CHECK_EQ(m1, m0);
	return TAP_PASS;
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

/* The monitor's summary line after SIGTERM, into line; its exit code. */
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
	if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

/* monitor: a munmap of a mirrored range arrives with that exact range. */
static int monitor_munmap(void)
{
	static struct line_reader lr;
	uint64_t id, v, start, end;
	char line[1024], idbuf[24];
	bool seen = false;
	pid_t mon;
	char *p;
	int fd;

	CHECK((mon = monitor_start(&lr, NULL, NULL)) > 0);
	CHECK((fd = dummy_open(0)) >= 0);
	CHECK((id = my_mirror_id("hmm_dummy0")));
	snprintf(idbuf, sizeof(idbuf), "%" PRIu64, id);
	CHECK((p = mirrored(fd, 16)));
	start = (uintptr_t)p;
	end = start + 16 * PAGE;
	CHECK_OK(munmap(p, 16 * PAGE));

	/*
	 * The test's own mallocs and frees (running hmmctl) unmap too: the
	 * munmap's event is the one with exactly its range.
	 */
	while (!seen && read_line(&lr, line, sizeof(line), 10000)) {
		uint64_t s = 0, e = 0;

		if (!json_is(line, "event", "invalidate") ||
		    !json_is(line, "mirror", idbuf) ||
		    !json_is(line, "reason", "unmap"))
			continue;
		diag("%s", line);
		CHECK(json_u64(line, "start", &s) && json_u64(line, "end", &e));
		if (s != start || e != end)
			continue;
		CHECK(json_is(line, "blockable", "true"));
		CHECK(json_u64(line, "seq", &v) && v > 0);
		seen = true;
	}
	if (!seen)
		diag("no unmap event for [%#" PRIx64 ", %#" PRIx64 ")", start, end);
	CHECK(seen);
	/* Closing the file: an unregister event for the mirror. */
	close(fd);
	seen = false;
	while (!seen && read_line(&lr, line, sizeof(line), 10000))
		seen = json_is(line, "event", "unregister") &&
		       json_is(line, "mirror", idbuf);
	CHECK(seen);
	CHECK_EQ(monitor_stop(mon, &lr, line, sizeof(line)), 0);
	diag("%s", line);
	CHECK(json_u64(line, "received", &v) && v >= 3);
	CHECK(json_u64(line, "lost", &v) && v == 0);
	return TAP_PASS;
}

/*
 * uid 65534: no pfns, no events; listing devices and mirrors is fine, but
 * root's mirror is not in the list, nor in the device's count, and a
 * direct look-up of it finds nothing.
 */
static int unprivileged(void)
{
	int fd = dummy_open(0), st;
	char id[24];
	pid_t pid;

	CHECK(fd >= 0);
	CHECK(mirrored(fd, 4));
	snprintf(id, sizeof(id), "%" PRIu64, my_mirror_id("hmm_dummy0"));
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		struct hmmctl_result r;
		const char *pos, *l;
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
		_exit(0);
	}
	CHECK(waitpid(pid, &st, 0) == pid);
	CHECK(WIFEXITED(st));
	if (WEXITSTATUS(st))
		diag("uid 65534 child: exit %d", WEXITSTATUS(st));
	CHECK_EQ(WEXITSTATUS(st), 0);
	close(fd);
	return TAP_PASS;
}

/* Exit codes and messages of hmmctl(8). */
static int exit_codes(void)
{
	struct hmmctl_result r;
	char id[24], bad[32];
	int fd = dummy_open(0);
	char *p;

	CHECK(fd >= 0);
	CHECK((p = mirrored(fd, 1)));
	snprintf(id, sizeof(id), "%" PRIu64, my_mirror_id("hmm_dummy0"));
	snprintf(bad, sizeof(bad), "%#lx", (unsigned long)p + 1);

	CHECK_EQ(HMMCTL(&r, "frobnicate"), 1);
	CHECK(strstr(r.err, "unknown command"));
	hmmctl_result_free(&r);
	CHECK_EQ(HMMCTL(&r, "devices", "extra"), 1);
	hmmctl_result_free(&r);
	CHECK_EQ(HMMCTL(&r, "pt", "x1"), 1);
	hmmctl_result_free(&r);
	CHECK_EQ(HMMCTL(&r, "--bogus", "stats"), 1);
	hmmctl_result_free(&r);
	CHECK_EQ(HMMCTL(&r, "pt", "2147483000"), 4);
	CHECK(strstr(r.err, "no such mirror"));
	hmmctl_result_free(&r);
	CHECK_EQ(HMMCTL(&r, "pt", id, bad), 1);
	CHECK(strstr(r.err, "page aligned"));
	hmmctl_result_free(&r);
	CHECK_EQ(HMMCTL(&r, "pt", id, "0x2000", "0x1000"), 1);
	CHECK(strstr(r.err, "below END"));
	hmmctl_result_free(&r);
	/* Past the end of user space: the kernel says no. */
	CHECK_EQ(HMMCTL(&r, "pt", id, "0", "0x7ffffffffffff000"), 5);
	hmmctl_result_free(&r);
	CHECK_EQ(HMMCTL(&r, "--json", "monitor", "--count", "0"), 1);
	hmmctl_result_free(&r);
	close(fd);
	return TAP_PASS;
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

/* The storm's monitor and child while they run: storm() reaps them. */
static pid_t storm_mon = -1, storm_kid = -1;

/*
 * After the storm, wait until the monitor has read everything the storm
 * left queued: open hmm_dummy1 and wait for the register event of that
 * mirror, by its id (the event, not just any register line: the storm
 * child's own register may still be queued). While the monitor's socket
 * is still congested the event is dropped, and counted, like the storm's:
 * then close, and try a new one. The file found is left open (in *fd)
 * until the monitor is stopped: its unregister comes after the summary's
 * counters, or it could be dropped outside every gap the monitor sees.
 */
static int storm_marker(struct line_reader *lr, int *fd)
{
	char line[1024], idbuf[24];
	uint64_t id;
	int tries;

	for (tries = 0; tries < 30; tries++) {
		CHECK((*fd = dummy_open(1)) >= 0);
		CHECK((id = my_mirror_id("hmm_dummy1")));
		snprintf(idbuf, sizeof(idbuf), "%" PRIu64, id);
		while (read_line(lr, line, sizeof(line), 2000))
			if (json_is(line, "event", "register") &&
			    json_is(line, "mirror", idbuf)) {
				diag("monitor: %s", line);
				return TAP_PASS;
			}
		close(*fd);
		*fd = -1;
	}
	diag("no register event of a new mirror after 30 tries");
	return TAP_FAIL;
}

static int storm_run(void)
{
	static struct line_reader lr;
	struct storm_report rep;
	uint64_t sent0, sent1, drop0, drop1, ev = 0, v, lost;
	unsigned long n;
	long slab0, slab1, slab2;
	int go[2], done[2], e, st, marker = -1;
	char line[1024];
	pid_t mon, child;

	CHECK_OK(pipe2(go, O_CLOEXEC));
	CHECK_OK(pipe2(done, O_CLOEXEC));
	storm_kid = child = fork();
	CHECK(child >= 0);
	if (child == 0) {
		/* EOF on go if this case dies: the child exits too. */
		close(go[1]);
		close(done[0]);
		storm_child(go[0], done[1]);
	}
	close(go[0]);
	close(done[1]);

	CHECK((mon = monitor_start(&lr, "--rcvbuf", "4096")) > 0);
	storm_mon = mon;
	CHECK_OK(kill(mon, SIGSTOP));
	/* The child's timing toggles are over before anything is counted. */
	CHECK_EQ(write(go[1], "c", 1), 1);
	CHECK_EQ(read(done[0], &n, sizeof(n)), sizeof(n));
	diag("storm of %lu toggles", n);
	slab0 = meminfo_kb("SUnreclaim");
	CHECK(stats_u64("events_sent", &sent0));
	CHECK(stats_u64("events_dropped", &drop0));

	CHECK_EQ(write(go[1], "g", 1), 1);
	CHECK_EQ(read(done[0], &rep, sizeof(rep)), sizeof(rep));
	CHECK(rep.ok);

	CHECK(stats_u64("events_sent", &sent1));
	CHECK(stats_u64("events_dropped", &drop1));
	slab1 = meminfo_kb("SUnreclaim");
	for (e = 0; e < HMM_DUMMY_NR_EVENTS; e++)
		ev += rep.c1.invalidations[e] - rep.c0.invalidations[e];
	v = rep.c1.invalidations[HMM_DUMMY_EVENT_PROTECTION_VMA] -
	    rep.c0.invalidations[HMM_DUMMY_EVENT_PROTECTION_VMA];
	diag("%" PRIu64 " invalidations (%" PRIu64 " protection_vma) in %.1f s: %"
	     PRIu64 " events sent, %" PRIu64 " dropped", ev, v, rep.seconds,
	     sent1 - sent0, drop1 - drop0);
	diag("SUnreclaim %ld kB before, %ld kB after the storm", slab0, slab1);
	CHECK(v >= n);
	CHECK_EQ((sent1 - sent0) + (drop1 - drop0), ev);
	CHECK(drop1 - drop0 >= n / 2);
	if (kasan_on())
		diag("KASAN: slab growth not checked (its quarantine holds freed objects)");
	else
		CHECK(slab1 - slab0 < SLAB_TOLERANCE_KB);

	/*
	 * One more event after the storm, so the monitor sees the gap: with
	 * it the only listener, what it lost is what the kernel dropped.
	 * Waiting for any register line, after a second without output, let
	 * a slow monitor's queued one (the storm child's) pass for it: the
	 * monitor then stopped before the post-storm event, saw no gap, and
	 * said "lost 0" with the kernel's drops counted.
	 */
	CHECK_OK(kill(mon, SIGCONT));
	e = storm_marker(&lr, &marker);
	CHECK_EQ(e, TAP_PASS);
	e = monitor_stop(mon, &lr, line, sizeof(line));
	storm_mon = -1;
	close(marker);
	CHECK_EQ(e, 0);
	diag("monitor: %s", line);
	CHECK(json_u64(line, "kernel_dropped", &v));
	CHECK(v >= drop1 - drop0);
	CHECK(json_u64(line, "lost", &lost));
	CHECK_EQ(lost, v);
	CHECK(json_u64(line, "received", &v) && v < n / 2);

	CHECK_EQ(write(go[1], "x", 1), 1);
	CHECK(waitpid(child, &st, 0) == child && WIFEXITED(st));
	storm_kid = -1;
	CHECK_EQ(WEXITSTATUS(st), 0);
	/* The monitor's socket and queue are gone: all of it came back. */
	sleep(1);
	slab2 = meminfo_kb("SUnreclaim");
	diag("SUnreclaim %ld kB after the monitor exited", slab2);
	if (!kasan_on())
		CHECK(slab2 - slab0 < SLAB_TOLERANCE_KB);
	return TAP_PASS;
}

/*
 * Whatever storm_run() did, its monitor and child are gone when the case
 * ends: reaped, not only killed (tap_run_one() kills the process group,
 * but does not wait), so their files are closed before family_missing
 * unloads the module.
 */
static int storm(void)
{
	int ret = storm_run();

	if (storm_mon > 0) {
		kill(storm_mon, SIGKILL);
		waitpid(storm_mon, NULL, 0);
	}
	if (storm_kid > 0) {
		kill(storm_kid, SIGKILL);
		waitpid(storm_kid, NULL, 0);
	}
	return ret;
}

/* No hmm_dummy loaded: exit code 2 and the message; then load it again. */
static int family_missing(void)
{
	struct hmmctl_result r;
	int ko = open("/hmm_dummy.ko", O_RDONLY | O_CLOEXEC), i;

	if (ko < 0)
		return tap_skip_reason("no /hmm_dummy.ko to load again (not in a vm-run guest)");
	/* A file of an earlier case may still be closing. */
	for (i = 0; syscall(SYS_delete_module, "hmm_dummy", O_NONBLOCK); i++) {
		if (errno != EAGAIN || i == 100)
			diag("cannot unload hmm_dummy (%s): %ld references",
			     strerror(errno), module_refs("hmm_dummy"));
		CHECK(errno == EAGAIN && i < 100);
		usleep(100000);
	}
	if (i)
		diag("hmm_dummy unloaded after %d tries", i + 1);
	HMMCTL(&r, "devices");
	if (syscall(SYS_finit_module, ko, "", 0)) {
		diag("loading /hmm_dummy.ko again failed: %s", strerror(errno));
		return TAP_FAIL;
	}
	close(ko);
	CHECK_EQ(r.status, 2);
	CHECK(strstr(r.err, "hmmctl: the hmm_dummy netlink family is not available: is hmm_dummy loaded?"));
	hmmctl_result_free(&r);
	CHECK_EQ(HMMCTL(&r, "devices"), 0);
	hmmctl_result_free(&r);
	return TAP_PASS;
}

/*
 * A child that mirrors 16 MiB of its memory and waits to be killed; its
 * tgid is @pid. 0 when it is ready, or -1.
 */
static int mirrored_child(pid_t *pid)
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
static int oom_reaper_nonblocking(void)
{
	static struct line_reader lr;
	char line[1024], tgid[16], id[24];
	unsigned int tries;
	bool seen = false;
	pid_t mon, child;
	int pfd, ret;

	CHECK((mon = monitor_start(&lr, NULL, NULL)) > 0);
	for (tries = 0; tries < 10 && !seen; tries++) {
		CHECK_OK(mirrored_child(&child));
		snprintf(tgid, sizeof(tgid), "%d", child);
		CHECK((pfd = syscall(SYS_pidfd_open, child, 0)) >= 0);
		CHECK_OK(syscall(SYS_pidfd_send_signal, pfd, SIGKILL, NULL, 0));
		/*
		 * ESRCH: the child's exit_mmap() won the race. EAGAIN: a
		 * non-blocking invalidation failed (a mirror's trylock lost to
		 * the exiting child), which is the path under test too.
		 */
		ret = syscall(SYS_process_mrelease, pfd, 0);
		if (ret)
			diag("process_mrelease: %s", strerror(errno));
		CHECK(!ret || errno == ESRCH || errno == EAGAIN);
		close(pfd);
		CHECK(waitpid(child, NULL, 0) == child);
		/* Up to the child's unregister: its register names the mirror. */
		id[0] = '\0';
		while (read_line(&lr, line, sizeof(line), 10000)) {
			const char *v;

			if (json_is(line, "event", "register") &&
			    json_is(line, "tgid", tgid) &&
			    (v = json_field(line, "mirror")))
				snprintf(id, sizeof(id), "%.*s",
					 (int)strcspn(v, ",}"), v);
			if (!id[0] || !json_is(line, "mirror", id))
				continue;
			if (json_is(line, "event", "unregister"))
				break;
			if (json_is(line, "event", "invalidate") &&
			    json_is(line, "blockable", "false") && !seen) {
				diag("%s", line);
				seen = true;
			}
		}
		CHECK(id[0]);
	}
	diag("%u children for a non-blocking invalidation", tries);
	CHECK(seen);
	CHECK_EQ(monitor_stop(mon, &lr, line, sizeof(line)), 0);
	return TAP_PASS;
}

static const struct tap_case cases[] = {
	{ "devices", devices, 0 },
	{ "mirrors", mirrors, 0 },
	{ "mirrors_set_range", mirrors_set_range, 0 },
	{ "pt_pagemap", pt_pagemap, 0 },
	{ "pt_resumable", pt_resumable, 0 },
	{ "stats", stats, 0 },
	{ "monitor_munmap", monitor_munmap, 0 },
	{ "oom_reaper_nonblocking", oom_reaper_nonblocking, 180 },
	{ "unprivileged", unprivileged, 0 },
	{ "exit_codes", exit_codes, 0 },
	{ "storm", storm, 240 },
	{ "family_missing", family_missing, 0 },
};

int main(void)
{
	return TAP_MAIN(cases);
}
