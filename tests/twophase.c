// SPDX-License-Identifier: GPL-2.0
/*
 * twophase - two-pass invalidation (issue 17), through hmm_dummy's simulated
 * device TLB (HMM_DUMMY_IOC_TLB): a flush of the TLB completes a latency
 * after it started, and until then the device keeps using its cached
 * translations. A one-pass mirror waits for its flush in its callback, a
 * two-pass one in its second pass, after every overlapping mirror's first.
 *
 * - coherence: with a latency, the device never sees a page the CPU let go
 *   (a second pass that does not wait shows here: the mutant
 *   tests/mutants/second-pass-no-wait.patch);
 * - cost: N two-pass mirrors of one range cost about one latency, N
 *   one-pass ones N latencies; mixed, both kinds on one range;
 * - an invalidation no mirror overlaps flushes and waits for nothing;
 * - close (unregister) and the mm's teardown (->release()) racing
 *   invalidations whose second passes are pending.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "dummy_util.h"
#include "oracle.h"

#define NFILES		4
#define LATENCY_US	100000	/* 100 ms: far above TCG's noise */

static int tlb_ctl(int fd, uint32_t latency_us, uint32_t flags,
		   struct hmm_dummy_tlb_ctl *out)
{
	struct hmm_dummy_tlb_ctl c = { .latency_us = latency_us,
				       .flags = flags };
	int r = ioctl(fd, HMM_DUMMY_IOC_TLB, &c);

	if (out)
		*out = c;
	return r;
}

/* Open @n files of device 0 (n mirrors of this mm), set their TLB. */
static int open_files(int *fds, int n, uint32_t latency_us, bool two_phase)
{
	int i;

	for (i = 0; i < n; i++) {
		fds[i] = dummy_open(0);
		if (fds[i] < 0)
			return -1;
		if (tlb_ctl(fds[i], latency_us, HMM_DUMMY_TLB_SET |
			    (two_phase ? HMM_DUMMY_TLB_TWO_PHASE : 0), NULL))
			return -1;
	}
	return 0;
}

static void close_files(int *fds, int n)
{
	int i;

	for (i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

/* The device reads @npages at @addr into @buf: 0, or -1. */
static int dev_read(int fd, void *addr, void *buf, uint64_t npages)
{
	uint64_t done;

	if (RETRY_EBUSY(dummy_rw(fd, HMM_DUMMY_IOC_READ, addr, buf, npages,
				 &done, NULL)))
		return -1;
	return done == npages ? 0 : -1;
}

static int dev_write(int fd, void *addr, void *buf, uint64_t npages)
{
	uint64_t done;

	if (RETRY_EBUSY(dummy_rw(fd, HMM_DUMMY_IOC_WRITE, addr, buf, npages,
				 &done, NULL)))
		return -1;
	return done == npages ? 0 : -1;
}

FIXTURE(twophase) {
	int fds[NFILES];
	void *buf;
};

FIXTURE_VARIANT(twophase) {
	bool two_phase;
};

FIXTURE_VARIANT_ADD(twophase, single) {
	.two_phase = false,
};

FIXTURE_VARIANT_ADD(twophase, two_phase) {
	.two_phase = true,
};

FIXTURE_SETUP(twophase)
{
	int i, fd;

	for (i = 0; i < NFILES; i++)
		self->fds[i] = -1;
	fd = dummy_open(0);
	if (fd < 0)
		SKIP(return, "no /dev/hmm_dummy0: %s", strerror(errno));
	if (tlb_ctl(fd, 0, 0, NULL)) {
		close(fd);
		SKIP(return, "no HMM_DUMMY_IOC_TLB: %s", strerror(errno));
	}
	close(fd);
	self->buf = anon_map(8);
	ASSERT_NE(NULL, self->buf);
}

FIXTURE_TEARDOWN(twophase)
{
	close_files(self->fds, NFILES);
}

/*
 * The device caches a page's translation; the CPU maps another page there
 * (MAP_FIXED over a memfd: the old page stays alive, so a stale
 * translation reads and writes it, never freed memory). Every file, read
 * right after, sees the new page, and a device write lands in it: the
 * invalidation did not return before every device had stopped using the
 * old translation.
 */
TEST_F_TIMEOUT(twophase, coherent_after_replace, 60)
{
	struct oracle o = { .abi = ABI_NATIVE };
	struct hmm_dummy_tlb_ctl c;
	int i, round, mfd;
	char *all, *p;

	ASSERT_EQ(0, open_files(self->fds, NFILES, LATENCY_US,
				variant->two_phase));
	mfd = memfd_create("twophase", MFD_CLOEXEC);
	ASSERT_LE(0, mfd);
	ASSERT_EQ(0, ftruncate(mfd, 3 * PAGE));
	all = mmap(NULL, 3 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	ASSERT_NE(MAP_FAILED, all);
	p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	ASSERT_NE(MAP_FAILED, p);
	for (round = 0; round < 3; round++) {
		int cur = round % 3, next = (round + 1) % 3;
		int last = (round + 2) % 3;

		ASSERT_EQ(p, mmap(p, PAGE, PROT_READ | PROT_WRITE,
				  MAP_SHARED | MAP_FIXED, mfd, cur * PAGE));
		fill_pattern(all + cur * PAGE, 1, 100 + round);
		fill_pattern(all + next * PAGE, 1, 200 + round);
		fill_pattern(all + last * PAGE, 1, 300 + round);
		for (i = 0; i < NFILES; i++) {
			ASSERT_EQ(0, dev_read(self->fds[i], p, self->buf, 1));
			ASSERT_EQ(-1, check_pattern(self->buf, 1, 100 + round));
		}
		/* Twice: the second read is served by the TLB. */
		for (i = 0; i < NFILES; i++)
			ASSERT_EQ(0, dev_read(self->fds[i], p, self->buf, 1));
		ASSERT_EQ(p, mmap(p, PAGE, PROT_READ | PROT_WRITE,
				  MAP_SHARED | MAP_FIXED, mfd, next * PAGE));
		for (i = 0; i < NFILES; i++) {
			memset(self->buf, 0, PAGE);
			ASSERT_EQ(0, dev_read(self->fds[i], p, self->buf, 1));
			ASSERT_EQ(-1, check_pattern(self->buf, 1, 200 + round))
				TH_LOG("file %d read the page mapped before", i);
		}
		/* A write through a stale translation lands in the old page. */
		ASSERT_EQ(p, mmap(p, PAGE, PROT_READ | PROT_WRITE,
				  MAP_SHARED | MAP_FIXED, mfd, last * PAGE));
		fill_pattern(self->buf, 1, 400 + round);
		ASSERT_EQ(0, dev_write(self->fds[round % NFILES], p,
				       self->buf, 1));
		ASSERT_EQ(-1, check_pattern(all + last * PAGE, 1, 400 + round))
			TH_LOG("the device wrote the page mapped before");
		ASSERT_EQ(-1, check_pattern(all + next * PAGE, 1, 200 + round));
		for (i = 0; i < NFILES; i++) {
			o.fd = self->fds[i];
			ASSERT_COHERENT(&o, p, 1);
		}
	}
	for (i = 0; i < NFILES; i++) {
		ASSERT_EQ(0, tlb_ctl(self->fds[i], 0, 0, &c));
		EXPECT_EQ(variant->two_phase ? HMM_DUMMY_TLB_TWO_PHASE : 0,
			  c.flags);
		EXPECT_LT(0, c.hits);
		EXPECT_LE(6, c.flushes);
		/*
		 * An invalidation of the kernel's own (compaction, ...) may
		 * be between its passes now: at most one wait per flush.
		 */
		if (variant->two_phase) {
			EXPECT_LE(6, c.waits);
			EXPECT_GE(c.flushes - c.fallbacks, c.waits);
		} else {
			EXPECT_EQ(0, c.waits);
		}
	}
	munmap(p, PAGE);
	munmap(all, 3 * PAGE);
	close(mfd);
}

/*
 * One invalidation over NFILES mirrors waits for the device flushes: at
 * least one latency two-pass, at least NFILES one-pass (lower bounds the
 * hrtimers guarantee, however loaded the machine). How close two-pass comes
 * to one latency is a speed figure, for make bench, not for a test.
 */
TEST_F_TIMEOUT(twophase, cost, 60)
{
	double t0, dt;
	void *p;
	int i;

	ASSERT_EQ(0, open_files(self->fds, NFILES, LATENCY_US,
				variant->two_phase));
	p = anon_map(1);
	ASSERT_NE(NULL, p);
	fill_pattern(p, 1, 1);
	for (i = 0; i < NFILES; i++)
		ASSERT_EQ(0, dev_read(self->fds[i], p, self->buf, 1));
	t0 = now_s();
	ASSERT_EQ(0, madvise(p, PAGE, MADV_DONTNEED));
	dt = now_s() - t0;
	ksft_print_msg("%d %s mirrors, L = %d ms: %.0f ms\n", NFILES,
		       variant->two_phase ? "two-pass" : "one-pass",
		       LATENCY_US / 1000, dt * 1000);
	if (variant->two_phase) {
		EXPECT_LE(0.09, dt);
	} else {
		EXPECT_LE(0.09 * NFILES, dt);
	}
	munmap(p, PAGE);
}

/*
 * One-pass and two-pass mirrors of one range: each sees the change, the
 * one-pass ones wait in their callback, the two-pass ones in their second
 * pass, and the device reads the new page through every one of them.
 */
TEST_F_TIMEOUT(twophase, mixed_overlap, 60)
{
	struct hmm_dummy_tlb_ctl before[NFILES], after[NFILES];
	double t0, dt;
	void *p;
	int i;

	for (i = 0; i < NFILES; i++) {
		/* Half of them of the other kind than the variant. */
		ASSERT_EQ(0, open_files(&self->fds[i], 1, LATENCY_US,
					variant->two_phase ^ (i & 1)));
	}
	p = anon_map(1);
	ASSERT_NE(NULL, p);
	fill_pattern(p, 1, 5);
	for (i = 0; i < NFILES; i++) {
		ASSERT_EQ(0, dev_read(self->fds[i], p, self->buf, 1));
		ASSERT_EQ(0, tlb_ctl(self->fds[i], 0, 0, &before[i]));
	}
	t0 = now_s();
	ASSERT_EQ(0, madvise(p, PAGE, MADV_DONTNEED));
	dt = now_s() - t0;
	/* Before anything else can invalidate (stdio's buffers, ...). */
	for (i = 0; i < NFILES; i++)
		ASSERT_EQ(0, tlb_ctl(self->fds[i], 0, 0, &after[i]));
	ksft_print_msg("2 one-pass + 2 two-pass mirrors, L = %d ms: %.0f ms\n",
		       LATENCY_US / 1000, dt * 1000);
	/* The one-pass ones: one latency each, one after the other. */
	EXPECT_LE(0.09 * NFILES / 2, dt);
	fill_pattern(p, 1, 6);
	for (i = 0; i < NFILES; i++) {
		ASSERT_EQ(0, dev_read(self->fds[i], p, self->buf, 1));
		ASSERT_EQ(-1, check_pattern(self->buf, 1, 6));
		EXPECT_EQ(before[i].flushes + 1, after[i].flushes);
		if (after[i].flags & HMM_DUMMY_TLB_TWO_PHASE) {
			EXPECT_EQ(before[i].waits + 1, after[i].waits);
		} else {
			EXPECT_EQ(before[i].waits, after[i].waits);
		}
	}
	munmap(p, PAGE);
}

/*
 * The mm has mirrors, none overlaps the change: nothing is flushed, nothing
 * waited for.
 */
TEST_F_TIMEOUT(twophase, no_overlap, 60)
{
	struct hmm_dummy_tlb_ctl before[NFILES], after[NFILES];
	void *a, *b;
	int i;

	ASSERT_EQ(0, open_files(self->fds, NFILES, LATENCY_US,
				variant->two_phase));
	a = anon_map(1);
	b = anon_map(1);
	ASSERT_NE(NULL, a);
	ASSERT_NE(NULL, b);
	fill_pattern(a, 1, 7);
	fill_pattern(b, 1, 8);
	for (i = 0; i < NFILES; i++) {
		ASSERT_EQ(0, dummy_set_range(self->fds[i], a, 1));
		ASSERT_EQ(0, dev_read(self->fds[i], a, self->buf, 1));
		ASSERT_EQ(0, tlb_ctl(self->fds[i], 0, 0, &before[i]));
	}
	ASSERT_EQ(0, madvise(b, PAGE, MADV_DONTNEED));
	for (i = 0; i < NFILES; i++) {
		ASSERT_EQ(0, tlb_ctl(self->fds[i], 0, 0, &after[i]));
		EXPECT_EQ(before[i].flushes, after[i].flushes);
		EXPECT_EQ(before[i].waits, after[i].waits);
	}
	munmap(a, PAGE);
	munmap(b, PAGE);
}

struct churn {
	void *p;
	atomic_bool stop;
	long rounds;
	int err;
};

/* Invalidate the page over and over, each a flush pending. */
static void *churn_thread(void *arg)
{
	struct churn *c = arg;

	while (!atomic_load(&c->stop)) {
		*(volatile char *)c->p = 1;
		if (madvise(c->p, PAGE, MADV_DONTNEED)) {
			c->err = errno;
			break;
		}
		c->rounds++;
	}
	return NULL;
}

/*
 * Close (unregister) mirrors while invalidations with pending second
 * passes run on another CPU: close waits them out, nothing is left behind.
 */
TEST_F_TIMEOUT(twophase, unregister_races_second_pass, 60)
{
	struct churn c = { 0 };
	pthread_t t;
	int round, i;

	c.p = anon_map(1);
	ASSERT_NE(NULL, c.p);
	ASSERT_EQ(0, pthread_create(&t, NULL, churn_thread, &c));
	for (round = 0; round < 20; round++) {
		ASSERT_EQ(0, open_files(self->fds, NFILES, 20000,
					variant->two_phase));
		for (i = 0; i < NFILES; i++)
			dev_read(self->fds[i], c.p, self->buf, 1);
		msleep(15);
		close_files(self->fds, NFILES);
		for (i = 0; i < NFILES; i++)
			self->fds[i] = -1;
	}
	atomic_store(&c.stop, true);
	ASSERT_EQ(0, pthread_join(t, NULL));
	ASSERT_EQ(0, c.err);
	ksft_print_msg("%ld invalidations raced the closes\n", c.rounds);
	EXPECT_LT(0, c.rounds);
}

/*
 * The mm's teardown while a second pass is pending on another thread: the
 * child exits with two-pass mirrors, a flush latency, and a thread
 * invalidating; the mirrors' ->release() runs, close comes after.
 */
TEST_F_TIMEOUT(twophase, release_races_second_pass, 60)
{
	int round, status;
	pid_t pid;

	for (round = 0; round < 5; round++) {
		pid = fork();
		ASSERT_LE(0, pid);
		if (!pid) {
			struct churn c = { 0 };
			int fds[NFILES];
			pthread_t t;

			if (open_files(fds, NFILES, 30000, variant->two_phase))
				_exit(1);
			c.p = anon_map(1);
			if (!c.p || dev_read(fds[0], c.p, self->buf, 1))
				_exit(2);
			if (pthread_create(&t, NULL, churn_thread, &c))
				_exit(3);
			msleep(50 + 10 * round);
			/* exit_group(): the churn thread dies mid-flight. */
			_exit(0);
		}
		ASSERT_EQ(pid, waitpid(pid, &status, 0));
		ASSERT_TRUE(WIFEXITED(status));
		ASSERT_EQ(0, WEXITSTATUS(status));
	}
}

/*
 * A first pass with no memory for its flush in flight (fault injection,
 * /proc/thread-self/fail-nth: the debug kernel) waits in the first pass,
 * single-pass: each step fails the N-th allocation of one invalidation,
 * which stays coherent, and one step at least fails the flush's.
 */
TEST_F_TIMEOUT(twophase, fallback_no_memory, 60)
{
	struct hmm_dummy_tlb_ctl before, after;
	uint64_t fallbacks = 0;
	int nth_fd, step;
	char num[16];
	ssize_t n;
	char *p;

	nth_fd = open("/proc/thread-self/fail-nth", O_RDWR);
	if (nth_fd < 0)
		SKIP(return, "no fault injection (fail-nth): %s",
		     strerror(errno));
	ASSERT_EQ(0, open_files(self->fds, 1, 20000, variant->two_phase));
	p = anon_map(1);
	ASSERT_NE(NULL, p);
	for (step = 1; step <= 8; step++) {
		fill_pattern(p, 1, step);
		ASSERT_EQ(0, dev_read(self->fds[0], p, self->buf, 1));
		ASSERT_EQ(0, tlb_ctl(self->fds[0], 0, 0, &before));
		n = snprintf(num, sizeof(num), "%d", step);
		ASSERT_EQ(n, write(nth_fd, num, n));
		madvise(p, PAGE, MADV_DONTNEED);
		/* Not consumed: nothing failed; do not fail a later call. */
		ASSERT_EQ(1, write(nth_fd, "0", 1));
		ASSERT_EQ(0, tlb_ctl(self->fds[0], 0, 0, &after));
		fallbacks += after.fallbacks - before.fallbacks;
		ASSERT_EQ(0, madvise(p, PAGE, MADV_DONTNEED));
		fill_pattern(p, 1, 100 + step);
		ASSERT_EQ(0, dev_read(self->fds[0], p, self->buf, 1));
		ASSERT_EQ(-1, check_pattern(self->buf, 1, 100 + step));
	}
	close(nth_fd);
	ksft_print_msg("%llu flushes fell back for want of memory\n",
		       (unsigned long long)fallbacks);
	EXPECT_LT(0, fallbacks);
	munmap(p, PAGE);
}

/* A file is one-pass with no latency until told otherwise. */
TEST_F(twophase, defaults)
{
	struct hmm_dummy_tlb_ctl c;
	void *p;
	int fd;

	fd = dummy_open(0);
	ASSERT_LE(0, fd);
	self->fds[0] = fd;
	ASSERT_EQ(0, tlb_ctl(fd, 0, 0, &c));
	EXPECT_EQ(0, c.latency_us);
	EXPECT_EQ(0, c.flags);
	p = anon_map(1);
	ASSERT_NE(NULL, p);
	fill_pattern(p, 1, 9);
	ASSERT_EQ(0, dev_read(fd, p, self->buf, 1));
	ASSERT_EQ(0, madvise(p, PAGE, MADV_DONTNEED));
	fill_pattern(p, 1, 10);
	ASSERT_EQ(0, dev_read(fd, p, self->buf, 1));
	ASSERT_EQ(-1, check_pattern(self->buf, 1, 10));
	ASSERT_EQ(0, tlb_ctl(fd, 0, 0, &c));
	EXPECT_LE(1, c.flushes);
	EXPECT_EQ(0, c.waits);
	/* Bad arguments. */
	EXPECT_EQ(-1, tlb_ctl(fd, HMM_DUMMY_TLB_MAX_LATENCY_US + 1,
			      HMM_DUMMY_TLB_SET, NULL));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, tlb_ctl(fd, 0, 1U << 7, NULL));
	EXPECT_EQ(EINVAL, errno);
	munmap(p, PAGE);
}

/*
 * A latency stalls every invalidation of the process's memory, reclaim's
 * included: only CAP_SYS_ADMIN sets one (the other cases, as root, do).
 * Anyone with the file reads the counters and sets the passes.
 */
TEST_F(twophase, latency_needs_admin)
{
	struct hmm_dummy_tlb_ctl c;
	int fd;

	/* The case's own process: a file is used from the mm that opened it. */
	fd = dummy_open(0);
	ASSERT_LE(0, fd);
	self->fds[0] = fd;
	ASSERT_EQ(0, drop_to_nobody()) TH_LOG("%s", strerror(errno));
	EXPECT_EQ(-1, tlb_ctl(fd, 1000, HMM_DUMMY_TLB_SET, NULL));
	EXPECT_EQ(EPERM, errno);
	ASSERT_EQ(0, tlb_ctl(fd, 0, HMM_DUMMY_TLB_SET | HMM_DUMMY_TLB_TWO_PHASE,
			     &c)) TH_LOG("%s", strerror(errno));
	EXPECT_EQ(0, c.latency_us);
	EXPECT_EQ(HMM_DUMMY_TLB_TWO_PHASE, c.flags);
}

TEST_HARNESS_MAIN
