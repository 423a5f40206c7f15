// SPDX-License-Identifier: GPL-2.0
/*
 * fuzz_ioctl [--seed N] [--ops N | --seconds S] [harness options] - random
 * ioctls, each checked against the answer its own arguments call for
 *
 * Each case runs three workers at once: two share one file (the native
 * /dev/hmm_dummy0 or /dev/hmm_dmirror0), the third has a file of its own
 * (/dev/hmm_dummy1, its mirror narrowed with SET_RANGE, or
 * /dev/hmm_dmirror1). A worker owns a region: an arena whose protections its
 * own mutations keep changing (mprotect, MADV_DONTNEED, munmap, mmap over),
 * then a buffer area, each ending in a PROT_NONE guard page. It keeps a
 * model of its region, so every call has an exact expected outcome:
 *  - bad flags or reserved fields, a zero, too large or unaligned range, a
 *    range that wraps or leaves the mirror: EINVAL;
 *  - a bad argument pointer: EFAULT; an unknown command: ENOTTY; a command
 *    the kernel cannot do: EOPNOTSUPP, from the first call on;
 *  - a device access over a bad page: EFAULT (unmapped, PROT_NONE) or EPERM
 *    (write to read-only) with done = the index of the first bad page, or
 *    EFAULT where the user buffer runs into a bad page first;
 * and after every success its post-conditions hold: done/cpages == npages,
 * what the device read is what the CPU reads and what it wrote the CPU
 * sees, SNAPSHOT bytes agree with the model, the oracle (oracle.h) finds the
 * device page table coherent over the range, and after each mutation over
 * the mutated range. Some ranges span more than HMM_MIRROR_RANGE_MAX_PAGES
 * (512), the driver's chunk.
 *
 * Outcomes the model cannot decide are accepted by name only where they are
 * documented: EBUSY (invalidations kept the range busy past hmm_core's
 * deadline) for a file that mirrors the whole address space while other
 * workers change it, for a call that write-faults (its own copy-on-write
 * breaks invalidate the range), and from EXCLUSIVE; ENOENT from
 * MIGRATE_TO_DEV (another worker's RELEASE evicted the pages meanwhile) and
 * from an EXCLUSIVE whose result buffer lies in its own range (hmm_dummy
 * copies the result out page by page, and its own stores take the pages
 * back from the device),
 * and ENOMEM (the device's memory, devmem_max_mb, shared by the workers
 * on it, ran out before the call got to its end or to a bad page);
 * ENOSPC only if the max_entries parameter is below what the workers could
 * map. The process is kept out of NUMA balancing, whose scans would
 * invalidate the workers' ranges behind the model's back.
 *
 * The first failure stops every worker; each worker returns whether it
 * failed, which the case asserts on after the join. The seed is printed
 * ("# seed N"); --seed N or FUZZ_SEED=N replays a run: each worker's calls
 * are a function of the seed alone (a fixed number of them, --ops, default
 * 600; --seconds S is taken as S * 100 of them), and each worker's summary
 * line ends in the state its generator ended in ("rng 0x..."), the same
 * for the same seed and --ops. Device writes go only to a worker's own
 * region; random user addresses are never given to a command that writes.
 *
 * The cases are kselftest_harness.h's: fuzz.fuzz_hmm_dummy (native ABI)
 * and fuzz.fuzz_hmm_dmirror (test_hmm's ABI). The harness owns the short
 * options (-l lists the cases, -t NAME runs one); the long options above
 * are taken out of argv before it sees them. One case replayed:
 *
 *	fuzz_ioctl --seed 42 --ops 2000 -t fuzz_hmm_dmirror
 */
#define _GNU_SOURCE
#include <linux/mempolicy.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>

#include "kselftest_harness.h"
#include "oracle.h"

#define ARENA_PAGES	1100	/* its last page is a PROT_NONE guard */
#define BUF_PAGES	1100	/* ditto */
#define REGION_PAGES	(ARENA_PAGES + BUF_PAGES)
#define CHUNK_PAGES	512	/* HMM_MIRROR_RANGE_MAX_PAGES */
#define LOW_PAGES	16	/* [0, 64 KiB): below mmap_min_addr, never mapped */
#define NWORKERS	3
#define MAX_DIAG	6
#define NR_ERRNO	134

enum { P_NONE, P_R, P_RW, P_HOLE, P_UNKNOWN };

/* A set of outcomes: bit 0 success, bit e errno e. */
#define errset		unsigned __int128
#define E(e)		((errset)1 << (e))
#define E_OK		E(0)

/*
 * What differs between the two ABIs as far as the fuzzer goes: the devices,
 * the numbers of the commands both have (READ, WRITE, SNAPSHOT, in that
 * order: enum range_op) and the SNAPSHOT bytes the model checks.
 */
enum range_op { OP_READ, OP_WRITE, OP_SNAPSHOT, NR_RANGE_OPS };

static const char *const range_op_name[] = { "READ", "WRITE", "SNAPSHOT" };

struct abi_desc {
	const char *dev;		/* /dev/<dev>0 and /dev/<dev>1 */
	unsigned long cmd[NR_RANGE_OPS];
	uint8_t snap_error, snap_write, snap_huge;
};

static const struct abi_desc abis[] = {
	[ABI_NATIVE] = {
		.dev = "hmm_dummy",
		.cmd = { HMM_DUMMY_IOC_READ, HMM_DUMMY_IOC_WRITE,
			 HMM_DUMMY_IOC_SNAPSHOT },
		.snap_error = HMM_DUMMY_SNAP_ERROR,
		.snap_write = HMM_DUMMY_SNAP_WRITE,
		.snap_huge = HMM_DUMMY_SNAP_HUGE,
	},
	[ABI_DMIRROR] = {
		.dev = "hmm_dmirror",
		.cmd = { HMM_DMIRROR_READ, HMM_DMIRROR_WRITE,
			 HMM_DMIRROR_SNAPSHOT },
		.snap_error = HMM_DMIRROR_PROT_ERROR,
		.snap_write = HMM_DMIRROR_PROT_WRITE,
		.snap_huge = HMM_DMIRROR_PROT_PMD | HMM_DMIRROR_PROT_PUD,
	},
};

struct worker {
	int id, native, fd, may_busy;
	struct oracle o;	/* fd, and the ABI it speaks */
	const struct abi_desc *abi;
	uint64_t rng;
	uint8_t *base;		/* the region: arena, then buffer area */
	uint8_t *arg;		/* one page, then a guard */
	uint8_t prot[REGION_PAGES];
	uint64_t mstart, mend;	/* what the file mirrors */
	int maybe_excl;		/* exclusive entries may be left in the arena */
	unsigned long calls, ok, bad, long_ok, mutations, busy;
	unsigned long by_errno[NR_ERRNO];
	struct hmm_dummy_counters last;
	char desc[200];
};

static uint64_t seed;
static unsigned long nops = 600;
static uint64_t task_size;	/* the mm's: the end of a whole mirror */
static uint64_t max_entries = ~0ULL;	/* module parameter, if any */
static int have_devmem, have_exclusive;
static int stop;	/* a worker failed: all stop, the first failure told */

static uint64_t rnd(struct worker *w)
{
	w->rng ^= w->rng >> 12;
	w->rng ^= w->rng << 25;
	w->rng ^= w->rng >> 27;
	return w->rng * 2685821657736338717ULL;
}

static int chance(struct worker *w, unsigned int percent)
{
	return rnd(w) % 100 < percent;
}

static uintptr_t page_va(struct worker *w, uint64_t idx)
{
	return (uintptr_t)w->base + idx * PAGE;
}

static uintptr_t buf_va(struct worker *w, uint64_t idx)
{
	return page_va(w, ARENA_PAGES + idx);
}

/* What the worker's model says of the page at va. */
static int page_prot(struct worker *w, uint64_t va)
{
	uintptr_t b = (uintptr_t)w->base;

	if (va < LOW_PAGES * PAGE || va >= 1ULL << 63)
		return P_HOLE;
	if (va >= b && va < b + REGION_PAGES * PAGE)
		return w->prot[(va - b) / PAGE];
	return P_UNKNOWN;
}

static int region_idx(struct worker *w, uint64_t va, uint64_t *idx)
{
	uintptr_t b = (uintptr_t)w->base;

	if (va < b || va >= b + REGION_PAGES * PAGE)
		return 0;
	*idx = (va - b) / PAGE;
	return 1;
}

/* How a device access (write: for writing) to the page at va fails. */
static int access_err(struct worker *w, uint64_t va, int write)
{
	switch (page_prot(w, va)) {
	case P_RW:
		return 0;
	case P_R:
		return write ? EPERM : 0;
	case P_UNKNOWN:
		return -1;
	default:
		return EFAULT;
	}
}

/* Whether the user bytes [p, p + len) can be written (or read). */
static int bytes_ok(struct worker *w, uint64_t p, uint64_t len, int write)
{
	uint64_t va;

	if (!len)
		return 1;
	if (p + len < p)
		return 0;
	for (va = p & ~(PAGE - 1); va < p + len; va += PAGE) {
		int pr = page_prot(w, va);

		if (pr == P_RW || (pr == P_R && !write))
			continue;
		return 0;	/* P_UNKNOWN is never generated for a pointer */
	}
	return 1;
}

/*
 * The range check every range command makes: page aligned, 1 to
 * HMM_DUMMY_MAX_PAGES pages, no wrap, inside the mirror.
 */
static int range_bad(struct worker *w, uint64_t addr, uint64_t npages)
{
	uint64_t end;

	if (!npages || npages > HMM_DUMMY_MAX_PAGES || addr % PAGE)
		return 1;
	if (__builtin_add_overflow(addr, npages * PAGE, &end))
		return 1;
	return addr < w->mstart || end > w->mend;
}

/*
 * The first page of [addr, +npages) a device access fails at, and how, for
 * FAULT (ptr 0) or READ/WRITE (ptr: the user buffer, which WRITE reads
 * before the page is accessed and READ writes after). 0 if none.
 */
static int first_bad(struct worker *w, uint64_t addr, uint64_t ptr,
		     uint64_t npages, int write, int rw, uint64_t *at)
{
	uint64_t i;

	for (i = 0; i < npages; i++) {
		int pe = !rw || bytes_ok(w, ptr + i * PAGE, PAGE, !write) ?
			 0 : EFAULT;
		int ae = access_err(w, addr + i * PAGE, write);

		*at = i;
		if (ae < 0)
			return -1;
		if (rw && write && pe)
			return pe;
		if (ae)
			return ae;
		if (pe)
			return pe;
	}
	*at = npages;
	return 0;
}

/* Whether some page of the range has no readable vma (MIGRATE: EINVAL). */
static int unreadable(struct worker *w, uint64_t addr, uint64_t npages)
{
	uint64_t at;

	return first_bad(w, addr, 0, npages, 0, 0, &at);
}

/* ---- generators ---- */

static uint64_t r_addr(struct worker *w)
{
	unsigned int c = rnd(w) % 100;

	if (c < 70)
		return page_va(w, rnd(w) % ARENA_PAGES);
	if (c < 75)
		return page_va(w, ARENA_PAGES - 1 - rnd(w) % 8);
	if (c < 80)
		return buf_va(w, rnd(w) % BUF_PAGES);
	if (c < 85)
		return page_va(w, rnd(w) % ARENA_PAGES) + 1 + rnd(w) % (PAGE - 1);
	if (c < 89)
		return (rnd(w) % LOW_PAGES) * PAGE;
	if (c < 93)
		return (rnd(w) | (1ULL << 63)) & ~(PAGE - 1);
	if (c < 96)
		return -(1 + rnd(w) % 4) * PAGE;	/* wraps */
	if (c < 98)
		return task_size & ~(PAGE - 1);		/* past user space */
	return rnd(w) | 1;
}

static uint64_t r_npages(struct worker *w)
{
	unsigned int c = rnd(w) % 100;

	if (c < 40)
		return 1 + rnd(w) % 16;
	if (c < 60)
		return 1 + rnd(w) % 200;
	if (c < 75)
		return CHUNK_PAGES - 8 + rnd(w) % 600;
	if (c < 79)
		return 0;
	if (c < 83)
		return HMM_DUMMY_MAX_PAGES;
	if (c < 87)
		return HMM_DUMMY_MAX_PAGES + 1;
	if (c < 91)
		return rnd(w);
	return 1 + rnd(w) % ARENA_PAGES;
}

/* A user buffer: mostly the buffer area, sometimes the arena or bad. */
static uint64_t r_ptr(struct worker *w)
{
	unsigned int c = rnd(w) % 100;

	if (c < 65)
		return buf_va(w, rnd(w) % 64) + (chance(w, 20) ? rnd(w) % 64 : 0);
	if (c < 72)
		return buf_va(w, BUF_PAGES - 1 - rnd(w) % 8);
	if (c < 80)
		return page_va(w, rnd(w) % ARENA_PAGES);
	if (c < 85)
		return 0;
	if (c < 88)
		return 1;
	if (c < 93)
		return 0xffff888000000000ULL + (rnd(w) % 1024) * PAGE;
	return rnd(w) | (1ULL << 63);
}

static uint32_t r_flags(struct worker *w, uint32_t valid)
{
	if (chance(w, 94))
		return chance(w, 50) ? valid : 0;
	return (uint32_t)rnd(w) | 0x80000000u;
}

static uint64_t r_reserved(struct worker *w)
{
	return chance(w, 98) ? 0 : rnd(w) | 1;
}

/* A long clean-ish range: more than one chunk, from the arena's start. */
static void r_long(struct worker *w, uint64_t *addr, uint64_t *npages)
{
	uint64_t first = rnd(w) % 64;

	*addr = page_va(w, first);
	*npages = CHUNK_PAGES + 1 + rnd(w) % (ARENA_PAGES - 1 - CHUNK_PAGES - 64);
}

/* The argument pointer: the argument page, or a bad one. */
static void *r_argp(struct worker *w, int *bad)
{
	unsigned int c = rnd(w) % 100;

	*bad = 1;
	if (c < 3)
		return NULL;
	if (c < 5)
		return (void *)0xffff888000000000ULL;
	if (c < 8)
		return w->arg + PAGE - 8;	/* runs into the guard */
	*bad = 0;
	return w->arg;
}

/* r_argp(), with the well-formed argument v (len bytes) copied in if good. */
static void *r_arg(struct worker *w, const void *v, size_t len, int *bad)
{
	void *a = r_argp(w, bad);

	if (!*bad)
		memcpy(a, v, len);
	return a;
}

/* Any of a native argument's reserved fields set. */
#define RESERVED_SET(x)	((x).reserved0 || (x).reserved[0] || (x).reserved[1])

/* ---- checking ---- */

static int fail(struct worker *w, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int fail(struct worker *w, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
	if (w->bad++ >= MAX_DIAG)
		return 1;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	hmm_diag("w%d call %lu: %s: %s", w->id, w->calls, w->desc, msg);
	return 1;
}

static const char *ename(int e)
{
	const char *n = e ? strerrorname_np(e) : "0";

	return n ? n : "?";
}

static void errset_str(errset s, char *out, size_t len)
{
	size_t n = 0;
	int e;

	out[0] = '\0';
	for (e = 0; e < 128 && n < len; e++)
		if (s & E(e))
			n += snprintf(out + n, len - n, "%s%s", n ? "|" : "",
				      ename(e));
}

/* The call's result against the set expected; 0 if it is in it. */
static int check_result(struct worker *w, int r, int e, errset want)
{
	char s[128];
	int got = r == 0 ? 0 : e;

	w->calls++;
	if (r == 0)
		w->ok++;
	else if (e > 0 && e < NR_ERRNO)
		w->by_errno[e]++;
	if (e == EBUSY && r)
		w->busy++;
	if ((r == 0 || r == -1) && got < 128 && (want & E(got)))
		return 0;
	errset_str(want, s, sizeof(s));
	return fail(w, "returned %d (%s), want %s", r, r ? ename(e) : "ok", s);
}

/*
 * EBUSY where other workers may keep a whole-address-space mirror busy, or
 * where the call write-faults (@writes): breaking copy-on-write of the zero
 * page invalidates the range being faulted, and hmm_core's deadline counts
 * the faulting itself, which a slow (TCG) guest can take past it. ENOSPC
 * where the entry cap is in reach: the commands that populate.
 */
static errset access_extra(struct worker *w, int populates, int writes)
{
	errset s = 0;

	if (w->may_busy || writes)
		s |= E(EBUSY);
	if (populates && max_entries < (uint64_t)NWORKERS * REGION_PAGES)
		s |= E(ENOSPC);
	return s;
}

/* The oracle over [addr, +npages) clipped to the region and the mirror. */
static void oracle_range(struct worker *w, uint64_t addr, uint64_t npages)
{
	uint64_t start = addr, end, b = (uintptr_t)w->base;
	long bad;

	/*
	 * test_hmm's ABI: check_snapshot() holds its SNAPSHOT bytes to the
	 * model; the oracle looks at it once the workers are done.
	 */
	if (w->o.abi != ABI_NATIVE)
		return;
	if (npages > REGION_PAGES || __builtin_add_overflow(addr, npages * PAGE, &end))
		end = b + REGION_PAGES * PAGE;
	if (start < b)
		start = b;
	if (end > b + REGION_PAGES * PAGE)
		end = b + REGION_PAGES * PAGE;
	if (start < w->mstart)
		start = w->mstart;
	if (end > w->mend)
		end = w->mend;
	if (start >= end)
		return;
	bad = oracle_coherent(&w->o, (void *)(uintptr_t)start,
			      (end - start) / PAGE);
	if (bad)
		fail(w, "oracle: %ld violation(s) over [0x%llx, 0x%llx)", bad,
		     (unsigned long long)start, (unsigned long long)end);
}

/* Whether [a, +alen) and [b, +blen) overlap. */
static int overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

/* After a READ (or MIGRATE_TO_DEV, EXCLUSIVE): ptr holds what the CPU reads. */
static void check_data(struct worker *w, uint64_t addr, uint64_t ptr,
		       uint64_t npages, const char *what)
{
	uint64_t i;

	if (ptr < buf_va(w, 0) || overlap(addr, npages * PAGE, ptr, npages * PAGE))
		return;
	for (i = 0; i < npages; i++) {
		const char *cpu = (const char *)(uintptr_t)(addr + i * PAGE);
		const char *dev = (const char *)(uintptr_t)(ptr + i * PAGE);

		if (memcmp(cpu, dev, PAGE)) {
			size_t o = 0;

			while (cpu[o] == dev[o])
				o++;
			fail(w, "page %llu, byte %zu: device %s 0x%02x, CPU reads 0x%02x",
			     (unsigned long long)i, o, what,
			     (uint8_t)dev[o], (uint8_t)cpu[o]);
			return;
		}
	}
}

/* SNAPSHOT bytes of the worker's own pages against the model. */
static void check_snapshot(struct worker *w, uint64_t addr, uint64_t ptr,
			   uint64_t npages)
{
	const uint8_t *snap = (const uint8_t *)(uintptr_t)ptr;
	uint8_t err = w->abi->snap_error, wr = w->abi->snap_write;
	uint8_t huge = w->abi->snap_huge;
	uint64_t i, idx;

	for (i = 0; i < npages && i < HMM_DUMMY_MAX_PAGES; i++) {
		uint64_t va = addr + i * PAGE;
		uint8_t b = snap[i];
		int pr, ok;

		if (overlap(va, PAGE, ptr, npages))
			continue;	/* the snapshot was written there */
		if (!region_idx(w, va, &idx))
			continue;
		pr = w->prot[idx];
		if (pr == P_NONE || pr == P_HOLE)
			ok = b == err;
		else
			ok = b != err && !(b & huge) && (pr == P_RW || !(b & wr));
		if (!ok) {
			fail(w, "snapshot of page %llu (model %d): 0x%02x",
			     (unsigned long long)i, pr, b);
			return;
		}
	}
}

/* ---- the commands ---- */

static void do_fault(struct worker *w)
{
	struct hmm_dummy_fault f = {
		.addr = r_addr(w), .npages = r_npages(w),
		.flags = r_flags(w, HMM_DUMMY_FAULT_WRITE),
		.reserved0 = (uint32_t)r_reserved(w),
		.reserved = { r_reserved(w), r_reserved(w) },
	};
	struct hmm_dummy_fault *a;
	errset want;
	uint64_t at = 0, done_in = rnd(w);
	int bad_arg, r, e, ferr = 0, write;

	if (chance(w, 15)) {
		uint64_t la, ln;

		r_long(w, &la, &ln);
		f.addr = la;
		f.npages = ln;
	}
	f.done = done_in;
	write = !!(f.flags & HMM_DUMMY_FAULT_WRITE);
	a = r_arg(w, &f, sizeof(f), &bad_arg);
	snprintf(w->desc, sizeof(w->desc), "FAULT(addr 0x%llx, npages %llu, flags 0x%x%s)%s",
		 (unsigned long long)f.addr, (unsigned long long)f.npages,
		 f.flags, RESERVED_SET(f) ?
		 ", reserved" : "", bad_arg ? " bad arg" : "");
	if (bad_arg) {
		want = E(EFAULT);
	} else if ((f.flags & ~HMM_DUMMY_FAULT_WRITE) || RESERVED_SET(f) ||
		   range_bad(w, f.addr, f.npages)) {
		want = E(EINVAL);
	} else {
		ferr = first_bad(w, f.addr, 0, f.npages, write, 0, &at);
		if (ferr < 0) {
			fail(w, "model: the range runs into an unknown page");
			return;
		}
		want = E(ferr) | access_extra(w, 1, write);
	}
	errno = 0;
	r = ioctl(w->fd, HMM_DUMMY_IOC_FAULT, a);
	e = errno;
	if (check_result(w, r, e, want) || bad_arg || (want & E(EINVAL)))
		return;
	/* From here the struct was copied back: done says how far it got. */
	if (r == 0 || e == EFAULT || e == EPERM) {
		if (a->done != at)
			fail(w, "done %llu, want %llu", (unsigned long long)a->done,
			     (unsigned long long)at);
	} else if (a->done > at) {
		fail(w, "%s after done %llu, past the first bad page %llu",
		     ename(e), (unsigned long long)a->done,
		     (unsigned long long)at);
	}
	if (r == 0 && f.npages > CHUNK_PAGES)
		w->long_ok++;
	oracle_range(w, f.addr, at < f.npages ? at + 1 : f.npages);
}

/*
 * The arguments of READ, WRITE and SNAPSHOT, which the two ABIs take alike
 * but for the native ABI's flags and reserved fields (test_hmm's struct has
 * none: they stay 0 there) and the output fields (done or cpages, faults),
 * random on the way in.
 */
struct range_arg {
	uint64_t addr, ptr, npages;
	uint32_t flags, reserved0;
	uint64_t reserved[2];
	uint64_t out[2];
};

/* ra as op's struct of the worker's ABI, at p. */
static void put_range_arg(const struct worker *w, enum range_op op,
			  const struct range_arg *ra, void *p)
{
	if (!w->native) {
		struct hmm_dmirror_cmd c = {
			.addr = ra->addr, .ptr = ra->ptr, .npages = ra->npages,
			.cpages = ra->out[0], .faults = ra->out[1],
		};

		memcpy(p, &c, sizeof(c));
	} else if (op == OP_SNAPSHOT) {
		struct hmm_dummy_snapshot s = {
			.addr = ra->addr, .ptr = ra->ptr, .npages = ra->npages,
			.flags = ra->flags, .reserved0 = ra->reserved0,
			.reserved = { ra->reserved[0], ra->reserved[1] },
		};

		memcpy(p, &s, sizeof(s));
	} else {
		struct hmm_dummy_rw rw = {
			.addr = ra->addr, .ptr = ra->ptr, .npages = ra->npages,
			.flags = ra->flags, .reserved0 = ra->reserved0,
			.reserved = { ra->reserved[0], ra->reserved[1] },
			.done = ra->out[0], .faults = ra->out[1],
		};

		memcpy(p, &rw, sizeof(rw));
	}
}

/* What a READ or WRITE struct copied back at p says was done. */
static uint64_t range_done(const struct worker *w, const void *p)
{
	return w->native ? ((const struct hmm_dummy_rw *)p)->done :
	       ((const struct hmm_dmirror_cmd *)p)->cpages;
}

/*
 * A random READ, WRITE or SNAPSHOT argument in ra, laid out in the argument
 * page, or a bad argument pointer (*bad_arg); *bad_fields if its flags or
 * reserved fields are not 0. Returns the argument pointer.
 */
static void *r_range_arg(struct worker *w, enum range_op op,
			 struct range_arg *ra, int *bad_arg, int *bad_fields)
{
	void *a;

	ra->addr = r_addr(w);
	ra->npages = r_npages(w);
	ra->ptr = r_ptr(w);
	ra->flags = r_flags(w, 0);
	ra->reserved0 = (uint32_t)r_reserved(w);
	ra->reserved[0] = r_reserved(w);
	ra->reserved[1] = r_reserved(w);
	if (chance(w, 15)) {
		r_long(w, &ra->addr, &ra->npages);
		ra->ptr = buf_va(w, rnd(w) % 32);
	}
	ra->out[0] = rnd(w);
	ra->out[1] = rnd(w);
	if (!w->native) {	/* test_hmm's struct has no such fields */
		ra->flags = 0;
		ra->reserved0 = 0;
		ra->reserved[0] = 0;
		ra->reserved[1] = 0;
	}
	*bad_fields = ra->flags || RESERVED_SET(*ra);
	a = r_argp(w, bad_arg);
	if (!*bad_arg)
		put_range_arg(w, op, ra, a);
	snprintf(w->desc, sizeof(w->desc),
		 "%s(addr 0x%llx, ptr 0x%llx, npages %llu%s)%s",
		 range_op_name[op], (unsigned long long)ra->addr,
		 (unsigned long long)ra->ptr, (unsigned long long)ra->npages,
		 *bad_fields ? ", flags/reserved" : "", *bad_arg ? " bad arg" : "");
	return a;
}

/* READ/WRITE of either ABI. */
static void do_rw(struct worker *w, int write)
{
	enum range_op op = write ? OP_WRITE : OP_READ;
	struct range_arg ra;
	uint64_t at = 0, done;
	errset want;
	void *a;
	int bad_arg, bad_fields, r, e, ferr;

	a = r_range_arg(w, op, &ra, &bad_arg, &bad_fields);
	if (bad_arg) {
		want = E(EFAULT);
	} else if (bad_fields || range_bad(w, ra.addr, ra.npages)) {
		want = E(EINVAL);
	} else {
		ferr = first_bad(w, ra.addr, ra.ptr, ra.npages, write, 1, &at);
		if (ferr < 0) {
			fail(w, "model: the range runs into an unknown page");
			return;
		}
		want = E(ferr) | access_extra(w, 1, write);
	}
	errno = 0;
	r = ioctl(w->fd, w->abi->cmd[op], a);
	e = errno;
	if (check_result(w, r, e, want) || bad_arg || (want & E(EINVAL)))
		return;
	/* test_hmm's ABI copies the struct back on success only. */
	if (!w->native && r)
		return;
	done = range_done(w, a);
	if (r == 0 || e == EFAULT || e == EPERM) {
		if (done != at) {
			fail(w, "done %llu, want %llu", (unsigned long long)done,
			     (unsigned long long)at);
			return;
		}
	} else if (done > at) {
		fail(w, "%s after done %llu, past the first bad page %llu",
		     ename(e), (unsigned long long)done, (unsigned long long)at);
	}
	if (r)
		return;
	if (ra.npages > CHUNK_PAGES)
		w->long_ok++;
	check_data(w, ra.addr, ra.ptr, ra.npages, write ? "wrote" : "reads");
	oracle_range(w, ra.addr, ra.npages);
}

/* SNAPSHOT of either ABI. */
static void do_snapshot(struct worker *w)
{
	struct range_arg ra;
	errset want;
	void *a;
	int bad_arg, bad_fields, r, e;

	a = r_range_arg(w, OP_SNAPSHOT, &ra, &bad_arg, &bad_fields);
	if (bad_arg)
		want = E(EFAULT);
	else if (bad_fields || range_bad(w, ra.addr, ra.npages))
		want = E(EINVAL);
	else	/* a snapshot faults nothing: only its buffer can fail */
		want = (bytes_ok(w, ra.ptr, ra.npages, 1) ? E_OK : E(EFAULT)) |
		       access_extra(w, 0, 0);
	errno = 0;
	r = ioctl(w->fd, w->abi->cmd[OP_SNAPSHOT], a);
	e = errno;
	if (check_result(w, r, e, want) || r)
		return;
	if (!w->native && range_done(w, a) != ra.npages)
		fail(w, "cpages %llu", (unsigned long long)range_done(w, a));
	check_snapshot(w, ra.addr, ra.ptr, ra.npages);
}

static void do_dump(struct worker *w)
{
	struct hmm_dummy_dump d = {
		.addr = r_addr(w), .npages = r_npages(w), .ptr = r_ptr(w),
		.max_entries = chance(w, 80) ? rnd(w) % 2048 : rnd(w),
		.nr_entries = rnd(w), .flags = r_flags(w, 0),
		.reserved0 = (uint32_t)r_reserved(w),
		.reserved = { r_reserved(w), r_reserved(w) },
	};
	struct hmm_dummy_dump *a;
	struct hmm_dummy_pte *ents;
	uint64_t room, i;
	errset want;
	int bad_arg, r, e;

	a = r_arg(w, &d, sizeof(d), &bad_arg);
	snprintf(w->desc, sizeof(w->desc),
		 "DUMP(addr 0x%llx, npages %llu, ptr 0x%llx, max %llu%s)%s",
		 (unsigned long long)d.addr, (unsigned long long)d.npages,
		 (unsigned long long)d.ptr, (unsigned long long)d.max_entries,
		 d.flags || RESERVED_SET(d) ?
		 ", flags/reserved" : "", bad_arg ? " bad arg" : "");
	room = d.max_entries < d.npages ? d.max_entries : d.npages;
	if (bad_arg)
		want = E(EFAULT);
	else if (d.flags || RESERVED_SET(d) ||
		 range_bad(w, d.addr, d.npages))
		want = E(EINVAL);
	else if (bytes_ok(w, d.ptr, room * sizeof(*ents), 1))
		want = E_OK;
	else	/* EFAULT unless the range holds no entry */
		want = E_OK | E(EFAULT);
	errno = 0;
	r = ioctl(w->fd, HMM_DUMMY_IOC_DUMP, a);
	e = errno;
	if (check_result(w, r, e, want) || r)
		return;
	if (a->nr_entries > room ||
	    !bytes_ok(w, d.ptr, a->nr_entries * sizeof(*ents), 1)) {
		fail(w, "nr_entries %llu", (unsigned long long)a->nr_entries);
		return;
	}
	ents = (struct hmm_dummy_pte *)(uintptr_t)d.ptr;
	for (i = 0; i < a->nr_entries; i++) {
		if (ents[i].va < d.addr || ents[i].va % PAGE ||
		    (ents[i].va - d.addr) / PAGE >= d.npages ||
		    (i && ents[i].va <= ents[i - 1].va)) {
			fail(w, "entry %llu: va 0x%llx out of range or order",
			     (unsigned long long)i, (unsigned long long)ents[i].va);
			return;
		}
	}
}

static void do_counters(struct worker *w)
{
	struct hmm_dummy_counters *c;
	int bad_arg, r, e, i;

	c = r_argp(w, &bad_arg);
	snprintf(w->desc, sizeof(w->desc), "COUNTERS%s", bad_arg ? " bad arg" : "");
	errno = 0;
	r = ioctl(w->fd, HMM_DUMMY_IOC_COUNTERS, c);
	e = errno;
	if (check_result(w, r, e, bad_arg ? E(EFAULT) : E_OK) || r)
		return;
	if (c->releases)
		fail(w, "releases %llu", (unsigned long long)c->releases);
	for (i = HMM_DUMMY_NR_EVENTS; i < 16; i++)
		if (c->invalidations[i])
			fail(w, "invalidations[%d] %llu", i,
			     (unsigned long long)c->invalidations[i]);
	for (i = 0; i < 8; i++)
		if (c->reserved[i])
			fail(w, "reserved[%d] %llu", i,
			     (unsigned long long)c->reserved[i]);
	if (c->device_faults < w->last.device_faults ||
	    c->pages_populated < w->last.pages_populated ||
	    c->pages_invalidated < w->last.pages_invalidated)
		fail(w, "counters went back");
	w->last = *c;
}

/*
 * SET_RANGE: on a shared file only invalid ones (EINVAL, nothing changes),
 * on the worker's own file also valid ones inside its region, after which
 * the device page table is empty.
 */
static void do_set_range(struct worker *w, int own)
{
	struct hmm_dummy_range rg = { 0 };
	struct hmm_dummy_range *a;
	uint64_t first, n;
	int bad_arg, r, e, valid = 0;
	long nr;

	if (own && chance(w, 60)) {
		first = rnd(w) % (REGION_PAGES - 1);
		n = 1 + rnd(w) % (REGION_PAGES - first);
		if (chance(w, 50)) {
			first = 0;
			n = REGION_PAGES;
		}
		rg.addr = page_va(w, first);
		rg.npages = n;
		valid = 1;
	} else {
		rg.addr = page_va(w, rnd(w) % ARENA_PAGES);
		rg.npages = 1 + rnd(w) % 64;
		switch (rnd(w) % 7) {
		case 0:
			rg.flags = (uint32_t)rnd(w) | 1;
			break;
		case 1:
			rg.reserved0 = (uint32_t)rnd(w) | 1;
			break;
		case 2:
			rg.reserved[rnd(w) % 2] = rnd(w) | 1;
			break;
		case 3:
			rg.npages = 0;
			break;
		case 4:
			rg.addr += 1 + rnd(w) % (PAGE - 1);
			break;
		case 5:
			rg.addr = (rnd(w) | (1ULL << 63)) & ~(PAGE - 1);
			break;
		default:
			rg.npages = 1ULL << 52;
			break;
		}
	}
	a = r_arg(w, &rg, sizeof(rg), &bad_arg);
	snprintf(w->desc, sizeof(w->desc), "SET_RANGE(addr 0x%llx, npages %llu, flags 0x%x%s)%s",
		 (unsigned long long)rg.addr, (unsigned long long)rg.npages,
		 rg.flags, RESERVED_SET(rg) ?
		 ", reserved" : "", bad_arg ? " bad arg" : "");
	errno = 0;
	r = ioctl(w->fd, HMM_DUMMY_IOC_SET_RANGE, a);
	e = errno;
	if (check_result(w, r, e, bad_arg ? E(EFAULT) : valid ? E_OK : E(EINVAL)) || r)
		return;
	w->mstart = rg.addr;
	w->mend = rg.addr + rg.npages * PAGE;
	/* A new mirror starts empty. */
	nr = dummy_nr_entries(w->fd, (void *)(uintptr_t)rg.addr,
			      rg.npages < 4096 ? rg.npages : 4096);
	if (nr)
		fail(w, "DUMP of the new mirror: %lld entries (%s)",
		     (long long)nr, strerror(errno));
}

/*
 * test_hmm's device-memory and exclusive commands. Before its arguments the
 * device says whether it can (EOPNOTSUPP); then the range; then each its own.
 */
static void do_dmirror_other(struct worker *w)
{
	static const unsigned long cmds[] = {
		HMM_DMIRROR_MIGRATE_TO_DEV, HMM_DMIRROR_MIGRATE_TO_SYS,
		HMM_DMIRROR_EXCLUSIVE, HMM_DMIRROR_CHECK_EXCLUSIVE,
		HMM_DMIRROR_RELEASE,
	};
	static const char *const names[] = {
		"MIGRATE_TO_DEV", "MIGRATE_TO_SYS", "EXCLUSIVE",
		"CHECK_EXCLUSIVE", "RELEASE",
	};
	unsigned int k = rnd(w) % ARRAY_SIZE(cmds);
	unsigned long cmd = cmds[k];
	struct hmm_dmirror_cmd c = {
		.addr = r_addr(w), .ptr = r_ptr(w), .npages = r_npages(w),
		.cpages = rnd(w), .faults = rnd(w),
	};
	struct hmm_dmirror_cmd *a;
	int bad_arg, r, e, can, ferr;
	uint64_t at, idx, end;
	errset want;

	if (chance(w, 40)) {	/* mostly small ranges of the arena */
		c.addr = page_va(w, rnd(w) % (ARENA_PAGES - 1));
		c.npages = 1 + rnd(w) % 32;
		c.ptr = buf_va(w, rnd(w) % 64);
	}
	if (cmd == HMM_DMIRROR_RELEASE && chance(w, 70))
		cmd = HMM_DMIRROR_CHECK_EXCLUSIVE, k = 3;	/* RELEASE is heavy */
	a = r_arg(w, &c, sizeof(c), &bad_arg);
	snprintf(w->desc, sizeof(w->desc), "%s(addr 0x%llx, ptr 0x%llx, npages %llu)%s",
		 names[k], (unsigned long long)c.addr, (unsigned long long)c.ptr,
		 (unsigned long long)c.npages, bad_arg ? " bad arg" : "");
	can = cmd == HMM_DMIRROR_EXCLUSIVE || cmd == HMM_DMIRROR_CHECK_EXCLUSIVE ?
	      have_exclusive : have_devmem;
	if (!can) {
		want = E(EOPNOTSUPP);
	} else if (bad_arg) {
		want = E(EFAULT);
	} else if (range_bad(w, c.addr, c.npages)) {
		want = E(EINVAL);
	} else if (cmd == HMM_DMIRROR_RELEASE) {
		want = E_OK;
	} else if (cmd == HMM_DMIRROR_CHECK_EXCLUSIVE) {
		/* Exact where only this worker's arena can hold such entries. */
		end = c.addr + c.npages * PAGE;
		want = E_OK;
		if (w->maybe_excl || !region_idx(w, c.addr, &idx) ||
		    !region_idx(w, end - 1, &idx))
			want |= E(EPERM);
	} else if (cmd == HMM_DMIRROR_EXCLUSIVE) {
		ferr = first_bad(w, c.addr, 0, c.npages, 1, 0, &at);
		if (ferr < 0) {
			fail(w, "model: the range runs into an unknown page");
			return;
		}
		/* A page that cannot be made exclusive: EBUSY, documented. */
		want = E(EBUSY) | access_extra(w, 1, 1);
		/*
		 * The read-back copies the device's view into ptr page by
		 * page: where ptr lies in the range, that CPU write takes the
		 * pages it lands on back from the device before the
		 * read-back gets to them, which then finds no entry (ENOENT).
		 * test_hmm reads the whole range before it copies out.
		 */
		if (c.ptr < c.addr + c.npages * PAGE &&
		    c.ptr + c.npages * PAGE > c.addr)
			want |= E(ENOENT);
		if (ferr)
			want |= E(ferr);
		else
			want |= bytes_ok(w, c.ptr, c.npages * PAGE, 1) ?
				E_OK : E(EFAULT);
	} else if (unreadable(w, c.addr, c.npages)) {
		want = E(EINVAL);	/* a page with no readable vma */
		if (cmd == HMM_DMIRROR_MIGRATE_TO_DEV)
			want |= E(ENOMEM);	/* full before it got there */
	} else if (cmd == HMM_DMIRROR_MIGRATE_TO_SYS) {
		want = E_OK;
	} else {
		/*
		 * MIGRATE_TO_DEV: ENOENT if a page did not stay on the device
		 * until it was read back (another worker's RELEASE, a page
		 * the kernel would not migrate).
		 */
		want = E(ENOENT) | E(ENOMEM) | access_extra(w, 0, 0) |
		       (bytes_ok(w, c.ptr, c.npages * PAGE, 1) ? E_OK : E(EFAULT));
	}
	errno = 0;
	r = ioctl(w->fd, cmd, a);
	e = errno;
	if (cmd == HMM_DMIRROR_EXCLUSIVE && r && e != EINVAL && can && !bad_arg)
		w->maybe_excl = 1;	/* batches before the failure stay */
	if (check_result(w, r, e, want) || r)
		return;
	switch (cmd) {
	case HMM_DMIRROR_MIGRATE_TO_SYS:
		if (a->cpages > c.npages)
			fail(w, "cpages %llu", (unsigned long long)a->cpages);
		break;
	case HMM_DMIRROR_MIGRATE_TO_DEV:
		if (a->cpages != c.npages)
			fail(w, "cpages %llu", (unsigned long long)a->cpages);
		else
			check_data(w, c.addr, c.ptr, c.npages, "holds");
		break;
	case HMM_DMIRROR_EXCLUSIVE:
		if (a->cpages != c.npages) {
			fail(w, "cpages %llu", (unsigned long long)a->cpages);
			break;
		}
		/* Exclusive until the CPU touches a page: then no more. */
		errno = 0;
		r = dmirror_cmd(w->fd, HMM_DMIRROR_CHECK_EXCLUSIVE,
				(void *)(uintptr_t)c.addr, NULL, c.npages, NULL);
		if (r != -1 || errno != EPERM)
			fail(w, "CHECK_EXCLUSIVE after it: %d (%s), want EPERM",
			     r, ename(errno));
		check_data(w, c.addr, c.ptr, c.npages, "holds");
		for (at = 0; at < c.npages; at++)
			(void)*(volatile uint8_t *)(uintptr_t)(c.addr + at * PAGE);
		errno = 0;
		r = dmirror_cmd(w->fd, HMM_DMIRROR_CHECK_EXCLUSIVE,
				(void *)(uintptr_t)c.addr, NULL, c.npages, NULL);
		if (r)
			fail(w, "CHECK_EXCLUSIVE after the CPU read: %s, want 0",
			     ename(errno));
		break;
	}
}

/* An unknown command number: ENOTTY, whatever the argument. */
static void do_unknown(struct worker *w)
{
	static const unsigned long known[] = {
		HMM_DUMMY_IOC_FAULT, HMM_DUMMY_IOC_READ, HMM_DUMMY_IOC_WRITE,
		HMM_DUMMY_IOC_SNAPSHOT, HMM_DUMMY_IOC_DUMP,
		HMM_DUMMY_IOC_COUNTERS, HMM_DUMMY_IOC_SET_RANGE,
		HMM_DMIRROR_READ, HMM_DMIRROR_WRITE,
		HMM_DMIRROR_MIGRATE_TO_DEV, HMM_DMIRROR_MIGRATE_TO_SYS,
		HMM_DMIRROR_SNAPSHOT, HMM_DMIRROR_EXCLUSIVE,
		HMM_DMIRROR_CHECK_EXCLUSIVE, HMM_DMIRROR_RELEASE,
	};
	unsigned long cmd;
	unsigned int i, c = rnd(w) % 100, own = 0;
	int bad_arg, r, e;
	void *a;

	/* The other ABI's commands; near misses of ours; other magics. */
	if (c < 20)
		cmd = known[w->native ? 7 + rnd(w) % 8 : rnd(w) % 7];
	else if (c < 60)
		cmd = _IOC(rnd(w) % 4, w->native ? HMM_DUMMY_IOC_MAGIC : 'H',
			   rnd(w) % 32, rnd(w) % 256);
	else
		cmd = _IOC(rnd(w) % 4, 0xA0 + rnd(w) % 0x60, rnd(w) % 256,
			   rnd(w) % 16384);
	for (i = 0; i < ARRAY_SIZE(known); i++)
		if (cmd == known[i] && !!w->native == (i < 7 ? 1 : 0))
			own = 1;
	if (own)
		return;
	a = r_argp(w, &bad_arg);
	snprintf(w->desc, sizeof(w->desc), "ioctl(0x%lx)", cmd);
	errno = 0;
	r = ioctl(w->fd, cmd, a);
	e = errno;
	check_result(w, r, e, E(ENOTTY));
}

/* ---- the worker's own mutations of its arena ---- */

/* Apply fn to each run of pages in [first, first + n) the model maps. */
static void for_mapped_runs(struct worker *w, uint64_t first, uint64_t n,
			    int (*fn)(void *, size_t, int), int arg)
{
	uint64_t i = first, j;

	while (i < first + n) {
		if (w->prot[i] == P_HOLE) {
			i++;
			continue;
		}
		for (j = i; j < first + n && w->prot[j] != P_HOLE; j++)
			;
		if (fn((void *)page_va(w, i), (j - i) * PAGE, arg))
			fail(w, "mutation: %s", strerror(errno));
		i = j;
	}
}

static int map_fixed(struct worker *w, uint64_t first, uint64_t n)
{
	void *p = mmap((void *)page_va(w, first), n * PAGE,
		       PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);

	if (p == MAP_FAILED)
		return fail(w, "mutation: mmap: %s", strerror(errno));
	memset(w->prot + first, P_RW, n);
	return 0;
}

static void mutate(struct worker *w)
{
	static const int prots[] = { PROT_NONE, PROT_READ, PROT_READ | PROT_WRITE };
	static const uint8_t model[] = { P_NONE, P_R, P_RW };
	uint64_t first = rnd(w) % (ARENA_PAGES - 1), n, i;
	unsigned int c = rnd(w) % 100, k;
	volatile uint8_t *p;

	n = 1 + rnd(w) % 64;
	if (n > ARENA_PAGES - 1 - first)
		n = ARENA_PAGES - 1 - first;
	w->mutations++;
	snprintf(w->desc, sizeof(w->desc), "mutation %u of pages [%llu, +%llu)",
		 c, (unsigned long long)first, (unsigned long long)n);
	if (c < 30) {
		k = rnd(w) % 4;
		k = k == 3 ? 2 : k;
		for_mapped_runs(w, first, n, mprotect, prots[k]);
		for (i = first; i < first + n; i++)
			if (w->prot[i] != P_HOLE)
				w->prot[i] = model[k];
	} else if (c < 50) {
		for_mapped_runs(w, first, n, madvise, MADV_DONTNEED);
	} else if (c < 65) {
		for (i = first; i < first + n; i++) {
			p = (volatile uint8_t *)page_va(w, i);
			if (w->prot[i] == P_RW)
				p[rnd(w) % PAGE] = (uint8_t)rnd(w);
			else if (w->prot[i] == P_R)
				(void)p[0];
		}
	} else if (c < 75) {
		if (munmap((void *)page_va(w, first), n * PAGE))
			fail(w, "mutation: munmap: %s", strerror(errno));
		memset(w->prot + first, P_HOLE, n);
	} else if (c < 88) {
		map_fixed(w, first, n);
	} else {
		/* heal: the whole arena fresh, so long ranges can succeed */
		first = 0;
		n = ARENA_PAGES - 1;
		map_fixed(w, 0, n);
		w->maybe_excl = 0;
	}
	oracle_range(w, page_va(w, first), n);
	/* test_hmm's ABI has no DUMP: the device must read what the CPU does. */
	if (!w->native && c >= 30 && (c < 50 || c >= 65) && chance(w, 50)) {
		uint64_t at;

		if (first_bad(w, page_va(w, first), 0, n, 0, 0, &at))
			return;
		if (RETRY_EBUSY(dmirror_cmd(w->fd, HMM_DMIRROR_READ,
					    (void *)page_va(w, first),
					    (void *)buf_va(w, 0), n, NULL)))
			fail(w, "READ after it: %s", strerror(errno));
		else
			check_data(w, page_va(w, first), buf_va(w, 0), n, "reads");
	}
}

static void fuzz_one(struct worker *w, int own_file)
{
	unsigned int c = rnd(w) % 100;

	if (w->native) {
		if (c < 18)
			do_fault(w);
		else if (c < 36)
			do_rw(w, 0);
		else if (c < 54)
			do_rw(w, 1);
		else if (c < 66)
			do_snapshot(w);
		else if (c < 76)
			do_dump(w);
		else if (c < 82)
			do_counters(w);
		else if (c < 88)
			do_set_range(w, own_file);
		else
			do_unknown(w);
	} else {
		if (c < 25)
			do_rw(w, 0);
		else if (c < 50)
			do_rw(w, 1);
		else if (c < 62)
			do_snapshot(w);
		else if (c < 90)
			do_dmirror_other(w);
		else
			do_unknown(w);
	}
}

static pthread_barrier_t start_line;

/* A clean READ of npages from addr into ptr, again while it says EBUSY. */
static int clean_read(struct worker *w, uint64_t addr, uint64_t ptr,
		      uint64_t npages)
{
	struct range_arg ra = { .addr = addr, .ptr = ptr, .npages = npages };
	union {
		struct hmm_dummy_rw rw;
		struct hmm_dmirror_cmd c;
	} arg;

	put_range_arg(w, OP_READ, &ra, &arg);
	return RETRY_EBUSY(ioctl(w->fd, w->abi->cmd[OP_READ], &arg));
}

/*
 * A worker: nops random calls, then the final check. Returns the number of
 * failures it told (as a pointer), which the case asserts on after the join.
 */
static void *worker_main(void *arg)
{
	struct worker *w = arg;
	int own_file = w->id == NWORKERS - 1;
	unsigned long i;

	pthread_barrier_wait(&start_line);
	/*
	 * The first failure stops every worker: what follows it (a device
	 * writing through a stale entry, say) would only bury it.
	 */
	for (i = 0; i < nops && !__atomic_load_n(&stop, __ATOMIC_RELAXED); i++) {
		if (chance(w, 7))
			mutate(w);
		fuzz_one(w, own_file);
	}
	if (__atomic_load_n(&stop, __ATOMIC_RELAXED))
		return (void *)(uintptr_t)w->bad;
	/* The end: all of the arena readable, coherent, and read right. */
	snprintf(w->desc, sizeof(w->desc), "final check");
	if (w->native && w->mend != task_size) {
		if (dummy_set_range(w->fd, w->base, REGION_PAGES))
			fail(w, "SET_RANGE: %s", strerror(errno));
		w->mstart = page_va(w, 0);
		w->mend = page_va(w, REGION_PAGES);
	}
	map_fixed(w, 0, ARENA_PAGES - 1);
	memset(w->base, 0x5a, 64 * PAGE);
	oracle_range(w, page_va(w, 0), REGION_PAGES);
	if (clean_read(w, page_va(w, 0), buf_va(w, 0), 64))
		fail(w, "READ: %s", strerror(errno));
	else
		check_data(w, page_va(w, 0), buf_va(w, 0), 64, "reads");
	return (void *)(uintptr_t)w->bad;
}

static int setup_worker(struct worker *w, int id, enum hmm_abi abi, int fd)
{
	uint8_t *p = mmap(NULL, REGION_PAGES * PAGE, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint8_t *arg = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int native = abi == ABI_NATIVE;

	if (p == MAP_FAILED || arg == MAP_FAILED)
		return -1;
	memset(w, 0, sizeof(*w));
	w->id = id;
	w->native = native;
	w->fd = fd;
	w->o.fd = fd;
	w->o.abi = abi;
	w->abi = &abis[abi];
	w->base = p;
	w->arg = arg;
	w->mstart = 0;
	w->mend = task_size;
	w->rng = seed ^ (0x9e3779b97f4a7c15ULL * (uint64_t)(id + 1 + 8 * native));
	if (!w->rng)
		w->rng = 1;
	memset(w->prot, P_RW, sizeof(w->prot));
	w->prot[ARENA_PAGES - 1] = P_NONE;
	w->prot[REGION_PAGES - 1] = P_NONE;
	if (mprotect(p + (ARENA_PAGES - 1) * PAGE, PAGE, PROT_NONE) ||
	    mprotect(p + (REGION_PAGES - 1) * PAGE, PAGE, PROT_NONE) ||
	    mprotect(arg + PAGE, PAGE, PROT_NONE))
		return -1;
	memset(p, 1, (ARENA_PAGES - 1) * PAGE);
	return 0;
}

/* A /proc/vmstat counter, 0 if there is none. */
static long long read_vmstat(const char *name)
{
	char key[64];
	long long v, r = 0;
	FILE *f = fopen("/proc/vmstat", "r");

	while (f && fscanf(f, "%63s %lld", key, &v) == 2)
		if (!strcmp(key, name))
			r = v;
	if (f)
		fclose(f);
	return r;
}

/* The mm's task size, which bounds a whole mirror: 47 or 56 bits. */
static int probe_task_size(void)
{
	int fd = dummy_open(1), r;

	if (fd < 0)
		return -1;
	r = dummy_set_range(fd, (void *)((1ULL << 47) - PAGE), 1);
	task_size = r ? (1ULL << 47) - PAGE : (1ULL << 56) - PAGE;
	close(fd);
	return 0;
}

/* What the test_hmm devices can do here, asked once. */
static void probe_dmirror(void)
{
	void *p = anon_map(1);
	int fd = dmirror_open(0);

	if (fd >= 0 && p) {
		errno = 0;
		have_exclusive = !dmirror_cmd(fd, HMM_DMIRROR_CHECK_EXCLUSIVE, p,
					      NULL, 1, NULL) || errno != EOPNOTSUPP;
	}
	if (fd >= 0)
		close(fd);
	if (p)
		munmap(p, PAGE);
}

static int read_bool(const char *path)
{
	char c = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	if (read(fd, &c, 1) != 1)
		c = 0;
	close(fd);
	return c == 'Y' || c == '1';
}

/* The workers, and the two files they use (/dev/<dev>0 and 1). */
FIXTURE(fuzz) {
	struct worker *w;
	int fd[2];
};

/* What the module offers here: the same for both cases. */
FIXTURE_SETUP(fuzz)
{
	long long me;

	self->fd[0] = -1;
	self->fd[1] = -1;
	self->w = calloc(NWORKERS, sizeof(*self->w));
	ASSERT_NE(NULL, self->w);
	ASSERT_EQ(0, probe_task_size())
		TH_LOG("/dev/hmm_dummy1: %s", strerror(errno));
	probe_dmirror();
	have_devmem = read_bool("/sys/module/hmm_dummy/parameters/device_memory") == 1;
	me = read_num("/sys/module/hmm_dummy/parameters/max_entries");
	if (me > 0)
		max_entries = (uint64_t)me;
}

FIXTURE_TEARDOWN(fuzz)
{
	int i;

	for (i = 0; i < 2; i++)
		if (self->fd[i] >= 0)
			close(self->fd[i]);
	free(self->w);
}

/* NWORKERS workers over the two files of abi, then their verdicts. */
static void fuzz(struct __test_metadata *_metadata, FIXTURE_DATA(fuzz) *self,
		 enum hmm_abi abi)
{
	const char *dev = abis[abi].dev;
	struct worker *w = self->w;
	pthread_t th[NWORKERS];
	char path[32], line[512];
	unsigned long calls = 0, bad = 0, long_ok = 0, busy = 0, muts = 0;
	unsigned long by_errno[NR_ERRNO] = { 0 };
	unsigned long status[NWORKERS];
	int i, e, len = 0;
	struct timespec t0, t1;
	unsigned long node0 = 1;
	long long numa;
	void *ret;

	ksft_print_msg("seed %llu (replay: fuzz_ioctl --seed %llu --ops %lu -t fuzz_%s, or FUZZ_SEED=%llu)\n",
		       (unsigned long long)seed, (unsigned long long)seed,
		       nops, dev, (unsigned long long)seed);
	for (i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "/dev/%s%d", dev, i);
		self->fd[i] = open(path, O_RDWR | O_CLOEXEC);
		ASSERT_LE(0, self->fd[i])
			TH_LOG("%s: %s", path, strerror(errno));
	}
	for (i = 0; i < NWORKERS; i++)
		ASSERT_EQ(0, setup_worker(&w[i], i, abi,
					  self->fd[i == NWORKERS - 1]))
			TH_LOG("worker %d's region: %s", i, strerror(errno));
	/* The third worker's file mirrors only its own region: nothing else
	 * can keep it busy. The shared file mirrors everything.
	 */
	w[0].may_busy = 1;
	w[1].may_busy = 1;
	w[2].may_busy = abi != ABI_NATIVE;
	if (abi == ABI_NATIVE) {
		ASSERT_EQ(0, dummy_set_range(self->fd[1], w[2].base, REGION_PAGES))
			TH_LOG("SET_RANGE: %s", strerror(errno));
		w[2].mstart = (uintptr_t)w[2].base;
		w[2].mend = w[2].mstart + REGION_PAGES * PAGE;
	}
	/*
	 * NUMA balancing's scanner, which any thread of the process runs,
	 * unmaps pages of every region now and then: an invalidation of a
	 * worker's range that no worker made, which the model cannot place.
	 * A preferred-node policy (no MPOL_F_NUMA_BALANCING) takes the
	 * process, and the threads it makes, out of the scan.
	 */
	numa = read_vmstat("numa_pte_updates");
	ASSERT_EQ(0, syscall(SYS_set_mempolicy, MPOL_PREFERRED, &node0, 2))
		TH_LOG("set_mempolicy: %s", strerror(errno));
	ASSERT_EQ(0, pthread_barrier_init(&start_line, NULL, NWORKERS));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < NWORKERS; i++)
		ASSERT_EQ(0, pthread_create(&th[i], NULL, worker_main, &w[i]));
	for (i = 0; i < NWORKERS; i++) {
		ASSERT_EQ(0, pthread_join(th[i], &ret));
		status[i] = (uintptr_t)ret;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	for (i = 0; i < NWORKERS; i++) {
		calls += w[i].calls;
		bad += w[i].bad;
		long_ok += w[i].long_ok;
		busy += w[i].busy;
		muts += w[i].mutations;
		for (e = 0; e < NR_ERRNO; e++)
			by_errno[e] += w[i].by_errno[e];
		ksft_print_msg("w%d: %lu calls, %lu ok, %lu over %d pages ok, %lu mutations, %lu bad, rng 0x%016llx\n",
			       i, w[i].calls, w[i].ok, w[i].long_ok, CHUNK_PAGES,
			       w[i].mutations, w[i].bad,
			       (unsigned long long)w[i].rng);
	}
	line[0] = '\0';
	for (e = 1; e < NR_ERRNO && len < 400; e++)
		if (by_errno[e])
			len += snprintf(line + len, sizeof(line) - len, " %s:%lu",
					ename(e), by_errno[e]);
	ksft_print_msg("/dev/%s0+1: %lu calls, %.1f s, %lu mutations, %lu EBUSY, %lld NUMA ptes; errors:%s\n",
		       dev, calls, (double)(t1.tv_sec - t0.tv_sec) +
		       (t1.tv_nsec - t0.tv_nsec) / 1e9, muts, busy,
		       read_vmstat("numa_pte_updates") - numa, line);
	for (i = 0; i < NWORKERS; i++)
		ASSERT_EQ(0UL, status[i])
			TH_LOG("worker %d failed: its diagnostics are above", i);
	ASSERT_EQ(0UL, bad);
	ASSERT_GE(calls, NWORKERS * nops * 3 / 4)
		TH_LOG("the workers stopped early");
	ASSERT_LT(0UL, long_ok)
		TH_LOG("no call over more than one chunk (%d pages) worked",
		       CHUNK_PAGES);
	for (i = 0; i < NWORKERS; i++)
		ASSERT_LT(0UL, w[i].ok)
			TH_LOG("worker %d: not one call succeeded", i);
	/* With every worker done, nothing moves: the oracle over each arena. */
	for (i = 0; i < NWORKERS; i++)
		ASSERT_COHERENT(&w[i].o, w[i].base, ARENA_PAGES - 1);
}

TEST_F_TIMEOUT(fuzz, fuzz_hmm_dummy, 120)
{
	fuzz(_metadata, self, ABI_NATIVE);
}

TEST_F_TIMEOUT(fuzz, fuzz_hmm_dmirror, 120)
{
	fuzz(_metadata, self, ABI_DMIRROR);
}

/*
 * --seed, --ops and --seconds are taken out of argv here; what is left is
 * the harness's (-l, -t NAME, ...).
 */
int main(int argc, char **argv)
{
	const char *env = getenv("FUZZ_SEED");
	int i, n = 1;

	seed = (uint64_t)time(NULL) * 1000003ULL ^ (uint64_t)getpid();
	if (env && *env)
		seed = strtoull(env, NULL, 0);
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--seed") && i + 1 < argc) {
			seed = strtoull(argv[++i], NULL, 0);
		} else if (!strcmp(argv[i], "--ops") && i + 1 < argc) {
			nops = strtoul(argv[++i], NULL, 0);
		} else if (!strcmp(argv[i], "--seconds") && i + 1 < argc) {
			nops = 100 * strtoul(argv[++i], NULL, 0);
		} else if (!strncmp(argv[i], "--", 2) && argv[i][2]) {
			fprintf(stderr, "usage: %s [--seed N] [--ops N | --seconds S] [-h | -l | -t NAME ...]\n",
				argv[0]);
			return 2;
		} else {
			argv[n++] = argv[i];
		}
	}
	argv[n] = NULL;
	return test_harness_run(n, argv);
}
