// SPDX-License-Identifier: GPL-2.0
/*
 * trace_events - hmm_core's trace events, read back through tracefs as a
 * person with trace-cmd would: a known sequence through /dev/hmm_dummy0
 * (open, FAULT, munmap of part, mprotect, SNAPSHOT, close), each step
 * between two trace_marker lines, must give the events of that step, with
 * the ranges the program used, the driver "hmm_dummy", a duration and in
 * that order; a process that exits without closing gives release before
 * unregister; with the events off, nothing of hmm_core is recorded.
 */
#include <stdbool.h>
#include <stdint.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "dummy_util.h"

#define TRACEFS		"/sys/kernel/tracing"
#define MAX_EVENTS	4096

/* One line of the trace: an hmm_core event or a trace_marker phase. */
struct ev {
	char name[32];		/* "register", "invalidate", ..., or "mark" */
	char mirror[32];
	char driver[64];
	char event[32];		/* invalidate: the mmu notifier's event */
	char mark[32];		/* mark: the phase */
	unsigned long long start, end, pages, ns;
	long long ret, blockable, write;
};

struct trace {
	struct ev ev[MAX_EVENTS];
	int n;
};

static int tr_write(const char *file, const char *val)
{
	char path[128];
	int fd, ok;

	snprintf(path, sizeof(path), TRACEFS "/%s", file);
	fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ok = write(fd, val, strlen(val)) == (ssize_t)strlen(val);
	close(fd);
	return ok ? 0 : -1;
}

static int mark(const char *phase)
{
	char line[64];

	snprintf(line, sizeof(line), "phase %s", phase);
	return tr_write("trace_marker", line);
}

/* The text after "key=" up to the next blank, into out. */
static bool field_str(const char *line, const char *key, char *out, size_t len)
{
	const char *p = strstr(line, key);
	size_t n;

	if (!p)
		return false;
	p += strlen(key);
	n = strcspn(p, " \n");
	if (n >= len)
		n = len - 1;
	memcpy(out, p, n);
	out[n] = '\0';
	return true;
}

static unsigned long long field_num(const char *line, const char *key)
{
	char s[32];

	return field_str(line, key, s, sizeof(s)) ? strtoull(s, NULL, 0) : ~0ULL;
}

static void parse_line(struct trace *t, const char *line)
{
	const char *p;
	struct ev *e;

	if (t->n >= MAX_EVENTS || line[0] == '#')
		return;
	e = &t->ev[t->n];
	memset(e, 0, sizeof(*e));
	p = strstr(line, ": tracing_mark_write: phase ");
	if (p) {
		snprintf(e->name, sizeof(e->name), "mark");
		field_str(p, "phase ", e->mark, sizeof(e->mark));
		t->n++;
		return;
	}
	p = strstr(line, ": hmm_core_");
	if (!p)
		return;
	p += strlen(": hmm_core_");
	snprintf(e->name, sizeof(e->name), "%.*s", (int)strcspn(p, ":"), p);
	field_str(p, " mirror=", e->mirror, sizeof(e->mirror));
	field_str(p, " driver=", e->driver, sizeof(e->driver));
	field_str(p, " event=", e->event, sizeof(e->event));
	e->start = field_num(p, " start=");
	e->end = field_num(p, " end=");
	e->pages = field_num(p, " pages=");
	e->ns = field_num(p, " ns=");
	e->ret = (long long)field_num(p, " ret=");
	e->blockable = (long long)field_num(p, " blockable=");
	e->write = (long long)field_num(p, " write=");
	t->n++;
}

/* Stop recording and read the whole buffer. */
static int read_trace(struct trace *t)
{
	char *buf = NULL, *line, *save;
	size_t len = 0, cap = 0;
	ssize_t r;
	int fd;

	if (tr_write("tracing_on", "0"))
		return -1;
	fd = open(TRACEFS "/trace", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	do {
		if (cap - len < 65536) {
			cap = cap ? 2 * cap : 1 << 20;
			buf = realloc(buf, cap + 1);
			if (!buf) {
				close(fd);
				return -1;
			}
		}
		r = read(fd, buf + len, cap - len);
		if (r > 0)
			len += r;
	} while (r > 0);
	close(fd);
	if (r < 0) {
		free(buf);
		return -1;
	}
	buf[len] = '\0';
	t->n = 0;
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save))
		parse_line(t, line);
	free(buf);
	return 0;
}

/* Clear the buffer, turn hmm_core's events on or off, record. */
static int trace_start(bool events)
{
	if (tr_write("tracing_on", "0") || tr_write("trace", "") ||
	    tr_write("events/hmm_core/enable", events ? "1" : "0"))
		return -1;
	return tr_write("tracing_on", "1");
}

/* The index of the marker of phase, or -1. */
static int phase_at(const struct trace *t, const char *phase)
{
	int i;

	for (i = 0; i < t->n; i++)
		if (!strcmp(t->ev[i].name, "mark") && !strcmp(t->ev[i].mark, phase))
			return i;
	return -1;
}

/* The next event named name of mirror (any if NULL) in [from, to), or -1. */
static int find(const struct trace *t, int from, int to, const char *name,
		const char *mirror)
{
	int i;

	for (i = from; i >= 0 && i < to && i < t->n; i++)
		if (!strcmp(t->ev[i].name, name) &&
		    (!mirror || !strcmp(t->ev[i].mirror, mirror)))
			return i;
	return -1;
}

/*
 * Every invalidate event of @mirror from event @from up to event @to: of
 * hmm_dummy, over [@start, @end), for @event, blockable, timed, and
 * successful.
 */
static void expect_invalidations(struct __test_metadata *_metadata,
				 const struct trace *t, int from, int to,
				 const char *mirror, uintptr_t start,
				 uintptr_t end, const char *event)
{
	int i;

	for (i = from; i >= 0; i = find(t, i + 1, to, "invalidate", mirror)) {
		EXPECT_STREQ("hmm_dummy", t->ev[i].driver);
		EXPECT_EQ(start, t->ev[i].start);
		EXPECT_EQ(end, t->ev[i].end);
		EXPECT_STREQ(event, t->ev[i].event);
		EXPECT_EQ(1, t->ev[i].blockable);
		EXPECT_LT(0, t->ev[i].ns);
		EXPECT_EQ(0, t->ev[i].ret);
	}
}

static int count(const struct trace *t, const char *prefix)
{
	int i, n = 0;

	for (i = 0; i < t->n; i++)
		if (!strncmp(t->ev[i].name, prefix, strlen(prefix)))
			n++;
	return n;
}

/*
 * 16 pages at a 2 MiB boundary, never a huge page, so that the notifier's
 * ranges are exactly the ones the program uses. *map: the whole mapping,
 * 2 * HPAGE bytes, for munmap().
 */
static char *map_region(char **map)
{
	char *p = mmap(NULL, 2 * HPAGE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *base;

	if (p == MAP_FAILED)
		return NULL;
	*map = p;
	base = (char *)(((uintptr_t)p + HPAGE - 1) & ~(HPAGE - 1));
	if (madvise(base, 16 * PAGE, MADV_NOHUGEPAGE)) {
		munmap(p, 2 * HPAGE);
		return NULL;
	}
	memset(base, 0x5a, 16 * PAGE);
	return base;
}

/*
 * The known sequence, a marker before each step: open, FAULT (write) of
 * pages 0-7, munmap of pages 12-15, mprotect(PROT_READ) of pages 0-3,
 * SNAPSHOT of pages 0-7, close.
 */
static int drive_sequence(char *base)
{
	uint8_t snap[8];
	uint64_t done;
	int fd;

	if (mark("open"))
		return -1;
	fd = dummy_open(0);
	if (fd < 0)
		return -1;
	if (mark("fault") ||
	    dummy_fault(fd, base, 8, HMM_DUMMY_FAULT_WRITE, &done) ||
	    done != 8 || mark("munmap") ||
	    munmap(base + 12 * PAGE, 4 * PAGE) || mark("mprotect") ||
	    mprotect(base, 4 * PAGE, PROT_READ) || mark("snapshot") ||
	    dummy_snapshot(fd, base, 8, snap) || mark("close")) {
		close(fd);
		return -1;
	}
	close(fd);
	return mark("end");
}

FIXTURE(trace) {
	struct trace *t;
};

FIXTURE_SETUP(trace)
{
	struct stat st;

	if (stat(TRACEFS "/trace", &st) &&
	    mount("tracefs", TRACEFS, "tracefs", 0, NULL))
		SKIP(return, "no tracefs at " TRACEFS ": %s", strerror(errno));
	ASSERT_EQ(0, stat(TRACEFS "/events/hmm_core", &st))
		TH_LOG("hmm_core's events are not in tracefs (is hmm_core loaded?)");
	self->t = calloc(1, sizeof(*self->t));
	ASSERT_NE(NULL, self->t);
}

FIXTURE_TEARDOWN(trace)
{
	tr_write("events/hmm_core/enable", "0");
	tr_write("trace", "");
	tr_write("tracing_on", "1");
	free(self->t);
}

/* Every event exists and has the fields the documentation names. */
TEST_F(trace, formats)
{
	static const struct {
		const char *event;
		const char *fields[9];
	} want[] = {
		{ "register", { "mirror", "driver", "start", "end", "ret" } },
		{ "unregister", { "mirror", "driver", "start", "end" } },
		{ "release", { "mirror", "driver", "start", "end", "ns" } },
		{ "invalidate", { "mirror", "driver", "start", "end", "event",
				  "blockable", "ns", "ret" } },
		{ "range_fault", { "mirror", "driver", "start", "pages",
				   "write", "ret" } },
		{ "range_snapshot", { "mirror", "driver", "start", "pages",
				      "ret" } },
		{ "retry", { "mirror", "driver", "start", "pages", "commit" } },
	};
	char path[128], buf[8192], needle[48];
	unsigned int i, j;
	ssize_t n;
	int fd;

	for (i = 0; i < ARRAY_SIZE(want); i++) {
		snprintf(path, sizeof(path),
			 TRACEFS "/events/hmm_core/hmm_core_%s/format",
			 want[i].event);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		ASSERT_LE(0, fd) TH_LOG("%s: %s", path, strerror(errno));
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		ASSERT_LT(0, n);
		buf[n] = '\0';
		for (j = 0; want[i].fields[j]; j++) {
			snprintf(needle, sizeof(needle), " %s;",
				 want[i].fields[j]);
			if (!strstr(buf, needle))
				snprintf(needle, sizeof(needle), " %s[",
					 want[i].fields[j]);
			EXPECT_NE(NULL, strstr(buf, needle))
				TH_LOG("hmm_core_%s has no field %s",
				       want[i].event, want[i].fields[j]);
		}
	}
}

/* The known sequence gives its events, with its ranges, in its order. */
TEST_F_TIMEOUT(trace, sequence, 60)
{
	struct trace *t = self->t;
	const unsigned long pg = PAGE;
	int open_at, fault_at, unmap_at, prot_at, snap_at, close_at, end_at;
	int reg, fault, unmap, prot, snap, unreg, i;
	uintptr_t base_addr;
	char mirror[32];
	char *base, *map;

	base = map_region(&map);
	ASSERT_NE(NULL, base);
	base_addr = (uintptr_t)base;
	ASSERT_EQ(0, trace_start(true));
	ASSERT_EQ(0, drive_sequence(base));
	ASSERT_EQ(0, read_trace(t));

	open_at = phase_at(t, "open");
	fault_at = phase_at(t, "fault");
	unmap_at = phase_at(t, "munmap");
	prot_at = phase_at(t, "mprotect");
	snap_at = phase_at(t, "snapshot");
	close_at = phase_at(t, "close");
	end_at = phase_at(t, "end");
	ASSERT_TRUE(open_at >= 0 && open_at < fault_at && fault_at < unmap_at &&
		    unmap_at < prot_at && prot_at < snap_at &&
		    snap_at < close_at && close_at < end_at)
		TH_LOG("markers missing or out of order (%d events)", t->n);

	/* open: one mirror of the whole address space. */
	reg = find(t, open_at, fault_at, "register", NULL);
	ASSERT_LE(0, reg) TH_LOG("no register event between open and fault");
	snprintf(mirror, sizeof(mirror), "%s", t->ev[reg].mirror);
	EXPECT_STREQ("hmm_dummy", t->ev[reg].driver);
	EXPECT_EQ(0, t->ev[reg].start);
	EXPECT_LT(base_addr, t->ev[reg].end);
	EXPECT_EQ(0, t->ev[reg].ret);

	/* FAULT: pages 0-7, for writing. */
	fault = find(t, fault_at, unmap_at, "range_fault", mirror);
	ASSERT_LE(0, fault) TH_LOG("no range_fault event for the FAULT");
	EXPECT_STREQ("hmm_dummy", t->ev[fault].driver);
	EXPECT_EQ(base_addr, t->ev[fault].start);
	EXPECT_EQ(8, t->ev[fault].pages);
	EXPECT_EQ(1, t->ev[fault].write);
	EXPECT_EQ(0, t->ev[fault].ret);

	/* munmap: pages 12-15, and nothing else of the mirror. */
	unmap = find(t, unmap_at, prot_at, "invalidate", mirror);
	ASSERT_LE(0, unmap) TH_LOG("no invalidate event for the munmap");
	expect_invalidations(_metadata, t, unmap, prot_at, mirror,
			     base_addr + 12 * pg, base_addr + 16 * pg, "unmap");

	/* mprotect: pages 0-3, a protection change of the vma. */
	prot = find(t, prot_at, snap_at, "invalidate", mirror);
	ASSERT_LE(0, prot) TH_LOG("no invalidate event for the mprotect");
	expect_invalidations(_metadata, t, prot, snap_at, mirror, base_addr,
			     base_addr + 4 * pg, "protection_vma");

	/* SNAPSHOT: pages 0-7, nothing faulted. */
	snap = find(t, snap_at, close_at, "range_snapshot", mirror);
	ASSERT_LE(0, snap) TH_LOG("no range_snapshot event for the SNAPSHOT");
	EXPECT_STREQ("hmm_dummy", t->ev[snap].driver);
	EXPECT_EQ(base_addr, t->ev[snap].start);
	EXPECT_EQ(8, t->ev[snap].pages);
	EXPECT_EQ(0, t->ev[snap].ret);

	/* close: the same mirror goes, and nothing of it comes after. */
	unreg = find(t, close_at, end_at, "unregister", mirror);
	ASSERT_LE(0, unreg) TH_LOG("no unregister event for the close");
	EXPECT_STREQ("hmm_dummy", t->ev[unreg].driver);
	EXPECT_EQ(t->ev[reg].start, t->ev[unreg].start);
	EXPECT_EQ(t->ev[reg].end, t->ev[unreg].end);
	for (i = unreg + 1; i < t->n; i++)
		EXPECT_NE(0, strcmp(t->ev[i].mirror, mirror))
			TH_LOG("hmm_core_%s of the mirror after unregister",
			       t->ev[i].name);
	munmap(map, 2 * HPAGE);
}

/* A process that exits with the file open: release, then unregister. */
TEST_F_TIMEOUT(trace, release_on_exit, 60)
{
	struct trace *t = self->t;
	int reg, rel, unreg, status, tries;
	char mirror[32];
	uint64_t done;
	pid_t pid;

	ASSERT_EQ(0, trace_start(true));
	ASSERT_EQ(0, mark("child"));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		char *p = anon_map(1);
		int fd = dummy_open(0);

		if (!p || fd < 0)
			_exit(1);
		p[0] = 1;
		_exit(dummy_fault(fd, p, 1, 0, &done) ? 2 : 0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
		TH_LOG("child status 0x%x", status);
	/* The file's last fput may finish just after the child is reaped. */
	for (tries = 0; tries < 50; tries++) {
		ASSERT_EQ(0, read_trace(t));
		if (count(t, "unregister"))
			break;
		ASSERT_EQ(0, tr_write("tracing_on", "1"));
		msleep(20);
	}
	reg = find(t, phase_at(t, "child"), t->n, "register", NULL);
	ASSERT_LE(0, reg) TH_LOG("no register event from the child");
	snprintf(mirror, sizeof(mirror), "%s", t->ev[reg].mirror);
	rel = find(t, reg + 1, t->n, "release", mirror);
	ASSERT_LE(0, rel) TH_LOG("no release event at the child's exit");
	EXPECT_STREQ("hmm_dummy", t->ev[rel].driver);
	EXPECT_EQ(t->ev[reg].start, t->ev[rel].start);
	EXPECT_EQ(t->ev[reg].end, t->ev[rel].end);
	EXPECT_LT(0, t->ev[rel].ns);
	unreg = find(t, reg + 1, t->n, "unregister", mirror);
	ASSERT_LE(0, unreg) TH_LOG("no unregister event after the exit");
	EXPECT_LT(rel, unreg) TH_LOG("unregister came before release");
	EXPECT_STREQ("hmm_dummy", t->ev[unreg].driver);
}

/* With hmm_core's events off, the same sequence records none of them. */
TEST_F_TIMEOUT(trace, disabled_records_nothing, 60)
{
	struct trace *t = self->t;
	char *base, *map;

	base = map_region(&map);
	ASSERT_NE(NULL, base);
	ASSERT_EQ(0, trace_start(false));
	ASSERT_EQ(0, drive_sequence(base));
	ASSERT_EQ(0, read_trace(t));
	/* The buffer did record: the markers are there. */
	ASSERT_LE(0, phase_at(t, "end"));
	EXPECT_EQ(0, t->n - count(t, "mark"))
		TH_LOG("%d hmm_core events with the events off",
		       t->n - count(t, "mark"));
	munmap(map, 2 * HPAGE);
}

TEST_HARNESS_MAIN
