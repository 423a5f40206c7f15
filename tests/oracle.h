/* SPDX-License-Identifier: GPL-2.0 */
/*
 * oracle.h - the coherence oracle of the coherence suite and the stress test
 *
 * After each operation, for every page of a mirrored range:
 *  - the device entry (DUMP) is absent, or maps the pfn the CPU maps there
 *    now (/proc/self/pagemap), with no more permission and no larger order
 *    than the CPU mapping: check_coherent() of dummy_util.h, whose second
 *    and third looks tell a background change (khugepaged, ksmd, NUMA
 *    balancing, kcompactd moving a page between DUMP and pagemap) from a
 *    stale entry, which stays;
 *  - the data agree: what the device READs is what the CPU reads
 *    (oracle_read_agrees()), and what the device WRITEs the CPU sees
 *    (oracle_write_seen()).
 * ORACLE() and ORACLE_DATA() fail the calling TAP case (tap.h) on any
 * violation, with a diagnostic naming the call site.
 */
#ifndef HMM_TESTS_ORACLE_H
#define HMM_TESTS_ORACLE_H

#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/swap.h>
#include <time.h>

#include "tap.h"
#include "dummy_util.h"

#define PM_PRESENT	(1ULL << 63)
#define PM_SWAP		(1ULL << 62)
#define PM_PFN_MASK	((1ULL << 55) - 1)

/* Raw /proc/self/pagemap entries of npages pages from addr; 0 or -1. */
static inline int pagemap_read(const void *addr, uint64_t npages, uint64_t *out)
{
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	size_t len = npages * sizeof(*out);
	off_t off = (off_t)((uintptr_t)addr / PAGE * 8);
	ssize_t r;

	if (fd < 0)
		return -1;
	r = pread(fd, out, len, off);
	close(fd);
	return r == (ssize_t)len ? 0 : -1;
}

/*
 * Pages of the device's copy @buf that differ from what the CPU reads at
 * @addr, the first four told: "device <did> X, CPU<cpu_did> Y".
 */
static inline long oracle_pages_differ(const char *buf, const void *addr,
				       uint64_t npages, const char *did,
				       const char *cpu_did)
{
	uint64_t i;
	long bad = 0;

	for (i = 0; i < npages; i++) {
		const char *cpu = (const char *)addr + i * PAGE;

		if (memcmp(buf + i * PAGE, cpu, PAGE)) {
			if (bad < 4)
				diag("oracle: %p: device %s 0x%08x, CPU%s 0x%08x",
				     cpu, did, *(const uint32_t *)(buf + i * PAGE),
				     cpu_did, *(const uint32_t *)cpu);
			bad++;
		}
	}
	return bad;
}

/*
 * Device READ of [addr, +npages) against the CPU's view of the same pages
 * (read after the device's). Returns the number of pages that differ, or
 * -1 if the READ failed.
 */
static inline long oracle_read_agrees(int fd, void *addr, uint64_t npages)
{
	char *buf = malloc(npages * PAGE);
	uint64_t done = 0;
	long bad;

	if (!buf)
		return -1;
	if (RETRY_EBUSY(dummy_rw(fd, HMM_DUMMY_IOC_READ, addr, buf, npages,
				 &done, NULL))) {
		diag("oracle: device READ of %p: %s after %llu pages", addr,
		     strerror(errno), (unsigned long long)done);
		free(buf);
		return -1;
	}
	bad = oracle_pages_differ(buf, addr, npages, "reads", "");
	free(buf);
	return bad;
}

/*
 * Device WRITE of the pattern of seed over [addr, +npages); the CPU must
 * then read exactly that. 0, the number of pages the CPU reads otherwise,
 * or -1 if the WRITE failed.
 */
static inline long oracle_write_seen(int fd, void *addr, uint64_t npages,
				     uint32_t seed)
{
	char *buf = malloc(npages * PAGE);
	uint64_t done = 0;
	long bad;

	if (!buf)
		return -1;
	fill_pattern(buf, npages, seed);
	if (RETRY_EBUSY(dummy_rw(fd, HMM_DUMMY_IOC_WRITE, addr, buf, npages,
				 &done, NULL))) {
		diag("oracle: device WRITE of %p: %s after %llu pages", addr,
		     strerror(errno), (unsigned long long)done);
		free(buf);
		return -1;
	}
	bad = oracle_pages_differ(buf, addr, npages, "wrote", " reads");
	free(buf);
	return bad;
}

/* The device table of fd over the range is coherent with the CPU's. */
#define ORACLE(fd, addr, npages) do {					\
	long _bad = check_coherent((fd), (addr), (npages));		\
	if (_bad) {							\
		diag("%s:%d: oracle: device page table not coherent "	\
		     "over %s (%ld)", __func__, __LINE__, #addr, _bad);	\
		return TAP_FAIL;					\
	}								\
} while (0)

/* ... and the device reads what the CPU reads there. */
#define ORACLE_DATA(fd, addr, npages) do {				\
	ORACLE(fd, addr, npages);					\
	long _d = oracle_read_agrees((fd), (addr), (npages));		\
	if (_d) {							\
		diag("%s:%d: oracle: device and CPU disagree over %s (%ld)", \
		     __func__, __LINE__, #addr, _d);			\
		return TAP_FAIL;					\
	}								\
	ORACLE(fd, addr, npages);					\
} while (0)

/* A device WRITE of seed's pattern is what the CPU then reads. */
#define ORACLE_WRITE(fd, addr, npages, seed) do {			\
	long _w = oracle_write_seen((fd), (addr), (npages), (seed));	\
	if (_w) {							\
		diag("%s:%d: oracle: device WRITE over %s not seen by the CPU (%ld)", \
		     __func__, __LINE__, #addr, _w);			\
		return TAP_FAIL;					\
	}								\
	ORACLE(fd, addr, npages);					\
} while (0)

/* The number of device entries over the range must be n. */
#define CHECK_ENTRIES(fd, addr, npages, n) \
	CHECK_EQ(dummy_nr_entries((fd), (addr), (npages)), (n))

/* Write a string to a sysfs/procfs file: 0 or -1. */
static inline int write_str(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t len = (ssize_t)strlen(s), r;

	if (fd < 0)
		return -1;
	r = write(fd, s, len);
	close(fd);
	return r == len ? 0 : -1;
}

/* Read a number from a sysfs/procfs file, -1 on error. */
static inline long long read_num(const char *path)
{
	char buf[64];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t r;

	if (fd < 0)
		return -1;
	r = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (r <= 0)
		return -1;
	buf[r] = '\0';
	return strtoll(buf, NULL, 0);
}

/* A private anonymous mapping of npages, filled with seed's pattern. */
static inline void *anon_filled(size_t npages, uint32_t seed)
{
	void *p = anon_map(npages);

	if (p)
		fill_pattern(p, npages, seed);
	return p;
}

/* npages from a 2 MiB aligned address, in a mapping of npages + 2 MiB. */
static inline void *map_aligned(size_t npages, int prot, int flags, int fd)
{
	size_t len = npages * PAGE;
	char *p = mmap(NULL, len + HPAGE, prot, flags, fd, 0);
	uintptr_t a;

	if (p == MAP_FAILED)
		return NULL;
	a = ((uintptr_t)p + HPAGE - 1) & ~(HPAGE - 1);
	if (a > (uintptr_t)p)
		munmap(p, a - (uintptr_t)p);
	if ((uintptr_t)p + len + HPAGE > a + len)
		munmap((void *)(a + len), (uintptr_t)p + len + HPAGE - (a + len));
	return (void *)a;
}

/*
 * One 2 MiB aligned anonymous range advised MADV_HUGEPAGE, its first byte
 * touched so the kernel may fault it in huge; NULL, with the case's skip
 * reason set, if it cannot be had. Whether it came huge is the caller's to
 * check, each by its own view.
 */
static inline char *thp_map_advised(void)
{
	char *p = map_aligned(HPAGE / PAGE, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS, -1);

	if (!p) {
		tap_skip_reason("mmap: %s", strerror(errno));
		return NULL;
	}
	if (madvise(p, HPAGE, MADV_HUGEPAGE)) {
		tap_skip_reason("MADV_HUGEPAGE: %s", strerror(errno));
		return NULL;
	}
	p[0] = 1;
	return p;
}

/*
 * Swap on /dev/zram0 (vm-run loads zram by default): 0 once it is on, or
 * -1 with the reason in why.
 */
static inline int swap_on_zram(char *why, size_t len)
{
	FILE *f;
	char line[256];
	int on = 0;

	f = fopen("/proc/swaps", "r");
	while (f && fgets(line, sizeof(line), f))
		if (strstr(line, "/dev/zram0"))
			on = 1;
	if (f)
		fclose(f);
	if (on)
		return 0;
	if (access("/sys/block/zram0/disksize", W_OK)) {
		snprintf(why, len, "no zram in this guest (/sys/block/zram0: %s)",
			 strerror(errno));
		return -1;
	}
	/* The default may be a compressor whose module is not here. */
	write_str("/sys/block/zram0/comp_algorithm", "lzo-rle");
	if (read_num("/sys/block/zram0/disksize") <= 0 &&
	    write_str("/sys/block/zram0/disksize", "128M")) {
		snprintf(why, len, "zram0 disksize: %s", strerror(errno));
		return -1;
	}
	if (system("mkswap /dev/zram0 >/dev/null 2>&1")) {
		snprintf(why, len, "mkswap /dev/zram0 failed");
		return -1;
	}
	if (swapon("/dev/zram0", 0)) {
		snprintf(why, len, "swapon /dev/zram0: %s", strerror(errno));
		return -1;
	}
	return 0;
}

#endif /* HMM_TESTS_ORACLE_H */
