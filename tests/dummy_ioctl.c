// SPDX-License-Identifier: GPL-2.0
/*
 * dummy_ioctl - every native ioctl of /dev/hmm_dummyN (hmm_dummy.h), its
 * success and its error paths, and the coherence invariant after each step.
 * Runs as root in the guest (DUMP and /proc/self/pagemap pfns need it).
 */
#include "tap.h"
#include "dummy_util.h"

#include <stdint.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#define RD	HMM_DUMMY_IOC_READ
#define WR	HMM_DUMMY_IOC_WRITE

static uint8_t buf[64 * 4096] __attribute__((aligned(4096)));
static struct hmm_dummy_pte ents[1024];

/* Fresh fd on /dev/hmm_dummy0, or fail the case. */
#define OPEN(fd) do {							\
	(fd) = dummy_open(0);						\
	CHECK((fd) >= 0);						\
} while (0)

#define COHERENT(fd, p, n) do {						\
	long _bad = check_coherent(fd, p, n);				\
	if (_bad) {							\
		diag("%s:%d: coherence: %ld violation(s)",		\
		     __func__, __LINE__, _bad);				\
		return TAP_FAIL;					\
	}								\
} while (0)

static int t_fault_read(void)
{
	uint64_t done, nr, i;
	uint8_t *p;
	int fd;

	OPEN(fd);
	CHECK((p = anon_map(4)));
	/* Untouched anon read-faulted: the CPU maps the zero page read-only. */
	CHECK_OK(dummy_fault(fd, p, 4, 0, &done));
	CHECK_EQ(done, 4);
	CHECK_OK(dummy_dump(fd, p, 4, ents, 1024, &nr));
	CHECK_EQ(nr, 4);
	for (i = 0; i < 4; i++) {
		CHECK_EQ(ents[i].va, (uintptr_t)p + i * PAGE);
		CHECK_EQ(ents[i].perm, HMM_DUMMY_PERM_READ);
		CHECK_EQ(ents[i].order, 0);
		CHECK_EQ(ents[i].pfn, ents[0].pfn);	/* all the zero page */
	}
	CHECK(ents[0].pfn != 0);
	COHERENT(fd, p, 4);
	/* Faulting again is idempotent. */
	CHECK_OK(dummy_fault(fd, p, 4, 0, &done));
	CHECK_EQ(done, 4);
	CHECK_EQ(dummy_nr_entries(fd, p, 4), 4);
	return TAP_PASS;
}

static int t_fault_write(void)
{
	uint64_t done, nr, i;
	uint8_t *p;
	int fd;

	OPEN(fd);
	CHECK((p = anon_map(4)));
	CHECK_OK(dummy_fault(fd, p, 4, HMM_DUMMY_FAULT_WRITE, &done));
	CHECK_EQ(done, 4);
	CHECK_OK(dummy_dump(fd, p, 4, ents, 1024, &nr));
	CHECK_EQ(nr, 4);
	for (i = 0; i < 4; i++) {
		CHECK_EQ(ents[i].va, (uintptr_t)p + i * PAGE);
		CHECK_EQ(ents[i].perm, HMM_DUMMY_PERM_READ | HMM_DUMMY_PERM_WRITE);
		CHECK(i == 0 || ents[i].pfn != ents[i - 1].pfn);
		/* The device fault made the CPU pages present. */
		CHECK(cpu_pfn(p + i * PAGE) > 0);
	}
	COHERENT(fd, p, 4);
	/* A read fault of the (still writable) pages keeps them coherent. */
	CHECK_OK(dummy_fault(fd, p, 4, 0, &done));
	CHECK_EQ(done, 4);
	COHERENT(fd, p, 4);
	return TAP_PASS;
}

static int t_fault_partial(void)
{
	uint64_t done;
	uint8_t *p;
	int fd;

	OPEN(fd);
	CHECK((p = anon_map(8)));
	memset(p, 1, 8 * PAGE);
	/*
	 * page 2 PROT_NONE: EFAULT, and @done counts exactly the pages
	 * before it, which are populated.
	 */
	CHECK_OK(mprotect(p + 2 * PAGE, PAGE, PROT_NONE));
	CHECK_ERR(dummy_fault(fd, p, 4, 0, &done), EFAULT);
	CHECK_EQ(done, 2);
	CHECK_EQ(dummy_nr_entries(fd, p, 8), 2);
	COHERENT(fd, p, 8);
	/* the pages before it fault fine on their own */
	CHECK_OK(dummy_fault(fd, p, 2, 0, &done));
	CHECK_EQ(done, 2);
	CHECK_EQ(dummy_nr_entries(fd, p, 8), 2);
	/* write fault meeting a read-only page at index 5: EPERM */
	CHECK_OK(mprotect(p + 5 * PAGE, PAGE, PROT_READ));
	CHECK_ERR(dummy_fault(fd, p + 4 * PAGE, 4, HMM_DUMMY_FAULT_WRITE, &done),
		  EPERM);
	CHECK_EQ(done, 1);
	CHECK_ERR(dummy_fault(fd, p + 5 * PAGE, 1, HMM_DUMMY_FAULT_WRITE, &done),
		  EPERM);
	CHECK_EQ(done, 0);
	/* a read fault of the read-only page is fine */
	CHECK_OK(dummy_fault(fd, p + 5 * PAGE, 1, 0, &done));
	CHECK_EQ(done, 1);
	/* unmapped page at index 7 */
	CHECK_OK(munmap(p + 7 * PAGE, PAGE));
	CHECK_ERR(dummy_fault(fd, p + 6 * PAGE, 2, 0, &done), EFAULT);
	CHECK_EQ(done, 1);
	CHECK_ERR(dummy_fault(fd, p + 7 * PAGE, 1, 0, &done), EFAULT);
	CHECK_EQ(done, 0);
	/* no entry for anything the CPU cannot read */
	CHECK_EQ(dummy_nr_entries(fd, p + 2 * PAGE, 1), 0);
	CHECK_EQ(dummy_nr_entries(fd, p + 7 * PAGE, 1), 0);
	COHERENT(fd, p, 8);
	return TAP_PASS;
}

static int t_rw_roundtrip(void)
{
	struct hmm_dummy_counters c0, c1;
	uint64_t done, faults;
	uint8_t *p;
	int fd;

	OPEN(fd);
	CHECK((p = anon_map(8)));
	/* device WRITE to untouched memory: faults, then the CPU sees it */
	fill_pattern(buf, 8, 1);
	CHECK_OK(dummy_counters(fd, &c0));
	CHECK_OK(dummy_rw(fd, WR, p, buf, 8, &done, &faults));
	CHECK_EQ(done, 8);
	CHECK(faults >= 1 && faults <= 8);
	CHECK_OK(dummy_counters(fd, &c1));
	CHECK_EQ(c1.device_faults - c0.device_faults, faults);
	CHECK(c1.pages_populated - c0.pages_populated >= 8);
	CHECK_EQ(check_pattern(p, 8, 1), -1);
	COHERENT(fd, p, 8);
	CHECK_EQ(dummy_nr_entries(fd, p, 8), 8);
	/* CPU writes through its (unchanged, writable) PTEs; device READs */
	fill_pattern(p, 8, 2);
	memset(buf, 0, 8 * PAGE);
	CHECK_OK(dummy_rw(fd, RD, p, buf, 8, &done, &faults));
	CHECK_EQ(done, 8);
	CHECK_EQ(faults, 0);	/* the entries were still there */
	CHECK_EQ(check_pattern(buf, 8, 2), -1);
	/* a second device WRITE needs no fault either */
	fill_pattern(buf, 8, 3);
	CHECK_OK(dummy_rw(fd, WR, p, buf, 8, &done, &faults));
	CHECK_EQ(done, 8);
	CHECK_EQ(faults, 0);
	CHECK_EQ(check_pattern(p, 8, 3), -1);
	/* after MADV_DONTNEED the device must read zeros, not the old pages */
	CHECK_OK(madvise(p, 8 * PAGE, MADV_DONTNEED));
	memset(buf, 0xaa, 8 * PAGE);
	CHECK_OK(dummy_rw(fd, RD, p, buf, 8, &done, &faults));
	CHECK_EQ(done, 8);
	CHECK(faults >= 1);
	for (size_t i = 0; i < 8 * PAGE; i++)
		CHECK_EQ(buf[i], 0);
	COHERENT(fd, p, 8);
	return TAP_PASS;
}

static int t_read_errors(void)
{
	uint64_t done, faults;
	uint8_t *p;
	int fd;

	OPEN(fd);
	CHECK((p = anon_map(8)));
	fill_pattern(p, 8, 7);
	/* PROT_NONE page 2: EFAULT, done = the 2 pages before it, copied */
	CHECK_OK(mprotect(p + 2 * PAGE, PAGE, PROT_NONE));
	memset(buf, 0, 4 * PAGE);
	CHECK_ERR(dummy_rw(fd, RD, p, buf, 4, &done, &faults), EFAULT);
	CHECK_EQ(done, 2);
	CHECK_EQ(memcmp(buf, p, 2 * PAGE), 0);
	CHECK_ERR(dummy_rw(fd, RD, p + 2 * PAGE, buf, 1, &done, &faults), EFAULT);
	CHECK_EQ(done, 0);
	/* unmapped pages 6, 7 */
	CHECK_OK(munmap(p + 6 * PAGE, 2 * PAGE));
	CHECK_ERR(dummy_rw(fd, RD, p + 3 * PAGE, buf, 5, &done, &faults), EFAULT);
	CHECK_EQ(done, 3);
	CHECK_ERR(dummy_rw(fd, WR, p + 3 * PAGE, buf, 5, &done, &faults), EFAULT);
	CHECK_EQ(done, 3);
	COHERENT(fd, p, 8);
	return TAP_PASS;
}

static int t_write_readonly(void)
{
	uint64_t done, faults;
	uint8_t *p;
	int fd;

	OPEN(fd);
	CHECK((p = anon_map(4)));
	fill_pattern(p, 4, 4);
	/* read-only mapping: EPERM, nothing written */
	CHECK_OK(mprotect(p, 4 * PAGE, PROT_READ));
	fill_pattern(buf, 4, 5);
	CHECK_ERR(dummy_rw(fd, WR, p, buf, 4, &done, &faults), EPERM);
	CHECK_EQ(done, 0);
	CHECK_EQ(check_pattern(p, 4, 4), -1);
	/* but READ works and the entries are read-only */
	CHECK_OK(dummy_rw(fd, RD, p, buf, 4, &done, &faults));
	CHECK_EQ(done, 4);
	CHECK_EQ(check_pattern(buf, 4, 4), -1);
	COHERENT(fd, p, 4);
	/* pages 0-1 writable again: WRITE gets 2 pages in, then EPERM */
	CHECK_OK(mprotect(p, 2 * PAGE, PROT_READ | PROT_WRITE));
	fill_pattern(buf, 4, 6);
	CHECK_ERR(dummy_rw(fd, WR, p, buf, 4, &done, &faults), EPERM);
	CHECK_EQ(done, 2);
	CHECK_EQ(memcmp(p, buf, 2 * PAGE), 0);
	fill_pattern(buf, 4, 4);
	CHECK_EQ(memcmp(p + 2 * PAGE, buf + 2 * PAGE, 2 * PAGE), 0);
	COHERENT(fd, p, 4);
	return TAP_PASS;
}

static int t_snapshot_flags(void)
{
	struct hmm_dummy_counters c0, c1;
	volatile uint8_t *p;
	uint8_t s[8];
	int fd, i;

	OPEN(fd);
	CHECK((p = anon_map(8)));
	CHECK_OK(dummy_counters(fd, &c0));
	/* untouched anon: nothing mapped */
	memset(s, 0xee, sizeof(s));
	CHECK_OK(dummy_snapshot(fd, (void *)p, 8, s));
	for (i = 0; i < 8; i++)
		CHECK_EQ(s[i], HMM_DUMMY_SNAP_NONE);
	/* page 0 CPU-read: zero page; page 1 CPU-written */
	(void)p[0];
	p[PAGE] = 1;
	/* page 2 written then read-only; page 3 hole; page 4 PROT_NONE */
	p[2 * PAGE] = 1;
	CHECK_OK(mprotect((void *)(p + 2 * PAGE), PAGE, PROT_READ));
	CHECK_OK(munmap((void *)(p + 3 * PAGE), PAGE));
	p[4 * PAGE] = 1;
	CHECK_OK(mprotect((void *)(p + 4 * PAGE), PAGE, PROT_NONE));
	CHECK_OK(dummy_snapshot(fd, (void *)p, 8, s));
	CHECK_EQ(s[0], HMM_DUMMY_SNAP_ZERO | HMM_DUMMY_SNAP_READ);
	/* the flags are a set: a writable page is READ | WRITE */
	CHECK_EQ(s[1], HMM_DUMMY_SNAP_READ | HMM_DUMMY_SNAP_WRITE);
	CHECK_EQ(s[2], HMM_DUMMY_SNAP_READ);
	CHECK_EQ(s[3], HMM_DUMMY_SNAP_ERROR);
	CHECK_EQ(s[4], HMM_DUMMY_SNAP_ERROR);
	CHECK_EQ(s[5], HMM_DUMMY_SNAP_NONE);
	/* a snapshot neither faults nor populates the device page table */
	CHECK_EQ(cpu_pfn((void *)(p + 5 * PAGE)), 0);
	CHECK_EQ(dummy_nr_entries(fd, (void *)p, 8), 0);
	CHECK_OK(dummy_counters(fd, &c1));
	CHECK_EQ(c1.pages_populated, c0.pages_populated);
	CHECK_EQ(c1.device_faults, c0.device_faults);
	/* a range entirely in a hole is no error: ERROR per page */
	CHECK_OK(dummy_snapshot(fd, (void *)(p + 3 * PAGE), 1, s));
	CHECK_EQ(s[0], HMM_DUMMY_SNAP_ERROR);
	return TAP_PASS;
}

/* AnonHugePages (kB) of the vma holding addr, from /proc/self/smaps. */
static long anon_huge_kb(const void *addr)
{
	unsigned long s, e, a = (uintptr_t)addr;
	char line[512];
	int in = 0;
	long kb = -1;
	FILE *f = fopen("/proc/self/smaps", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &s, &e) == 2) {
			in = a >= s && a < e;
			continue;
		}
		if (in && sscanf(line, "AnonHugePages: %ld kB", &kb) == 1)
			break;
	}
	fclose(f);
	return kb;
}

/*
 * A THP: hmm_range_fault() reports it at order 9 (snapshot HUGE); the
 * get_user_pages fallback page by page at order 0, which is as right (never
 * more than the CPU gives). Either way the entries are coherent.
 */
static int t_snapshot_huge(void)
{
	static uint8_t s[512];
	int gup = hmm_core_backend_gup();
	uint8_t snap = HMM_DUMMY_SNAP_READ | HMM_DUMMY_SNAP_WRITE |
		       (gup ? 0 : HMM_DUMMY_SNAP_HUGE);
	unsigned int order = gup ? 0 : 9;
	uint64_t done, nr, i;
	uint8_t *raw, *p;
	long kb;
	int fd;

	OPEN(fd);
	raw = mmap(NULL, 2 * HPAGE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(raw != MAP_FAILED);
	p = (uint8_t *)(((uintptr_t)raw + HPAGE - 1) & ~(HPAGE - 1));
	if (madvise(p, HPAGE, MADV_HUGEPAGE))
		return tap_skip_reason("madvise(MADV_HUGEPAGE): %s",
				       strerror(errno));
	p[0] = 1;
	kb = anon_huge_kb(p);
	if (kb < 2048)
		return tap_skip_reason("no THP given (AnonHugePages %ld kB)",
				       kb);
	if (gup)
		diag("hmm_core backend get_user_pages: expecting order 0");
	CHECK_OK(dummy_snapshot(fd, p, 512, s));
	for (i = 0; i < 512; i++)
		CHECK_EQ(s[i], snap);
	CHECK_OK(dummy_fault(fd, p, 512, HMM_DUMMY_FAULT_WRITE, &done));
	CHECK_EQ(done, 512);
	CHECK_OK(dummy_dump(fd, p, 512, ents, 1024, &nr));
	CHECK_EQ(nr, 512);
	for (i = 0; i < 512; i++) {
		CHECK_EQ(ents[i].order, order);
		CHECK_EQ(ents[i].pfn, ents[0].pfn + i);
	}
	COHERENT(fd, p, 512);
	/* mprotect of one 4 KiB page splits the PMD: no order-9 entry left */
	CHECK_OK(mprotect(p + 100 * PAGE, PAGE, PROT_READ));
	CHECK_OK(dummy_dump(fd, p, 512, ents, 1024, &nr));
	for (i = 0; i < nr; i++)
		CHECK_EQ(ents[i].order, 0);
	COHERENT(fd, p, 512);
	CHECK_OK(dummy_fault(fd, p, 512, 0, &done));
	CHECK_EQ(done, 512);
	COHERENT(fd, p, 512);
	return TAP_PASS;
}

static int t_dump_pagemap(void)
{
	uint64_t done, nr, i;
	uint8_t *p;
	int fd;

	OPEN(fd);
	CHECK((p = anon_map(16)));
	memset(p, 3, 16 * PAGE);
	CHECK_EQ(dummy_nr_entries(fd, p, 16), 0);
	CHECK_OK(dummy_fault(fd, p + 4 * PAGE, 8, HMM_DUMMY_FAULT_WRITE, &done));
	CHECK_EQ(done, 8);
	CHECK_OK(dummy_dump(fd, p, 16, ents, 1024, &nr));
	CHECK_EQ(nr, 8);
	for (i = 0; i < 8; i++) {
		CHECK_EQ(ents[i].va, (uintptr_t)p + (4 + i) * PAGE);
		CHECK_EQ(ents[i].pfn, cpu_pfn(p + (4 + i) * PAGE));
		CHECK_EQ(ents[i].perm, HMM_DUMMY_PERM_READ | HMM_DUMMY_PERM_WRITE);
		CHECK_EQ(ents[i].order, 0);
	}
	/* DUMP of a sub-range sees only that part */
	CHECK_OK(dummy_dump(fd, p + 6 * PAGE, 2, ents, 1024, &nr));
	CHECK_EQ(nr, 2);
	CHECK_EQ(ents[0].va, (uintptr_t)p + 6 * PAGE);
	/* the other device has its own, empty, page table */
	{
		int fd1 = dummy_open(1);

		CHECK(fd1 >= 0);
		CHECK_EQ(dummy_nr_entries(fd1, p, 16), 0);
		close(fd1);
	}
	/* and so has another file on the same device */
	{
		int fd2 = dummy_open(0);

		CHECK(fd2 >= 0);
		CHECK_EQ(dummy_nr_entries(fd2, p, 16), 0);
		close(fd2);
	}
	return TAP_PASS;
}

static int t_dump_perm(void)
{
	uint64_t done, nr, i;
	uint8_t *p;
	int fd;

	OPEN(fd);
	CHECK((p = anon_map(8)));
	memset(p, 3, 8 * PAGE);
	CHECK_OK(mprotect(p, 4 * PAGE, PROT_READ));
	CHECK_OK(dummy_fault(fd, p, 4, 0, &done));
	CHECK_OK(dummy_fault(fd, p + 4 * PAGE, 4, HMM_DUMMY_FAULT_WRITE, &done));
	CHECK_OK(dummy_dump(fd, p, 8, ents, 1024, &nr));
	CHECK_EQ(nr, 8);
	for (i = 0; i < 8; i++)
		CHECK_EQ(ents[i].perm, i < 4 ? HMM_DUMMY_PERM_READ :
			 HMM_DUMMY_PERM_READ | HMM_DUMMY_PERM_WRITE);
	/* mprotect(PROT_READ) takes write access away from the device */
	CHECK_OK(mprotect(p + 4 * PAGE, 4 * PAGE, PROT_READ));
	CHECK_OK(dummy_dump(fd, p, 8, ents, 1024, &nr));
	for (i = 0; i < nr; i++)
		CHECK(!(ents[i].perm & HMM_DUMMY_PERM_WRITE));
	COHERENT(fd, p, 8);
	return TAP_PASS;
}

static int t_dump_truncate(void)
{
	struct hmm_dummy_pte all[10], part[10];
	uint64_t done, nr, got = 0, i;
	uint8_t *p, *next;
	int fd;

	OPEN(fd);
	CHECK((p = anon_map(12)));
	memset(p, 3, 12 * PAGE);
	/* 8 entries in pages 0-2 and 5-9 */
	CHECK_OK(dummy_fault(fd, p, 3, 0, &done));
	CHECK_OK(dummy_fault(fd, p + 5 * PAGE, 5, 0, &done));
	CHECK_OK(dummy_dump(fd, p, 12, all, 10, &nr));
	CHECK_EQ(nr, 8);
	/* 3 at a time, resuming after the last va */
	next = p;
	while (got < 8) {
		uint64_t left = 12 - (uint64_t)(next - p) / PAGE;

		memset(part, 0, sizeof(part));
		CHECK_OK(dummy_dump(fd, next, left, part, 3, &nr));
		CHECK(nr >= 1 && nr <= 3);
		CHECK_EQ(part[nr].va, 0);	/* nothing past max_entries */
		for (i = 0; i < nr; i++) {
			CHECK_EQ(part[i].va, all[got + i].va);
			CHECK_EQ(part[i].pfn, all[got + i].pfn);
		}
		got += nr;
		next = (uint8_t *)(uintptr_t)part[nr - 1].va + PAGE;
		CHECK_EQ(nr, got < 8 ? 3 : 2);
	}
	/* the rest of the range is empty */
	CHECK_OK(dummy_dump(fd, next, 12 - (uint64_t)(next - p) / PAGE,
			    part, 3, &nr));
	CHECK_EQ(nr, 0);
	/* max_entries 0 writes nothing */
	CHECK_OK(dummy_dump(fd, p, 12, part, 0, &nr));
	CHECK_EQ(nr, 0);
	return TAP_PASS;
}

/*
 * An invalidation clears in batches of 512 entries. Entries at the 513
 * pages from a 2 MiB boundary: the 512th cleared is the last of its
 * xarray leaf, whose store frees the leaf, and the 513th is the first of
 * the next. Resuming there with xas_pause() (6.1, 6.12) skipped it, and
 * it stayed after the munmap.
 */
static int t_clear_batch_boundary(void)
{
	const unsigned long n = 513;
	uint64_t done;
	uint8_t *raw, *p;
	int fd;

	OPEN(fd);
	raw = mmap(NULL, n * PAGE + HPAGE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(raw != MAP_FAILED);
	p = (uint8_t *)(((uintptr_t)raw + HPAGE - 1) & ~(HPAGE - 1));
	CHECK_OK(madvise(p, n * PAGE, MADV_NOHUGEPAGE));
	memset(p, 5, n * PAGE);
	CHECK_OK(dummy_fault(fd, p, n, 0, &done));
	CHECK_EQ(done, n);
	CHECK_EQ(dummy_nr_entries(fd, p, n), (long)n);
	CHECK_OK(munmap(p, n * PAGE));
	CHECK_EQ(dummy_nr_entries(fd, p, n), 0);
	return TAP_PASS;
}

static int t_dump_munmap(void)
{
	uint64_t done, nr;
	uint8_t *p;
	int fd;

	OPEN(fd);
	CHECK((p = anon_map(8)));
	memset(p, 3, 8 * PAGE);
	CHECK_OK(dummy_fault(fd, p, 8, HMM_DUMMY_FAULT_WRITE, &done));
	CHECK_EQ(dummy_nr_entries(fd, p, 8), 8);
	CHECK_OK(munmap(p + 2 * PAGE, 4 * PAGE));
	CHECK_OK(dummy_dump(fd, p, 8, ents, 1024, &nr));
	CHECK_EQ(nr, 4);
	CHECK_EQ(ents[0].va, (uintptr_t)p);
	CHECK_EQ(ents[1].va, (uintptr_t)p + PAGE);
	CHECK_EQ(ents[2].va, (uintptr_t)p + 6 * PAGE);
	CHECK_EQ(ents[3].va, (uintptr_t)p + 7 * PAGE);
	COHERENT(fd, p, 8);
	/* a new mapping at the same place must not inherit stale entries */
	CHECK(mmap(p + 2 * PAGE, 4 * PAGE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != MAP_FAILED);
	memset(p + 2 * PAGE, 4, 4 * PAGE);
	CHECK_EQ(dummy_nr_entries(fd, p, 8), 4);
	COHERENT(fd, p, 8);
	CHECK_OK(munmap(p, 8 * PAGE));
	CHECK_EQ(dummy_nr_entries(fd, p, 8), 0);
	return TAP_PASS;
}

static int t_dump_unprivileged(void)
{
	uint64_t done, nr;
	struct hmm_dummy_counters c;
	uint8_t *p;
	int fd;

	OPEN(fd);
	CHECK((p = anon_map(2)));
	CHECK_OK(dummy_fault(fd, p, 2, HMM_DUMMY_FAULT_WRITE, &done));
	CHECK_OK(setgid(65534));
	CHECK_OK(setuid(65534));
	CHECK_EQ(getuid(), 65534);
	CHECK_ERR(dummy_dump(fd, p, 2, ents, 1024, &nr), EPERM);
	/* the rest stays usable: EPERM was for the capability only */
	CHECK_OK(dummy_fault(fd, p, 2, 0, &done));
	CHECK_EQ(done, 2);
	CHECK_OK(dummy_counters(fd, &c));
	return TAP_PASS;
}

static int t_counters(void)
{
	struct hmm_dummy_counters c0, c1, c2, c3, c4;
	uint64_t done;
	uint8_t *p;
	int fd, i;

	OPEN(fd);
	CHECK((p = anon_map(8)));
	memset(p, 3, 8 * PAGE);
	CHECK_OK(dummy_counters(fd, &c0));
	CHECK_EQ(c0.device_faults, 0);
	CHECK_EQ(c0.pages_populated, 0);
	CHECK_EQ(c0.releases, 0);
	for (i = 0; i < 8; i++)
		CHECK_EQ(c0.reserved[i], 0);

	CHECK_OK(dummy_fault(fd, p, 8, HMM_DUMMY_FAULT_WRITE, &done));
	CHECK_OK(dummy_counters(fd, &c1));
	CHECK(c1.device_faults >= 1);
	CHECK(c1.pages_populated >= 8);

	CHECK_OK(mprotect(p, 8 * PAGE, PROT_READ));
	CHECK_OK(dummy_counters(fd, &c2));
	CHECK(c2.invalidations[HMM_DUMMY_EVENT_PROTECTION_VMA] >
	      c1.invalidations[HMM_DUMMY_EVENT_PROTECTION_VMA]);

	CHECK_OK(mprotect(p, 8 * PAGE, PROT_READ | PROT_WRITE));
	CHECK_OK(dummy_fault(fd, p, 8, HMM_DUMMY_FAULT_WRITE, &done));
	CHECK_OK(madvise(p, 8 * PAGE, MADV_DONTNEED));
	CHECK_OK(dummy_counters(fd, &c3));
	CHECK(c3.invalidations[HMM_DUMMY_EVENT_CLEAR] >
	      c2.invalidations[HMM_DUMMY_EVENT_CLEAR]);
	CHECK(c3.pages_invalidated >= c2.pages_invalidated + 8);
	CHECK_EQ(dummy_nr_entries(fd, p, 8), 0);

	CHECK_OK(dummy_fault(fd, p, 8, HMM_DUMMY_FAULT_WRITE, &done));
	CHECK_OK(munmap(p, 8 * PAGE));
	CHECK_OK(dummy_counters(fd, &c4));
	CHECK(c4.invalidations[HMM_DUMMY_EVENT_UNMAP] >
	      c3.invalidations[HMM_DUMMY_EVENT_UNMAP]);
	CHECK(c4.pages_invalidated >= c3.pages_invalidated + 8);
	CHECK(c4.pages_populated >= c1.pages_populated + 16);
	CHECK_EQ(c4.releases, 0);
	for (i = HMM_DUMMY_NR_EVENTS; i < 16; i++)
		CHECK_EQ(c4.invalidations[i], 0);
	for (i = 0; i < 8; i++)
		CHECK_EQ(c4.reserved[i], 0);
	CHECK_EQ(dummy_nr_entries(fd, p, 8), 0);
	return TAP_PASS;
}

/*
 * End of user space: 1 << 47 with 4-level page tables, 1 << 56 with 5-level
 * ones (QEMU's "max" CPU has LA57), where a hint above 47 bits is honoured.
 */
static uint64_t user_space_end(void)
{
	void *hint = (void *)(1ULL << 50);
	void *m = mmap(hint, PAGE, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);

	if (m == MAP_FAILED)
		return 1ULL << 47;
	munmap(m, PAGE);
	return m == hint ? 1ULL << 56 : 1ULL << 47;
}

/*
 * SET_RANGE: the file mirrors [p + 4, p + 12) pages of a 16-page mapping
 * only. Calls outside it fail, changes outside it are not seen, changes
 * inside are; the old entries are dropped; bad ranges fail with EINVAL.
 */
static int t_set_range(void)
{
	struct hmm_dummy_counters c0, c1, c2;
	struct hmm_dummy_range r = { 0 };
	uint64_t done;
	uint8_t *p, *in;
	int fd;

	OPEN(fd);
	CHECK((p = anon_map(16)));
	memset(p, 5, 16 * PAGE);
	in = p + 4 * PAGE;
	CHECK_OK(dummy_fault(fd, p, 16, HMM_DUMMY_FAULT_WRITE, &done));
	CHECK_EQ(dummy_nr_entries(fd, p, 16), 16);

	CHECK_OK(dummy_set_range(fd, in, 8));
	CHECK_EQ(dummy_nr_entries(fd, in, 8), 0);
	CHECK_ERR(dummy_fault(fd, p, 16, 0, &done), EINVAL);
	CHECK_ERR(dummy_fault(fd, p + 3 * PAGE, 1, 0, &done), EINVAL);
	CHECK_ERR(dummy_fault(fd, p + 12 * PAGE, 1, 0, &done), EINVAL);
	CHECK_ERR(dummy_fault(fd, in + 7 * PAGE, 2, 0, &done), EINVAL);
	CHECK_OK(dummy_fault(fd, in, 8, HMM_DUMMY_FAULT_WRITE, &done));
	CHECK_EQ(done, 8);
	COHERENT(fd, in, 8);

	/* outside the range: not seen */
	CHECK_OK(dummy_counters(fd, &c0));
	CHECK_OK(mprotect(p, 4 * PAGE, PROT_READ));
	CHECK_OK(madvise(p + 12 * PAGE, 4 * PAGE, MADV_DONTNEED));
	CHECK_OK(dummy_counters(fd, &c1));
	CHECK_EQ(c1.invalidations[HMM_DUMMY_EVENT_PROTECTION_VMA],
		 c0.invalidations[HMM_DUMMY_EVENT_PROTECTION_VMA]);
	CHECK_EQ(c1.invalidations[HMM_DUMMY_EVENT_CLEAR],
		 c0.invalidations[HMM_DUMMY_EVENT_CLEAR]);
	CHECK_EQ(dummy_nr_entries(fd, in, 8), 8);
	/* inside: seen, and only the range's entries go */
	CHECK_OK(madvise(p + 10 * PAGE, 4 * PAGE, MADV_DONTNEED));
	CHECK_OK(dummy_counters(fd, &c2));
	CHECK(c2.invalidations[HMM_DUMMY_EVENT_CLEAR] >
	      c1.invalidations[HMM_DUMMY_EVENT_CLEAR]);
	CHECK_EQ(dummy_nr_entries(fd, in, 8), 6);
	COHERENT(fd, in, 8);

	/* back to a bigger range: empty again, usable over all of it */
	CHECK_OK(dummy_set_range(fd, p, 16));
	CHECK_EQ(dummy_nr_entries(fd, p, 16), 0);
	CHECK_OK(mprotect(p, 4 * PAGE, PROT_READ | PROT_WRITE));
	CHECK_OK(dummy_fault(fd, p, 16, HMM_DUMMY_FAULT_WRITE, &done));
	CHECK_EQ(done, 16);
	COHERENT(fd, p, 16);

	CHECK_ERR(dummy_set_range(fd, p, 0), EINVAL);
	CHECK_ERR(dummy_set_range(fd, p + 1, 1), EINVAL);
	CHECK_ERR(dummy_set_range(fd, (void *)(uintptr_t)-PAGE, 2), EINVAL);
	CHECK_ERR(dummy_set_range(fd, (void *)(uintptr_t)user_space_end(), 1), EINVAL);
	CHECK_ERR(dummy_set_range(fd, (void *)(uintptr_t)(user_space_end() - PAGE), 2),
		  EINVAL);
	CHECK_ERR(dummy_set_range(fd, p, 1ULL << 52), EINVAL);
	r.addr = (uintptr_t)p;
	r.npages = 1;
	r.reserved[1] = 1;
	CHECK_ERR(ioctl(fd, HMM_DUMMY_IOC_SET_RANGE, &r), EINVAL);
	r.reserved[1] = 0;
	r.flags = 1;
	CHECK_ERR(ioctl(fd, HMM_DUMMY_IOC_SET_RANGE, &r), EINVAL);
	CHECK_ERR(ioctl(fd, HMM_DUMMY_IOC_SET_RANGE, (void *)16), EFAULT);
	/* a failed call changed nothing */
	CHECK_EQ(dummy_nr_entries(fd, p, 16), 16);
	return TAP_PASS;
}

/* One ioctl of any range command with the given range and pointer. */
static int range_call(int fd, unsigned long cmd, uint64_t addr, uint64_t npages,
		      uint64_t ptr)
{
	union {
		struct hmm_dummy_fault f;
		struct hmm_dummy_rw rw;
		struct hmm_dummy_snapshot s;
		struct hmm_dummy_dump d;
	} u;

	memset(&u, 0, sizeof(u));
	if (cmd == HMM_DUMMY_IOC_FAULT) {
		u.f.addr = addr;
		u.f.npages = npages;
	} else if (cmd == RD || cmd == WR) {
		u.rw.addr = addr;
		u.rw.npages = npages;
		u.rw.ptr = ptr;
	} else if (cmd == HMM_DUMMY_IOC_SNAPSHOT) {
		u.s.addr = addr;
		u.s.npages = npages;
		u.s.ptr = ptr;
	} else {
		u.d.addr = addr;
		u.d.npages = npages;
		u.d.ptr = ptr;
		u.d.max_entries = 4;
	}
	return ioctl(fd, cmd, &u);
}

static const unsigned long range_cmds[] = {
	HMM_DUMMY_IOC_FAULT, RD, WR, HMM_DUMMY_IOC_SNAPSHOT, HMM_DUMMY_IOC_DUMP,
};
static const char *const range_names[] = {
	"FAULT", "READ", "WRITE", "SNAPSHOT", "DUMP",
};

#define FOR_RANGE_CMDS(i) for (i = 0; i < 5; i++)

#define CHECK_RANGE_ERR(fd, i, addr, npages, ptr, err) do {		\
	errno = 0;							\
	int _r = range_call(fd, range_cmds[i], addr, npages, ptr);	\
	if (_r != -1 || errno != (err)) {				\
		diag("%s addr 0x%llx npages 0x%llx ptr 0x%llx: want %s,"\
		     " got %d/%s", range_names[i],			\
		     (unsigned long long)(addr),			\
		     (unsigned long long)(npages),			\
		     (unsigned long long)(ptr), strerror(err), _r,	\
		     _r ? strerror(errno) : "success");			\
		return TAP_FAIL;					\
	}								\
} while (0)

static int t_bad_npages(void)
{
	static uint8_t snap[HMM_DUMMY_MAX_PAGES];
	uint64_t a, b = (uintptr_t)buf;
	uint8_t *p;
	int fd, i;

	OPEN(fd);
	CHECK((p = anon_map(4)));
	a = (uintptr_t)p;
	FOR_RANGE_CMDS(i) {
		CHECK_RANGE_ERR(fd, i, a, 0, b, EINVAL);
		CHECK_RANGE_ERR(fd, i, a, HMM_DUMMY_MAX_PAGES + 1, b, EINVAL);
		CHECK_RANGE_ERR(fd, i, a, ~0ULL, b, EINVAL);
		CHECK_RANGE_ERR(fd, i, a, 1ULL << 63, b, EINVAL);
	}
	/* the maximum itself is accepted */
	CHECK_OK(range_call(fd, HMM_DUMMY_IOC_SNAPSHOT, a, HMM_DUMMY_MAX_PAGES,
			    (uintptr_t)snap));
	CHECK_OK(range_call(fd, HMM_DUMMY_IOC_DUMP, a, HMM_DUMMY_MAX_PAGES,
			    (uintptr_t)ents));
	return TAP_PASS;
}

static int t_bad_range(void)
{
	uint64_t a, b = (uintptr_t)buf, end = user_space_end();
	uint8_t *p;
	int fd, i;

	OPEN(fd);
	CHECK((p = anon_map(4)));
	a = (uintptr_t)p;
	diag("user space ends at 0x%llx", (unsigned long long)end);
	FOR_RANGE_CMDS(i) {
		CHECK_RANGE_ERR(fd, i, a + 1, 1, b, EINVAL);
		CHECK_RANGE_ERR(fd, i, a + PAGE / 2, 1, b, EINVAL);
		CHECK_RANGE_ERR(fd, i, a + 8, 2, b, EINVAL);
		/* past the end of user space (0x7ffffffff000 on 4-level) */
		CHECK_RANGE_ERR(fd, i, end - PAGE, 2, b, EINVAL);
		CHECK_RANGE_ERR(fd, i, end, 1, b, EINVAL);
		CHECK_RANGE_ERR(fd, i, 0x800000000000ULL << 9, 1, b, EINVAL);
		CHECK_RANGE_ERR(fd, i, 0xffff888000000000ULL, 1, b, EINVAL);
		CHECK_RANGE_ERR(fd, i, ~0ULL & ~(PAGE - 1), 1, b, EINVAL);
		/* wraps around */
		CHECK_RANGE_ERR(fd, i, ~0ULL & ~(PAGE - 1), 2, b, EINVAL);
		CHECK_RANGE_ERR(fd, i, 0xfffffffffff00000ULL,
				HMM_DUMMY_MAX_PAGES, b, EINVAL);
	}
	return TAP_PASS;
}

static int t_bad_reserved(void)
{
	struct hmm_dummy_fault f, f0;
	struct hmm_dummy_rw rw, rw0;
	struct hmm_dummy_snapshot s, s0;
	struct hmm_dummy_dump d, d0;
	uint8_t *p;
	int fd;

	OPEN(fd);
	CHECK((p = anon_map(4)));
	memset(p, 1, 4 * PAGE);
	f0 = (struct hmm_dummy_fault){ .addr = (uintptr_t)p, .npages = 4 };
	rw0 = (struct hmm_dummy_rw){ .addr = (uintptr_t)p,
				     .ptr = (uintptr_t)buf, .npages = 4 };
	s0 = (struct hmm_dummy_snapshot){ .addr = (uintptr_t)p,
					  .ptr = (uintptr_t)buf, .npages = 4 };
	d0 = (struct hmm_dummy_dump){ .addr = (uintptr_t)p, .npages = 4,
				      .ptr = (uintptr_t)ents, .max_entries = 4 };
	/* the all-zero versions work */
	f = f0; CHECK_OK(ioctl(fd, HMM_DUMMY_IOC_FAULT, &f));
	rw = rw0; CHECK_OK(ioctl(fd, RD, &rw));
	rw = rw0; CHECK_OK(ioctl(fd, WR, &rw));
	s = s0; CHECK_OK(ioctl(fd, HMM_DUMMY_IOC_SNAPSHOT, &s));
	d = d0; CHECK_OK(ioctl(fd, HMM_DUMMY_IOC_DUMP, &d));

	f = f0; f.flags = 1U << 1; CHECK_ERR(ioctl(fd, HMM_DUMMY_IOC_FAULT, &f), EINVAL);
	f = f0; f.flags = 1U << 31; CHECK_ERR(ioctl(fd, HMM_DUMMY_IOC_FAULT, &f), EINVAL);
	f = f0; f.reserved0 = 1; CHECK_ERR(ioctl(fd, HMM_DUMMY_IOC_FAULT, &f), EINVAL);
	f = f0; f.reserved[0] = 1; CHECK_ERR(ioctl(fd, HMM_DUMMY_IOC_FAULT, &f), EINVAL);
	f = f0; f.reserved[1] = 1ULL << 63; CHECK_ERR(ioctl(fd, HMM_DUMMY_IOC_FAULT, &f), EINVAL);

	for (int w = 0; w < 2; w++) {
		unsigned long cmd = w ? WR : RD;

		rw = rw0; rw.flags = 1; CHECK_ERR(ioctl(fd, cmd, &rw), EINVAL);
		rw = rw0; rw.flags = 1U << 31; CHECK_ERR(ioctl(fd, cmd, &rw), EINVAL);
		rw = rw0; rw.reserved0 = 1; CHECK_ERR(ioctl(fd, cmd, &rw), EINVAL);
		rw = rw0; rw.reserved[0] = 1; CHECK_ERR(ioctl(fd, cmd, &rw), EINVAL);
		rw = rw0; rw.reserved[1] = 1; CHECK_ERR(ioctl(fd, cmd, &rw), EINVAL);
	}

	s = s0; s.flags = 1; CHECK_ERR(ioctl(fd, HMM_DUMMY_IOC_SNAPSHOT, &s), EINVAL);
	s = s0; s.reserved0 = 1; CHECK_ERR(ioctl(fd, HMM_DUMMY_IOC_SNAPSHOT, &s), EINVAL);
	s = s0; s.reserved[0] = 1; CHECK_ERR(ioctl(fd, HMM_DUMMY_IOC_SNAPSHOT, &s), EINVAL);
	s = s0; s.reserved[1] = 1; CHECK_ERR(ioctl(fd, HMM_DUMMY_IOC_SNAPSHOT, &s), EINVAL);

	d = d0; d.flags = 1; CHECK_ERR(ioctl(fd, HMM_DUMMY_IOC_DUMP, &d), EINVAL);
	d = d0; d.reserved0 = 1; CHECK_ERR(ioctl(fd, HMM_DUMMY_IOC_DUMP, &d), EINVAL);
	d = d0; d.reserved[0] = 1; CHECK_ERR(ioctl(fd, HMM_DUMMY_IOC_DUMP, &d), EINVAL);
	d = d0; d.reserved[1] = 1; CHECK_ERR(ioctl(fd, HMM_DUMMY_IOC_DUMP, &d), EINVAL);
	return TAP_PASS;
}

static int t_bad_user_ptr(void)
{
	uint64_t done, nr, gone;
	uint8_t *p, *q;
	int fd, i;

	OPEN(fd);
	CHECK((p = anon_map(4)));
	memset(p, 1, 4 * PAGE);
	CHECK_OK(dummy_fault(fd, p, 4, 0, &done));	/* so DUMP has entries */
	CHECK((q = anon_map(1)));
	CHECK_OK(munmap(q, PAGE));
	gone = (uintptr_t)q;
	for (i = 1; i < 5; i++) {	/* READ WRITE SNAPSHOT DUMP */
		CHECK_RANGE_ERR(fd, i, (uintptr_t)p, 4, 1, EFAULT);
		CHECK_RANGE_ERR(fd, i, (uintptr_t)p, 4, gone, EFAULT);
		CHECK_RANGE_ERR(fd, i, (uintptr_t)p, 4, 0, EFAULT);
		CHECK_RANGE_ERR(fd, i, (uintptr_t)p, 4,
				0xffff888000000000ULL, EFAULT);
	}
	/* READ into a read-only buffer cannot store: EFAULT */
	CHECK_OK(mprotect(p + 2 * PAGE, 2 * PAGE, PROT_READ));
	CHECK_ERR(dummy_rw(fd, RD, p, p + 2 * PAGE, 2, &done, NULL), EFAULT);
	CHECK_EQ(done, 0);
	/* a buffer running into an unmapped page: done counts what fit */
	CHECK((q = anon_map(3)));
	CHECK_OK(munmap(q + 2 * PAGE, PAGE));
	CHECK_ERR(dummy_rw(fd, RD, p, q, 4, &done, NULL), EFAULT);
	CHECK_EQ(done, 2);
	CHECK_EQ(memcmp(q, p, 2 * PAGE), 0);
	CHECK_ERR(dummy_dump(fd, p, 4, (void *)(q + 2 * PAGE - sizeof(ents[0])),
			     4, &nr), EFAULT);
	return TAP_PASS;
}

static const unsigned long all_cmds[] = {
	HMM_DUMMY_IOC_FAULT, RD, WR, HMM_DUMMY_IOC_SNAPSHOT,
	HMM_DUMMY_IOC_DUMP, HMM_DUMMY_IOC_COUNTERS,
};

static int t_bad_arg_ptr(void)
{
	struct hmm_dummy_fault *f;
	uint8_t *p, *gone;
	size_t i;
	int fd;

	OPEN(fd);
	CHECK((gone = anon_map(1)));
	CHECK_OK(munmap(gone, PAGE));
	/* page 0 RW, page 1 PROT_NONE: a struct straddling the two */
	CHECK((p = anon_map(2)));
	CHECK_OK(mprotect(p + PAGE, PAGE, PROT_NONE));
	for (i = 0; i < 6; i++) {
		CHECK_ERR(ioctl(fd, all_cmds[i], NULL), EFAULT);
		CHECK_ERR(ioctl(fd, all_cmds[i], (void *)1), EFAULT);
		CHECK_ERR(ioctl(fd, all_cmds[i], gone), EFAULT);
		CHECK_ERR(ioctl(fd, all_cmds[i], (void *)0xffff888000000000ULL),
			  EFAULT);
		memset(p, 0, PAGE);
		CHECK_ERR(ioctl(fd, all_cmds[i], p + PAGE - 8), EFAULT);
	}
	/* a struct the driver cannot write back: FAULT and COUNTERS */
	f = (void *)p;
	memset(p, 0, PAGE);
	f->addr = (uintptr_t)buf;
	f->npages = 1;
	CHECK_OK(mprotect(p, PAGE, PROT_READ));
	CHECK_ERR(ioctl(fd, HMM_DUMMY_IOC_FAULT, p), EFAULT);
	CHECK_ERR(ioctl(fd, HMM_DUMMY_IOC_COUNTERS, p), EFAULT);
	return TAP_PASS;
}

static int t_unknown_ioctl(void)
{
	struct hmm_dummy_fault f = { 0 };
	uint64_t big[64] = { 0 };
	int fd;

	OPEN(fd);
	CHECK_ERR(ioctl(fd, _IO(HMM_DUMMY_IOC_MAGIC, 0x07), 0), ENOTTY);
	CHECK_ERR(ioctl(fd, _IOWR(HMM_DUMMY_IOC_MAGIC, 0x07, struct hmm_dummy_fault), &f),
		  ENOTTY);
	CHECK_ERR(ioctl(fd, _IOWR(HMM_DUMMY_IOC_MAGIC, 0x06, struct hmm_dummy_range), &f),
		  ENOTTY);
	CHECK_ERR(ioctl(fd, _IOWR(HMM_DUMMY_IOC_MAGIC, 0xff, struct hmm_dummy_fault), &f),
		  ENOTTY);
	/* a known number with the wrong size or direction */
	CHECK_ERR(ioctl(fd, _IOWR(HMM_DUMMY_IOC_MAGIC, 0x00, uint64_t), big), ENOTTY);
	CHECK_ERR(ioctl(fd, _IOR(HMM_DUMMY_IOC_MAGIC, 0x05, uint64_t), big), ENOTTY);
	CHECK_ERR(ioctl(fd, _IOW(HMM_DUMMY_IOC_MAGIC, 0x00, struct hmm_dummy_fault), &f),
		  ENOTTY);
	CHECK_ERR(ioctl(fd, _IOWR(0xE1, 0x00, struct hmm_dummy_fault), &f), ENOTTY);
	CHECK_ERR(ioctl(fd, 0, 0), ENOTTY);
	return TAP_PASS;
}

/* In a child: every ioctl on a file of another mm must fail with EPERM. */
static int foreign_mm_checks(int fd)
{
	struct hmm_dummy_counters c;
	uint64_t done, nr;
	uint8_t *p, s[2];

	CHECK((p = anon_map(2)));
	memset(p, 1, 2 * PAGE);
	CHECK_ERR(dummy_fault(fd, p, 2, 0, &done), EPERM);
	CHECK_ERR(dummy_fault(fd, p, 2, HMM_DUMMY_FAULT_WRITE, &done), EPERM);
	CHECK_ERR(dummy_rw(fd, RD, p, buf, 2, &done, NULL), EPERM);
	CHECK_ERR(dummy_rw(fd, WR, p, buf, 2, &done, NULL), EPERM);
	CHECK_ERR(dummy_snapshot(fd, p, 2, s), EPERM);
	CHECK_ERR(dummy_dump(fd, p, 2, ents, 4, &nr), EPERM);
	CHECK_ERR(dummy_counters(fd, &c), EPERM);
	return TAP_PASS;
}

static int wait_child(pid_t pid)
{
	int status;

	if (waitpid(pid, &status, 0) != pid)
		return -1;
	if (!WIFEXITED(status)) {
		diag("child died of signal %d", WTERMSIG(status));
		return -1;
	}
	return WEXITSTATUS(status);
}

static int t_fork_eperm(void)
{
	struct hmm_dummy_counters c0, c1;
	uint64_t done, nr, i;
	uint8_t *p;
	pid_t pid;
	int fd;

	OPEN(fd);
	CHECK((p = anon_map(4)));
	memset(p, 1, 4 * PAGE);
	CHECK_OK(dummy_fault(fd, p, 4, HMM_DUMMY_FAULT_WRITE, &done));
	CHECK_OK(dummy_counters(fd, &c0));
	fflush(stdout);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0)
		_exit(foreign_mm_checks(fd));
	CHECK_EQ(wait_child(pid), 0);
	/* fork write-protected the parent's private pages: so is the device */
	CHECK_OK(dummy_counters(fd, &c1));
	CHECK(c1.invalidations[HMM_DUMMY_EVENT_PROTECTION_PAGE] >
	      c0.invalidations[HMM_DUMMY_EVENT_PROTECTION_PAGE]);
	CHECK_OK(dummy_dump(fd, p, 4, ents, 1024, &nr));
	for (i = 0; i < nr; i++)
		CHECK(!(ents[i].perm & HMM_DUMMY_PERM_WRITE));
	COHERENT(fd, p, 4);
	/* the parent still uses it */
	CHECK_OK(dummy_fault(fd, p, 4, HMM_DUMMY_FAULT_WRITE, &done));
	CHECK_EQ(done, 4);
	COHERENT(fd, p, 4);
	return TAP_PASS;
}

static int t_scm_rights_eperm(void)
{
	uint64_t done;
	uint8_t *p;
	int sv[2], fd;
	pid_t pid;

	CHECK_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	fflush(stdout);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		int rfd;

		close(sv[0]);
		rfd = recv_fd(sv[1]);

		if (rfd < 0) {
			diag("recv_fd failed");
			_exit(1);
		}
		_exit(foreign_mm_checks(rfd));
	}
	close(sv[1]);
	/* opened after the fork: the child never shared this mm */
	OPEN(fd);
	CHECK((p = anon_map(2)));
	CHECK_OK(dummy_fault(fd, p, 2, 0, &done));
	CHECK_OK(send_fd(sv[0], fd));
	CHECK_EQ(wait_child(pid), 0);
	CHECK_OK(dummy_fault(fd, p, 2, 0, &done));
	CHECK_EQ(done, 2);
	return TAP_PASS;
}

static const struct tap_case cases[] = {
	{ "fault_read_zero_page", t_fault_read, 0 },
	{ "fault_write", t_fault_write, 0 },
	{ "fault_partial_done", t_fault_partial, 0 },
	{ "rw_roundtrip_and_faults", t_rw_roundtrip, 0 },
	{ "read_prot_none_and_unmapped", t_read_errors, 0 },
	{ "write_readonly_eperm", t_write_readonly, 0 },
	{ "snapshot_flags", t_snapshot_flags, 0 },
	{ "snapshot_dump_huge", t_snapshot_huge, 0 },
	{ "dump_matches_pagemap", t_dump_pagemap, 0 },
	{ "dump_perm", t_dump_perm, 0 },
	{ "dump_max_entries_resume", t_dump_truncate, 0 },
	{ "dump_after_munmap", t_dump_munmap, 0 },
	{ "clear_batch_boundary", t_clear_batch_boundary, 0 },
	{ "dump_unprivileged_eperm", t_dump_unprivileged, 0 },
	{ "counters", t_counters, 0 },
	{ "set_range", t_set_range, 0 },
	{ "bad_npages_einval", t_bad_npages, 0 },
	{ "bad_range_einval", t_bad_range, 0 },
	{ "bad_reserved_flags_einval", t_bad_reserved, 0 },
	{ "bad_user_ptr_efault", t_bad_user_ptr, 0 },
	{ "bad_arg_ptr_efault", t_bad_arg_ptr, 0 },
	{ "unknown_ioctl_enotty", t_unknown_ioctl, 0 },
	{ "fork_inherited_fd_eperm", t_fork_eperm, 0 },
	{ "scm_rights_fd_eperm", t_scm_rights_eperm, 0 },
};

int main(void)
{
	return TAP_MAIN(cases);
}
