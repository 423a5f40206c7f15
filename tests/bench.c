// SPDX-License-Identifier: GPL-2.0
/*
 * bench - what a driver author cares about, each figure beside its baseline
 * measured in the same run, and the ratio between them.
 *
 *   bench [--runs N] [--inval-runs N] [--pairs N] [--json FILE]
 *         [--test-hmm DEV] [--figures LIST]
 *
 * Every figure is the median of --runs runs (default 5); the invalidation
 * figures, single operations of about a millisecond, of --inval-runs
 * (default 31). Absolute times under TCG mean little; the ratios are the
 * result. --test-hmm names the kernel's own test_hmm device (e.g.
 * /dev/hmm_dmirror0 with test_hmm.ko loaded and hmm_dummy loaded with
 * dmirror=0) for the side-by-side figure 6; without it that figure is
 * reported as not measured. The two-pass figure 7 compares
 * configurations as pairs, --pairs rounds of them (default 61), and gives
 * medians of per-pair differences or ratios with bootstrap intervals
 * (bench_stats.h), and so do the verifier's figure 8 and the event
 * listener's figure 9. --figures picks some of populate, snapshot,
 * invalidate, bandwidth, memory, test_hmm, twophase, verify, listener
 * (comma separated; default all).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "bench_stats.h"
#include "hmm_core_nl.h"
#include "hmm_dmirror.h"
#include "hmm_dummy.h"
#include "nl_raw.h"

#define PAGE		4096UL
#define MAX_RUNS	63
#define MAX_MIRRORS	64

static int runs = 5;
static int inval_runs = 31;
static int pairs = 61;
static FILE *json;
static const char *test_hmm_dev;
static int nfigures;

static void die(const char *what)
{
	fprintf(stderr, "bench: %s: %s\n", what, strerror(errno));
	exit(1);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double median(double *v, int n)
{
	return bench_median(v, n);
}

/*
 * One figure: a value, its baseline, their ratio (always value / baseline;
 * the unit says which way is better). @tags, if not NULL, is more JSON
 * members ("series", "x", ...) for scripts/bench-plot.
 */
static void figure_tagged(const char *group, const char *name,
			  const char *unit, double value, const char *base_name,
			  double base, int nruns, const char *tags)
{
	double ratio = base > 0 ? value / base : 0;

	printf("%-14s %-58s %14.4g %-8s %-30s %14.4g %8.3f\n", group, name,
	       value, unit, base_name, base, ratio);
	if (json)
		fprintf(json, "%s\n  {\"group\": \"%s\", \"name\": \"%s\", "
			"\"unit\": \"%s\", \"value\": %.6g, \"baseline\": "
			"\"%s\", \"baseline_value\": %.6g, \"ratio\": %.6g, "
			"\"runs\": %d%s%s}",
			nfigures ? "," : "", group, name, unit, value,
			base_name, base, ratio, nruns, tags ? ", " : "",
			tags ? tags : "");
	nfigures++;
}

static void figure(const char *group, const char *name, const char *unit,
		   double value, const char *base_name, double base)
{
	figure_tagged(group, name, unit, value, base_name, base, runs, NULL);
}

/* A figure that could not be measured: a table line and a JSON note. */
static void not_measured(const char *group, const char *name,
			 const char *why)
{
	printf("%-14s %-58s %14s  not measured: %s\n", group, name, "-", why);
	if (json)
		fprintf(json, "%s\n  {\"group\": \"%s\", \"name\": \"%s\", "
			"\"missing\": \"%s\"}", nfigures ? "," : "", group,
			name, why);
	nfigures++;
}

/*
 * One interval figure: the table's columns (its baseline is 1: the bound
 * of one L, or the other side of a ratio), then the interval and, with a
 * target @t (or NULL), the target and its verdict (@what says more, or
 * NULL). JSON: the members of figure_tagged() plus "lo", "hi", "pairs",
 * "resamples", and with a target "limit", "higher" (true: ">="), "floor"
 * (if any) and "verdict". @tags is more JSON members, or NULL.
 */
static void figure_interval(const char *group, const char *name,
			    const char *unit, const struct bench_interval *iv,
			    const char *base_name, const struct bench_target *t,
			    const char *what, const char *tags)
{
	const char *verdict = t ? bench_verdict_name(bench_verdict(iv, t)) : "";
	char more[512], floor[48] = "";
	int len;

	len = snprintf(more, sizeof(more), "%s%s\"lo\": %.6g, \"hi\": %.6g, "
		       "\"pairs\": %d, \"resamples\": %d", tags ? tags : "",
		       tags ? ", " : "", iv->lo, iv->hi, iv->pairs,
		       iv->resamples);
	if (t && t->floor)
		snprintf(floor, sizeof(floor), ", \"floor\": %.6g", t->floor);
	if (t)
		snprintf(more + len, sizeof(more) - len, ", \"limit\": %.6g, "
			 "\"higher\": %s%s, \"verdict\": \"%s\"", t->limit,
			 t->higher ? "true" : "false", floor, verdict);
	figure_tagged(group, name, unit, iv->value, base_name, 1,
		      iv->pairs, more);
	printf("%-14s   95%% interval [%.4g, %.4g] over %d pairs", "",
	       iv->lo, iv->hi, iv->pairs);
	if (t && t->floor)
		printf("; target %s %g, interval %s %g: %s",
		       t->higher ? ">=" : "<=", t->limit,
		       t->higher ? ">=" : "<=", t->floor, verdict);
	else if (t)
		printf("; target %s %g: %s", t->higher ? ">=" : "<=", t->limit,
		       verdict);
	if (what)
		printf("; %s", what);
	printf("\n");
}

/*
 * The rows every paired figure is made of (bench_stats.h): a comparison of
 * configurations @a (the reference) and @b over @n rounds, as the median
 * of per-pair ratios b / a (or differences, @kind), times @scale, with its
 * interval and, with @t, its verdict. A rate against a rate, from times:
 * ratio of the rate's time as @a, the reference's as @b.
 */
static void paired_figure(const char *group, const char *name,
			  const char *unit, const double *a, const double *b,
			  int n, enum bench_pair_kind kind, double scale,
			  const char *base_name, const struct bench_target *t,
			  const char *what, const char *tags)
{
	struct bench_interval iv;

	if (bench_paired(a, b, n, kind, scale, &iv))
		die("bench_paired");
	figure_interval(group, name, unit, &iv, base_name, t, what, tags);
}

/*
 * The A/A row of a figure: configuration @a against its twin @b, measured
 * the same way in the same rounds; its interval must hold 1, or the pairs
 * are biased and the figure's other rows are not to be trusted. JSON:
 * "series" and "stat" "A/A", "holds_1", and @tags (or NULL).
 */
static void aa_figure(const char *group, const char *name, const double *a,
		      const double *b, int n, const char *tags)
{
	struct bench_interval iv;
	char more[256];
	int holds;

	if (bench_paired(a, b, n, BENCH_PAIR_RATIO, 1, &iv))
		die("bench_paired");
	holds = bench_interval_holds(&iv, 1);
	snprintf(more, sizeof(more), "\"series\": \"A/A\", \"stat\": \"A/A\", "
		 "\"holds_1\": %s%s%s", holds ? "true" : "false",
		 tags ? ", " : "", tags ? tags : "");
	figure_interval(group, name, "x", &iv, "the same, again", NULL,
			holds ? "the interval holds 1: as it must" :
			"the interval does NOT hold 1: the pairs are biased, "
			"distrust the rest", more);
}

static char *map(size_t size)
{
	char *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		die("mmap");
	return p;
}

static void touch(char *p, size_t size)
{
	for (size_t off = 0; off < size; off += PAGE)
		p[off] = 1;
}

static char *map_fixed(char *addr, size_t size)
{
	char *p = mmap(addr, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);

	if (p == MAP_FAILED)
		die("mmap MAP_FIXED");
	return p;
}

static int dev_open(const char *path)
{
	int fd = open(path, O_RDWR);

	if (fd < 0)
		die(path);
	return fd;
}

static void dev_fault(int fd, void *addr, uint64_t npages, int write)
{
	struct hmm_dummy_fault f = {
		.addr = (uintptr_t)addr, .npages = npages,
		.flags = write ? HMM_DUMMY_FAULT_WRITE : 0,
	};

	if (ioctl(fd, HMM_DUMMY_IOC_FAULT, &f))
		die("HMM_DUMMY_IOC_FAULT");
}

static void dev_set_range(int fd, void *addr, uint64_t npages)
{
	struct hmm_dummy_range r = {
		.addr = (uintptr_t)addr, .npages = npages,
	};

	if (ioctl(fd, HMM_DUMMY_IOC_SET_RANGE, &r))
		die("HMM_DUMMY_IOC_SET_RANGE");
}

static void dev_rw(int fd, unsigned long cmd, void *addr, void *buf,
		   uint64_t npages)
{
	struct hmm_dummy_rw rw = {
		.addr = (uintptr_t)addr, .ptr = (uintptr_t)buf, .npages = npages,
	};

	if (ioctl(fd, cmd, &rw))
		die("HMM_DUMMY_IOC_READ/WRITE");
}

static void dmirror_read(int fd, void *addr, void *buf, uint64_t npages)
{
	struct hmm_dmirror_cmd c = {
		.addr = (uintptr_t)addr, .ptr = (uintptr_t)buf, .npages = npages,
	};

	if (ioctl(fd, HMM_DMIRROR_READ, &c))
		die("HMM_DMIRROR_READ");
}

/* 1. Populate throughput: device FAULT of N pages, in pages/s. */
static const uint64_t populate_sizes[] = { 1, 512, 262144 };
#define NR_POPULATE_SIZES (sizeof(populate_sizes) / sizeof(populate_sizes[0]))

/* One figure of populate series @series at @n pages, tagged for the plot. */
static void populate_figure(uint64_t n, const char *series, double *dev,
			    const char *base_name, double *cpu)
{
	char name[64], tags[64];

	snprintf(name, sizeof(name), "FAULT %llu %s", (unsigned long long)n,
		 series);
	snprintf(tags, sizeof(tags), "\"series\": \"%s\", \"x\": %llu", series,
		 (unsigned long long)n);
	figure_tagged("populate", name, "pages/s", median(dev, runs), base_name,
		      median(cpu, runs), runs, tags);
}

static void bench_populate(void)
{
	int fd = dev_open("/dev/hmm_dummy0");

	for (unsigned int s = 0; s < NR_POPULATE_SIZES; s++) {
		uint64_t n = populate_sizes[s];
		size_t size = n * PAGE;
		double dev_pop[MAX_RUNS], cpu_pop[MAX_RUNS], dev_new[MAX_RUNS];
		double cpu_new[MAX_RUNS];
		char *p = map(size);
		volatile char sink;

		touch(p, size);
		for (int r = 0; r < runs; r++) {
			double t0 = now();

			dev_fault(fd, p, n, 0);
			dev_pop[r] = n / (now() - t0);
			t0 = now();
			for (size_t off = 0; off < size; off += PAGE)
				sink = p[off];
			cpu_pop[r] = n / (now() - t0);
		}
		(void)sink;
		populate_figure(n, "populated", dev_pop, "CPU touching them",
				cpu_pop);
		munmap(p, size);

		for (int r = 0; r < runs; r++) {
			double t0;

			p = map(size);
			t0 = now();
			dev_fault(fd, p, n, 1);
			dev_new[r] = n / (now() - t0);
			munmap(p, size);
			p = map(size);
			t0 = now();
			touch(p, size);
			cpu_new[r] = n / (now() - t0);
			munmap(p, size);
		}
		populate_figure(n, "first touch", dev_new, "CPU first touch",
				cpu_new);
	}
	close(fd);
}

/*
 * 6. Side by side with the kernel's own test_hmm.ko on the same kernel, over
 * CPU-populated pages, each sample on a device table emptied by a fresh open
 * (both drivers mirror the whole address space from open):
 *
 *   populate  ours: HMM_DUMMY_IOC_FAULT, which only populates, against
 *             test_hmm's read path, HMM_DMIRROR_READ on the empty table
 *             (fault, then copy): test_hmm has no populate-only call.
 *   READ cold both drivers' READ on the empty table: populate and copy, the
 *             like for like.
 *   READ warm both drivers' READ again at once: the copy alone, which says
 *             how much of the READ cold difference is the copy loop.
 *
 * (test_hmm's populate alone as READ cold minus READ warm was tried: the
 * copy is over 90% of a READ under TCG, so the difference is noise.)
 *
 * READs go in chunks of at most READ_CHUNK pages: test_hmm bounces a whole
 * READ through one kernel buffer, and 1 GiB of it does not fit in a 2 GiB
 * guest beside the 1 GiB mirrored.
 */
#define READ_CHUNK	16384UL

static double read_chunked(int fd, int theirs, char *p, char *buf, uint64_t n)
{
	double t0 = now();

	for (uint64_t done = 0; done < n; done += READ_CHUNK) {
		uint64_t k = n - done < READ_CHUNK ? n - done : READ_CHUNK;

		if (theirs)
			dmirror_read(fd, p + done * PAGE, buf, k);
		else
			dev_rw(fd, HMM_DUMMY_IOC_READ, p + done * PAGE, buf, k);
	}
	return now() - t0;
}

struct side_by_side {
	double pop[MAX_RUNS], cold[MAX_RUNS], warm[MAX_RUNS];
};

/* One sample of one driver, on a freshly opened file of @dev. */
static void side_sample(const char *dev, int theirs, char *p, char *buf,
			uint64_t n, struct side_by_side *sb, int r)
{
	int fd = dev_open(dev);
	double t0;

	if (!theirs) {
		t0 = now();
		dev_fault(fd, p, n, 0);
		sb->pop[r] = now() - t0;
		close(fd);
		fd = dev_open(dev);
	}
	sb->cold[r] = read_chunked(fd, theirs, p, buf, n);
	sb->warm[r] = read_chunked(fd, theirs, p, buf, n);
	close(fd);
}

/* Pages/s from the median time. */
static double rate(uint64_t n, double *t, int nruns)
{
	return n / median(t, nruns);
}

static void bench_test_hmm(void)
{
	static const char *const what[] = { "populate", "READ cold", "READ warm" };
	static const char *const suffix[] = { " (FAULT)", "", "" };
	static const char *const base[] = {
		"test_hmm READ cold", "test_hmm READ cold", "test_hmm READ warm",
	};

	if (!test_hmm_dev) {
		not_measured("test_hmm", "populate vs test_hmm.ko",
			     "no test_hmm device (needs the bench kernel)");
		return;
	}
	for (unsigned int s = 0; s < NR_POPULATE_SIZES; s++) {
		uint64_t n = populate_sizes[s];
		size_t size = n * PAGE;
		size_t bsize = (n < READ_CHUNK ? n : READ_CHUNK) * PAGE;
		struct side_by_side ours, theirs;
		double *o[] = { ours.pop, ours.cold, ours.warm };
		double *t[] = { theirs.cold, theirs.cold, theirs.warm };
		char *p = map(size), *buf = map(bsize);

		touch(p, size);
		touch(buf, bsize);
		/* Interleaved, each driver first in every other run. */
		for (int r = 0; r < runs; r++) {
			for (int k = 0; k < 2; k++) {
				int th = k ^ (r & 1);

				side_sample(th ? test_hmm_dev : "/dev/hmm_dummy0",
					    th, p, buf, n, th ? &theirs : &ours, r);
			}
		}
		for (int w = 0; w < 3; w++) {
			char name[80], tags[80];

			snprintf(name, sizeof(name), "%s %llu populated%s",
				 what[w], (unsigned long long)n, suffix[w]);
			snprintf(tags, sizeof(tags),
				 "\"series\": \"%s\", \"x\": %llu", what[w],
				 (unsigned long long)n);
			figure_tagged("test_hmm", name, "pages/s",
				      rate(n, o[w], runs), base[w],
				      rate(n, t[w], runs), runs, tags);
		}
		munmap(p, size);
		munmap(buf, bsize);
	}
}

/* 2. Snapshot of 1 GiB populated, pages/s, against reading pagemap. */
static void bench_snapshot(void)
{
	const uint64_t n = 262144;
	const size_t size = n * PAGE;
	double snap[MAX_RUNS], pm[MAX_RUNS];
	uint8_t *bytes = malloc(n);
	uint64_t *pfns = malloc(n * sizeof(*pfns));
	int fd = dev_open("/dev/hmm_dummy0");
	int pfd = open("/proc/self/pagemap", O_RDONLY);
	char *p = map(size);

	if (!bytes || !pfns || pfd < 0)
		die("snapshot setup");
	touch(p, size);
	for (int r = 0; r < runs; r++) {
		struct hmm_dummy_snapshot s = {
			.addr = (uintptr_t)p, .ptr = (uintptr_t)bytes, .npages = n,
		};
		double t0 = now();

		if (ioctl(fd, HMM_DUMMY_IOC_SNAPSHOT, &s))
			die("HMM_DUMMY_IOC_SNAPSHOT");
		snap[r] = n / (now() - t0);
		t0 = now();
		if (pread(pfd, pfns, n * sizeof(*pfns),
			  (uintptr_t)p / PAGE * sizeof(*pfns)) !=
		    (ssize_t)(n * sizeof(*pfns)))
			die("pread pagemap");
		pm[r] = n / (now() - t0);
	}
	figure("snapshot", "SNAPSHOT 1 GiB populated", "pages/s",
	       median(snap, runs), "read /proc/self/pagemap", median(pm, runs));
	munmap(p, size);
	close(pfd);
	close(fd);
	free(bytes);
	free(pfns);
}

/*
 * 3. Invalidation cost of munmap+mmap of a 2 MiB region the CPU and every
 * mirror have populated, and of an mprotect toggle, with 0, 1, 8 and 64
 * mirrors on the mm: all over the same region, or each over its own (region
 * m of 64, apart from each other by PROT_NONE gaps so that every region is
 * its own vma), the operation always on region 0. A third series has the
 * mirrors over the same region but never populated: what the callbacks
 * cost without a device entry to clear. Each sample opens its mirrors
 * (HMM_DUMMY_IOC_SET_RANGE narrows each to its region) and closes them
 * after, so "0 mirrors" is an mm with no mirror at all; region 0 is read
 * through just before the operation in every case, so that the CPU (and
 * TCG's soft TLB) start from the same state.
 */
#define REGION		(2UL << 20)
#define REGION_PAGES	(REGION / PAGE)
#define SETTLE_S	0.05

static char *regions;	/* MAX_MIRRORS regions, each followed by a gap */

static char *region(int m)
{
	return regions + (size_t)m * 2 * REGION;
}

static void regions_setup(void)
{
	regions = mmap(NULL, MAX_MIRRORS * 2 * REGION, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (regions == MAP_FAILED)
		die("mmap regions");
	for (int m = 0; m < MAX_MIRRORS; m++)
		touch(map_fixed(region(m), REGION), REGION);
}

enum { SAME_RANGE, DISJOINT, EMPTY, NR_LAYOUTS };

/*
 * Let the work the setup left behind (RCU callbacks freeing what the last
 * sample's mirrors held, ...) run before the clock starts, busy: an idle
 * vCPU would come back to the operation colder than a busy one.
 */
static void settle(void)
{
	double t0 = now();

	while (now() - t0 < SETTLE_S)
		;
}

static uint64_t dev_pages_invalidated(int fd)
{
	struct hmm_dummy_counters c;

	if (ioctl(fd, HMM_DUMMY_IOC_COUNTERS, &c))
		die("HMM_DUMMY_IOC_COUNTERS");
	return c.pages_invalidated;
}

/* Device entries the first mirror cleared in the last sample that had one. */
static uint64_t last_cleared;

static double invalidate_once(int nmirrors, int layout, int op)
{
	uint64_t cleared = 0;
	char *p = region(0);
	int fds[MAX_MIRRORS];
	volatile char sink;
	double t0, t;

	touch(p, REGION);
	for (int m = 0; m < nmirrors; m++) {
		char *mine = layout == DISJOINT ? region(m) : p;

		fds[m] = dev_open("/dev/hmm_dummy0");
		dev_set_range(fds[m], mine, REGION_PAGES);
		if (layout != EMPTY)
			dev_fault(fds[m], mine, REGION_PAGES, 1);
	}
	settle();
	for (size_t off = 0; off < REGION; off += PAGE)
		sink = p[off];
	(void)sink;
	if (nmirrors)
		cleared = dev_pages_invalidated(fds[0]);
	t0 = now();
	if (op == 0) {
		if (munmap(p, REGION))
			die("munmap");
		map_fixed(p, REGION);
	} else {
		if (mprotect(p, REGION, PROT_READ) ||
		    mprotect(p, REGION, PROT_READ | PROT_WRITE))
			die("mprotect");
	}
	t = now() - t0;
	if (nmirrors)
		last_cleared = dev_pages_invalidated(fds[0]) - cleared;
	for (int m = 0; m < nmirrors; m++)
		close(fds[m]);
	return t;
}

static void bench_invalidate(void)
{
	static const int counts[] = { 0, 1, 8, 64 };
	static const char *const ops[] = { "munmap+mmap 2 MiB", "mprotect toggle 2 MiB" };
	static const char *const op_tag[] = { "munmap+mmap", "mprotect" };
	static const char *const layouts[] = {
		"same range", "disjoint ranges", "same range, unpopulated",
	};
	const int ncounts = sizeof(counts) / sizeof(counts[0]);
	static double t[NR_LAYOUTS][4][MAX_RUNS];
	double med[NR_LAYOUTS][4];

	regions_setup();
	for (int op = 0; op < 2; op++) {
		/* Interleaved, so that a shared machine's drift hits all alike. */
		for (int r = 0; r < inval_runs; r++)
			for (int l = 0; l < NR_LAYOUTS; l++)
				for (int c = 0; c < ncounts; c++)
					t[l][c][r] = invalidate_once(counts[c], l, op);
		for (int l = 0; l < NR_LAYOUTS; l++) {
			for (int c = 0; c < ncounts; c++) {
				char name[80], tags[96];

				med[l][c] = median(t[l][c], inval_runs) * 1e6;
				snprintf(name, sizeof(name), "%s, %d mirrors %s",
					 ops[op], counts[c], layouts[l]);
				snprintf(tags, sizeof(tags),
					 "\"series\": \"%s\", \"op\": \"%s\", \"x\": %d",
					 layouts[l], op_tag[op], counts[c]);
				figure_tagged("invalidate", name, "us/op", med[l][c],
					      counts[c] > 1 ? "1 mirror" : "0 mirrors",
					      counts[c] > 1 ? med[l][1] : med[l][0],
					      inval_runs, tags);
			}
		}
		/* One more sample with one populated mirror, for its counters. */
		invalidate_once(1, SAME_RANGE, op);
		printf("# invalidate: a %s clears %llu device entries of a "
		       "populated mirror (HMM_DUMMY_IOC_COUNTERS)\n", ops[op],
		       (unsigned long long)last_cleared);
	}
	for (int m = 0; m < MAX_MIRRORS; m++)
		munmap(region(m), REGION);
	munmap(regions, MAX_MIRRORS * 2 * REGION);
}

/* 4. Device READ/WRITE bandwidth through its page table, against memcpy. */
static void bench_bandwidth(void)
{
	const uint64_t n = 16384;	/* 64 MiB */
	const size_t size = n * PAGE;
	double rd[MAX_RUNS], wr[MAX_RUNS], mc[MAX_RUNS];
	int fd = dev_open("/dev/hmm_dummy0");
	char *p = map(size), *buf = map(size);

	touch(p, size);
	touch(buf, size);
	dev_fault(fd, p, n, 1);
	for (int r = 0; r < runs; r++) {
		double t0 = now();

		dev_rw(fd, HMM_DUMMY_IOC_READ, p, buf, n);
		rd[r] = size / (now() - t0) / 1e9;
		t0 = now();
		dev_rw(fd, HMM_DUMMY_IOC_WRITE, p, buf, n);
		wr[r] = size / (now() - t0) / 1e9;
		t0 = now();
		memcpy(buf, p, size);
		mc[r] = size / (now() - t0) / 1e9;
	}
	figure("bandwidth", "device READ 64 MiB", "GB/s", median(rd, runs),
	       "memcpy", median(mc, runs));
	figure("bandwidth", "device WRITE 64 MiB", "GB/s", median(wr, runs),
	       "memcpy", median(mc, runs));
	munmap(p, size);
	munmap(buf, size);
	close(fd);
}

/* Bytes of live objects in a slab cache (all caches if NULL), from slabinfo. */
static double slab_bytes(const char *cache)
{
	char line[512], name[64];
	unsigned long active, total, objsize;	/* active_objs num_objs objsize */
	double bytes = 0;
	FILE *f = fopen("/proc/slabinfo", "r");

	if (!f)
		die("/proc/slabinfo");
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%63s %lu %lu %lu", name, &active, &total,
			   &objsize) != 4)
			continue;
		if (!cache || !strcmp(name, cache))
			bytes += (double)active * objsize;
	}
	fclose(f);
	return bytes;
}

/* 5. Kernel memory of the device page table, per mirror and per mm. */
static void bench_memory(void)
{
	const uint64_t n = 262144;
	const size_t size = n * PAGE;
	char *p = map(size);
	double before, after;
	int fds[MAX_MIRRORS], fd;

	touch(p, size);
	fd = dev_open("/dev/hmm_dummy0");
	before = slab_bytes("radix_tree_node");
	dev_fault(fd, p, n, 1);
	after = slab_bytes("radix_tree_node");
	figure("memory", "device page table per 4 KiB page", "bytes",
	       (after - before) / n, "target", 16);
	close(fd);
	munmap(p, size);

	before = slab_bytes(NULL);
	for (int m = 0; m < MAX_MIRRORS; m++)
		fds[m] = dev_open("/dev/hmm_dummy0");
	after = slab_bytes(NULL);
	figure("memory", "kernel memory per mirror (64 on one mm)", "bytes",
	       (after - before) / MAX_MIRRORS, "one 4 KiB page", 4096);
	for (int m = 0; m < MAX_MIRRORS; m++)
		close(fds[m]);
}

/*
 * 7. Two-pass invalidation (issue 17): what a device TLB's flush latency L
 * adds to one invalidation of a 2 MiB range that N mirrors have populated
 * (N files of /dev/hmm_dummy0 opened by this process, each narrowed to the
 * range with HMM_DUMMY_IOC_SET_RANGE and holding its 512 entries),
 * single-pass against two-phase (HMM_DUMMY_IOC_TLB), for N = 1, 8, 64.
 *
 * The operation is MADV_DONTNEED of the range: one call is one
 * invalidation of exactly the range on every kernel line (one vma, a
 * blockable MMU_NOTIFY_CLEAR), in which every mirror clears its entries and
 * flushes its TLB once. An mprotect toggle would be two invalidations, and
 * munmap+mmap makes a new vma. Outside the clock, before each sample: the
 * configuration's latency and passes are set on every file (a change of
 * the passes registers the mirror again), the CPU touches the range (fresh
 * pages), every mirror FAULTs it in for writing, and the settle pause.
 *
 * The figure is what the latency adds: time(config, L) - time(config, 0),
 * the two measured as a pair in one round (bench_stats.h), over L: the
 * median of the per-pair differences with its bootstrap interval. The
 * clearing of N device page tables is in both sides of a pair and goes.
 * With L = 0, two-phase against single-pass is the median of per-pair
 * ratios. An A/A pair (the same configuration twice) at 8 mirrors checks
 * the method: its interval must hold 1.
 *
 * Where two-phase's added time goes, without a target: a third latency,
 * L = 1 us, starts the same asynchronous flush (its allocation, its place
 * on the TLB's list of flushes in flight) but waits for next to nothing. Its time
 * against L = 0 is the fixed cost of N asynchronous flushes (given per
 * mirror); L = 200 us against it is the waiting alone, which is what
 * overlapping the flushes saves.
 */
#define TP_LATENCY_US	200

enum {
	TP_SINGLE_L, TP_SINGLE_0, TP_TWO_0_TWIN, TP_TWO_0, TP_TWO_L, TP_TWO_1,
	TP_NCONF
};

static const struct {
	const char *name;
	int two_phase;
	uint32_t latency_us;
} tp_conf[TP_NCONF] = {
	[TP_SINGLE_L] = { "single-pass, L = 200 us", 0, TP_LATENCY_US },
	[TP_SINGLE_0] = { "single-pass, L = 0", 0, 0 },
	[TP_TWO_0_TWIN] = { "two-phase, L = 0 (A/A twin)", 1, 0 },
	[TP_TWO_0] = { "two-phase, L = 0", 1, 0 },
	[TP_TWO_L] = { "two-phase, L = 200 us", 1, TP_LATENCY_US },
	[TP_TWO_1] = { "two-phase, L = 1 us", 1, 1 },
};

/* One N: its files, and what its samples saw, per configuration. */
struct tp_ctx {
	int nmirrors;
	int nconf;		/* TP_NCONF with the A/A twin, else one less */
	int fds[MAX_MIRRORS];
	char *p;
	/* Counter deltas over every sample of a configuration, all files. */
	uint64_t flushes[TP_NCONF], waits[TP_NCONF], fallbacks[TP_NCONF];
};

/* The configurations in the order of a round: without the twin, skip it. */
static int tp_conf_of(const struct tp_ctx *ctx, int c)
{
	return ctx->nconf == TP_NCONF || c < TP_TWO_0_TWIN ? c : c + 1;
}

static int tp_tlb(int fd, uint32_t latency_us, uint32_t flags,
		  struct hmm_dummy_tlb_ctl *out)
{
	struct hmm_dummy_tlb_ctl c = {
		.latency_us = latency_us, .flags = flags,
	};
	int ret = ioctl(fd, HMM_DUMMY_IOC_TLB, &c);

	if (out)
		*out = c;
	return ret;
}

/* Every file's counters, summed. */
static void tp_counters(struct tp_ctx *ctx, uint64_t *flushes,
			uint64_t *waits, uint64_t *fallbacks)
{
	*flushes = *waits = *fallbacks = 0;
	for (int m = 0; m < ctx->nmirrors; m++) {
		struct hmm_dummy_tlb_ctl c;

		if (tp_tlb(ctx->fds[m], 0, 0, &c))
			die("HMM_DUMMY_IOC_TLB");
		*flushes += c.flushes;
		*waits += c.waits;
		*fallbacks += c.fallbacks;
	}
}

static double tp_sample(int c, int round, void *arg)
{
	struct tp_ctx *ctx = arg;
	int conf = tp_conf_of(ctx, c);
	uint32_t flags = HMM_DUMMY_TLB_SET |
		(tp_conf[conf].two_phase ? HMM_DUMMY_TLB_TWO_PHASE : 0);
	uint64_t f0, w0, b0, f1, w1, b1;
	volatile char sink;
	double t0, t;

	(void)round;
	for (int m = 0; m < ctx->nmirrors; m++)
		if (tp_tlb(ctx->fds[m], tp_conf[conf].latency_us, flags, NULL))
			die("HMM_DUMMY_IOC_TLB set");
	touch(ctx->p, REGION);
	for (int m = 0; m < ctx->nmirrors; m++)
		dev_fault(ctx->fds[m], ctx->p, REGION_PAGES, 1);
	tp_counters(ctx, &f0, &w0, &b0);
	settle();
	for (size_t off = 0; off < REGION; off += PAGE)
		sink = ctx->p[off];
	(void)sink;
	t0 = now();
	if (madvise(ctx->p, REGION, MADV_DONTNEED))
		die("madvise MADV_DONTNEED");
	t = now() - t0;
	tp_counters(ctx, &f1, &w1, &b1);
	ctx->flushes[conf] += f1 - f0;
	ctx->waits[conf] += w1 - w0;
	ctx->fallbacks[conf] += b1 - b0;
	return t;
}

/* Figure 7's targets. */
static const struct bench_target tp_added_8 = { .limit = 1.3 };
static const struct bench_target tp_added_64 = { .limit = 2 };
static const struct bench_target tp_ratio_0 = { .limit = 1.05 };

static void bench_twophase(void)
{
	static const int counts[] = { 1, 8, 64 };
	static double t[TP_NCONF][MAX_RUNS];
	static struct tp_ctx ctx;
	const double scale = 1e6 / TP_LATENCY_US;	/* seconds to L */
	char *p;

	p = mmap(NULL, REGION, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		die("mmap");
	/* 512 small pages, 512 device entries: no THP to make it one. */
	madvise(p, REGION, MADV_NOHUGEPAGE);
	touch(p, REGION);
	for (unsigned int i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
		int n = counts[i];
		struct bench_interval add[2], r0, fixed, wait;
		char name[96], tags[128], what[128];

		memset(&ctx, 0, sizeof(ctx));
		ctx.nmirrors = n;
		ctx.nconf = n == 8 ? TP_NCONF : TP_NCONF - 1;
		ctx.p = p;
		for (int m = 0; m < n; m++) {
			ctx.fds[m] = dev_open("/dev/hmm_dummy0");
			dev_set_range(ctx.fds[m], p, REGION_PAGES);
		}
		if (tp_tlb(ctx.fds[0], 0, 0, NULL)) {
			not_measured("twophase", "two-pass invalidation",
				     "no HMM_DUMMY_IOC_TLB in this hmm_dummy");
			for (int m = 0; m < n; m++)
				close(ctx.fds[m]);
			break;
		}
		/* Rows of t[] in round order: tp_conf_of() maps them. */
		bench_rounds(ctx.nconf, pairs, tp_sample, &ctx, t[0], MAX_RUNS);
		for (int c = ctx.nconf - 1; c >= 0; c--)
			if (tp_conf_of(&ctx, c) != c)
				memcpy(t[tp_conf_of(&ctx, c)], t[c],
				       sizeof(t[c]));
		for (int conf = 0; conf < TP_NCONF; conf++) {
			double med, *v = t[conf];
			double copy[MAX_RUNS];

			if (conf == TP_TWO_0_TWIN && ctx.nconf != TP_NCONF)
				continue;
			memcpy(copy, v, sizeof(copy));
			med = median(copy, pairs);
			printf("# twophase: %d mirrors, %s: median %.1f us; per "
			       "invalidation %.2f flushes, %.2f second passes "
			       "waited, %.2f fell back\n", n, tp_conf[conf].name,
			       med * 1e6,
			       (double)ctx.flushes[conf] / pairs,
			       (double)ctx.waits[conf] / pairs,
			       (double)ctx.fallbacks[conf] / pairs);
		}
		if (bench_paired(t[TP_SINGLE_0], t[TP_SINGLE_L], pairs,
				 BENCH_PAIR_DIFF, scale, &add[0]) ||
		    bench_paired(t[TP_TWO_0], t[TP_TWO_L], pairs,
				 BENCH_PAIR_DIFF, scale, &add[1]) ||
		    bench_paired(t[TP_SINGLE_0], t[TP_TWO_0], pairs,
				 BENCH_PAIR_RATIO, 1, &r0) ||
		    bench_paired(t[TP_TWO_0], t[TP_TWO_1], pairs,
				 BENCH_PAIR_DIFF, 1e6 / n, &fixed) ||
		    bench_paired(t[TP_TWO_1], t[TP_TWO_L], pairs,
				 BENCH_PAIR_DIFF, 1e6 / (TP_LATENCY_US - 1),
				 &wait))
			die("bench_paired");

		snprintf(name, sizeof(name), "added by L = %d us, %d mirrors "
			 "single-pass", TP_LATENCY_US, n);
		snprintf(tags, sizeof(tags), "\"series\": \"single-pass\", "
			 "\"stat\": \"added\", \"x\": %d, \"latency_us\": %d",
			 n, TP_LATENCY_US);
		snprintf(what, sizeof(what), "no target: about N x L = %d L "
			 "(%.2f L per mirror)", n, add[0].value / n);
		figure_interval("twophase", name, "L", &add[0], "one L (the bound)",
				NULL, what, tags);

		snprintf(name, sizeof(name), "added by L = %d us, %d mirrors "
			 "two-phase", TP_LATENCY_US, n);
		snprintf(tags, sizeof(tags), "\"series\": \"two-phase\", "
			 "\"stat\": \"added\", \"x\": %d, \"latency_us\": %d",
			 n, TP_LATENCY_US);
		snprintf(what, sizeof(what), "%+.2f L from the bound of one L "
			 "(interval %+.2f to %+.2f)", add[1].value - 1,
			 add[1].lo - 1, add[1].hi - 1);
		figure_interval("twophase", name, "L", &add[1], "one L (the bound)",
				n == 8 ? &tp_added_8 : n == 64 ? &tp_added_64 :
				NULL, what, tags);

		snprintf(name, sizeof(name), "two-phase / single-pass at L = 0, "
			 "%d mirrors", n);
		snprintf(tags, sizeof(tags), "\"series\": \"L = 0 ratio\", "
			 "\"stat\": \"ratio\", \"x\": %d", n);
		figure_interval("twophase", name, "x", &r0, "single-pass, L = 0",
				&tp_ratio_0, NULL, tags);

		snprintf(name, sizeof(name), "two-phase: fixed cost of a flush, "
			 "L = 1 us against 0, %d mirrors", n);
		snprintf(tags, sizeof(tags), "\"series\": \"fixed cost per "
			 "mirror\", \"stat\": \"diagnostic\", \"x\": %d", n);
		figure_interval("twophase", name, "us", &fixed, "none", NULL,
				"per mirror; no target", tags);
		snprintf(name, sizeof(name), "two-phase: the wait alone, "
			 "L = 200 us against 1 us, %d mirrors", n);
		snprintf(tags, sizeof(tags), "\"series\": \"wait alone\", "
			 "\"stat\": \"diagnostic\", \"x\": %d", n);
		figure_interval("twophase", name, "L", &wait, "one L (the bound)",
				NULL, "in units of the 199 us between them; no target",
				tags);

		if (ctx.nconf == TP_NCONF) {
			snprintf(name, sizeof(name), "A/A: two-phase at L = 0 "
				 "against itself, %d mirrors", n);
			snprintf(tags, sizeof(tags), "\"x\": %d", n);
			aa_figure("twophase", name, t[TP_TWO_0], t[TP_TWO_0_TWIN],
				  pairs, tags);
		}
		for (int m = 0; m < n; m++)
			close(ctx.fds[m]);
	}
	munmap(p, REGION);
}

/*
 * Figures 8 and 9 compare one invalidation workload in two states of the
 * kernel, as pairs: figure 3's munmap+mmap and mprotect toggle of a
 * populated 2 MiB range with 1 and 8 mirrors over it, the state switched
 * before every sample by the figure's set() (off: the reference; on: the
 * state measured; off again: the A/A twin, whose row at 1 mirror of
 * munmap+mmap checks the method). The rows: the median of per-pair ratios
 * on / off with its interval. No target: the issues that asked for these
 * figures set none.
 */
enum { IP_OFF, IP_ON, IP_OFF_TWIN, IP_NCONF };

struct inval_pair {
	const char *group;	/* the figure's group, "verify" */
	const char *on_off;	/* its ratio, "verifier on / off" */
	const char *off_off;	/* its A/A, "verifier off / off" */
	const char *base_name;	/* the reference, "verifier off" */
	const char *what;	/* what its ratio rows say after the interval */
	void (*set)(int on);	/* the state of the next sample */
	int nmirrors;		/* of the rounds under way */
	int op;			/* 0: munmap+mmap; 1: mprotect toggle */
};

static double ip_sample(int c, int round, void *arg)
{
	const struct inval_pair *ip = arg;

	(void)round;
	ip->set(c == IP_ON);
	return invalidate_once(ip->nmirrors, SAME_RANGE, ip->op);
}

static void bench_inval_pair(struct inval_pair *ip)
{
	static const char *const ops[] = { "munmap+mmap 2 MiB", "mprotect toggle 2 MiB" };
	static const int counts[] = { 1, 8 };
	static double t[IP_NCONF][MAX_RUNS];
	char name[128], tags[160];

	regions_setup();
	for (int op = 0; op < 2; op++) {
		for (unsigned int i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
			ip->nmirrors = counts[i];
			ip->op = op;
			bench_rounds(IP_NCONF, pairs, ip_sample, ip, t[0], MAX_RUNS);
			snprintf(name, sizeof(name), "%s, %d mirrors, %s",
				 ops[op], counts[i], ip->on_off);
			snprintf(tags, sizeof(tags), "\"series\": \"%s\", "
				 "\"stat\": \"ratio\", \"x\": %d",
				 op ? "mprotect" : "munmap+mmap", counts[i]);
			paired_figure(ip->group, name, "x", t[IP_OFF], t[IP_ON],
				      pairs, BENCH_PAIR_RATIO, 1, ip->base_name,
				      NULL, ip->what, tags);
			if (op || i)
				continue;
			snprintf(name, sizeof(name), "A/A: %s, %d mirror, %s",
				 ops[op], counts[i], ip->off_off);
			snprintf(tags, sizeof(tags), "\"x\": %d", counts[i]);
			aa_figure(ip->group, name, t[IP_OFF], t[IP_OFF_TWIN],
				  pairs, tags);
		}
	}
	ip->set(0);
	for (int m = 0; m < MAX_MIRRORS; m++)
		munmap(region(m), REGION);
	munmap(regions, MAX_MIRRORS * 2 * REGION);
}

/*
 * 8. What hmm_core's coherence verifier (doc/verifier.rst) costs an
 * invalidation while it is on: its module parameter switched before each
 * sample. Off, the verifier is a patched-out jump (a static key), and
 * figure 3 is measured with it off.
 */
#define VERIFY_PARAM	"/sys/module/hmm_core/parameters/verify"

static void verify_set(int on)
{
	int fd = open(VERIFY_PARAM, O_WRONLY);

	if (fd < 0 || write(fd, on ? "1" : "0", 1) != 1)
		die(VERIFY_PARAM);
	close(fd);
}

static void bench_verify(void)
{
	static struct inval_pair ip = {
		.group = "verify", .on_off = "verifier on / off",
		.off_off = "verifier off / off", .base_name = "verifier off",
		.what = "no target: what a prototype pays", .set = verify_set,
	};

	if (access(VERIFY_PARAM, W_OK)) {
		not_measured("verify", "verifier on / off", "no writable " VERIFY_PARAM);
		return;
	}
	bench_inval_pair(&ip);
}

/*
 * 9. What a listener of hmm_core's event stream costs an invalidation
 * (issue 16): with no listener on the "events" multicast group the core
 * builds no event; with one, every invalidation of every mirror builds and
 * multicasts an invalidate-ntf. "On" is a socket joined to the group whose
 * thread drains it all the time (as hmmctl's watch or top does), "off" the
 * same socket out of the group (NETLINK_DROP_MEMBERSHIP: the kernel then
 * has no listener). The thread counts the events it read and the gaps in
 * their sequence numbers (each one an event the core dropped: no memory,
 * or a full socket) and the times the socket overran (ENOBUFS).
 */
struct listener {
	int sock;
	int grp;
	int joined;
	volatile int stop;
	pthread_t thread;
	uint64_t events;	/* read */
	uint64_t gaps;		/* events missing from the sequence */
	uint64_t overruns;	/* ENOBUFS from recv() */
	uint64_t last_seq;	/* 0: none yet */
};

static struct listener lsn;

/* The sequence number of one event, or 0 if it has none. */
static uint64_t event_seq(const struct nlmsghdr *nlh)
{
	const struct nlattr *a, *next;
	int len;

	for (a = nl_msg_attrs(nlh, &len); (next = nl_attr_next(a, &len));
	     a = next) {
		uint64_t v = 0;

		if ((a->nla_type & NLA_TYPE_MASK) != HMM_CORE_A_EVENT_SEQ)
			continue;
		memcpy(&v, nl_attr_data(a), nl_attr_len(a) < 8 ?
		       (size_t)nl_attr_len(a) : 8);
		return v;
	}
	return 0;
}

static void *listener_drain(void *arg)
{
	static char buf[1 << 16];
	struct listener *l = arg;

	while (!l->stop) {
		ssize_t r = recv(l->sock, buf, sizeof(buf), 0);
		struct nlmsghdr *nlh;

		if (r < 0) {
			if (errno == ENOBUFS)
				l->overruns++;
			continue;	/* EAGAIN: the timeout, to see stop */
		}
		for (nlh = (void *)buf; NLMSG_OK(nlh, (size_t)r);
		     nlh = NLMSG_NEXT(nlh, r)) {
			uint64_t seq = event_seq(nlh);

			l->events++;
			if (seq && l->last_seq && seq > l->last_seq + 1)
				l->gaps += seq - l->last_seq - 1;
			if (seq)
				l->last_seq = seq;
		}
	}
	return NULL;
}

static void listener_set(int on)
{
	if (on == lsn.joined)
		return;
	if (setsockopt(lsn.sock, SOL_NETLINK, on ? NETLINK_ADD_MEMBERSHIP :
		       NETLINK_DROP_MEMBERSHIP, &lsn.grp, sizeof(lsn.grp)))
		die("NETLINK_ADD/DROP_MEMBERSHIP");
	lsn.joined = on;
}

static void bench_listener(void)
{
	static struct inval_pair ip = {
		.group = "listener", .on_off = "listener on / none",
		.off_off = "no listener / no listener", .base_name = "no listener",
		.what = "no target (issue 16 sets none)", .set = listener_set,
	};
	struct nl_family f;
	int s = nl_open_family(HMM_CORE_FAMILY_NAME, HMM_CORE_MCGRP_EVENTS, &f);

	if (s < 0) {
		not_measured("listener", "event listener on / none",
			     "no hmm_core family with an events group");
		return;
	}
	close(s);
	lsn.grp = f.grp;
	/* Out of the group to begin with; a 100 ms timeout to see stop. */
	lsn.sock = nl_socket_timeout(0);
	if (lsn.sock < 0)
		die("netlink socket");
	{
		struct timeval tv = { .tv_usec = 100000 };

		if (setsockopt(lsn.sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)))
			die("SO_RCVTIMEO");
	}
	if (pthread_create(&lsn.thread, NULL, listener_drain, &lsn))
		die("pthread_create");
	bench_inval_pair(&ip);
	lsn.stop = 1;
	pthread_join(lsn.thread, NULL);
	close(lsn.sock);
	printf("# listener: the listener read %llu events, %llu missing from "
	       "their sequence (dropped), %llu socket overruns (ENOBUFS)\n",
	       (unsigned long long)lsn.events, (unsigned long long)lsn.gaps,
	       (unsigned long long)lsn.overruns);
	if (json)
		fprintf(json, "%s\n  {\"group\": \"listener\", \"name\": "
			"\"events read by the listener\", \"stat\": \"count\", "
			"\"events\": %llu, \"dropped\": %llu, \"overruns\": %llu}",
			nfigures++ ? "," : "", (unsigned long long)lsn.events,
			(unsigned long long)lsn.gaps,
			(unsigned long long)lsn.overruns);
}

static const struct {
	const char *name;
	void (*run)(void);
} benches[] = {
	{ "populate", bench_populate },
	{ "snapshot", bench_snapshot },
	{ "invalidate", bench_invalidate },
	{ "bandwidth", bench_bandwidth },
	{ "memory", bench_memory },
	{ "test_hmm", bench_test_hmm },
	{ "twophase", bench_twophase },
	{ "verify", bench_verify },
	{ "listener", bench_listener },
};
#define NR_BENCHES (sizeof(benches) / sizeof(benches[0]))

/* The item after the one @s points to in a comma-separated list, or NULL. */
static const char *next_item(const char *s)
{
	const char *comma = strchr(s, ',');

	return comma ? comma + 1 : NULL;
}

/* Whether @name is in the comma-separated @list (NULL: every one). */
static int picked(const char *list, const char *name)
{
	size_t len = strlen(name);

	for (const char *s = list; s; s = next_item(s))
		if (!strncmp(s, name, len) && (s[len] == ',' || !s[len]))
			return 1;
	return !list;
}

static int usage(void)
{
	fprintf(stderr, "usage: bench [--runs N] [--inval-runs N] [--pairs N] "
		"[--json FILE] [--test-hmm DEV] [--figures LIST]\n");
	return 2;
}

static int parse_runs(const char *opt, const char *arg, int *out)
{
	char *end;
	long v = strtol(arg, &end, 10);

	if (*end || v < 5 || v > MAX_RUNS) {
		fprintf(stderr, "bench: %s must be 5 to %d, not '%s'\n", opt,
			MAX_RUNS, arg);
		return -1;
	}
	*out = v;
	return 0;
}

int main(int argc, char **argv)
{
	const char *json_path = NULL, *list = NULL;
	struct utsname u;

	for (int i = 1; i < argc; i++) {
		const char *arg = i + 1 < argc ? argv[i + 1] : NULL;

		if (!arg)
			return usage();
		if (!strcmp(argv[i], "--runs")) {
			if (parse_runs("--runs", arg, &runs))
				return 2;
		} else if (!strcmp(argv[i], "--inval-runs")) {
			if (parse_runs("--inval-runs", arg, &inval_runs))
				return 2;
		} else if (!strcmp(argv[i], "--pairs")) {
			if (parse_runs("--pairs", arg, &pairs))
				return 2;
		} else if (!strcmp(argv[i], "--json")) {
			json_path = arg;
		} else if (!strcmp(argv[i], "--test-hmm")) {
			test_hmm_dev = arg;
		} else if (!strcmp(argv[i], "--figures")) {
			list = arg;
		} else {
			return usage();
		}
		i++;
	}
	for (const char *s = list; s; s = next_item(s)) {
		size_t len = strcspn(s, ",");
		unsigned int b;

		for (b = 0; b < NR_BENCHES; b++)
			if (strlen(benches[b].name) == len &&
			    !strncmp(s, benches[b].name, len))
				break;
		if (b == NR_BENCHES) {
			fprintf(stderr, "bench: unknown figure '%.*s' in --figures\n",
				(int)len, s);
			return 2;
		}
	}
	if (uname(&u))
		die("uname");
	if (json_path && !(json = fopen(json_path, "w")))
		die(json_path);
	if (json)
		fprintf(json, "{\"runs\": %d, \"inval_runs\": %d, "
			"\"pairs\": %d, \"kernel\": \"%s\", \"figures\": [",
			runs, inval_runs, pairs, u.release);
	printf("# kernel %s, median of %d runs (invalidation: %d", u.release,
	       runs, inval_runs);
	if (picked(list, "twophase") || picked(list, "verify") ||
	    picked(list, "listener"))
		printf("; paired figures: %d pairs", pairs);
	printf(")\n");
	printf("%-14s %-58s %14s %-8s %-30s %14s %8s\n", "group", "figure",
	       "value", "unit", "baseline", "baseline", "ratio");
	for (unsigned int b = 0; b < NR_BENCHES; b++)
		if (picked(list, benches[b].name))
			benches[b].run();
	if (json) {
		fprintf(json, "\n]}\n");
		fclose(json);
	}
	return 0;
}
