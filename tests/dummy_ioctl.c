// SPDX-License-Identifier: GPL-2.0
/*
 * dummy_ioctl - every native ioctl of /dev/hmm_dummyN (hmm_dummy.h), its
 * success and its error paths, and the coherence invariant after each step.
 * Runs as root in the guest (DUMP and /proc/self/pagemap pfns need it).
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#include "kselftest_harness.h"
#include "dummy_util.h"
#include "oracle.h"

#define RD	HMM_DUMMY_IOC_READ
#define WR	HMM_DUMMY_IOC_WRITE

static uint8_t buf[64 * 4096] __attribute__((aligned(4096)));
static struct hmm_dummy_pte ents[1024];

/* Every case: a fresh file on /dev/hmm_dummy0, its coherence oracle. */
FIXTURE(ioctl) {
	int fd;
	struct oracle o;
};

FIXTURE_SETUP(ioctl)
{
	self->fd = dummy_open(0);
	ASSERT_GE(self->fd, 0) TH_LOG("/dev/hmm_dummy0: %s", strerror(errno));
	self->o = (struct oracle){ .fd = self->fd, .abi = ABI_NATIVE };
}

FIXTURE_TEARDOWN(ioctl)
{
	if (self->fd >= 0)
		close(self->fd);
}

TEST_F_TIMEOUT(ioctl, fault_read_zero_page, 60)
{
	uint64_t done, nr, i;
	uint8_t *p;
	int fd = self->fd;

	ASSERT_NE(NULL, p = anon_map(4));
	/* Untouched anon read-faulted: the CPU maps the zero page read-only. */
	ASSERT_EQ(0, dummy_fault(fd, p, 4, 0, &done)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(done, 4);
	ASSERT_EQ(0, dummy_dump(fd, p, 4, ents, 1024, &nr)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(nr, 4);
	for (i = 0; i < 4; i++) {
		ASSERT_EQ(ents[i].va, (uintptr_t)p + i * PAGE);
		ASSERT_EQ(ents[i].perm, HMM_DUMMY_PERM_READ);
		ASSERT_EQ(ents[i].order, 0);
		ASSERT_EQ(ents[i].pfn, ents[0].pfn);	/* all the zero page */
	}
	ASSERT_TRUE(ents[0].pfn != 0);
	ASSERT_COHERENT(&self->o, p, 4);
	/* Faulting again is idempotent. */
	ASSERT_EQ(0, dummy_fault(fd, p, 4, 0, &done)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(done, 4);
	ASSERT_EQ(dummy_nr_entries(fd, p, 4), 4);
}

TEST_F_TIMEOUT(ioctl, fault_write, 60)
{
	uint64_t done, nr, i;
	uint8_t *p;
	int fd = self->fd;

	ASSERT_NE(NULL, p = anon_map(4));
	ASSERT_EQ(0, dummy_fault(fd, p, 4, HMM_DUMMY_FAULT_WRITE, &done)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(done, 4);
	ASSERT_EQ(0, dummy_dump(fd, p, 4, ents, 1024, &nr)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(nr, 4);
	for (i = 0; i < 4; i++) {
		ASSERT_EQ(ents[i].va, (uintptr_t)p + i * PAGE);
		ASSERT_EQ(ents[i].perm, HMM_DUMMY_PERM_READ | HMM_DUMMY_PERM_WRITE);
		ASSERT_TRUE(i == 0 || ents[i].pfn != ents[i - 1].pfn);
		/* The device fault made the CPU pages present. */
		ASSERT_TRUE(cpu_pfn(p + i * PAGE) > 0);
	}
	ASSERT_COHERENT(&self->o, p, 4);
	/* A read fault of the (still writable) pages keeps them coherent. */
	ASSERT_EQ(0, dummy_fault(fd, p, 4, 0, &done)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(done, 4);
	ASSERT_COHERENT(&self->o, p, 4);
}

TEST_F_TIMEOUT(ioctl, fault_partial_done, 60)
{
	uint64_t done;
	uint8_t *p;
	int fd = self->fd;

	ASSERT_NE(NULL, p = anon_map(8));
	memset(p, 1, 8 * PAGE);
	/*
	 * page 2 PROT_NONE: EFAULT, and @done counts exactly the pages
	 * before it, which are populated.
	 */
	ASSERT_EQ(0, mprotect(p + 2 * PAGE, PAGE, PROT_NONE)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(-1, dummy_fault(fd, p, 4, 0, &done));
	ASSERT_EQ(EFAULT, errno);
	ASSERT_EQ(done, 2);
	ASSERT_EQ(dummy_nr_entries(fd, p, 8), 2);
	ASSERT_COHERENT(&self->o, p, 8);
	/* the pages before it fault fine on their own */
	ASSERT_EQ(0, dummy_fault(fd, p, 2, 0, &done)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(done, 2);
	ASSERT_EQ(dummy_nr_entries(fd, p, 8), 2);
	/* write fault meeting a read-only page at index 5: EPERM */
	ASSERT_EQ(0, mprotect(p + 5 * PAGE, PAGE, PROT_READ)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(-1, dummy_fault(fd, p + 4 * PAGE, 4, HMM_DUMMY_FAULT_WRITE, &done));
	ASSERT_EQ(EPERM, errno);
	ASSERT_EQ(done, 1);
	ASSERT_EQ(-1, dummy_fault(fd, p + 5 * PAGE, 1, HMM_DUMMY_FAULT_WRITE, &done));
	ASSERT_EQ(EPERM, errno);
	ASSERT_EQ(done, 0);
	/* a read fault of the read-only page is fine */
	ASSERT_EQ(0, dummy_fault(fd, p + 5 * PAGE, 1, 0, &done)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(done, 1);
	/* unmapped page at index 7 */
	ASSERT_EQ(0, munmap(p + 7 * PAGE, PAGE)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(-1, dummy_fault(fd, p + 6 * PAGE, 2, 0, &done));
	ASSERT_EQ(EFAULT, errno);
	ASSERT_EQ(done, 1);
	ASSERT_EQ(-1, dummy_fault(fd, p + 7 * PAGE, 1, 0, &done));
	ASSERT_EQ(EFAULT, errno);
	ASSERT_EQ(done, 0);
	/* no entry for anything the CPU cannot read */
	ASSERT_EQ(dummy_nr_entries(fd, p + 2 * PAGE, 1), 0);
	ASSERT_EQ(dummy_nr_entries(fd, p + 7 * PAGE, 1), 0);
	ASSERT_COHERENT(&self->o, p, 8);
}

TEST_F_TIMEOUT(ioctl, rw_roundtrip_and_faults, 60)
{
	struct hmm_dummy_counters c0, c1;
	uint64_t done, faults;
	uint8_t *p;
	int fd = self->fd;

	ASSERT_NE(NULL, p = anon_map(8));
	/* device WRITE to untouched memory: faults, then the CPU sees it */
	fill_pattern(buf, 8, 1);
	ASSERT_EQ(0, dummy_counters(fd, &c0)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(0, dummy_rw(fd, WR, p, buf, 8, &done, &faults)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(done, 8);
	ASSERT_TRUE(faults >= 1 && faults <= 8);
	ASSERT_EQ(0, dummy_counters(fd, &c1)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(c1.device_faults - c0.device_faults, faults);
	ASSERT_TRUE(c1.pages_populated - c0.pages_populated >= 8);
	ASSERT_EQ(check_pattern(p, 8, 1), -1);
	ASSERT_COHERENT(&self->o, p, 8);
	ASSERT_EQ(dummy_nr_entries(fd, p, 8), 8);
	/* CPU writes through its (unchanged, writable) PTEs; device READs */
	fill_pattern(p, 8, 2);
	memset(buf, 0, 8 * PAGE);
	ASSERT_EQ(0, dummy_rw(fd, RD, p, buf, 8, &done, &faults)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(done, 8);
	ASSERT_EQ(faults, 0);	/* the entries were still there */
	ASSERT_EQ(check_pattern(buf, 8, 2), -1);
	/* a second device WRITE needs no fault either */
	fill_pattern(buf, 8, 3);
	ASSERT_EQ(0, dummy_rw(fd, WR, p, buf, 8, &done, &faults)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(done, 8);
	ASSERT_EQ(faults, 0);
	ASSERT_EQ(check_pattern(p, 8, 3), -1);
	/* after MADV_DONTNEED the device must read zeros, not the old pages */
	ASSERT_EQ(0, madvise(p, 8 * PAGE, MADV_DONTNEED)) TH_LOG("%s", strerror(errno));
	memset(buf, 0xaa, 8 * PAGE);
	ASSERT_EQ(0, dummy_rw(fd, RD, p, buf, 8, &done, &faults)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(done, 8);
	ASSERT_TRUE(faults >= 1);
	for (size_t i = 0; i < 8 * PAGE; i++) {
		ASSERT_EQ(buf[i], 0);
	}
	ASSERT_COHERENT(&self->o, p, 8);
}

/*
 * A device READ or WRITE (cmd) of n pages at addr through buf fails with
 * err after done_want pages.
 */
#define ASSERT_RW_STOPS(cmd, addr, n, err, done_want) do {		\
	ASSERT_ERRNO(dummy_rw(fd, cmd, addr, buf, n, &done, &faults), err); \
	ASSERT_EQ(done, done_want);					\
} while (0)

TEST_F_TIMEOUT(ioctl, read_prot_none_and_unmapped, 60)
{
	uint64_t done, faults;
	uint8_t *p;
	int fd = self->fd;

	ASSERT_NE(NULL, p = anon_map(8));
	fill_pattern(p, 8, 7);
	/* PROT_NONE page 2: EFAULT, done = the 2 pages before it, copied */
	ASSERT_EQ(0, mprotect(p + 2 * PAGE, PAGE, PROT_NONE)) TH_LOG("%s", strerror(errno));
	memset(buf, 0, 4 * PAGE);
	ASSERT_RW_STOPS(RD, p, 4, EFAULT, 2);
	ASSERT_EQ(memcmp(buf, p, 2 * PAGE), 0);
	ASSERT_RW_STOPS(RD, p + 2 * PAGE, 1, EFAULT, 0);
	/* unmapped pages 6, 7 */
	ASSERT_EQ(0, munmap(p + 6 * PAGE, 2 * PAGE)) TH_LOG("%s", strerror(errno));
	ASSERT_RW_STOPS(RD, p + 3 * PAGE, 5, EFAULT, 3);
	ASSERT_RW_STOPS(WR, p + 3 * PAGE, 5, EFAULT, 3);
	ASSERT_COHERENT(&self->o, p, 8);
}

TEST_F_TIMEOUT(ioctl, write_readonly_eperm, 60)
{
	uint64_t done, faults;
	uint8_t *p;
	int fd = self->fd;

	ASSERT_NE(NULL, p = anon_map(4));
	fill_pattern(p, 4, 4);
	/* read-only mapping: EPERM, nothing written */
	ASSERT_EQ(0, mprotect(p, 4 * PAGE, PROT_READ)) TH_LOG("%s", strerror(errno));
	fill_pattern(buf, 4, 5);
	ASSERT_RW_STOPS(WR, p, 4, EPERM, 0);
	ASSERT_EQ(check_pattern(p, 4, 4), -1);
	/* but READ works and the entries are read-only */
	ASSERT_EQ(0, dummy_rw(fd, RD, p, buf, 4, &done, &faults)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(done, 4);
	ASSERT_EQ(check_pattern(buf, 4, 4), -1);
	ASSERT_COHERENT(&self->o, p, 4);
	/* pages 0-1 writable again: WRITE gets 2 pages in, then EPERM */
	ASSERT_EQ(0, mprotect(p, 2 * PAGE, PROT_READ | PROT_WRITE)) TH_LOG("%s", strerror(errno));
	fill_pattern(buf, 4, 6);
	ASSERT_RW_STOPS(WR, p, 4, EPERM, 2);
	ASSERT_EQ(memcmp(p, buf, 2 * PAGE), 0);
	fill_pattern(buf, 4, 4);
	ASSERT_EQ(memcmp(p + 2 * PAGE, buf + 2 * PAGE, 2 * PAGE), 0);
	ASSERT_COHERENT(&self->o, p, 4);
}

TEST_F_TIMEOUT(ioctl, snapshot_flags, 60)
{
	struct hmm_dummy_counters c0, c1;
	volatile uint8_t *p;
	uint8_t s[8];
	int fd = self->fd, i;

	ASSERT_NE(NULL, p = anon_map(8));
	ASSERT_EQ(0, dummy_counters(fd, &c0)) TH_LOG("%s", strerror(errno));
	/* untouched anon: nothing mapped */
	memset(s, 0xee, sizeof(s));
	ASSERT_EQ(0, dummy_snapshot(fd, (void *)p, 8, s)) TH_LOG("%s", strerror(errno));
	for (i = 0; i < 8; i++) {
		ASSERT_EQ(s[i], HMM_DUMMY_SNAP_NONE);
	}
	/* page 0 CPU-read: zero page; page 1 CPU-written */
	(void)p[0];
	p[PAGE] = 1;
	/* page 2 written then read-only; page 3 hole; page 4 PROT_NONE */
	p[2 * PAGE] = 1;
	ASSERT_EQ(0, mprotect((void *)(p + 2 * PAGE), PAGE, PROT_READ)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(0, munmap((void *)(p + 3 * PAGE), PAGE)) TH_LOG("%s", strerror(errno));
	p[4 * PAGE] = 1;
	ASSERT_EQ(0, mprotect((void *)(p + 4 * PAGE), PAGE, PROT_NONE)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(0, dummy_snapshot(fd, (void *)p, 8, s)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(s[0], HMM_DUMMY_SNAP_ZERO | HMM_DUMMY_SNAP_READ);
	/* the flags are a set: a writable page is READ | WRITE */
	ASSERT_EQ(s[1], HMM_DUMMY_SNAP_READ | HMM_DUMMY_SNAP_WRITE);
	ASSERT_EQ(s[2], HMM_DUMMY_SNAP_READ);
	ASSERT_EQ(s[3], HMM_DUMMY_SNAP_ERROR);
	ASSERT_EQ(s[4], HMM_DUMMY_SNAP_ERROR);
	ASSERT_EQ(s[5], HMM_DUMMY_SNAP_NONE);
	/* a snapshot neither faults nor populates the device page table */
	ASSERT_EQ(cpu_pfn((void *)(p + 5 * PAGE)), 0);
	ASSERT_EQ(dummy_nr_entries(fd, (void *)p, 8), 0);
	ASSERT_EQ(0, dummy_counters(fd, &c1)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(c1.pages_populated, c0.pages_populated);
	ASSERT_EQ(c1.device_faults, c0.device_faults);
	/* a range entirely in a hole is no error: ERROR per page */
	ASSERT_EQ(0, dummy_snapshot(fd, (void *)(p + 3 * PAGE), 1, s)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(s[0], HMM_DUMMY_SNAP_ERROR);
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
TEST_F_TIMEOUT(ioctl, snapshot_dump_huge, 60)
{
	static uint8_t s[512];
	int gup = hmm_core_backend_gup();
	uint8_t snap = HMM_DUMMY_SNAP_READ | HMM_DUMMY_SNAP_WRITE |
		       (gup ? 0 : HMM_DUMMY_SNAP_HUGE);
	unsigned int order = gup ? 0 : 9;
	uint64_t done, nr, i;
	uint8_t *raw, *p;
	long kb;
	int fd = self->fd;

	raw = mmap(NULL, 2 * HPAGE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, raw);
	p = (uint8_t *)(((uintptr_t)raw + HPAGE - 1) & ~(HPAGE - 1));
	if (madvise(p, HPAGE, MADV_HUGEPAGE))
		SKIP(return, "madvise(MADV_HUGEPAGE): %s",
		     strerror(errno));
	p[0] = 1;
	kb = anon_huge_kb(p);
	if (kb < 2048)
		SKIP(return, "no THP given (AnonHugePages %ld kB)",
		     kb);
	if (gup)
		hmm_diag("hmm_core backend get_user_pages: expecting order 0");
	ASSERT_EQ(0, dummy_snapshot(fd, p, 512, s)) TH_LOG("%s", strerror(errno));
	for (i = 0; i < 512; i++) {
		ASSERT_EQ(s[i], snap);
	}
	ASSERT_EQ(0, dummy_fault(fd, p, 512, HMM_DUMMY_FAULT_WRITE, &done)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(done, 512);
	ASSERT_EQ(0, dummy_dump(fd, p, 512, ents, 1024, &nr)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(nr, 512);
	for (i = 0; i < 512; i++) {
		ASSERT_EQ(ents[i].order, order);
		ASSERT_EQ(ents[i].pfn, ents[0].pfn + i);
	}
	ASSERT_COHERENT(&self->o, p, 512);
	/* mprotect of one 4 KiB page splits the PMD: no order-9 entry left */
	ASSERT_EQ(0, mprotect(p + 100 * PAGE, PAGE, PROT_READ)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(0, dummy_dump(fd, p, 512, ents, 1024, &nr)) TH_LOG("%s", strerror(errno));
	for (i = 0; i < nr; i++) {
		ASSERT_EQ(ents[i].order, 0);
	}
	ASSERT_COHERENT(&self->o, p, 512);
	ASSERT_EQ(0, dummy_fault(fd, p, 512, 0, &done)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(done, 512);
	ASSERT_COHERENT(&self->o, p, 512);
}

TEST_F_TIMEOUT(ioctl, dump_matches_pagemap, 60)
{
	uint64_t done, nr, i;
	uint8_t *p;
	int fd = self->fd, fd1, fd2;

	ASSERT_NE(NULL, p = anon_map(16));
	memset(p, 3, 16 * PAGE);
	ASSERT_EQ(dummy_nr_entries(fd, p, 16), 0);
	ASSERT_EQ(0, dummy_fault(fd, p + 4 * PAGE, 8, HMM_DUMMY_FAULT_WRITE, &done)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(done, 8);
	ASSERT_EQ(0, dummy_dump(fd, p, 16, ents, 1024, &nr)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(nr, 8);
	for (i = 0; i < 8; i++) {
		ASSERT_EQ(ents[i].va, (uintptr_t)p + (4 + i) * PAGE);
		ASSERT_EQ(ents[i].pfn, (uint64_t)cpu_pfn(p + (4 + i) * PAGE));
		ASSERT_EQ(ents[i].perm, HMM_DUMMY_PERM_READ | HMM_DUMMY_PERM_WRITE);
		ASSERT_EQ(ents[i].order, 0);
	}
	/* DUMP of a sub-range sees only that part */
	ASSERT_EQ(0, dummy_dump(fd, p + 6 * PAGE, 2, ents, 1024, &nr)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(nr, 2);
	ASSERT_EQ(ents[0].va, (uintptr_t)p + 6 * PAGE);
	/* the other device has its own, empty, page table */
	fd1 = dummy_open(1);
	ASSERT_GE(fd1, 0) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(dummy_nr_entries(fd1, p, 16), 0);
	close(fd1);
	/* and so has another file on the same device */
	fd2 = dummy_open(0);
	ASSERT_GE(fd2, 0) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(dummy_nr_entries(fd2, p, 16), 0);
	close(fd2);
}

TEST_F_TIMEOUT(ioctl, dump_perm, 60)
{
	uint64_t done, nr, i;
	uint8_t *p;
	int fd = self->fd;

	ASSERT_NE(NULL, p = anon_map(8));
	memset(p, 3, 8 * PAGE);
	ASSERT_EQ(0, mprotect(p, 4 * PAGE, PROT_READ)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(0, dummy_fault(fd, p, 4, 0, &done)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(0, dummy_fault(fd, p + 4 * PAGE, 4, HMM_DUMMY_FAULT_WRITE, &done)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(0, dummy_dump(fd, p, 8, ents, 1024, &nr)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(nr, 8);
	for (i = 0; i < 8; i++) {
		ASSERT_EQ(ents[i].perm, i < 4 ? HMM_DUMMY_PERM_READ :
			  HMM_DUMMY_PERM_READ | HMM_DUMMY_PERM_WRITE);
	}
	/* mprotect(PROT_READ) takes write access away from the device */
	ASSERT_EQ(0, mprotect(p + 4 * PAGE, 4 * PAGE, PROT_READ)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(0, dummy_dump(fd, p, 8, ents, 1024, &nr)) TH_LOG("%s", strerror(errno));
	for (i = 0; i < nr; i++) {
		ASSERT_TRUE(!(ents[i].perm & HMM_DUMMY_PERM_WRITE));
	}
	ASSERT_COHERENT(&self->o, p, 8);
}

TEST_F_TIMEOUT(ioctl, dump_max_entries_resume, 60)
{
	struct hmm_dummy_pte all[10], part[10];
	uint64_t done, nr, got = 0, i;
	uint8_t *p, *next;
	int fd = self->fd;

	ASSERT_NE(NULL, p = anon_map(12));
	memset(p, 3, 12 * PAGE);
	/* 8 entries in pages 0-2 and 5-9 */
	ASSERT_EQ(0, dummy_fault(fd, p, 3, 0, &done)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(0, dummy_fault(fd, p + 5 * PAGE, 5, 0, &done)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(0, dummy_dump(fd, p, 12, all, 10, &nr)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(nr, 8);
	/* 3 at a time, resuming after the last va */
	next = p;
	while (got < 8) {
		uint64_t left = 12 - (uint64_t)(next - p) / PAGE;

		memset(part, 0, sizeof(part));
		ASSERT_EQ(0, dummy_dump(fd, next, left, part, 3, &nr)) TH_LOG("%s", strerror(errno));
		ASSERT_TRUE(nr >= 1 && nr <= 3);
		ASSERT_EQ(part[nr].va, 0);	/* nothing past max_entries */
		for (i = 0; i < nr; i++) {
			ASSERT_EQ(part[i].va, all[got + i].va);
			ASSERT_EQ(part[i].pfn, all[got + i].pfn);
		}
		got += nr;
		next = (uint8_t *)(uintptr_t)part[nr - 1].va + PAGE;
		ASSERT_EQ(nr, got < 8 ? 3 : 2);
	}
	/* the rest of the range is empty */
	ASSERT_EQ(0, dummy_dump(fd, next, 12 - (uint64_t)(next - p) / PAGE,
				part, 3, &nr)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(nr, 0);
	/* max_entries 0 writes nothing */
	ASSERT_EQ(0, dummy_dump(fd, p, 12, part, 0, &nr)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(nr, 0);
}

/*
 * An invalidation clears in batches of 512 entries. Entries at the 513
 * pages from a 2 MiB boundary: the 512th cleared is the last of its
 * xarray leaf, whose store frees the leaf, and the 513th is the first of
 * the next. Resuming there with xas_pause() (6.1, 6.12) skipped it, and
 * it stayed after the munmap.
 */
TEST_F_TIMEOUT(ioctl, clear_batch_boundary, 60)
{
	const unsigned long n = 513;
	uint64_t done;
	uint8_t *raw, *p;
	int fd = self->fd;

	raw = mmap(NULL, n * PAGE + HPAGE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, raw);
	p = (uint8_t *)(((uintptr_t)raw + HPAGE - 1) & ~(HPAGE - 1));
	ASSERT_EQ(0, madvise(p, n * PAGE, MADV_NOHUGEPAGE)) TH_LOG("%s", strerror(errno));
	memset(p, 5, n * PAGE);
	ASSERT_EQ(0, dummy_fault(fd, p, n, 0, &done)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(done, n);
	ASSERT_EQ(dummy_nr_entries(fd, p, n), (long)n);
	ASSERT_EQ(0, munmap(p, n * PAGE)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(dummy_nr_entries(fd, p, n), 0);
}

TEST_F_TIMEOUT(ioctl, dump_after_munmap, 60)
{
	uint64_t done, nr;
	uint8_t *p;
	int fd = self->fd;

	ASSERT_NE(NULL, p = anon_map(8));
	memset(p, 3, 8 * PAGE);
	ASSERT_EQ(0, dummy_fault(fd, p, 8, HMM_DUMMY_FAULT_WRITE, &done)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(dummy_nr_entries(fd, p, 8), 8);
	ASSERT_EQ(0, munmap(p + 2 * PAGE, 4 * PAGE)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(0, dummy_dump(fd, p, 8, ents, 1024, &nr)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(nr, 4);
	ASSERT_EQ(ents[0].va, (uintptr_t)p);
	ASSERT_EQ(ents[1].va, (uintptr_t)p + PAGE);
	ASSERT_EQ(ents[2].va, (uintptr_t)p + 6 * PAGE);
	ASSERT_EQ(ents[3].va, (uintptr_t)p + 7 * PAGE);
	ASSERT_COHERENT(&self->o, p, 8);
	/* a new mapping at the same place must not inherit stale entries */
	ASSERT_TRUE(mmap(p + 2 * PAGE, 4 * PAGE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != MAP_FAILED);
	memset(p + 2 * PAGE, 4, 4 * PAGE);
	ASSERT_EQ(dummy_nr_entries(fd, p, 8), 4);
	ASSERT_COHERENT(&self->o, p, 8);
	ASSERT_EQ(0, munmap(p, 8 * PAGE)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(dummy_nr_entries(fd, p, 8), 0);
}

TEST_F_TIMEOUT(ioctl, dump_unprivileged_eperm, 60)
{
	uint64_t done, nr;
	struct hmm_dummy_counters c;
	uint8_t *p;
	int fd = self->fd;

	ASSERT_NE(NULL, p = anon_map(2));
	ASSERT_EQ(0, dummy_fault(fd, p, 2, HMM_DUMMY_FAULT_WRITE, &done)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(0, drop_to_nobody()) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(getuid(), 65534);
	ASSERT_EQ(-1, dummy_dump(fd, p, 2, ents, 1024, &nr));
	ASSERT_EQ(EPERM, errno);
	/* the rest stays usable: EPERM was for the capability only */
	ASSERT_EQ(0, dummy_fault(fd, p, 2, 0, &done)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(done, 2);
	ASSERT_EQ(0, dummy_counters(fd, &c)) TH_LOG("%s", strerror(errno));
}

TEST_F_TIMEOUT(ioctl, counters, 60)
{
	struct hmm_dummy_counters c0, c1, c2, c3, c4;
	uint64_t done;
	uint8_t *p;
	int fd = self->fd, i;

	ASSERT_NE(NULL, p = anon_map(8));
	memset(p, 3, 8 * PAGE);
	ASSERT_EQ(0, dummy_counters(fd, &c0)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(c0.device_faults, 0);
	ASSERT_EQ(c0.pages_populated, 0);
	ASSERT_EQ(c0.releases, 0);
	for (i = 0; i < 8; i++) {
		ASSERT_EQ(c0.reserved[i], 0);
	}

	ASSERT_EQ(0, dummy_fault(fd, p, 8, HMM_DUMMY_FAULT_WRITE, &done)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(0, dummy_counters(fd, &c1)) TH_LOG("%s", strerror(errno));
	ASSERT_TRUE(c1.device_faults >= 1);
	ASSERT_TRUE(c1.pages_populated >= 8);

	ASSERT_EQ(0, mprotect(p, 8 * PAGE, PROT_READ)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(0, dummy_counters(fd, &c2)) TH_LOG("%s", strerror(errno));
	ASSERT_TRUE(c2.invalidations[HMM_DUMMY_EVENT_PROTECTION_VMA] >
		    c1.invalidations[HMM_DUMMY_EVENT_PROTECTION_VMA]);

	ASSERT_EQ(0, mprotect(p, 8 * PAGE, PROT_READ | PROT_WRITE)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(0, dummy_fault(fd, p, 8, HMM_DUMMY_FAULT_WRITE, &done)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(0, madvise(p, 8 * PAGE, MADV_DONTNEED)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(0, dummy_counters(fd, &c3)) TH_LOG("%s", strerror(errno));
	ASSERT_TRUE(c3.invalidations[HMM_DUMMY_EVENT_CLEAR] >
		    c2.invalidations[HMM_DUMMY_EVENT_CLEAR]);
	ASSERT_TRUE(c3.pages_invalidated >= c2.pages_invalidated + 8);
	ASSERT_EQ(dummy_nr_entries(fd, p, 8), 0);

	ASSERT_EQ(0, dummy_fault(fd, p, 8, HMM_DUMMY_FAULT_WRITE, &done)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(0, munmap(p, 8 * PAGE)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(0, dummy_counters(fd, &c4)) TH_LOG("%s", strerror(errno));
	ASSERT_TRUE(c4.invalidations[HMM_DUMMY_EVENT_UNMAP] >
		    c3.invalidations[HMM_DUMMY_EVENT_UNMAP]);
	ASSERT_TRUE(c4.pages_invalidated >= c3.pages_invalidated + 8);
	ASSERT_TRUE(c4.pages_populated >= c1.pages_populated + 16);
	ASSERT_EQ(c4.releases, 0);
	for (i = HMM_DUMMY_NR_EVENTS; i < 16; i++) {
		ASSERT_EQ(c4.invalidations[i], 0);
	}
	for (i = 0; i < 8; i++) {
		ASSERT_EQ(c4.reserved[i], 0);
	}
	ASSERT_EQ(dummy_nr_entries(fd, p, 8), 0);
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
TEST_F_TIMEOUT(ioctl, set_range, 60)
{
	struct hmm_dummy_counters c0, c1, c2;
	struct hmm_dummy_range r = { 0 };
	uint64_t done;
	uint8_t *p, *in;
	int fd = self->fd;

	ASSERT_NE(NULL, p = anon_map(16));
	memset(p, 5, 16 * PAGE);
	in = p + 4 * PAGE;
	ASSERT_EQ(0, dummy_fault(fd, p, 16, HMM_DUMMY_FAULT_WRITE, &done)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(dummy_nr_entries(fd, p, 16), 16);

	ASSERT_EQ(0, dummy_set_range(fd, in, 8)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(dummy_nr_entries(fd, in, 8), 0);
	ASSERT_EQ(-1, dummy_fault(fd, p, 16, 0, &done));
	ASSERT_EQ(EINVAL, errno);
	ASSERT_EQ(-1, dummy_fault(fd, p + 3 * PAGE, 1, 0, &done));
	ASSERT_EQ(EINVAL, errno);
	ASSERT_EQ(-1, dummy_fault(fd, p + 12 * PAGE, 1, 0, &done));
	ASSERT_EQ(EINVAL, errno);
	ASSERT_EQ(-1, dummy_fault(fd, in + 7 * PAGE, 2, 0, &done));
	ASSERT_EQ(EINVAL, errno);
	ASSERT_EQ(0, dummy_fault(fd, in, 8, HMM_DUMMY_FAULT_WRITE, &done)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(done, 8);
	ASSERT_COHERENT(&self->o, in, 8);

	/* outside the range: not seen */
	ASSERT_EQ(0, dummy_counters(fd, &c0)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(0, mprotect(p, 4 * PAGE, PROT_READ)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(0, madvise(p + 12 * PAGE, 4 * PAGE, MADV_DONTNEED)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(0, dummy_counters(fd, &c1)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(c1.invalidations[HMM_DUMMY_EVENT_PROTECTION_VMA], c0.invalidations[HMM_DUMMY_EVENT_PROTECTION_VMA]);
	ASSERT_EQ(c1.invalidations[HMM_DUMMY_EVENT_CLEAR], c0.invalidations[HMM_DUMMY_EVENT_CLEAR]);
	ASSERT_EQ(dummy_nr_entries(fd, in, 8), 8);
	/* inside: seen, and only the range's entries go */
	ASSERT_EQ(0, madvise(p + 10 * PAGE, 4 * PAGE, MADV_DONTNEED)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(0, dummy_counters(fd, &c2)) TH_LOG("%s", strerror(errno));
	ASSERT_TRUE(c2.invalidations[HMM_DUMMY_EVENT_CLEAR] >
		    c1.invalidations[HMM_DUMMY_EVENT_CLEAR]);
	ASSERT_EQ(dummy_nr_entries(fd, in, 8), 6);
	ASSERT_COHERENT(&self->o, in, 8);

	/* back to a bigger range: empty again, usable over all of it */
	ASSERT_EQ(0, dummy_set_range(fd, p, 16)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(dummy_nr_entries(fd, p, 16), 0);
	ASSERT_EQ(0, mprotect(p, 4 * PAGE, PROT_READ | PROT_WRITE)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(0, dummy_fault(fd, p, 16, HMM_DUMMY_FAULT_WRITE, &done)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(done, 16);
	ASSERT_COHERENT(&self->o, p, 16);

	ASSERT_EQ(-1, dummy_set_range(fd, p, 0));
	ASSERT_EQ(EINVAL, errno);
	ASSERT_EQ(-1, dummy_set_range(fd, p + 1, 1));
	ASSERT_EQ(EINVAL, errno);
	ASSERT_EQ(-1, dummy_set_range(fd, (void *)(uintptr_t)-PAGE, 2));
	ASSERT_EQ(EINVAL, errno);
	ASSERT_EQ(-1, dummy_set_range(fd, (void *)(uintptr_t)user_space_end(), 1));
	ASSERT_EQ(EINVAL, errno);
	ASSERT_EQ(-1, dummy_set_range(fd, (void *)(uintptr_t)(user_space_end() - PAGE), 2));
	ASSERT_EQ(EINVAL, errno);
	ASSERT_EQ(-1, dummy_set_range(fd, p, 1ULL << 52));
	ASSERT_EQ(EINVAL, errno);
	r.addr = (uintptr_t)p;
	r.npages = 1;
	r.reserved[1] = 1;
	ASSERT_EQ(-1, ioctl(fd, HMM_DUMMY_IOC_SET_RANGE, &r));
	ASSERT_EQ(EINVAL, errno);
	r.reserved[1] = 0;
	r.flags = 1;
	ASSERT_EQ(-1, ioctl(fd, HMM_DUMMY_IOC_SET_RANGE, &r));
	ASSERT_EQ(EINVAL, errno);
	ASSERT_EQ(-1, ioctl(fd, HMM_DUMMY_IOC_SET_RANGE, (void *)16));
	ASSERT_EQ(EFAULT, errno);
	/* a failed call changed nothing */
	ASSERT_EQ(dummy_nr_entries(fd, p, 16), 16);
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

/* The range command i with these arguments fails with err. */
#define ASSERT_RANGE_ERR(fd, i, addr, npages, ptr, err) do {		\
	int _r, _e;							\
									\
	errno = 0;							\
	_r = range_call(fd, range_cmds[i], addr, npages, ptr);		\
	_e = errno;							\
	ASSERT_TRUE(_r == -1 && _e == (err))				\
		TH_LOG("%s addr 0x%llx npages 0x%llx ptr 0x%llx: want %s, got %d/%s", \
		       range_names[i], (unsigned long long)(addr),	\
		       (unsigned long long)(npages),			\
		       (unsigned long long)(ptr), strerror(err), _r,	\
		       _r ? strerror(_e) : "success");			\
} while (0)

TEST_F_TIMEOUT(ioctl, bad_npages_einval, 60)
{
	static uint8_t snap[HMM_DUMMY_MAX_PAGES];
	uint64_t a, b = (uintptr_t)buf;
	uint8_t *p;
	int fd = self->fd, i;

	ASSERT_NE(NULL, p = anon_map(4));
	a = (uintptr_t)p;
	FOR_RANGE_CMDS(i) {
		ASSERT_RANGE_ERR(fd, i, a, 0, b, EINVAL);
		ASSERT_RANGE_ERR(fd, i, a, HMM_DUMMY_MAX_PAGES + 1, b, EINVAL);
		ASSERT_RANGE_ERR(fd, i, a, ~0ULL, b, EINVAL);
		ASSERT_RANGE_ERR(fd, i, a, 1ULL << 63, b, EINVAL);
	}
	/* the maximum itself is accepted */
	ASSERT_EQ(0, range_call(fd, HMM_DUMMY_IOC_SNAPSHOT, a, HMM_DUMMY_MAX_PAGES,
				(uintptr_t)snap)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(0, range_call(fd, HMM_DUMMY_IOC_DUMP, a, HMM_DUMMY_MAX_PAGES,
				(uintptr_t)ents)) TH_LOG("%s", strerror(errno));
}

TEST_F_TIMEOUT(ioctl, bad_range_einval, 60)
{
	uint64_t a, b = (uintptr_t)buf, end = user_space_end();
	uint8_t *p;
	int fd = self->fd, i;

	ASSERT_NE(NULL, p = anon_map(4));
	a = (uintptr_t)p;
	hmm_diag("user space ends at 0x%llx", (unsigned long long)end);
	FOR_RANGE_CMDS(i) {
		ASSERT_RANGE_ERR(fd, i, a + 1, 1, b, EINVAL);
		ASSERT_RANGE_ERR(fd, i, a + PAGE / 2, 1, b, EINVAL);
		ASSERT_RANGE_ERR(fd, i, a + 8, 2, b, EINVAL);
		/* past the end of user space (0x7ffffffff000 on 4-level) */
		ASSERT_RANGE_ERR(fd, i, end - PAGE, 2, b, EINVAL);
		ASSERT_RANGE_ERR(fd, i, end, 1, b, EINVAL);
		ASSERT_RANGE_ERR(fd, i, 0x800000000000ULL << 9, 1, b, EINVAL);
		ASSERT_RANGE_ERR(fd, i, 0xffff888000000000ULL, 1, b, EINVAL);
		ASSERT_RANGE_ERR(fd, i, ~0ULL & ~(PAGE - 1), 1, b, EINVAL);
		/* wraps around */
		ASSERT_RANGE_ERR(fd, i, ~0ULL & ~(PAGE - 1), 2, b, EINVAL);
		ASSERT_RANGE_ERR(fd, i, 0xfffffffffff00000ULL,
				 HMM_DUMMY_MAX_PAGES, b, EINVAL);
	}
}

/*
 * The valid argument v0, one field of it set to bad, in v: cmd refuses it
 * with EINVAL.
 */
#define ASSERT_REFUSED(cmd, v, v0, field, bad) do {			\
	v = v0;								\
	v.field = bad;							\
	ASSERT_ERRNO(ioctl(fd, cmd, &v), EINVAL);			\
} while (0)

TEST_F_TIMEOUT(ioctl, bad_reserved_flags_einval, 60)
{
	struct hmm_dummy_fault f, f0;
	struct hmm_dummy_rw rw, rw0;
	struct hmm_dummy_snapshot s, s0;
	struct hmm_dummy_dump d, d0;
	uint8_t *p;
	int fd = self->fd;

	ASSERT_NE(NULL, p = anon_map(4));
	memset(p, 1, 4 * PAGE);
	f0 = (struct hmm_dummy_fault){ .addr = (uintptr_t)p, .npages = 4 };
	rw0 = (struct hmm_dummy_rw){ .addr = (uintptr_t)p,
				     .ptr = (uintptr_t)buf, .npages = 4 };
	s0 = (struct hmm_dummy_snapshot){ .addr = (uintptr_t)p,
					  .ptr = (uintptr_t)buf, .npages = 4 };
	d0 = (struct hmm_dummy_dump){ .addr = (uintptr_t)p, .npages = 4,
				      .ptr = (uintptr_t)ents, .max_entries = 4 };
	/* the all-zero versions work */
	f = f0; ASSERT_OK(ioctl(fd, HMM_DUMMY_IOC_FAULT, &f));
	rw = rw0; ASSERT_OK(ioctl(fd, RD, &rw));
	rw = rw0; ASSERT_OK(ioctl(fd, WR, &rw));
	s = s0; ASSERT_OK(ioctl(fd, HMM_DUMMY_IOC_SNAPSHOT, &s));
	d = d0; ASSERT_OK(ioctl(fd, HMM_DUMMY_IOC_DUMP, &d));

	ASSERT_REFUSED(HMM_DUMMY_IOC_FAULT, f, f0, flags, 1U << 1);
	ASSERT_REFUSED(HMM_DUMMY_IOC_FAULT, f, f0, flags, 1U << 31);
	ASSERT_REFUSED(HMM_DUMMY_IOC_FAULT, f, f0, reserved0, 1);
	ASSERT_REFUSED(HMM_DUMMY_IOC_FAULT, f, f0, reserved[0], 1);
	ASSERT_REFUSED(HMM_DUMMY_IOC_FAULT, f, f0, reserved[1], 1ULL << 63);

	for (int w = 0; w < 2; w++) {
		unsigned long cmd = w ? WR : RD;

		ASSERT_REFUSED(cmd, rw, rw0, flags, 1);
		ASSERT_REFUSED(cmd, rw, rw0, flags, 1U << 31);
		ASSERT_REFUSED(cmd, rw, rw0, reserved0, 1);
		ASSERT_REFUSED(cmd, rw, rw0, reserved[0], 1);
		ASSERT_REFUSED(cmd, rw, rw0, reserved[1], 1);
	}

	ASSERT_REFUSED(HMM_DUMMY_IOC_SNAPSHOT, s, s0, flags, 1);
	ASSERT_REFUSED(HMM_DUMMY_IOC_SNAPSHOT, s, s0, reserved0, 1);
	ASSERT_REFUSED(HMM_DUMMY_IOC_SNAPSHOT, s, s0, reserved[0], 1);
	ASSERT_REFUSED(HMM_DUMMY_IOC_SNAPSHOT, s, s0, reserved[1], 1);

	ASSERT_REFUSED(HMM_DUMMY_IOC_DUMP, d, d0, flags, 1);
	ASSERT_REFUSED(HMM_DUMMY_IOC_DUMP, d, d0, reserved0, 1);
	ASSERT_REFUSED(HMM_DUMMY_IOC_DUMP, d, d0, reserved[0], 1);
	ASSERT_REFUSED(HMM_DUMMY_IOC_DUMP, d, d0, reserved[1], 1);
}

TEST_F_TIMEOUT(ioctl, bad_user_ptr_efault, 60)
{
	uint64_t done, nr, gone;
	uint8_t *p, *q;
	int fd = self->fd, i;

	ASSERT_NE(NULL, p = anon_map(4));
	memset(p, 1, 4 * PAGE);
	ASSERT_EQ(0, dummy_fault(fd, p, 4, 0, &done)) TH_LOG("%s", strerror(errno));	/* so DUMP has entries */
	ASSERT_NE(NULL, q = anon_map(1));
	ASSERT_EQ(0, munmap(q, PAGE)) TH_LOG("%s", strerror(errno));
	gone = (uintptr_t)q;
	for (i = 1; i < 5; i++) {	/* READ WRITE SNAPSHOT DUMP */
		ASSERT_RANGE_ERR(fd, i, (uintptr_t)p, 4, 1, EFAULT);
		ASSERT_RANGE_ERR(fd, i, (uintptr_t)p, 4, gone, EFAULT);
		ASSERT_RANGE_ERR(fd, i, (uintptr_t)p, 4, 0, EFAULT);
		ASSERT_RANGE_ERR(fd, i, (uintptr_t)p, 4,
				 0xffff888000000000ULL, EFAULT);
	}
	/* READ into a read-only buffer cannot store: EFAULT */
	ASSERT_EQ(0, mprotect(p + 2 * PAGE, 2 * PAGE, PROT_READ)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(-1, dummy_rw(fd, RD, p, p + 2 * PAGE, 2, &done, NULL));
	ASSERT_EQ(EFAULT, errno);
	ASSERT_EQ(done, 0);
	/* a buffer running into an unmapped page: done counts what fit */
	ASSERT_NE(NULL, q = anon_map(3));
	ASSERT_EQ(0, munmap(q + 2 * PAGE, PAGE)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(-1, dummy_rw(fd, RD, p, q, 4, &done, NULL));
	ASSERT_EQ(EFAULT, errno);
	ASSERT_EQ(done, 2);
	ASSERT_EQ(memcmp(q, p, 2 * PAGE), 0);
	ASSERT_EQ(-1, dummy_dump(fd, p, 4, (void *)(q + 2 * PAGE - sizeof(ents[0])),
				 4, &nr));
	ASSERT_EQ(EFAULT, errno);
}

/*
 * The caller's buffer need not be page aligned nor mapped yet: a READ or
 * WRITE faults it in as copy_to_user() and copy_from_user() do, with
 * pt_lock dropped (a copy with page faults disabled, kept under the lock,
 * would fail here). Every byte must arrive, both ways, through a buffer
 * off page alignment whose first page is mapped and the rest not, and
 * through one inside the mirrored range itself.
 */
TEST_F_TIMEOUT(ioctl, rw_buffer_mapped_or_not, 60)
{
	uint64_t done, faults;
	uint8_t *p, *q;
	int fd = self->fd, mfd;

	ASSERT_NE(NULL, p = anon_map(8));
	fill_pattern(p, 4, 1);
	ASSERT_NE(NULL, q = anon_map(6));
	q[0] = 1;
	ASSERT_EQ(0, dummy_rw(fd, RD, p, q + 100, 4, &done, &faults)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(done, 4);
	ASSERT_EQ(memcmp(q + 100, p, 4 * PAGE), 0);
	ASSERT_EQ(0, munmap(q, 6 * PAGE)) TH_LOG("%s", strerror(errno));

	/*
	 * WRITE's source: its first page anonymous and mapped, the rest a
	 * memfd's pages, in the page cache but not yet mapped (their own vma:
	 * no fault-around from the first).
	 */
	fill_pattern(buf, 5, 2);
	ASSERT_LE(0, mfd = memfd_create("rw_buffer", 0)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(4 * PAGE + 100, write(mfd, buf + PAGE - 100, 4 * PAGE + 100));
	ASSERT_NE(NULL, q = anon_map(6));
	ASSERT_EQ((void *)(q + PAGE), mmap(q + PAGE, 5 * PAGE, PROT_READ | PROT_WRITE,
					  MAP_SHARED | MAP_FIXED, mfd, 0));
	close(mfd);
	memcpy(q + 100, buf, PAGE - 100);
	ASSERT_EQ(0, dummy_rw(fd, WR, p, q + 100, 4, &done, &faults)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(done, 4);
	ASSERT_EQ(check_pattern(p, 4, 2), -1);
	ASSERT_EQ(0, munmap(q, 6 * PAGE)) TH_LOG("%s", strerror(errno));

	/* p[4..8) untouched: the READ's stores fault them in */
	ASSERT_EQ(0, dummy_rw(fd, RD, p, p + 4 * PAGE, 4, &done, &faults)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(done, 4);
	ASSERT_EQ(check_pattern(p + 4 * PAGE, 4, 2), -1);
	fill_pattern(p + 4 * PAGE, 4, 3);
	ASSERT_EQ(0, dummy_rw(fd, WR, p, p + 4 * PAGE, 4, &done, &faults)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(check_pattern(p, 4, 3), -1);
	ASSERT_COHERENT(&self->o, p, 8);
}

static const unsigned long all_cmds[] = {
	HMM_DUMMY_IOC_FAULT, RD, WR, HMM_DUMMY_IOC_SNAPSHOT,
	HMM_DUMMY_IOC_DUMP, HMM_DUMMY_IOC_COUNTERS,
};

TEST_F_TIMEOUT(ioctl, bad_arg_ptr_efault, 60)
{
	struct hmm_dummy_fault *f;
	uint8_t *p, *gone;
	size_t i;
	int fd = self->fd;

	ASSERT_NE(NULL, gone = anon_map(1));
	ASSERT_EQ(0, munmap(gone, PAGE)) TH_LOG("%s", strerror(errno));
	/* page 0 RW, page 1 PROT_NONE: a struct straddling the two */
	ASSERT_NE(NULL, p = anon_map(2));
	ASSERT_EQ(0, mprotect(p + PAGE, PAGE, PROT_NONE)) TH_LOG("%s", strerror(errno));
	for (i = 0; i < 6; i++) {
		ASSERT_EQ(-1, ioctl(fd, all_cmds[i], NULL));
		ASSERT_EQ(EFAULT, errno);
		ASSERT_EQ(-1, ioctl(fd, all_cmds[i], (void *)1));
		ASSERT_EQ(EFAULT, errno);
		ASSERT_EQ(-1, ioctl(fd, all_cmds[i], gone));
		ASSERT_EQ(EFAULT, errno);
		ASSERT_EQ(-1, ioctl(fd, all_cmds[i], (void *)0xffff888000000000ULL));
		ASSERT_EQ(EFAULT, errno);
		memset(p, 0, PAGE);
		ASSERT_EQ(-1, ioctl(fd, all_cmds[i], p + PAGE - 8));
		ASSERT_EQ(EFAULT, errno);
	}
	/* a struct the driver cannot write back: FAULT and COUNTERS */
	f = (void *)p;
	memset(p, 0, PAGE);
	f->addr = (uintptr_t)buf;
	f->npages = 1;
	ASSERT_EQ(0, mprotect(p, PAGE, PROT_READ)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(-1, ioctl(fd, HMM_DUMMY_IOC_FAULT, p));
	ASSERT_EQ(EFAULT, errno);
	ASSERT_EQ(-1, ioctl(fd, HMM_DUMMY_IOC_COUNTERS, p));
	ASSERT_EQ(EFAULT, errno);
}

TEST_F_TIMEOUT(ioctl, unknown_ioctl_enotty, 60)
{
	struct hmm_dummy_fault f = { 0 };
	uint64_t big[64] = { 0 };
	int fd = self->fd;

	ASSERT_EQ(-1, ioctl(fd, _IO(HMM_DUMMY_IOC_MAGIC, 0x07), 0));
	ASSERT_EQ(ENOTTY, errno);
	ASSERT_EQ(-1, ioctl(fd, _IOWR(HMM_DUMMY_IOC_MAGIC, 0x07, struct hmm_dummy_fault), &f));
	ASSERT_EQ(ENOTTY, errno);
	ASSERT_EQ(-1, ioctl(fd, _IOWR(HMM_DUMMY_IOC_MAGIC, 0x06, struct hmm_dummy_range), &f));
	ASSERT_EQ(ENOTTY, errno);
	ASSERT_EQ(-1, ioctl(fd, _IOWR(HMM_DUMMY_IOC_MAGIC, 0xff, struct hmm_dummy_fault), &f));
	ASSERT_EQ(ENOTTY, errno);
	/* a known number with the wrong size or direction */
	ASSERT_EQ(-1, ioctl(fd, _IOWR(HMM_DUMMY_IOC_MAGIC, 0x00, uint64_t), big));
	ASSERT_EQ(ENOTTY, errno);
	ASSERT_EQ(-1, ioctl(fd, _IOR(HMM_DUMMY_IOC_MAGIC, 0x05, uint64_t), big));
	ASSERT_EQ(ENOTTY, errno);
	ASSERT_EQ(-1, ioctl(fd, _IOW(HMM_DUMMY_IOC_MAGIC, 0x00, struct hmm_dummy_fault), &f));
	ASSERT_EQ(ENOTTY, errno);
	ASSERT_EQ(-1, ioctl(fd, _IOWR(0xE1, 0x00, struct hmm_dummy_fault), &f));
	ASSERT_EQ(ENOTTY, errno);
	ASSERT_EQ(-1, ioctl(fd, 0, 0));
	ASSERT_EQ(ENOTTY, errno);
}

/* 1 if a call returned -1 with errno EPERM, else 0, said why. */
static int is_eperm(int r, const char *call)
{
	if (r == -1 && errno == EPERM)
		return 1;
	hmm_diag("%s on a file of another mm: want EPERM, got %d/%s",
		 call, r, r == -1 ? strerror(errno) : "no error");
	return 0;
}

/*
 * In a child: every ioctl on a file of another mm must fail with EPERM.
 * Returns the number of calls that did not (the child's exit status).
 */
static int foreign_mm_checks(int fd)
{
	struct hmm_dummy_counters c;
	uint64_t done, nr;
	uint8_t *p, s[2];
	int bad = 0;

	p = anon_map(2);
	if (!p)
		return 1;
	memset(p, 1, 2 * PAGE);
	bad += !is_eperm(dummy_fault(fd, p, 2, 0, &done), "FAULT");
	bad += !is_eperm(dummy_fault(fd, p, 2, HMM_DUMMY_FAULT_WRITE, &done),
			 "FAULT(WRITE)");
	bad += !is_eperm(dummy_rw(fd, RD, p, buf, 2, &done, NULL), "READ");
	bad += !is_eperm(dummy_rw(fd, WR, p, buf, 2, &done, NULL), "WRITE");
	bad += !is_eperm(dummy_snapshot(fd, p, 2, s), "SNAPSHOT");
	bad += !is_eperm(dummy_dump(fd, p, 2, ents, 4, &nr), "DUMP");
	bad += !is_eperm(dummy_counters(fd, &c), "COUNTERS");
	return bad;
}

static int wait_child(pid_t pid)
{
	int status;

	if (waitpid(pid, &status, 0) != pid)
		return -1;
	if (!WIFEXITED(status)) {
		hmm_diag("child died of signal %d", WTERMSIG(status));
		return -1;
	}
	return WEXITSTATUS(status);
}

TEST_F_TIMEOUT(ioctl, fork_inherited_fd_eperm, 60)
{
	struct hmm_dummy_counters c0, c1;
	uint64_t done, nr, i;
	uint8_t *p;
	pid_t pid;
	int fd = self->fd;

	ASSERT_NE(NULL, p = anon_map(4));
	memset(p, 1, 4 * PAGE);
	ASSERT_EQ(0, dummy_fault(fd, p, 4, HMM_DUMMY_FAULT_WRITE, &done)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(0, dummy_counters(fd, &c0)) TH_LOG("%s", strerror(errno));
	fflush(stdout);
	pid = fork();
	ASSERT_GE(pid, 0) TH_LOG("%s", strerror(errno));
	if (pid == 0)
		_exit(foreign_mm_checks(fd));
	ASSERT_EQ(wait_child(pid), 0);
	/* fork write-protected the parent's private pages: so is the device */
	ASSERT_EQ(0, dummy_counters(fd, &c1)) TH_LOG("%s", strerror(errno));
	ASSERT_TRUE(c1.invalidations[HMM_DUMMY_EVENT_PROTECTION_PAGE] >
		    c0.invalidations[HMM_DUMMY_EVENT_PROTECTION_PAGE]);
	ASSERT_EQ(0, dummy_dump(fd, p, 4, ents, 1024, &nr)) TH_LOG("%s", strerror(errno));
	for (i = 0; i < nr; i++) {
		ASSERT_TRUE(!(ents[i].perm & HMM_DUMMY_PERM_WRITE));
	}
	ASSERT_COHERENT(&self->o, p, 4);
	/* the parent still uses it */
	ASSERT_EQ(0, dummy_fault(fd, p, 4, HMM_DUMMY_FAULT_WRITE, &done)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(done, 4);
	ASSERT_COHERENT(&self->o, p, 4);
}

TEST_F_TIMEOUT(ioctl, scm_rights_fd_eperm, 60)
{
	uint64_t done;
	uint8_t *p;
	int sv[2], fd;
	pid_t pid;

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv)) TH_LOG("%s", strerror(errno));
	fflush(stdout);
	pid = fork();
	ASSERT_GE(pid, 0) TH_LOG("%s", strerror(errno));
	if (pid == 0) {
		int rfd;

		close(self->fd);
		close(sv[0]);
		rfd = recv_fd(sv[1]);

		if (rfd < 0) {
			hmm_diag("recv_fd failed");
			_exit(1);
		}
		_exit(foreign_mm_checks(rfd));
	}
	close(sv[1]);
	/* opened after the fork: the child never shared this mm */
	close(self->fd);
	fd = self->fd = dummy_open(0);
	ASSERT_GE(fd, 0) TH_LOG("/dev/hmm_dummy0: %s", strerror(errno));
	ASSERT_NE(NULL, p = anon_map(2));
	ASSERT_EQ(0, dummy_fault(fd, p, 2, 0, &done)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(0, send_fd(sv[0], fd)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(wait_child(pid), 0);
	ASSERT_EQ(0, dummy_fault(fd, p, 2, 0, &done)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(done, 2);
}

TEST_HARNESS_MAIN
