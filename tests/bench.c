// SPDX-License-Identifier: GPL-2.0
/*
 * bench - what a driver author cares about, each figure beside its baseline
 * measured in the same run, and the ratio between them.
 *
 *   bench [--runs N] [--json FILE] [--test-hmm DEV]
 *
 * Every figure is the median of --runs runs (default 5). Absolute times
 * under TCG mean little; the ratios are the result. --test-hmm names the
 * kernel's own test_hmm device (e.g. /dev/hmm_dmirror0 with test_hmm.ko
 * loaded and hmm_dummy loaded with dmirror=0) for the side-by-side populate
 * figure; without it that baseline is reported as missing.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "hmm_dmirror.h"
#include "hmm_dummy.h"

#define PAGE		4096UL
#define MAX_RUNS	31
#define MAX_MIRRORS	64

static int runs = 5;
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

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/*
 * One figure: a value, its baseline, their ratio. @higher_is_better says
 * which way the ratio reads; it is always value / baseline.
 */
static void figure(const char *group, const char *name, const char *unit,
		   double value, const char *base_name, double base)
{
	double ratio = base > 0 ? value / base : 0;

	printf("%-14s %-40s %14.4g %-8s %-30s %14.4g %8.3f\n", group, name,
	       value, unit, base_name, base, ratio);
	if (json)
		fprintf(json, "%s\n  {\"group\": \"%s\", \"name\": \"%s\", "
			"\"unit\": \"%s\", \"value\": %.6g, \"baseline\": "
			"\"%s\", \"baseline_value\": %.6g, \"ratio\": %.6g}",
			nfigures ? "," : "", group, name, unit, value,
			base_name, base, ratio);
	nfigures++;
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
static void bench_populate(void)
{
	static const uint64_t sizes[] = { 1, 512, 262144 };
	int fd = dev_open("/dev/hmm_dummy0");
	int tfd = test_hmm_dev ? dev_open(test_hmm_dev) : -1;

	for (unsigned int s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		uint64_t n = sizes[s];
		size_t size = n * PAGE;
		double dev_pop[MAX_RUNS], cpu_pop[MAX_RUNS], dev_new[MAX_RUNS];
		double cpu_new[MAX_RUNS], ours_rd[MAX_RUNS], theirs_rd[MAX_RUNS];
		char name[64], *p = map(size), *buf = NULL;
		volatile char sink;

		touch(p, size);
		if (tfd >= 0 && !(buf = malloc(size)))
			die("malloc");
		for (int r = 0; r < runs; r++) {
			double t0 = now();

			dev_fault(fd, p, n, 0);
			dev_pop[r] = n / (now() - t0);
			t0 = now();
			for (size_t off = 0; off < size; off += PAGE)
				sink = p[off];
			cpu_pop[r] = n / (now() - t0);
			if (tfd >= 0) {
				t0 = now();
				dev_rw(fd, HMM_DUMMY_IOC_READ, p, buf, n);
				ours_rd[r] = n / (now() - t0);
				t0 = now();
				dmirror_read(tfd, p, buf, n);
				theirs_rd[r] = n / (now() - t0);
			}
		}
		(void)sink;
		snprintf(name, sizeof(name), "FAULT %llu populated",
			 (unsigned long long)n);
		figure("populate", name, "pages/s", median(dev_pop, runs),
		       "CPU touching them", median(cpu_pop, runs));
		if (tfd >= 0) {
			snprintf(name, sizeof(name), "READ %llu populated",
				 (unsigned long long)n);
			figure("populate", name, "pages/s", median(ours_rd, runs),
			       "test_hmm HMM_DMIRROR_READ",
			       median(theirs_rd, runs));
		}
		munmap(p, size);
		free(buf);

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
		snprintf(name, sizeof(name), "FAULT %llu first touch",
			 (unsigned long long)n);
		figure("populate", name, "pages/s", median(dev_new, runs),
		       "CPU first touch", median(cpu_new, runs));
	}
	if (!test_hmm_dev)
		printf("# populate: no test_hmm device given: its baseline is "
		       "measured by `make bench` on the bench kernel only\n");
	if (tfd >= 0)
		close(tfd);
	close(fd);
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
 * mirror have populated, and of an mprotect toggle, against no mirror.
 */
static double invalidate_once(int *fds, int nmirrors, int op)
{
	const size_t size = 2UL << 20;
	char *p = map(size);
	double t0, t;

	touch(p, size);
	for (int m = 0; m < nmirrors; m++)
		dev_fault(fds[m], p, size / PAGE, 1);
	t0 = now();
	if (op == 0) {
		munmap(p, size);
		p = map(size);
	} else {
		mprotect(p, size, PROT_READ);
		mprotect(p, size, PROT_READ | PROT_WRITE);
	}
	t = now() - t0;
	munmap(p, size);
	return t;
}

static void bench_invalidate(void)
{
	static const int counts[] = { 0, 1, 8, 64 };
	static const char *const ops[] = { "munmap+mmap 2 MiB", "mprotect toggle 2 MiB" };
	const int ncounts = sizeof(counts) / sizeof(counts[0]);
	double t[4][MAX_RUNS], med[4];
	int fds[MAX_MIRRORS];

	for (int m = 0; m < MAX_MIRRORS; m++)
		fds[m] = dev_open("/dev/hmm_dummy0");
	for (int op = 0; op < 2; op++) {
		/* Interleaved, so that a shared machine's drift hits all alike. */
		for (int r = 0; r < runs; r++)
			for (int c = 0; c < ncounts; c++)
				t[c][r] = invalidate_once(fds, counts[c], op);
		for (int c = 0; c < ncounts; c++) {
			char name[80];

			med[c] = median(t[c], runs) * 1e6;
			snprintf(name, sizeof(name), "%s, %d mirrors same range",
				 ops[op], counts[c]);
			figure("invalidate", name, "us/op", med[c],
			       counts[c] > 1 ? "1 mirror" : "0 mirrors",
			       counts[c] > 1 ? med[1] : med[0]);
		}
	}
	for (int m = 0; m < MAX_MIRRORS; m++)
		close(fds[m]);
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

int main(int argc, char **argv)
{
	const char *json_path = NULL;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--runs") && i + 1 < argc)
			runs = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--json") && i + 1 < argc)
			json_path = argv[++i];
		else if (!strcmp(argv[i], "--test-hmm") && i + 1 < argc)
			test_hmm_dev = argv[++i];
		else {
			fprintf(stderr, "usage: bench [--runs N] [--json FILE] "
				"[--test-hmm DEV]\n");
			return 2;
		}
	}
	if (runs < 5 || runs > MAX_RUNS) {
		fprintf(stderr, "bench: --runs must be 5 to %d\n", MAX_RUNS);
		return 2;
	}
	if (json_path && !(json = fopen(json_path, "w")))
		die(json_path);
	if (json)
		fprintf(json, "{\"runs\": %d, \"figures\": [", runs);
	printf("%-14s %-40s %14s %-8s %-30s %14s %8s\n", "group", "figure",
	       "value", "unit", "baseline", "baseline", "ratio");
	bench_populate();
	bench_snapshot();
	bench_invalidate();
	bench_bandwidth();
	bench_memory();
	if (json) {
		fprintf(json, "\n]}\n");
		fclose(json);
	}
	return 0;
}
