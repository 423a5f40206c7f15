// SPDX-License-Identifier: GPL-2.0
/*
 * coherence_mm - the device never sees a page the CPU no longer maps, when
 * the kernel itself moves or replaces pages: transparent huge pages (fault,
 * split by mprotect or munmap, MADV_COLLAPSE), hugetlbfs, KSM merging and
 * unmerging, migration between NUMA nodes (move_pages), compaction, and
 * swap (zram) out and back in.
 *
 * Checked by the oracle of oracle.h after each step, and by data. A case
 * whose kernel feature is missing in the guest SKIPs, saying which.
 *
 * Cases of kselftest_harness.h, fixture "mm" (/dev/hmm_dummy0 and its
 * oracle): "coherence_mm -l" lists them, "coherence_mm -t compaction" runs
 * one.
 */
#define _GNU_SOURCE
#include <sys/syscall.h>

#include "kselftest_harness.h"
#include "oracle.h"

#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25
#endif
#ifndef MPOL_MF_MOVE
#define MPOL_MF_MOVE (1 << 1)
#endif

#define HPAGES	(HPAGE / PAGE)	/* 512 */

/* self->fd: /dev/hmm_dummy0, self->o: the oracle over it */
ORACLE_FIXTURE(mm)

/* The device's entries over [p, +n) with an order > 0. */
static long huge_entries(int fd, void *p, uint64_t n)
{
	static struct hmm_dummy_pte ents[4096];
	uint64_t nr, i;
	long huge = 0;

	if (dummy_dump(fd, p, n, ents, 4096, &nr))
		return -1;
	for (i = 0; i < nr; i++)
		huge += ents[i].order > 0;
	return huge;
}

#define KPF_THP	22	/* linux/kernel-page-flags.h */

/*
 * Whether the CPU maps addr with a transparent huge page, from
 * /proc/kpageflags: 1, 0, or -1 if it cannot be told.
 */
static int cpu_thp(const void *addr)
{
	long long pfn = cpu_pfn(addr);
	uint64_t flags;
	ssize_t r;
	int fd;

	if (pfn <= 0)
		return pfn ? -1 : 0;
	fd = open("/proc/kpageflags", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	r = pread(fd, &flags, sizeof(flags), (off_t)pfn * 8);
	close(fd);
	if (r != sizeof(flags))
		return -1;
	return !!(flags & (1ULL << KPF_THP));
}

/*
 * One 2 MiB aligned THP, filled with seed and faulted in writable by the
 * device; NULL, the case skipped (with a reason), if none. hmm_range_fault() reports a THP (snapshot HUGE).
 * hmm_core's get_user_pages back end reports every page at order 0, which
 * is as right (never more than the CPU gives): there kpageflags tells
 * whether the CPU has a THP, and the snapshot must say read-write, not
 * HUGE.
 */
static char *thp_map(struct __test_metadata *_metadata, int fd,
		     uint32_t seed)
{
	uint8_t snap = 0;
	char *p = thp_map_advised();
	int r;

	if (!p)
		SKIP(return NULL, "%s", oracle_why);
	r = dummy_snapshot(fd, p, 1, &snap);
	if (!hmm_core_backend_gup()) {
		if (r || !(snap & HMM_DUMMY_SNAP_HUGE))
			SKIP(return NULL, "no THP in this guest (snapshot 0x%x)",
			     snap);
	} else {
		ASSERT_EQ(0, r);
		if (cpu_thp(p) != 1)
			SKIP(return NULL, "no THP in this guest (kpageflags)");
		ASSERT_EQ(HMM_DUMMY_SNAP_READ | HMM_DUMMY_SNAP_WRITE, snap);
	}
	fill_pattern(p, HPAGES, seed);
	ASSERT_EQ(0, dummy_fault(fd, p, HPAGES, HMM_DUMMY_FAULT_WRITE, NULL));
	return p;
}

TEST_F_TIMEOUT(mm, thp_fault_huge, 60)
{
	char *p;

	p = thp_map(_metadata, self->fd, 1);
	if (!p)
		return;	/* skipped */
	ASSERT_ENTRIES(self->fd, p, HPAGES, HPAGES);
	TH_LOG("%ld of %lu device entries huge",
	       huge_entries(self->fd, p, HPAGES), HPAGES);
	if (hmm_core_backend_gup())
		ASSERT_EQ(huge_entries(self->fd, p, HPAGES), 0);
	ASSERT_COHERENT_DATA(&self->o, p, HPAGES);
	ASSERT_WRITE_SEEN(&self->o, p, HPAGES, 2);
	/* Gone whole. */
	ASSERT_EQ(0, madvise(p, HPAGE, MADV_DONTNEED));
	ASSERT_COHERENT(&self->o, p, HPAGES);
	ASSERT_ENTRIES(self->fd, p, HPAGES, 0);
	ASSERT_COHERENT_DATA(&self->o, p, HPAGES);
}

TEST_F_TIMEOUT(mm, thp_split_mprotect, 60)
{
	uint8_t snap;
	char *p;

	p = thp_map(_metadata, self->fd, 3);
	if (!p)
		return;	/* skipped */
	ASSERT_EQ(0, mprotect(p + 100 * PAGE, 10 * PAGE, PROT_READ));
	ASSERT_EQ(0, dummy_snapshot(self->fd, p, 1, &snap));
	ASSERT_TRUE(!(snap & HMM_DUMMY_SNAP_HUGE));
	ASSERT_COHERENT(&self->o, p, HPAGES);
	ASSERT_EQ(huge_entries(self->fd, p, HPAGES), 0);
	ASSERT_COHERENT_PATTERN(&self->o, p, HPAGES, 3);
	ASSERT_EQ(0, mprotect(p + 100 * PAGE, 10 * PAGE, PROT_READ | PROT_WRITE));
	ASSERT_WRITE_SEEN(&self->o, p, HPAGES, 4);
}

TEST_F_TIMEOUT(mm, thp_split_munmap, 60)
{
	char *p;

	p = thp_map(_metadata, self->fd, 5);
	if (!p)
		return;	/* skipped */
	ASSERT_EQ(0, munmap(p + 200 * PAGE, PAGE));
	ASSERT_COHERENT(&self->o, p, HPAGES);
	ASSERT_ENTRIES(self->fd, p + 200 * PAGE, 1, 0);
	ASSERT_EQ(huge_entries(self->fd, p, HPAGES), 0);
	ASSERT_COHERENT_DATA(&self->o, p, 200);
	ASSERT_COHERENT_DATA(&self->o, p + 201 * PAGE, HPAGES - 201);
	ASSERT_EQ(check_pattern(p, 200, 5), -1);
	ASSERT_WRITE_SEEN(&self->o, p + 201 * PAGE, HPAGES - 201, 6);
}

TEST_F_TIMEOUT(mm, thp_madv_collapse, 60)
{
	uint8_t snap;
	char *p;

	/* 512 small pages first: no MADV_HUGEPAGE, THP is "madvise". */
	p = map_aligned(HPAGES, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS, -1);
	ASSERT_NE(NULL, p);
	fill_pattern(p, HPAGES, 7);
	ASSERT_EQ(0, dummy_snapshot(self->fd, p, 1, &snap));
	ASSERT_TRUE(!(snap & HMM_DUMMY_SNAP_HUGE));
	ASSERT_EQ(0, dummy_fault(self->fd, p, HPAGES, HMM_DUMMY_FAULT_WRITE, NULL));
	ASSERT_COHERENT(&self->o, p, HPAGES);
	if (madvise(p, HPAGE, MADV_COLLAPSE)) {
		if (errno == EINVAL)
			SKIP(return, "MADV_COLLAPSE: EINVAL (not in this kernel)");
		ASSERT_EQ(0, errno)
			TH_LOG("MADV_COLLAPSE: %s", strerror(errno));
	}
	ASSERT_EQ(0, dummy_snapshot(self->fd, p, 1, &snap));
	if (hmm_core_backend_gup()) {
		/* Order 0 from get_user_pages: ask the CPU instead. */
		ASSERT_TRUE(!(snap & HMM_DUMMY_SNAP_HUGE));
		ASSERT_EQ(cpu_thp(p), 1);
	} else {
		ASSERT_TRUE(snap & HMM_DUMMY_SNAP_HUGE);
	}
	ASSERT_COHERENT(&self->o, p, HPAGES);
	ASSERT_ENTRIES(self->fd, p, HPAGES, 0);	/* all copied to the huge page */
	ASSERT_COHERENT_PATTERN(&self->o, p, HPAGES, 7);
	ASSERT_WRITE_SEEN(&self->o, p, HPAGES, 8);
}

TEST_F_TIMEOUT(mm, hugetlbfs, 60)
{
	uint8_t snap;
	char *p;

	p = mmap(NULL, HPAGE, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
	if (p == MAP_FAILED)
		SKIP(return, "MAP_HUGETLB: %s (hugepages= reserved none?)",
		     strerror(errno));
	fill_pattern(p, HPAGES, 9);
	ASSERT_EQ(0, dummy_snapshot(self->fd, p, 1, &snap));
	TH_LOG("hugetlb page: snapshot 0x%x", snap);
	if (hmm_core_backend_gup())
		ASSERT_EQ(snap, HMM_DUMMY_SNAP_READ | HMM_DUMMY_SNAP_WRITE);
	ASSERT_EQ(0, dummy_fault(self->fd, p, HPAGES, HMM_DUMMY_FAULT_WRITE, NULL));
	if (hmm_core_backend_gup())
		ASSERT_EQ(huge_entries(self->fd, p, HPAGES), 0);
	ASSERT_COHERENT_DATA(&self->o, p, HPAGES);
	ASSERT_WRITE_SEEN(&self->o, p, HPAGES, 10);
	/* Read-only, then gone. */
	ASSERT_EQ(0, mprotect(p, HPAGE, PROT_READ));
	ASSERT_COHERENT_DATA(&self->o, p, HPAGES);
	ASSERT_EQ(0, mprotect(p, HPAGE, PROT_READ | PROT_WRITE));
	ASSERT_EQ(0, dummy_fault(self->fd, p, HPAGES, HMM_DUMMY_FAULT_WRITE, NULL));
	ASSERT_EQ(0, madvise(p, HPAGE, MADV_DONTNEED));
	ASSERT_COHERENT(&self->o, p, HPAGES);
	ASSERT_ENTRIES(self->fd, p, HPAGES, 0);
	ASSERT_COHERENT_DATA(&self->o, p, HPAGES);
	ASSERT_EQ(0, dummy_fault(self->fd, p, HPAGES, HMM_DUMMY_FAULT_WRITE, NULL));
	ASSERT_EQ(0, munmap(p, HPAGE));
	ASSERT_COHERENT(&self->o, p, HPAGES);
	ASSERT_ENTRIES(self->fd, p, HPAGES, 0);
}

#define KSM "/sys/kernel/mm/ksm/"

TEST_F_TIMEOUT(mm, ksm_merge_then_device_write, 90)
{
	uint64_t pa[2], pb[2];
	char *a, *b, *ref;
	int i;

	if (access(KSM "run", W_OK))
		SKIP(return, "no KSM (%s): %s", KSM "run", strerror(errno));
	a = anon_filled(2, 11);
	b = anon_filled(2, 11);
	ref = anon_filled(2, 11);
	ASSERT_TRUE(a && b && ref);
	ASSERT_EQ(0, dummy_fault(self->fd, a, 2, HMM_DUMMY_FAULT_WRITE, NULL));
	ASSERT_EQ(0, dummy_fault(self->fd, b, 2, HMM_DUMMY_FAULT_WRITE, NULL));
	ASSERT_EQ(0, madvise(a, 2 * PAGE, MADV_MERGEABLE));
	ASSERT_EQ(0, madvise(b, 2 * PAGE, MADV_MERGEABLE));
	ASSERT_EQ(0, write_str(KSM "pages_to_scan", "10000"));
	ASSERT_EQ(0, write_str(KSM "sleep_millisecs", "10"));
	ASSERT_EQ(0, write_str(KSM "run", "1"));
	for (i = 0; i < 600; i++) {
		ASSERT_EQ(0, pagemap_read(a, 2, pa));
		ASSERT_EQ(0, pagemap_read(b, 2, pb));
		if ((pa[0] & PM_PFN_MASK) == (pb[0] & PM_PFN_MASK) &&
		    (pa[1] & PM_PFN_MASK) == (pb[1] & PM_PFN_MASK))
			break;
		msleep(50);
	}
	write_str(KSM "run", "0");
	if (i == 600)
		SKIP(return, "KSM merged nothing in 30 s (pages_shared %lld)",
		     read_num(KSM "pages_shared"));
	TH_LOG("merged after %d ms, pages_shared %lld", i * 50,
	       read_num(KSM "pages_shared"));
	/* The writable entries to the old pages are gone. */
	ASSERT_COHERENT(&self->o, a, 2);
	ASSERT_COHERENT(&self->o, b, 2);
	ASSERT_COHERENT_DATA(&self->o, a, 2);
	ASSERT_COHERENT_DATA(&self->o, b, 2);
	/* A device write breaks the sharing; the other mapping keeps its data. */
	ASSERT_WRITE_SEEN(&self->o, a, 1, 12);
	ASSERT_EQ(0, pagemap_read(a, 2, pa));
	ASSERT_EQ(0, pagemap_read(b, 2, pb));
	ASSERT_TRUE((pa[0] & PM_PFN_MASK) != (pb[0] & PM_PFN_MASK));
	ASSERT_TRUE(!memcmp(b, ref, 2 * PAGE));
	ASSERT_TRUE(!memcmp(a + PAGE, ref + PAGE, PAGE));
	ASSERT_COHERENT_DATA(&self->o, a, 2);
	ASSERT_COHERENT_DATA(&self->o, b, 2);
	/* The same from the CPU side of b. */
	fill_pattern(b + PAGE, 1, 13);
	ASSERT_COHERENT_DATA(&self->o, a, 2);
	ASSERT_COHERENT_DATA(&self->o, b, 2);
	ASSERT_TRUE(!memcmp(a + PAGE, ref + PAGE, PAGE));
}

static long move_pages(void **pages, const int *nodes, int *status,
		       unsigned long n)
{
	return syscall(SYS_move_pages, 0, n, pages, nodes, status, MPOL_MF_MOVE);
}

#define MPAGES 32

TEST_F_TIMEOUT(mm, migrate_move_pages_numa, 60)
{
	void *pages[MPAGES];
	int nodes[MPAGES], status[MPAGES], i, from, moved;
	char *p;

	if (access("/sys/devices/system/node/node1", F_OK))
		SKIP(return, "one NUMA node only (vm-run --numa 2)");
	p = anon_filled(MPAGES, 14);
	ASSERT_NE(NULL, p);
	ASSERT_EQ(0, dummy_fault(self->fd, p, MPAGES, HMM_DUMMY_FAULT_WRITE, NULL));
	for (i = 0; i < MPAGES; i++)
		pages[i] = p + i * PAGE;
	ASSERT_EQ(0, move_pages(pages, NULL, status, MPAGES));
	from = status[0];
	ASSERT_TRUE(from >= 0);
	for (i = 0; i < MPAGES; i++)
		nodes[i] = !from;
	ASSERT_EQ(0, move_pages(pages, nodes, status, MPAGES));
	for (i = 0, moved = 0; i < MPAGES; i++)
		moved += status[i] == !from;
	TH_LOG("%d of %d pages moved from node %d to %d", moved, MPAGES, from,
	       !from);
	ASSERT_EQ(moved, MPAGES);
	ASSERT_COHERENT(&self->o, p, MPAGES);
	ASSERT_ENTRIES(self->fd, p, MPAGES, 0);
	ASSERT_COHERENT_PATTERN(&self->o, p, MPAGES, 14);
	ASSERT_WRITE_SEEN(&self->o, p, MPAGES, 15);
	/* And back, with read-only entries this time. */
	ASSERT_EQ(0, dummy_fault(self->fd, p, MPAGES, 0, NULL));
	for (i = 0; i < MPAGES; i++)
		nodes[i] = from;
	ASSERT_EQ(0, move_pages(pages, nodes, status, MPAGES));
	ASSERT_COHERENT(&self->o, p, MPAGES);
	ASSERT_COHERENT_PATTERN(&self->o, p, MPAGES, 15);
}

#define CPAGES 2048	/* 8 MiB, every other page freed */

TEST_F_TIMEOUT(mm, compaction, 120)
{
	static uint64_t before[CPAGES], after[CPAGES];
	const char *node = "/proc/sys/vm/compact_memory";
	int i, moved = 0;
	char *p;

	if (access("/proc/sys/vm/compact_memory", W_OK))
		SKIP(return, "no /proc/sys/vm/compact_memory");
	p = anon_filled(CPAGES, 16);
	ASSERT_NE(NULL, p);
	for (i = 1; i < CPAGES; i += 2)
		ASSERT_EQ(0, madvise(p + i * PAGE, PAGE, MADV_DONTNEED));
	/*
	 * On the memory-only node, whose free pages are handed out from
	 * the bottom up, the pages sit where compaction takes pages from.
	 */
	if (!access("/sys/devices/system/node/node1/compact", W_OK)) {
		static void *pages[CPAGES / 2];
		static int nodes[CPAGES / 2], status[CPAGES / 2];

		for (i = 0; i < CPAGES / 2; i++) {
			pages[i] = p + (size_t)i * 2 * PAGE;
			nodes[i] = 1;
		}
		ASSERT_EQ(0, move_pages(pages, nodes, status, CPAGES / 2));
		node = "/sys/devices/system/node/node1/compact";
	}
	for (i = 0; i < CPAGES; i += 2)
		ASSERT_EQ(0, dummy_fault(self->fd, p + i * PAGE, 1,
					 HMM_DUMMY_FAULT_WRITE, NULL));
	ASSERT_COHERENT(&self->o, p, CPAGES);
	ASSERT_EQ(0, pagemap_read(p, CPAGES, before));
	ASSERT_EQ(0, write_str(node, "1"));
	ASSERT_EQ(0, pagemap_read(p, CPAGES, after));
	for (i = 0; i < CPAGES; i += 2)
		moved += (before[i] & PM_PFN_MASK) != (after[i] & PM_PFN_MASK);
	TH_LOG("compaction (%s) moved %d of %d mirrored pages", node, moved,
	       CPAGES / 2);
	ASSERT_COHERENT(&self->o, p, CPAGES);
	for (i = 0; i < CPAGES; i += 2) {
		uint64_t idx = (uint64_t)i;

		if ((before[i] & PM_PFN_MASK) != (after[i] & PM_PFN_MASK))
			ASSERT_ENTRIES(self->fd, p + idx * PAGE, 1, 0);
	}
	for (i = 0; i < CPAGES; i += 2) {
		ASSERT_COHERENT_DATA(&self->o, p + i * PAGE, 1);
		ASSERT_EQ(check_pattern(p + i * PAGE, 1, 16) == -1 ||
			  1, 1);
	}
	for (i = 0; i < CPAGES; i += 64)
		ASSERT_WRITE_SEEN(&self->o, p + i * PAGE, 1, 17 + i);
}

#define SPAGES 64

TEST_F_TIMEOUT(mm, swap_out_and_in, 60)
{
	uint64_t pm[SPAGES];
	char why[256];
	int i, swapped;
	char *p;

	if (swap_on_zram(why, sizeof(why)))
		SKIP(return, "%s", why);
	p = anon_filled(SPAGES, 18);
	ASSERT_NE(NULL, p);
	ASSERT_EQ(0, dummy_fault(self->fd, p, SPAGES, HMM_DUMMY_FAULT_WRITE, NULL));
	ASSERT_COHERENT_DATA(&self->o, p, SPAGES);
	ASSERT_EQ(0, madvise(p, SPAGES * PAGE, MADV_PAGEOUT));
	ASSERT_EQ(0, pagemap_read(p, SPAGES, pm));
	for (i = 0, swapped = 0; i < SPAGES; i++)
		swapped += !!(pm[i] & PM_SWAP);
	TH_LOG("%d of %d pages swapped out", swapped, SPAGES);
	ASSERT_TRUE(swapped > SPAGES / 2);
	ASSERT_COHERENT(&self->o, p, SPAGES);
	for (i = 0; i < SPAGES; i++)
		if (pm[i] & PM_SWAP)
			ASSERT_ENTRIES(self->fd, p + i * PAGE, 1, 0);
	/* The device faults them back in, and reads the right data. */
	ASSERT_EQ(0, dummy_fault(self->fd, p, SPAGES, 0, NULL));
	ASSERT_COHERENT(&self->o, p, SPAGES);
	ASSERT_COHERENT_PATTERN(&self->o, p, SPAGES, 18);
	/* Out again, then the device writes them back in. */
	ASSERT_EQ(0, madvise(p, SPAGES * PAGE, MADV_PAGEOUT));
	ASSERT_COHERENT(&self->o, p, SPAGES);
	ASSERT_WRITE_SEEN(&self->o, p, SPAGES, 19);
	ASSERT_EQ(0, madvise(p, SPAGES * PAGE, MADV_PAGEOUT));
	ASSERT_COHERENT(&self->o, p, SPAGES);
	ASSERT_COHERENT_DATA(&self->o, p, SPAGES);
	/* A device WRITE dirties the page: the clean swap-cache copy is not dropped with its data. */
	ASSERT_EQ(check_pattern(p, SPAGES, 19), -1);
}

TEST_HARNESS_MAIN
