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
 */
#define _GNU_SOURCE
#include <sys/syscall.h>

#include "oracle.h"

#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25
#endif
#ifndef MPOL_MF_MOVE
#define MPOL_MF_MOVE (1 << 1)
#endif

#define HPAGES	(HPAGE / PAGE)	/* 512 */

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
 * One 2 MiB aligned THP, filled with seed, in *pp; TAP_SKIP (and a reason)
 * if none. hmm_range_fault() reports a THP (snapshot HUGE). hmm_core's
 * get_user_pages back end reports every page at order 0, which is as right
 * (never more than the CPU gives): there kpageflags tells whether the CPU
 * has a THP, and the snapshot must say read-write, not HUGE.
 */
static int thp_map(uint32_t seed, int fd, char **pp)
{
	uint8_t snap = 0;
	char *p = thp_map_advised();
	int r;

	if (!p)
		return TAP_SKIP;
	r = dummy_snapshot(fd, p, 1, &snap);
	if (!hmm_core_backend_gup()) {
		if (r || !(snap & HMM_DUMMY_SNAP_HUGE))
			return tap_skip_reason("no THP in this guest (snapshot 0x%x)",
					       snap);
	} else {
		CHECK_OK(r);
		if (cpu_thp(p) != 1)
			return tap_skip_reason("no THP in this guest (kpageflags)");
		CHECK_EQ(snap, HMM_DUMMY_SNAP_READ | HMM_DUMMY_SNAP_WRITE);
	}
	fill_pattern(p, HPAGES, seed);
	*pp = p;
	return TAP_PASS;
}

static int t_thp_fault(void)
{
	int fd = dummy_open(0), r;
	char *p;

	CHECK(fd >= 0);
	r = thp_map(1, fd, &p);
	if (r)
		return r;
	CHECK_OK(dummy_fault(fd, p, HPAGES, HMM_DUMMY_FAULT_WRITE, NULL));
	CHECK_ENTRIES(fd, p, HPAGES, HPAGES);
	diag("%ld of %lu device entries huge", huge_entries(fd, p, HPAGES),
	     HPAGES);
	if (hmm_core_backend_gup())
		CHECK_EQ(huge_entries(fd, p, HPAGES), 0);
	ORACLE_DATA(fd, p, HPAGES);
	ORACLE_WRITE(fd, p, HPAGES, 2);
	/* Gone whole. */
	CHECK_OK(madvise(p, HPAGE, MADV_DONTNEED));
	ORACLE(fd, p, HPAGES);
	CHECK_ENTRIES(fd, p, HPAGES, 0);
	ORACLE_DATA(fd, p, HPAGES);
	return TAP_PASS;
}

static int t_thp_split_mprotect(void)
{
	int fd = dummy_open(0), r;
	uint8_t snap;
	char *p;

	CHECK(fd >= 0);
	r = thp_map(3, fd, &p);
	if (r)
		return r;
	CHECK_OK(dummy_fault(fd, p, HPAGES, HMM_DUMMY_FAULT_WRITE, NULL));
	CHECK_OK(mprotect(p + 100 * PAGE, 10 * PAGE, PROT_READ));
	CHECK_OK(dummy_snapshot(fd, p, 1, &snap));
	CHECK(!(snap & HMM_DUMMY_SNAP_HUGE));
	ORACLE(fd, p, HPAGES);
	CHECK_EQ(huge_entries(fd, p, HPAGES), 0);
	ORACLE_DATA(fd, p, HPAGES);
	CHECK_EQ(check_pattern(p, HPAGES, 3), -1);
	CHECK_OK(mprotect(p + 100 * PAGE, 10 * PAGE, PROT_READ | PROT_WRITE));
	ORACLE_WRITE(fd, p, HPAGES, 4);
	return TAP_PASS;
}

static int t_thp_split_munmap(void)
{
	int fd = dummy_open(0), r;
	char *p;

	CHECK(fd >= 0);
	r = thp_map(5, fd, &p);
	if (r)
		return r;
	CHECK_OK(dummy_fault(fd, p, HPAGES, HMM_DUMMY_FAULT_WRITE, NULL));
	CHECK_OK(munmap(p + 200 * PAGE, PAGE));
	ORACLE(fd, p, HPAGES);
	CHECK_ENTRIES(fd, p + 200 * PAGE, 1, 0);
	CHECK_EQ(huge_entries(fd, p, HPAGES), 0);
	ORACLE_DATA(fd, p, 200);
	ORACLE_DATA(fd, p + 201 * PAGE, HPAGES - 201);
	CHECK_EQ(check_pattern(p, 200, 5), -1);
	ORACLE_WRITE(fd, p + 201 * PAGE, HPAGES - 201, 6);
	return TAP_PASS;
}

static int t_thp_collapse(void)
{
	int fd = dummy_open(0);
	uint8_t snap;
	char *p;

	CHECK(fd >= 0);
	/* 512 small pages first: no MADV_HUGEPAGE, THP is "madvise". */
	p = map_aligned(HPAGES, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS, -1);
	CHECK(p);
	fill_pattern(p, HPAGES, 7);
	CHECK_OK(dummy_snapshot(fd, p, 1, &snap));
	CHECK(!(snap & HMM_DUMMY_SNAP_HUGE));
	CHECK_OK(dummy_fault(fd, p, HPAGES, HMM_DUMMY_FAULT_WRITE, NULL));
	ORACLE(fd, p, HPAGES);
	if (madvise(p, HPAGE, MADV_COLLAPSE)) {
		if (errno == EINVAL)
			return tap_skip_reason("MADV_COLLAPSE: EINVAL (not in this kernel)");
		diag("MADV_COLLAPSE: %s", strerror(errno));
		return TAP_FAIL;
	}
	CHECK_OK(dummy_snapshot(fd, p, 1, &snap));
	if (hmm_core_backend_gup()) {
		/* Order 0 from get_user_pages: ask the CPU instead. */
		CHECK(!(snap & HMM_DUMMY_SNAP_HUGE));
		CHECK_EQ(cpu_thp(p), 1);
	} else {
		CHECK(snap & HMM_DUMMY_SNAP_HUGE);
	}
	ORACLE(fd, p, HPAGES);
	CHECK_ENTRIES(fd, p, HPAGES, 0);	/* all copied to the huge page */
	ORACLE_DATA(fd, p, HPAGES);
	CHECK_EQ(check_pattern(p, HPAGES, 7), -1);
	ORACLE_WRITE(fd, p, HPAGES, 8);
	return TAP_PASS;
}

static int t_hugetlbfs(void)
{
	int fd = dummy_open(0);
	uint8_t snap;
	char *p;

	CHECK(fd >= 0);
	p = mmap(NULL, HPAGE, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
	if (p == MAP_FAILED)
		return tap_skip_reason("MAP_HUGETLB: %s (hugepages= reserved none?)",
				       strerror(errno));
	fill_pattern(p, HPAGES, 9);
	CHECK_OK(dummy_snapshot(fd, p, 1, &snap));
	diag("hugetlb page: snapshot 0x%x", snap);
	if (hmm_core_backend_gup())
		CHECK_EQ(snap, HMM_DUMMY_SNAP_READ | HMM_DUMMY_SNAP_WRITE);
	CHECK_OK(dummy_fault(fd, p, HPAGES, HMM_DUMMY_FAULT_WRITE, NULL));
	if (hmm_core_backend_gup())
		CHECK_EQ(huge_entries(fd, p, HPAGES), 0);
	ORACLE_DATA(fd, p, HPAGES);
	ORACLE_WRITE(fd, p, HPAGES, 10);
	/* Read-only, then gone. */
	CHECK_OK(mprotect(p, HPAGE, PROT_READ));
	ORACLE_DATA(fd, p, HPAGES);
	CHECK_OK(mprotect(p, HPAGE, PROT_READ | PROT_WRITE));
	CHECK_OK(dummy_fault(fd, p, HPAGES, HMM_DUMMY_FAULT_WRITE, NULL));
	CHECK_OK(madvise(p, HPAGE, MADV_DONTNEED));
	ORACLE(fd, p, HPAGES);
	CHECK_ENTRIES(fd, p, HPAGES, 0);
	ORACLE_DATA(fd, p, HPAGES);
	CHECK_OK(dummy_fault(fd, p, HPAGES, HMM_DUMMY_FAULT_WRITE, NULL));
	CHECK_OK(munmap(p, HPAGE));
	ORACLE(fd, p, HPAGES);
	CHECK_ENTRIES(fd, p, HPAGES, 0);
	return TAP_PASS;
}

#define KSM "/sys/kernel/mm/ksm/"

static int t_ksm(void)
{
	uint64_t pa[2], pb[2];
	char *a, *b, *ref;
	int fd, i;

	if (access(KSM "run", W_OK))
		return tap_skip_reason("no KSM (%s): %s", KSM "run",
				       strerror(errno));
	fd = dummy_open(0);
	CHECK(fd >= 0);
	a = anon_filled(2, 11);
	b = anon_filled(2, 11);
	ref = anon_filled(2, 11);
	CHECK(a && b && ref);
	CHECK_OK(dummy_fault(fd, a, 2, HMM_DUMMY_FAULT_WRITE, NULL));
	CHECK_OK(dummy_fault(fd, b, 2, HMM_DUMMY_FAULT_WRITE, NULL));
	CHECK_OK(madvise(a, 2 * PAGE, MADV_MERGEABLE));
	CHECK_OK(madvise(b, 2 * PAGE, MADV_MERGEABLE));
	CHECK_OK(write_str(KSM "pages_to_scan", "10000"));
	CHECK_OK(write_str(KSM "sleep_millisecs", "10"));
	CHECK_OK(write_str(KSM "run", "1"));
	for (i = 0; i < 600; i++) {
		CHECK_OK(pagemap_read(a, 2, pa));
		CHECK_OK(pagemap_read(b, 2, pb));
		if ((pa[0] & PM_PFN_MASK) == (pb[0] & PM_PFN_MASK) &&
		    (pa[1] & PM_PFN_MASK) == (pb[1] & PM_PFN_MASK))
			break;
		msleep(50);
	}
	write_str(KSM "run", "0");
	if (i == 600)
		return tap_skip_reason("KSM merged nothing in 30 s (pages_shared %lld)",
				       read_num(KSM "pages_shared"));
	diag("merged after %d ms, pages_shared %lld", i * 50,
	     read_num(KSM "pages_shared"));
	/* The writable entries to the old pages are gone. */
	ORACLE(fd, a, 2);
	ORACLE(fd, b, 2);
	ORACLE_DATA(fd, a, 2);
	ORACLE_DATA(fd, b, 2);
	/* A device write breaks the sharing; the other mapping keeps its data. */
	ORACLE_WRITE(fd, a, 1, 12);
	CHECK_OK(pagemap_read(a, 2, pa));
	CHECK_OK(pagemap_read(b, 2, pb));
	CHECK((pa[0] & PM_PFN_MASK) != (pb[0] & PM_PFN_MASK));
	CHECK(!memcmp(b, ref, 2 * PAGE));
	CHECK(!memcmp(a + PAGE, ref + PAGE, PAGE));
	ORACLE_DATA(fd, a, 2);
	ORACLE_DATA(fd, b, 2);
	/* The same from the CPU side of b. */
	fill_pattern(b + PAGE, 1, 13);
	ORACLE_DATA(fd, a, 2);
	ORACLE_DATA(fd, b, 2);
	CHECK(!memcmp(a + PAGE, ref + PAGE, PAGE));
	return TAP_PASS;
}

static long move_pages(void **pages, const int *nodes, int *status,
		       unsigned long n)
{
	return syscall(SYS_move_pages, 0, n, pages, nodes, status, MPOL_MF_MOVE);
}

#define MPAGES 32

static int t_migrate_numa(void)
{
	void *pages[MPAGES];
	int nodes[MPAGES], status[MPAGES], fd, i, from, moved;
	char *p;

	if (access("/sys/devices/system/node/node1", F_OK))
		return tap_skip_reason("one NUMA node only (vm-run --numa 2)");
	fd = dummy_open(0);
	CHECK(fd >= 0);
	p = anon_filled(MPAGES, 14);
	CHECK(p);
	CHECK_OK(dummy_fault(fd, p, MPAGES, HMM_DUMMY_FAULT_WRITE, NULL));
	for (i = 0; i < MPAGES; i++)
		pages[i] = p + i * PAGE;
	CHECK_OK(move_pages(pages, NULL, status, MPAGES));
	from = status[0];
	CHECK(from >= 0);
	for (i = 0; i < MPAGES; i++)
		nodes[i] = !from;
	CHECK_OK(move_pages(pages, nodes, status, MPAGES));
	for (i = 0, moved = 0; i < MPAGES; i++)
		moved += status[i] == !from;
	diag("%d of %d pages moved from node %d to %d", moved, MPAGES, from,
	     !from);
	CHECK_EQ(moved, MPAGES);
	ORACLE(fd, p, MPAGES);
	CHECK_ENTRIES(fd, p, MPAGES, 0);
	ORACLE_DATA(fd, p, MPAGES);
	CHECK_EQ(check_pattern(p, MPAGES, 14), -1);
	ORACLE_WRITE(fd, p, MPAGES, 15);
	/* And back, with read-only entries this time. */
	CHECK_OK(dummy_fault(fd, p, MPAGES, 0, NULL));
	for (i = 0; i < MPAGES; i++)
		nodes[i] = from;
	CHECK_OK(move_pages(pages, nodes, status, MPAGES));
	ORACLE(fd, p, MPAGES);
	ORACLE_DATA(fd, p, MPAGES);
	CHECK_EQ(check_pattern(p, MPAGES, 15), -1);
	return TAP_PASS;
}

#define CPAGES 2048	/* 8 MiB, every other page freed */

static int t_compaction(void)
{
	static uint64_t before[CPAGES], after[CPAGES];
	const char *node = "/proc/sys/vm/compact_memory";
	int fd, i, moved = 0;
	char *p;

	if (access("/proc/sys/vm/compact_memory", W_OK))
		return tap_skip_reason("no /proc/sys/vm/compact_memory");
	fd = dummy_open(0);
	CHECK(fd >= 0);
	p = anon_filled(CPAGES, 16);
	CHECK(p);
	for (i = 1; i < CPAGES; i += 2)
		CHECK_OK(madvise(p + i * PAGE, PAGE, MADV_DONTNEED));
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
		CHECK_OK(move_pages(pages, nodes, status, CPAGES / 2));
		node = "/sys/devices/system/node/node1/compact";
	}
	for (i = 0; i < CPAGES; i += 2)
		CHECK_OK(dummy_fault(fd, p + i * PAGE, 1, HMM_DUMMY_FAULT_WRITE,
				     NULL));
	ORACLE(fd, p, CPAGES);
	CHECK_OK(pagemap_read(p, CPAGES, before));
	CHECK_OK(write_str(node, "1"));
	CHECK_OK(pagemap_read(p, CPAGES, after));
	for (i = 0; i < CPAGES; i += 2)
		moved += (before[i] & PM_PFN_MASK) != (after[i] & PM_PFN_MASK);
	diag("compaction (%s) moved %d of %d mirrored pages", node, moved,
	     CPAGES / 2);
	ORACLE(fd, p, CPAGES);
	for (i = 0; i < CPAGES; i += 2) {
		uint64_t idx = (uint64_t)i;

		if ((before[i] & PM_PFN_MASK) != (after[i] & PM_PFN_MASK))
			CHECK_ENTRIES(fd, p + idx * PAGE, 1, 0);
	}
	for (i = 0; i < CPAGES; i += 2) {
		ORACLE_DATA(fd, p + i * PAGE, 1);
		CHECK_EQ(check_pattern(p + i * PAGE, 1, 16) == -1 ||
			 1, 1);
	}
	for (i = 0; i < CPAGES; i += 64)
		ORACLE_WRITE(fd, p + i * PAGE, 1, 17 + i);
	return TAP_PASS;
}

#define SPAGES 64

static int t_swap(void)
{
	uint64_t pm[SPAGES];
	char why[256];
	int fd, i, swapped;
	char *p;

	if (swap_on_zram(why, sizeof(why)))
		return tap_skip_reason("%s", why);
	fd = dummy_open(0);
	CHECK(fd >= 0);
	p = anon_filled(SPAGES, 18);
	CHECK(p);
	CHECK_OK(dummy_fault(fd, p, SPAGES, HMM_DUMMY_FAULT_WRITE, NULL));
	ORACLE_DATA(fd, p, SPAGES);
	CHECK_OK(madvise(p, SPAGES * PAGE, MADV_PAGEOUT));
	CHECK_OK(pagemap_read(p, SPAGES, pm));
	for (i = 0, swapped = 0; i < SPAGES; i++)
		swapped += !!(pm[i] & PM_SWAP);
	diag("%d of %d pages swapped out", swapped, SPAGES);
	CHECK(swapped > SPAGES / 2);
	ORACLE(fd, p, SPAGES);
	for (i = 0; i < SPAGES; i++)
		if (pm[i] & PM_SWAP)
			CHECK_ENTRIES(fd, p + i * PAGE, 1, 0);
	/* The device faults them back in, and reads the right data. */
	CHECK_OK(dummy_fault(fd, p, SPAGES, 0, NULL));
	ORACLE(fd, p, SPAGES);
	ORACLE_DATA(fd, p, SPAGES);
	CHECK_EQ(check_pattern(p, SPAGES, 18), -1);
	/* Out again, then the device writes them back in. */
	CHECK_OK(madvise(p, SPAGES * PAGE, MADV_PAGEOUT));
	ORACLE(fd, p, SPAGES);
	ORACLE_WRITE(fd, p, SPAGES, 19);
	CHECK_OK(madvise(p, SPAGES * PAGE, MADV_PAGEOUT));
	ORACLE(fd, p, SPAGES);
	ORACLE_DATA(fd, p, SPAGES);
	if (check_pattern(p, SPAGES, 19) != -1)
		return TODO_BUG("hmm_dummy: a device WRITE does not dirty the page: a clean swap-cache page was dropped with the device's data");
	return TAP_PASS;
}

static const struct tap_case cases[] = {
	{ "thp_fault_huge", t_thp_fault, 0 },
	{ "thp_split_mprotect", t_thp_split_mprotect, 0 },
	{ "thp_split_munmap", t_thp_split_munmap, 0 },
	{ "thp_madv_collapse", t_thp_collapse, 0 },
	{ "hugetlbfs", t_hugetlbfs, 0 },
	{ "ksm_merge_then_device_write", t_ksm, 90 },
	{ "migrate_move_pages_numa", t_migrate_numa, 0 },
	{ "compaction", t_compaction, 120 },
	{ "swap_out_and_in", t_swap, 0 },
};

int main(void)
{
	return TAP_MAIN(cases);
}
