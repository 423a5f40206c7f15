// SPDX-License-Identifier: GPL-2.0
/*
 * verifier - hmm_core's coherence verifier (issue 19,
 * /sys/module/hmm_core/parameters/verify*):
 *
 * - a correct driver (hmm_dummy, through its page table and its simulated
 *   TLB, one-pass and two-pass with a flush latency) under a mix of
 *   changes (device faults and writes, mprotect, fork and copy-on-write,
 *   MADV_DONTNEED, munmap) makes the verifier check, and it reports
 *   nothing; against a broken driver (scripts/mutation-check's verifier
 *   run, tests/mutants/) the same mix is what makes it report;
 * - the parameters switch, and are root's: an unprivileged user can
 *   neither turn the verifier off nor on, and the counters are read-only.
 *
 * Each case turns the verifier on if it is off and puts it back as it was.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "dummy_util.h"
#include "oracle.h"

#define PARAM(name)	"/sys/module/hmm_core/parameters/" name
#define NPAGES		64
#define LATENCY_US	20000	/* 20 ms: the TLB keeps stale translations */
#define ROUNDS		3

static int tlb_ctl(int fd, uint32_t latency_us, uint32_t flags)
{
	struct hmm_dummy_tlb_ctl c = { .latency_us = latency_us,
				       .flags = flags };

	return ioctl(fd, HMM_DUMMY_IOC_TLB, &c);
}

/* The device reads or writes @npages at @addr: 0, or -1. */
static int dev_rw(int fd, bool write, void *addr, void *buf, uint64_t npages)
{
	uint64_t done = 0;

	if (RETRY_EBUSY(dummy_rw(fd, write ? HMM_DUMMY_IOC_WRITE :
				 HMM_DUMMY_IOC_READ, addr, buf, npages, &done,
				 NULL)))
		return -1;
	return done == npages ? 0 : -1;
}

/*
 * Wait until verify_checks stops moving (the checks after commits run from
 * a work item, a little later): two reads 100 ms apart that agree, at most
 * 50 tries. The count, or -1.
 */
static long long checks_settled(void)
{
	long long a = read_num(PARAM("verify_checks")), b;
	int i;

	for (i = 0; i < 50; i++) {
		msleep(100);
		b = read_num(PARAM("verify_checks"));
		if (b == a)
			break;
		a = b;
	}
	return a;
}

FIXTURE(verifier) {
	int was_on;
	int fd;
	char *buf;
};

FIXTURE_VARIANT(verifier) {
	bool two_phase;
};

FIXTURE_VARIANT_ADD(verifier, single) {
	.two_phase = false,
};

FIXTURE_VARIANT_ADD(verifier, two_phase) {
	.two_phase = true,
};

FIXTURE_SETUP(verifier)
{
	self->fd = -1;
	self->was_on = (int)read_num(PARAM("verify"));
	if (self->was_on < 0)
		SKIP(return, "no %s: hmm_core without the verifier",
		     PARAM("verify"));
	ASSERT_EQ(0, write_str(PARAM("verify"), "1"))
		TH_LOG("turn the verifier on: %s", strerror(errno));
	self->fd = dummy_open(0);
	ASSERT_LE(0, self->fd) TH_LOG("open /dev/hmm_dummy0: %s",
				      strerror(errno));
	ASSERT_EQ(0, tlb_ctl(self->fd, LATENCY_US, HMM_DUMMY_TLB_SET |
			     (variant->two_phase ? HMM_DUMMY_TLB_TWO_PHASE : 0)))
		TH_LOG("HMM_DUMMY_IOC_TLB: %s", strerror(errno));
	self->buf = malloc(NPAGES * PAGE);
	ASSERT_NE(NULL, self->buf);
}

FIXTURE_TEARDOWN(verifier)
{
	if (self->fd >= 0)
		close(self->fd);
	if (self->was_on == 0)
		write_str(PARAM("verify"), "0");
}

/*
 * A correct driver under every kind of change the coherence suite makes:
 * the verifier checks (after each invalidation, after each commit) and
 * finds nothing.
 */
TEST_F_TIMEOUT(verifier, correct_driver_mix, 180)
{
	long long v0, c0, v1, c1;
	int round, pipefd[2], status;
	char *p, c = 0;
	pid_t child;

	ASSERT_EQ(0, write_str(PARAM("verify_sample"), "1"));
	v0 = read_num(PARAM("verify_violations"));
	c0 = checks_settled();
	ASSERT_LE(0, v0);
	ASSERT_LE(0, c0);
	for (round = 0; round < ROUNDS; round++) {
		p = anon_filled(NPAGES, round);
		ASSERT_NE(NULL, p);
		/* Device faults: read, then write (commits). */
		ASSERT_EQ(0, dev_rw(self->fd, false, p, self->buf, NPAGES));
		ASSERT_EQ(-1, check_pattern(self->buf, NPAGES, round));
		fill_pattern(self->buf, NPAGES, 10 + round);
		ASSERT_EQ(0, dev_rw(self->fd, true, p, self->buf, NPAGES));
		ASSERT_EQ(-1, check_pattern(p, NPAGES, 10 + round));
		/* A protection change: the device keeps reading only. */
		ASSERT_EQ(0, mprotect(p, NPAGES * PAGE, PROT_READ));
		ASSERT_EQ(0, dev_rw(self->fd, false, p, self->buf, NPAGES));
		ASSERT_EQ(-1, dev_rw(self->fd, true, p, self->buf, 1));
		ASSERT_EQ(0, mprotect(p, NPAGES * PAGE,
				      PROT_READ | PROT_WRITE));
		ASSERT_EQ(0, dev_rw(self->fd, true, p, self->buf, NPAGES));
		/* fork: the parent's pages go copy-on-write. */
		ASSERT_EQ(0, pipe(pipefd));
		child = fork();
		ASSERT_LE(0, child);
		if (!child) {
			close(pipefd[1]);
			if (read(pipefd[0], &c, 1) < 0)
				_exit(1);
			_exit(check_pattern(p, NPAGES, 10 + round) == -1 ? 0 : 2);
		}
		close(pipefd[0]);
		ASSERT_EQ(0, dev_rw(self->fd, false, p, self->buf, NPAGES));
		p[0] = 1;	/* the CPU breaks one page's copy-on-write */
		fill_pattern(self->buf, NPAGES, 20 + round);
		ASSERT_EQ(0, dev_rw(self->fd, true, p, self->buf, NPAGES));
		ASSERT_EQ(-1, check_pattern(p, NPAGES, 20 + round));
		ASSERT_EQ(1, write(pipefd[1], &c, 1));
		close(pipefd[1]);
		ASSERT_EQ(child, waitpid(child, &status, 0));
		ASSERT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status))
			TH_LOG("the child saw the parent's device write");
		/* MADV_DONTNEED: half the pages go, the zero page comes. */
		ASSERT_EQ(0, madvise(p, NPAGES / 2 * PAGE, MADV_DONTNEED));
		ASSERT_EQ(0, dev_rw(self->fd, false, p, self->buf, NPAGES));
		ASSERT_TRUE(is_zero(self->buf, NPAGES / 2 * PAGE));
		ASSERT_EQ(0, dev_rw(self->fd, true, p, self->buf, NPAGES));
		/* munmap: the device cannot reach the range any more. */
		ASSERT_EQ(0, dev_rw(self->fd, false, p, self->buf, NPAGES));
		ASSERT_EQ(0, munmap(p + NPAGES / 2 * PAGE, NPAGES / 2 * PAGE));
		ASSERT_EQ(-1, dev_rw(self->fd, false, p + NPAGES / 2 * PAGE,
				     self->buf, 1));
		ASSERT_EQ(0, dev_rw(self->fd, false, p, self->buf,
				    NPAGES / 2));
		ASSERT_EQ(0, munmap(p, NPAGES / 2 * PAGE));
	}
	c1 = checks_settled();
	v1 = read_num(PARAM("verify_violations"));
	hmm_diag("verifier: %lld checks, %lld violations, %lld commits not checked so far",
		 c1 - c0, v1 - v0, read_num(PARAM("verify_dropped")));
	/* The verifier did look: each round has invalidations and commits. */
	EXPECT_LE(c0 + 6 * ROUNDS, c1);
	ASSERT_EQ(v0, v1) TH_LOG("the verifier reported %lld violation(s): see the kernel log",
				 v1 - v0);
}

/* verify and verify_sample switch; 0 and out-of-range samples are refused. */
TEST_F(verifier, params_switch)
{
	char s[16];

	ASSERT_EQ(0, write_str(PARAM("verify"), "0"));
	ASSERT_EQ(0, read_str(PARAM("verify"), s, sizeof(s)));
	ASSERT_STREQ("0", s);
	ASSERT_EQ(0, write_str(PARAM("verify"), "1"));
	ASSERT_EQ(0, read_str(PARAM("verify"), s, sizeof(s)));
	ASSERT_STREQ("1", s);
	ASSERT_EQ(-1, write_str(PARAM("verify"), "maybe"));
	ASSERT_EQ(EINVAL, errno);
	ASSERT_EQ(-1, write_str(PARAM("verify_sample"), "0"));
	ASSERT_EQ(EINVAL, errno);
	ASSERT_EQ(-1, write_str(PARAM("verify_sample"), "1000001"));
	ASSERT_EQ(EINVAL, errno);
	ASSERT_EQ(0, write_str(PARAM("verify_sample"), "7"));
	ASSERT_EQ(7, read_num(PARAM("verify_sample")));
	ASSERT_EQ(0, write_str(PARAM("verify_sample"), "1"));
	/* The counters are read-only, even to root. */
	ASSERT_EQ(-1, write_str(PARAM("verify_violations"), "0"));
	ASSERT_EQ(-1, write_str(PARAM("verify_checks"), "0"));
}

/*
 * An unprivileged user may read the parameters but write none: turning the
 * verifier off would hide a broken driver, and on would slow everyone's.
 * In a child, so that the teardown is root's again.
 */
TEST_F(verifier, unprivileged_cannot_write)
{
	static const char *const names[] = {
		PARAM("verify"), PARAM("verify_sample"),
		PARAM("verify_violations"), PARAM("verify_checks"),
	};
	unsigned int i;
	int status;
	pid_t child;

	child = fork();
	ASSERT_LE(0, child);
	if (!child) {
		if (drop_to_nobody())
			_exit(10);
		for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
			if (write_str(names[i], "0") != -1 || errno != EACCES)
				_exit(20 + i);
			if (read_num(names[i]) < 0)
				_exit(30 + i);
		}
		_exit(0);
	}
	ASSERT_EQ(child, waitpid(child, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	/* 10: no nobody; 20 + i: names[i] written; 30 + i: not readable */
	ASSERT_EQ(0, WEXITSTATUS(status));
	ASSERT_EQ(1, read_num(PARAM("verify")));
}

/*
 * Nothing the programs before this one did (scripts/check runs the
 * coherence programs and stress with the verifier on from the boot,
 * scripts/vm-run --param hmm_core.verify=1) made the verifier report: a
 * correct driver leaves the count at 0 since hmm_core loaded. Waits for the
 * checks of the last commits first.
 */
TEST(none_since_load)
{
	long long n;

	if (access(PARAM("verify_violations"), R_OK))
		SKIP(return, "no verifier: %s", strerror(errno));
	checks_settled();
	n = read_num(PARAM("verify_violations"));
	ksft_print_msg("%lld checks since hmm_core loaded, verifier %s\n",
		       read_num(PARAM("verify_checks")),
		       read_num(PARAM("verify")) ? "on" : "off");
	EXPECT_EQ(0, n) TH_LOG("the verifier reported %lld violations", n);
}

TEST_HARNESS_MAIN
