/* SPDX-License-Identifier: GPL-2.0 */
/*
 * oracle.h - the coherence oracle of every test of the mirror, both ABIs
 *
 * After each operation, for every page of a mirrored range, through the
 * device of struct oracle (its fd and the ABI it speaks):
 *  - ABI_NATIVE (/dev/hmm_dummyN): every device entry (DUMP) lies in the
 *    range in increasing order, maps the pfn the CPU maps there now
 *    (/proc/self/pagemap), is readable, is writable only where the CPU
 *    mapping is (SNAPSHOT), and has order 0 unless the CPU maps a huge page
 *    there;
 *  - ABI_DMIRROR (/dev/hmm_dmirrorN, lib/test_hmm.c's ABI): SNAPSHOT never
 *    gives more than the CPU does, against /proc/self/pagemap,
 *    /proc/self/smaps and /proc/kpageflags: a valid byte only where the CPU
 *    maps the page, WRITE only in a writable vma on a page that is not the
 *    zero page nor an anonymous page shared (copy-on-write, KSM), ZERO only
 *    on the zero page, PMD only where the CPU maps a huge page, ERROR
 *    exactly where no readable vma is;
 *  - the data agree: what the device READs is what the CPU reads
 *    (oracle_read_agrees()), and what the device WRITEs the CPU sees
 *    (oracle_write_seen()).
 * oracle_look() looks once; oracle_coherent() looks again, up to twice,
 * 20 ms apart, while a look finds violations: the device's view and the
 * CPU's are two reads, and a background change of the live range between
 * them (NUMA balancing, khugepaged, ksmd, kcompactd, reclaim) shows as a
 * violation that is gone on the next look, where a stale device entry
 * stays. EBUSY from a look is tried again too.
 *
 * In a kselftest_harness.h case (include the harness first), ASSERT_COHERENT(),
 * ASSERT_COHERENT_DATA(), ASSERT_COHERENT_PATTERN(), ASSERT_WRITE_SEEN() and
 * ASSERT_ENTRIES() stop the case on a violation, with a diagnostic naming
 * the call site; ORACLE_FIXTURE() declares the native fixture the
 * coherence programs share. Diagnostics are "# ..." lines (hmm_diag()).
 * Needs root (pagemap's pfns).
 */
#ifndef HMM_TESTS_ORACLE_H
#define HMM_TESTS_ORACLE_H

#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/swap.h>
#include <time.h>

#include "dummy_util.h"

enum hmm_abi { ABI_NATIVE, ABI_DMIRROR };

/* The device an oracle looks through: an open fd of either ABI. */
struct oracle {
	int fd;
	enum hmm_abi abi;
};

/*
 * Why the last helper here that can fail for lack of something (e.g.
 * thp_map_advised()) failed: a case's skip reason.
 */
static char oracle_why[256] __attribute__((unused));

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
				hmm_diag("oracle: %p: device %s 0x%08x, CPU%s 0x%08x",
				     cpu, did, *(const uint32_t *)(buf + i * PAGE),
				     cpu_did, *(const uint32_t *)cpu);
			bad++;
		}
	}
	return bad;
}

/* The native ABI: one look, DUMP + SNAPSHOT + one read of pagemap. */
static inline long oracle_native_look(int fd, void *addr, uint64_t npages)
{
	struct hmm_dummy_pte *ents = malloc(npages * sizeof(*ents));
	uint64_t *pm = malloc(npages * sizeof(*pm));
	uint8_t *snap = malloc(npages);
	uintptr_t start = (uintptr_t)addr;
	uint64_t nr = 0, i;
	long bad = -1;
	int e;

	if (!ents || !pm || !snap) {
		hmm_diag("oracle: out of memory for %llu pages",
			 (unsigned long long)npages);
		goto out;
	}
	if (dummy_dump(fd, addr, npages, ents, npages, &nr) ||
	    dummy_snapshot(fd, addr, npages, snap)) {
		hmm_diag("check_coherent: DUMP/SNAPSHOT failed: %s",
			 strerror(errno));
		goto out;
	}
	if (pagemap_read(addr, npages, pm)) {
		hmm_diag("check_coherent: /proc/self/pagemap: %s",
			 strerror(errno));
		goto out;
	}
	bad = 0;
	for (i = 0; i < nr; i++) {
		struct hmm_dummy_pte *e = &ents[i];
		uint64_t idx = (e->va - start) / PAGE;
		long long pfn;

		if (e->va < start || idx >= npages || e->va % PAGE ||
		    (i && e->va <= ents[i - 1].va)) {
			hmm_diag("entry %llu: va 0x%llx out of range or order",
				 (unsigned long long)i,
				 (unsigned long long)e->va);
			bad++;
			continue;
		}
		pfn = pm[idx] & PM_PRESENT ?
		      (long long)(pm[idx] & PM_PFN_MASK) : 0;
		if (pfn != (long long)e->pfn) {
			hmm_diag("va 0x%llx: device pfn 0x%llx, cpu pfn 0x%llx",
				 (unsigned long long)e->va,
				 (unsigned long long)e->pfn, pfn);
			bad++;
		}
		if (!(e->perm & HMM_DUMMY_PERM_READ) ||
		    (e->perm & ~(HMM_DUMMY_PERM_READ | HMM_DUMMY_PERM_WRITE))) {
			hmm_diag("va 0x%llx: bad perm 0x%x",
				 (unsigned long long)e->va, e->perm);
			bad++;
		}
		if ((e->perm & HMM_DUMMY_PERM_WRITE) &&
		    !(snap[idx] & HMM_DUMMY_SNAP_WRITE)) {
			hmm_diag("va 0x%llx: device may write, CPU may not (snap 0x%x)",
				 (unsigned long long)e->va, snap[idx]);
			bad++;
		}
		if (e->order && !(snap[idx] & HMM_DUMMY_SNAP_HUGE)) {
			hmm_diag("va 0x%llx: device order %u, CPU maps 4 KiB",
				 (unsigned long long)e->va, e->order);
			bad++;
		}
	}
out:
	e = errno;
	free(ents);
	free(pm);
	free(snap);
	errno = e;
	return bad;
}

/*
 * The test_hmm ABI's side: what a look compares SNAPSHOT with.
 * PM_FILE, PM_EXCLUSIVE, KPF_* as coherence_dmirror.c spells them.
 */
#define PM_FILE		(1ULL << 61)
#define PM_EXCLUSIVE	(1ULL << 56)
#define KPF_THP		22
#define KPF_ZERO_PAGE	24

/* A vma of this process, from /proc/self/smaps. */
struct oracle_vma {
	uintptr_t start, end;
	char perm[8];
	unsigned long anon_huge_kb;
};

#define ORACLE_MAX_VMAS	1024

/* The vmas of this process now; 0, or -1 if smaps cannot be read. */
static inline int oracle_load_vmas(struct oracle_vma *vmas, int *nvmas)
{
	FILE *f = fopen("/proc/self/smaps", "re");
	char line[512];
	unsigned long a, b, kb;
	char perm[8];
	int n = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx %7s", &a, &b, perm) == 3) {
			if (n == ORACLE_MAX_VMAS)
				break;
			vmas[n].start = a;
			vmas[n].end = b;
			memcpy(vmas[n].perm, perm, sizeof(perm));
			vmas[n].anon_huge_kb = 0;
			n++;
		} else if (n &&
			   sscanf(line, "AnonHugePages: %lu kB", &kb) == 1) {
			vmas[n - 1].anon_huge_kb = kb;
		}
	}
	fclose(f);
	*nvmas = n;
	return 0;
}

static inline const struct oracle_vma *
oracle_vma_of(const struct oracle_vma *vmas, int nvmas, uintptr_t addr)
{
	int i;

	for (i = 0; i < nvmas; i++)
		if (addr >= vmas[i].start && addr < vmas[i].end)
			return &vmas[i];
	return NULL;
}

/* /proc/kpageflags of pfn, or ~0 if it cannot be read. */
static inline uint64_t oracle_kpageflags(uint64_t pfn)
{
	uint64_t f;
	int fd = open("/proc/kpageflags", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return ~0ULL;
	if (pread(fd, &f, sizeof(f), (off_t)(pfn * 8)) != sizeof(f))
		f = ~0ULL;
	close(fd);
	return f;
}

/* May the CPU map the page of pfn at addr, in vma v, with a PMD? */
static inline int oracle_cpu_maps_huge(const struct oracle_vma *v,
				       uintptr_t addr, uint64_t pfn)
{
	uintptr_t base = addr & ~(HPAGE - 1);
	uint64_t f = oracle_kpageflags(pfn);

	if (base < v->start || base + HPAGE > v->end)
		return 0;
	if (f != ~0ULL && !(f & (1ULL << KPF_THP)))
		return 0;
	/* the huge zero page is in no vma's AnonHugePages */
	if (f != ~0ULL && (f & (1ULL << KPF_ZERO_PAGE)))
		return 1;
	return v->anon_huge_kb * 1024 >= HPAGE;
}

/*
 * The pfn of the zero page, from a page that is only read: found on the
 * first call (per process), 0 if not known.
 */
static inline long long oracle_zero_pfn(void)
{
	static long long zero_pfn = -1;
	char *p;

	if (zero_pfn >= 0)
		return zero_pfn;
	zero_pfn = 0;
	p = anon_map(1);
	if (!p)
		return 0;
	(void)*(volatile char *)p;
	zero_pfn = cpu_pfn(p);
	if (zero_pfn < 0)
		zero_pfn = 0;
	munmap(p, PAGE);
	return zero_pfn;
}

/* The errno's name ("EBUSY"; its text where glibc's GNU names are not in). */
static inline const char *oracle_errname(int e)
{
#ifdef __USE_GNU
	const char *s = strerrorname_np(e);

	return s ? s : "?";
#else
	return strerror(e);
#endif
}

#define ORACLE_SNAP_VALID	(HMM_DMIRROR_PROT_READ | HMM_DMIRROR_PROT_WRITE)
#define ORACLE_SNAP_KNOWN	(ORACLE_SNAP_VALID | HMM_DMIRROR_PROT_PMD | \
				 HMM_DMIRROR_PROT_ZERO)

/*
 * The test_hmm ABI: one look, the violations of SNAPSHOT's rules over
 * [p, +n) (each diagnosed, the first 8), or -1 if SNAPSHOT or the CPU's
 * view failed. The bytes go to s (n of them).
 */
static inline long oracle_dmirror_look(int fd, void *addr, uint64_t n,
				       uint8_t *s)
{
	uint64_t *pm = malloc(n * sizeof(*pm));
	struct oracle_vma *vmas = malloc(ORACLE_MAX_VMAS * sizeof(*vmas));
	long long zero_pfn = oracle_zero_pfn();
	char *p = addr;
	uint64_t cp = 0, i;
	long bad = -1;
	int nvmas = 0, e;

#define BAD(...) do { if (bad++ < 8) hmm_diag(__VA_ARGS__); } while (0)
	if (!pm || !vmas)
		goto out;
	if (RETRY_EBUSY(dmirror_cmd(fd, HMM_DMIRROR_SNAPSHOT, p, s, n, &cp))) {
		hmm_diag("SNAPSHOT of %p: %s", p, oracle_errname(errno));
		goto out;
	}
	bad = 0;
	if (cp != n)
		BAD("SNAPSHOT of %p: cpages %llu, not %llu", p,
		    (unsigned long long)cp, (unsigned long long)n);
	if (pagemap_read(p, n, pm) || oracle_load_vmas(vmas, &nvmas)) {
		hmm_diag("pagemap or smaps: %s", strerror(errno));
		bad = -1;
		goto out;
	}
	for (i = 0; i < n; i++) {
		uintptr_t a = (uintptr_t)p + i * PAGE;
		const struct oracle_vma *v = oracle_vma_of(vmas, nvmas, a);
		uint64_t pfn = pm[i] & PM_PFN_MASK;
		int present = !!(pm[i] & PM_PRESENT);
		uint8_t b = s[i];

		if (!v || v->perm[0] != 'r') {
			if (b != HMM_DMIRROR_PROT_ERROR)
				BAD("0x%lx: SNAPSHOT 0x%02x where the CPU has %s (ERROR wanted)",
				    (unsigned long)a, b,
				    v ? "a vma without read" : "no vma");
			continue;
		}
		if (b == HMM_DMIRROR_PROT_ERROR) {
			BAD("0x%lx: SNAPSHOT ERROR in a readable vma (%s)",
			    (unsigned long)a, v->perm);
			continue;
		}
		if (b & ~ORACLE_SNAP_KNOWN)
			BAD("0x%lx: SNAPSHOT 0x%02x: bits this case cannot give",
			    (unsigned long)a, b);
		if (!(b & ORACLE_SNAP_VALID)) {
			if (b)
				BAD("0x%lx: SNAPSHOT 0x%02x: flags on no page",
				    (unsigned long)a, b);
			continue;
		}
		if ((b & ORACLE_SNAP_VALID) == ORACLE_SNAP_VALID)
			BAD("0x%lx: SNAPSHOT 0x%02x: both READ and WRITE",
			    (unsigned long)a, b);
		if (!present) {
			BAD("0x%lx: SNAPSHOT 0x%02x, the CPU maps no page (pagemap 0x%llx)",
			    (unsigned long)a, b, (unsigned long long)pm[i]);
			continue;
		}
		if (b & HMM_DMIRROR_PROT_WRITE) {
			if (v->perm[1] != 'w')
				BAD("0x%lx: SNAPSHOT WRITE in a vma %s",
				    (unsigned long)a, v->perm);
			if (zero_pfn && (long long)pfn == zero_pfn)
				BAD("0x%lx: SNAPSHOT WRITE on the zero page",
				    (unsigned long)a);
			if (!(pm[i] & PM_FILE) && !(pm[i] & PM_EXCLUSIVE))
				BAD("0x%lx: SNAPSHOT WRITE on a shared anonymous page (pagemap 0x%llx)",
				    (unsigned long)a, (unsigned long long)pm[i]);
		}
		if ((b & HMM_DMIRROR_PROT_ZERO) &&
		    (b & HMM_DMIRROR_PROT_WRITE))
			BAD("0x%lx: SNAPSHOT ZERO and WRITE", (unsigned long)a);
		if ((b & HMM_DMIRROR_PROT_ZERO) && zero_pfn &&
		    (long long)pfn != zero_pfn)
			BAD("0x%lx: SNAPSHOT ZERO, CPU pfn 0x%llx is not the zero page",
			    (unsigned long)a, (unsigned long long)pfn);
		if ((b & HMM_DMIRROR_PROT_PMD) &&
		    !oracle_cpu_maps_huge(v, a, pfn))
			BAD("0x%lx: SNAPSHOT PMD, the CPU maps 4 KiB (AnonHugePages %lu kB)",
			    (unsigned long)a, v->anon_huge_kb);
	}
#undef BAD
out:
	e = errno;
	free(pm);
	free(vmas);
	errno = e;
	return bad;
}

/*
 * One look at the invariant over [addr, addr + npages pages) through o:
 * the number of violations (each diagnosed), or -1 on error (errno set).
 */
static inline long oracle_look(const struct oracle *o, void *addr,
			       uint64_t npages)
{
	uint8_t *s;
	long bad;
	int e;

	if (o->abi == ABI_NATIVE)
		return oracle_native_look(o->fd, addr, npages);
	s = malloc(npages ? npages : 1);
	if (!s)
		return -1;
	bad = oracle_dmirror_look(o->fd, addr, npages, s);
	e = errno;
	free(s);
	errno = e;
	return bad;
}

/*
 * The invariant, looked at again up to twice, 20 ms apart, while a look
 * finds violations; EBUSY from a look is tried again (DUMMY_EBUSY_TRIES).
 * Returns the violations of the last look (0: coherent), or -1 on error.
 */
static inline long oracle_coherent(const struct oracle *o, void *addr,
				   uint64_t npages)
{
	long bad = 0;
	int tries, busy;

	for (tries = 0; tries < 3; tries++) {
		if (tries) {
			hmm_diag("coherence: %ld violation(s) at %p, looking again",
				 bad, addr);
			msleep(20);
		}
		busy = 0;
		while ((bad = oracle_look(o, addr, npages)) == -1 &&
		       errno == EBUSY && ++busy < DUMMY_EBUSY_TRIES)
			__atomic_fetch_add(&dummy_ebusy_retries, 1,
					   __ATOMIC_RELAXED);
		if (bad <= 0)
			return bad;
	}
	return bad;
}

/*
 * One device READ (write 0, into buf) or WRITE (write 1, from buf) of
 * [addr, +npages) through o's ABI, again while it answers EBUSY. Returns
 * 0, 1 if a test_hmm-ABI command did not take every page (cpages), or -1
 * if it failed (diagnosed either way).
 */
static inline long oracle_transfer(const struct oracle *o, int write,
				   void *addr, void *buf, uint64_t npages)
{
	const char *what = write ? "WRITE" : "READ";
	uint64_t done = 0, cp = 0;

	if (o->abi == ABI_DMIRROR) {
		if (RETRY_EBUSY(dmirror_cmd(o->fd, write ? HMM_DMIRROR_WRITE :
					    HMM_DMIRROR_READ, addr, buf,
					    npages, &cp))) {
			hmm_diag("device %s of %p: %s", what, addr,
				 oracle_errname(errno));
			return -1;
		}
		if (cp == npages)
			return 0;
		hmm_diag("device %s of %p: cpages %llu, not %llu", what, addr,
			 (unsigned long long)cp, (unsigned long long)npages);
		return 1;
	}
	if (RETRY_EBUSY(dummy_rw(o->fd, write ? HMM_DUMMY_IOC_WRITE :
				 HMM_DUMMY_IOC_READ, addr, buf, npages, &done,
				 NULL))) {
		hmm_diag("oracle: device %s of %p: %s after %llu pages", what,
			 addr, strerror(errno), (unsigned long long)done);
		return -1;
	}
	return 0;
}

/*
 * Device READ of [addr, +npages) against the CPU's view of the same pages
 * (read after the device's). Returns the number of pages that differ (a
 * test_hmm-ABI READ that did not give every page counts one more), or -1
 * if the READ failed.
 */
static inline long oracle_read_agrees(const struct oracle *o, void *addr,
				      uint64_t npages)
{
	char *buf = malloc(npages * PAGE);
	long bad;

	if (!buf)
		return -1;
	memset(buf, 0xa5, npages * PAGE);
	bad = oracle_transfer(o, 0, addr, buf, npages);
	if (bad >= 0)
		bad += oracle_pages_differ(buf, addr, npages, "reads", "");
	free(buf);
	return bad;
}

/*
 * Device WRITE of the pattern of seed over [addr, +npages); the CPU must
 * then read exactly that. 0, the number of pages the CPU reads otherwise
 * (a test_hmm-ABI WRITE that did not take every page counts one more), or
 * -1 if the WRITE failed.
 */
static inline long oracle_write_seen(const struct oracle *o, void *addr,
				     uint64_t npages, uint32_t seed)
{
	char *buf = malloc(npages * PAGE);
	long bad;

	if (!buf)
		return -1;
	fill_pattern(buf, npages, seed);
	bad = oracle_transfer(o, 1, addr, buf, npages);
	if (bad >= 0)
		bad += oracle_pages_differ(buf, addr, npages, "wrote",
					   " reads");
	free(buf);
	return bad;
}

/*
 * HMM_TESTS_ORACLE=off in the environment turns the oracle's verdicts off:
 * every look, device READ and WRITE is still made (the device is driven
 * as much), but what it finds is ignored. For scripts/mutation-check's
 * verifier run ONLY, where hmm_core's own verifier must catch a broken
 * driver alone; never in a run that means to test the driver.
 */
static inline int oracle_off(void)
{
	static int off = -1;

	if (off < 0) {
		const char *e = getenv("HMM_TESTS_ORACLE");

		off = e && !strcmp(e, "off");
	}
	return off;
}

/* Whether the case said once that the oracle is off. */
static int oracle_off_told __attribute__((unused));

#ifdef __KSELFTEST_HARNESS_H
/*
 * The harness's assertions (need _metadata in scope: inside a TEST_F, or a
 * helper taking struct __test_metadata *_metadata). Each stops the case on
 * a violation, naming its call site; none does with HMM_TESTS_ORACLE=off
 * (oracle_off()), which each case says once.
 */

/* With the oracle off: say so, once per case (each runs in a process). */
#define ORACLE_OFF_TELL() do {						\
	if (!oracle_off_told++)						\
		TH_LOG("oracle off (HMM_TESTS_ORACLE=off): its verdicts are ignored"); \
} while (0)

/* An oracle's count of violations (expr) over the range named is 0. */
#define ORACLE_ASSERT_NONE(expr, what, range) do {			\
	long _bad = (expr);						\
	if (oracle_off()) {						\
		ORACLE_OFF_TELL();					\
		break;							\
	}								\
	if (_bad)							\
		hmm_diag("%s:%d: oracle: %s over %s (%ld)", __func__,	\
			 __LINE__, (what), (range), _bad);		\
	ASSERT_EQ(0, _bad);						\
} while (0)

/* The device's view of the range is coherent with the CPU's. */
#define ASSERT_COHERENT(o, addr, npages)				\
	ORACLE_ASSERT_NONE(oracle_coherent((o), (addr), (npages)),	\
			   "device page table not coherent", #addr)

/* ... and the device reads what the CPU reads there. */
#define ASSERT_COHERENT_DATA(o, addr, npages) do {			\
	ASSERT_COHERENT(o, addr, npages);				\
	ORACLE_ASSERT_NONE(oracle_read_agrees((o), (addr), (npages)),	\
			   "device and CPU disagree", #addr);		\
	ASSERT_COHERENT(o, addr, npages);				\
} while (0)

/* A device WRITE of seed's pattern is what the CPU then reads. */
#define ASSERT_WRITE_SEEN(o, addr, npages, seed) do {			\
	ORACLE_ASSERT_NONE(oracle_write_seen((o), (addr), (npages),	\
					     (seed)),			\
			   "device WRITE not seen by the CPU", #addr);	\
	ASSERT_COHERENT(o, addr, npages);				\
} while (0)

/*
 * ORACLE_FIXTURE(name): the fixture of a coherence program over the native
 * ABI: self->fd is /dev/hmm_dummy0, self->o the oracle over it; the setup
 * opens it, the teardown closes it.
 */
#define ORACLE_FIXTURE(name)						\
	FIXTURE(name) {							\
		int fd;			/* /dev/hmm_dummy0 */		\
		struct oracle o;	/* over fd */			\
	};								\
	FIXTURE_SETUP(name)						\
	{								\
		self->fd = dummy_open(0);				\
		ASSERT_LE(0, self->fd)					\
			TH_LOG("open /dev/hmm_dummy0: %s",		\
			       strerror(errno));			\
		self->o.fd = self->fd;					\
		self->o.abi = ABI_NATIVE;				\
	}								\
	FIXTURE_TEARDOWN(name)						\
	{								\
		close(self->fd);					\
	}

/* ... and what the CPU reads there is seed's pattern. */
#define ASSERT_COHERENT_PATTERN(o, addr, npages, seed) do {		\
	ASSERT_COHERENT_DATA(o, addr, npages);				\
	if (!oracle_off())						\
		ASSERT_EQ(-1, check_pattern((addr), (npages), (seed)));	\
} while (0)

/* The number of native device entries over the range must be n. */
#define ASSERT_ENTRIES(fd, addr, npages, n) do {			\
	long _nr = dummy_nr_entries((fd), (addr), (npages));		\
	if (oracle_off()) {						\
		ORACLE_OFF_TELL();					\
		break;							\
	}								\
	ASSERT_EQ((long)(n), _nr);					\
} while (0)
#endif /* __KSELFTEST_HARNESS_H */

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

/*
 * Read a sysfs/procfs file into buf (len bytes with the NUL), its first
 * line's newline dropped: 0, or -1 on error or if it is empty.
 */
static inline int read_str(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t r;

	if (fd < 0)
		return -1;
	r = read(fd, buf, len - 1);
	close(fd);
	if (r <= 0)
		return -1;
	buf[r] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

/* Read a number from a sysfs/procfs file, -1 on error. */
static inline long long read_num(const char *path)
{
	char buf[64];

	return read_str(path, buf, sizeof(buf)) ? -1 : strtoll(buf, NULL, 0);
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
 * touched so the kernel may fault it in huge; NULL, with the reason in
 * oracle_why (the case's skip reason: SKIP(return, "%s", oracle_why)), if
 * it cannot be had. Whether it came huge is the caller's to
 * check, each by its own view.
 */
static inline char *thp_map_advised(void)
{
	char *p = map_aligned(HPAGE / PAGE, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS, -1);

	if (!p) {
		snprintf(oracle_why, sizeof(oracle_why), "mmap: %s",
			 strerror(errno));
		return NULL;
	}
	if (madvise(p, HPAGE, MADV_HUGEPAGE)) {
		snprintf(oracle_why, sizeof(oracle_why), "MADV_HUGEPAGE: %s",
			 strerror(errno));
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
