// SPDX-License-Identifier: GPL-2.0
/*
 * stress - randomized, seeded, time-bounded coherence stress
 *
 *   stress [--seconds N] [--seed S] [-l | -t stress | ...]
 *
 * (defaults: 20 s, a seed from the clock). One case of kselftest_harness.h,
 * arena.stress; the program takes its own two options out of argv and
 * gives the rest to the harness (-l lists, -h tells the others). The
 * case's time limit follows --seconds.
 *
 * Mutator threads change the address space over an arena of slots (mmap
 * MAP_FIXED, munmap, mprotect, madvise DONTNEED/FREE, THP splits, CPU
 * writes, device WRITEs, fork-and-exit) while device threads FAULT and READ
 * the same slots through one /dev/hmm_dummy0 file. A checker thread stops
 * the world now and then and asks the oracle (oracle.h) over the whole
 * arena.
 *
 * Data integrity: every word ever stored is a generation tag
 * (generation << 32 | page << 9 | word). A mutator takes a fresh generation
 * g for the pages it changes, marks them pending g, changes them (a zeroing
 * change refills them with g), then marks them done g. A device READ of a
 * page must then only find tags of that page with a generation between the
 * page's done generation before the READ and its pending one after, or
 * zeros if a zeroing generation lies in between: a word from a freed page
 * (a stale device entry) belongs to no live generation, or to another page.
 *
 * The case logs the seed and the duration first, so a failure reproduces,
 * and names the seed again if it fails. Exit status 0 if it passed.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "kselftest_harness.h"
#include "oracle.h"

#define NSLOTS		8
#define SMALL_PAGES	32
#define THP_SLOTS	2			/* the last two: 512 pages, THP */
#define MAX_PAGES	(NSLOTS * 512)
#define NGENS		(1 << 20)		/* zeroing flags, by generation */

struct slot {
	char *addr;
	unsigned int npages;
	unsigned int first;	/* index of its first page in the arena */
	int prot;		/* under lock */
	pthread_mutex_t lock;	/* serialises the slot's mutators */
};

static struct slot slots[NSLOTS];
static _Atomic uint32_t done_gen[MAX_PAGES], pending_gen[MAX_PAGES];
static _Atomic uint8_t zeroing[NGENS];
static _Atomic uint32_t next_gen = 2;	/* 1: the first fill */
static _Atomic int stop, failed;
static _Atomic unsigned long nops[8];
static pthread_rwlock_t world;	/* read: any change or access; write: the oracle */
/*
 * Every thread waits here, its buffer allocated, until all are made: a
 * mutator's munmap leaves a hole in a slot until its mmap MAP_FIXED, and a
 * thread stack or a malloc()ed buffer mapped into that hole meanwhile
 * would then be mapped over (seen: a device READ into a buffer that had
 * become slot memory, then a crash).
 */
static pthread_barrier_t start_line;
static struct oracle orc;	/* over /dev/hmm_dummy0 */
static int dev;			/* orc's fd */
static unsigned long long seed;
static unsigned int seconds = 20;

enum { OP_MUT, OP_READ, OP_FAULT, OP_DEVW, OP_FORK, OP_CHECK, OP_BAD };

/* From any thread: the case fails once every thread has stopped. */
#define FAIL(fmt, ...) do {						\
	ksft_print_msg("stress: FAIL (seed %llu): " fmt "\n", seed,	\
		       ##__VA_ARGS__);					\
	atomic_store(&failed, 1);					\
	atomic_store(&stop, 1);						\
} while (0)

static inline uint64_t tag(uint32_t gen, unsigned int page, unsigned int w)
{
	return (uint64_t)gen << 32 | (uint64_t)page << 9 | w;
}

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Write generation g's tags over pages [i, i + n) of a slot, by the CPU. */
static void cpu_fill(struct slot *s, unsigned int i, unsigned int n,
		     uint32_t g)
{
	unsigned int pg, w;

	for (pg = i; pg < i + n; pg++) {
		uint64_t *words = (uint64_t *)(s->addr + (size_t)pg * PAGE);

		for (w = 0; w < PAGE / 8; w++)
			words[w] = tag(g, s->first + pg, w);
	}
}

static void fill_buf(uint64_t *buf, struct slot *s, unsigned int i,
		     unsigned int n, uint32_t g)
{
	unsigned int pg, w;

	for (pg = 0; pg < n; pg++)
		for (w = 0; w < PAGE / 8; w++)
			buf[pg * (PAGE / 8) + w] = tag(g, s->first + i + pg, w);
}

static void mark(struct slot *s, unsigned int i, unsigned int n,
		 _Atomic uint32_t *arr, uint32_t g)
{
	unsigned int pg;

	for (pg = i; pg < i + n; pg++)
		atomic_store(&arr[s->first + pg], g);
}

/*
 * Is word v, read from arena page 'page' at word w, from a live generation
 * in [lo, hi]?
 */
static int word_ok(uint64_t v, unsigned int page, unsigned int w, uint32_t lo,
		   uint32_t hi)
{
	uint32_t g = (uint32_t)(v >> 32), x;

	if (v == 0) {
		for (x = lo; x <= hi; x++)
			if (atomic_load(&zeroing[x % NGENS]))
				return 1;
		return 0;
	}
	return (v & 0xffffffffu) == ((uint64_t)page << 9 | w) && g >= lo &&
	       g <= hi;
}

/* A mutator's change of slot s; world read-locked, s->lock held. */
static void mutate(struct slot *s, uint64_t *rs, uint64_t *buf)
{
	unsigned int i = (unsigned int)(rnd(rs) % s->npages);
	unsigned int n = 1 + (unsigned int)(rnd(rs) % (s->npages - i));
	int op = (int)(rnd(rs) % 10), zero = 0;
	uint32_t g = atomic_fetch_add(&next_gen, 1);
	char *a = s->addr + (size_t)i * PAGE;
	int thp = s->npages > SMALL_PAGES;

	if (op <= 5 && s->prot != (PROT_READ | PROT_WRITE)) {
		/* Writes need a writable slot: make it so first. */
		if (mprotect(s->addr, (size_t)s->npages * PAGE,
			     PROT_READ | PROT_WRITE))
			FAIL("mprotect RW: %s", strerror(errno));
		s->prot = PROT_READ | PROT_WRITE;
	}
	switch (op) {
	case 0:		/* a new mapping over part of it */
	case 1:		/* munmap, then mapped again */
		zero = 1;
		atomic_store(&zeroing[g % NGENS], 1);
		mark(s, i, n, pending_gen, g);
		if (op == 1 && munmap(a, (size_t)n * PAGE))
			FAIL("munmap: %s", strerror(errno));
		if (mmap(a, (size_t)n * PAGE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != a)
			FAIL("mmap MAP_FIXED: %s", strerror(errno));
		if (thp)
			madvise(s->addr, (size_t)s->npages * PAGE,
				MADV_HUGEPAGE);
		break;
	case 2:		/* dropped */
		zero = 1;
		atomic_store(&zeroing[g % NGENS], 1);
		mark(s, i, n, pending_gen, g);
		if (madvise(a, (size_t)n * PAGE,
			    rnd(rs) & 1 ? MADV_DONTNEED : MADV_FREE))
			FAIL("madvise: %s", strerror(errno));
		break;
	case 3:		/* written by the CPU */
		mark(s, i, n, pending_gen, g);
		cpu_fill(s, i, n, g);
		break;
	case 4:		/* written by the device, seen by the CPU */
	case 5: {
		uint64_t done = 0;
		unsigned int pg, w;

		mark(s, i, n, pending_gen, g);
		fill_buf(buf, s, i, n, g);
		if (RETRY_EBUSY(dummy_rw(dev, HMM_DUMMY_IOC_WRITE, a, buf, n,
					 &done, NULL))) {
			FAIL("device WRITE %p+%u: %s", a, n, strerror(errno));
			return;
		}
		for (pg = 0; pg < n; pg++) {
			const uint64_t *words =
				(const uint64_t *)(a + (size_t)pg * PAGE);

			for (w = 0; w < PAGE / 8; w++)
				if (words[w] != tag(g, s->first + i + pg, w)) {
					FAIL("CPU reads 0x%llx at %p word %u after device WRITE of gen %u",
					     (unsigned long long)words[w],
					     words, w, g);
					return;
				}
		}
		atomic_fetch_add(&nops[OP_DEVW], 1);
		break;
	}
	case 6:		/* read-only */
	case 7:		/* inaccessible */
	case 8: {	/* part of it, which splits a THP */
		int prot = op == 6 ? PROT_READ : op == 7 ? PROT_NONE :
			   PROT_READ;

		if (op == 8) {
			if (mprotect(a, (size_t)n * PAGE, prot) ||
			    mprotect(a, (size_t)n * PAGE, s->prot))
				FAIL("mprotect part: %s", strerror(errno));
		} else {
			if (mprotect(s->addr, (size_t)s->npages * PAGE, prot))
				FAIL("mprotect: %s", strerror(errno));
			s->prot = prot;
		}
		return;		/* the data did not change */
	}
	default: {	/* fork: the parent's pages go copy-on-write */
		pid_t pid = fork();
		int status;

		if (pid < 0) {
			FAIL("fork: %s", strerror(errno));
			return;
		}
		if (pid == 0) {
			/* A copy of the address space: the child checks its
			 * own view of this slot with its own file. */
			struct oracle co = {
				.fd = dummy_open(0), .abi = ABI_NATIVE,
			};

			if (co.fd < 0)
				_exit(1);
			if (s->prot & PROT_READ) {
				if (dummy_fault(co.fd, s->addr, s->npages, 0,
						NULL) ||
				    oracle_coherent(&co, s->addr, s->npages) ||
				    oracle_read_agrees(&co, s->addr, s->npages))
					_exit(2);
			}
			_exit(0);
		}
		if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
		    WEXITSTATUS(status))
			FAIL("fork child of slot %ld: status 0x%x",
			     (long)(s - slots), (unsigned int)status);
		atomic_fetch_add(&nops[OP_FORK], 1);
		return;
	}
	}
	if (zero && (s->prot & PROT_WRITE))
		cpu_fill(s, i, n, g);
	mark(s, i, n, done_gen, g);
	atomic_fetch_add(&nops[OP_MUT], 1);
}

struct worker {
	pthread_t th;
	int kind;	/* 0 mutator, 1 device */
	uint64_t rs;
};

/* Device READ of part of a slot, every word checked against generations. */
static void device_read(struct slot *s, uint64_t *rs, uint64_t *buf)
{
	unsigned int i = (unsigned int)(rnd(rs) % s->npages);
	unsigned int n = 1 + (unsigned int)(rnd(rs) % (s->npages - i));
	uint32_t lo[512], hi;
	uint64_t done = 0;
	unsigned int pg, w;

	for (pg = 0; pg < n; pg++)
		lo[pg] = atomic_load(&done_gen[s->first + i + pg]);
	dummy_rw(dev, HMM_DUMMY_IOC_READ, s->addr + (size_t)i * PAGE, buf, n,
		 &done, NULL);	/* may fail: PROT_NONE, unmapped */
	for (pg = 0; pg < done && pg < n; pg++) {
		unsigned int page = s->first + i + pg;

		hi = atomic_load(&pending_gen[page]);
		for (w = 0; w < PAGE / 8; w++) {
			uint64_t v = buf[pg * (PAGE / 8) + w];

			if (!word_ok(v, page, w, lo[pg], hi)) {
				FAIL("device READ of %p word %u: 0x%llx, live generations %u..%u of page %u",
				     s->addr + (size_t)(i + pg) * PAGE, w,
				     (unsigned long long)v, lo[pg], hi, page);
				atomic_fetch_add(&nops[OP_BAD], 1);
				return;
			}
		}
	}
	atomic_fetch_add(&nops[OP_READ], 1);
}

/* A device thread's access to slot s: READ (2 in 3) or FAULT. */
static void device_op(struct slot *s, uint64_t *rs, uint64_t *buf)
{
	unsigned int i, n;

	if (rnd(rs) % 3) {
		device_read(s, rs, buf);
		return;
	}
	i = (unsigned int)(rnd(rs) % s->npages);
	n = 1 + (unsigned int)(rnd(rs) % (s->npages - i));
	dummy_fault(dev, s->addr + (size_t)i * PAGE, n,
		    rnd(rs) & 1 ? HMM_DUMMY_FAULT_WRITE : 0, NULL);
	atomic_fetch_add(&nops[OP_FAULT], 1);
}

/* A mutator or a device thread: one slot at a time, world read-locked. */
static void *worker(void *arg)
{
	struct worker *wk = arg;
	uint64_t *buf = malloc(512 * PAGE);

	pthread_barrier_wait(&start_line);
	while (!atomic_load(&stop) && buf) {
		struct slot *s = &slots[rnd(&wk->rs) % NSLOTS];

		pthread_rwlock_rdlock(&world);
		if (wk->kind) {
			device_op(s, &wk->rs, buf);
		} else {
			pthread_mutex_lock(&s->lock);
			mutate(s, &wk->rs, buf);
			pthread_mutex_unlock(&s->lock);
		}
		pthread_rwlock_unlock(&world);
	}
	free(buf);
	return NULL;
}

/* Stop the world, ask the oracle over every slot. */
static void *checker(void *arg)
{
	(void)arg;
	pthread_barrier_wait(&start_line);
	while (!atomic_load(&stop)) {
		int i;

		msleep(50);
		pthread_rwlock_wrlock(&world);
		for (i = 0; i < NSLOTS && !atomic_load(&stop); i++) {
			long bad = oracle_coherent(&orc, slots[i].addr,
						   slots[i].npages);

			if (bad)
				FAIL("oracle: slot %d (%p): %ld violation(s)",
				     i, slots[i].addr, bad);
		}
		pthread_rwlock_unlock(&world);
		atomic_fetch_add(&nops[OP_CHECK], 1);
	}
	return NULL;
}

FIXTURE(arena)
{
	int fd;		/* /dev/hmm_dummy0, orc's */
};

/* The device and the slots, each filled with generation 1. */
FIXTURE_SETUP(arena)
{
	unsigned int first = 0;
	int i;

	self->fd = dummy_open(0);
	ASSERT_LE(0, self->fd)
		TH_LOG("open /dev/hmm_dummy0: %s", strerror(errno));
	orc.fd = self->fd;
	orc.abi = ABI_NATIVE;
	dev = self->fd;
	for (i = 0; i < NSLOTS; i++) {
		struct slot *s = &slots[i];

		s->npages = i >= NSLOTS - THP_SLOTS ? 512 : SMALL_PAGES;
		s->first = first;
		first += s->npages;
		s->addr = map_aligned(s->npages, PROT_READ | PROT_WRITE,
				      MAP_PRIVATE | MAP_ANONYMOUS, -1);
		ASSERT_NE(NULL, s->addr)
			TH_LOG("mmap: %s", strerror(errno));
		if (s->npages > SMALL_PAGES)
			madvise(s->addr, (size_t)s->npages * PAGE,
				MADV_HUGEPAGE);
		s->prot = PROT_READ | PROT_WRITE;
		pthread_mutex_init(&s->lock, NULL);
		cpu_fill(s, 0, s->npages, 1);
		mark(s, 0, s->npages, pending_gen, 1);
		mark(s, 0, s->npages, done_gen, 1);
	}
}

FIXTURE_TEARDOWN(arena)
{
	close(self->fd);
}

/*
 * --seconds of mutators, device threads and the checker over the arena,
 * then a last look with everything still: no violation of the oracle, no
 * device READ of a word from outside its page's live generations.
 */
TEST_F(arena, stress)
{
	struct worker wk[5];
	pthread_rwlockattr_t rwattr;
	pthread_t chk;
	int i;

	TH_LOG("stress: --seed %llu --seconds %u", seed, seconds);
	/* The checker must get its turn between the readers. */
	pthread_rwlockattr_init(&rwattr);
	pthread_rwlockattr_setkind_np(&rwattr,
				      PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&world, &rwattr);

	/* The 5 workers, the checker, and this thread. */
	pthread_barrier_init(&start_line, NULL, 7);
	for (i = 0; i < 5; i++) {
		wk[i].kind = i >= 2;
		wk[i].rs = seed * 0x9e3779b97f4a7c15ULL + (uint64_t)i + 1;
		ASSERT_EQ(0, pthread_create(&wk[i].th, NULL, worker,
					    &wk[i]));
	}
	ASSERT_EQ(0, pthread_create(&chk, NULL, checker, NULL));
	pthread_barrier_wait(&start_line);
	for (i = 0; i < (int)seconds * 10 && !atomic_load(&stop); i++)
		msleep(100);
	atomic_store(&stop, 1);
	for (i = 0; i < 5; i++)
		pthread_join(wk[i].th, NULL);
	pthread_join(chk, NULL);

	/* A last look, everything still. */
	if (!atomic_load(&failed))
		for (i = 0; i < NSLOTS; i++)
			if (oracle_coherent(&orc, slots[i].addr,
					    slots[i].npages))
				FAIL("final oracle: slot %d", i);
	TH_LOG("stress: %lu changes, %lu device WRITEs, %lu forks, %lu READs checked, %lu FAULTs, %lu oracle passes, %lu EBUSY retries",
	       atomic_load(&nops[OP_MUT]), atomic_load(&nops[OP_DEVW]),
	       atomic_load(&nops[OP_FORK]), atomic_load(&nops[OP_READ]),
	       atomic_load(&nops[OP_FAULT]), atomic_load(&nops[OP_CHECK]),
	       dummy_ebusy_retries);
	ASSERT_EQ(0, atomic_load(&failed))
		TH_LOG("stress failed: run it again with --seed %llu", seed);
}

/*
 * --seconds N and --seed S are the program's own: taken out of argv, the
 * rest goes to the harness. The case's time limit is the run's length and
 * two minutes for the set-up and the last look.
 */
int main(int argc, char **argv)
{
	struct timespec ts;
	int i, n = 1;

	clock_gettime(CLOCK_REALTIME, &ts);
	seed = (unsigned long long)ts.tv_sec * 1000003ULL ^
	       (unsigned long long)ts.tv_nsec ^ (unsigned long long)getpid();
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
			seconds = (unsigned int)strtoul(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--seed") && i + 1 < argc)
			seed = strtoull(argv[++i], NULL, 0);
		else
			argv[n++] = argv[i];
	}
	argv[n] = NULL;
	if (!seed)
		seed = 1;
	_arena_stress_object->timeout = (int)seconds + 120;
	return test_harness_run(n, argv);
}
