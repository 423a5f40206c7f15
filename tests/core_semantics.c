// SPDX-License-Identifier: GPL-2.0
/*
 * core_semantics - hmm_core's behaviours, seen through hmm_dummy: many
 * mirrors on one mm, mirrors on many mms, release at process exit,
 * register/unregister racing invalidations, and the module references
 * that keep hmm_dummy and hmm_core loaded while they are in use.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>

#include "kselftest_harness.h"
#include "dummy_util.h"
#include "oracle.h"

static uint8_t buf[16 * 4096] __attribute__((aligned(4096)));

#define DELAY_KNOB "/sys/module/hmm_dummy/parameters/invalidate_delay_us"
#define RELEASE_KNOB "/sys/module/hmm_dummy/parameters/unregister_in_release"

static int write_knob(const char *knob, const char *val)
{
	int fd = open(knob, O_WRONLY);
	int ok;

	if (fd < 0)
		return -1;
	ok = write(fd, val, strlen(val)) == (ssize_t)strlen(val);
	close(fd);
	return ok ? 0 : -1;
}

/*
 * The cases open what they need themselves (many files, in many
 * processes); the fixture puts back the hmm_dummy knobs a case set, even
 * when the case stopped at a failed assertion.
 */
FIXTURE(core) {
	bool delay_knob;	/* invalidate_delay_us set */
	bool release_knob;	/* unregister_in_release set */
};

FIXTURE_SETUP(core)
{
	self->delay_knob = false;
	self->release_knob = false;
}

FIXTURE_TEARDOWN(core)
{
	if (self->delay_knob) {
		EXPECT_EQ(0, write_knob(DELAY_KNOB, "0"));
	}
	if (self->release_knob) {
		EXPECT_EQ(0, write_knob(RELEASE_KNOB, "N"));
	}
}

static int wait_child(pid_t pid)
{
	int status;

	if (waitpid(pid, &status, 0) != pid)
		return -1;
	if (!WIFEXITED(status)) {
		hmm_diag("child %d died of signal %d", pid, WTERMSIG(status));
		return -1;
	}
	return WEXITSTATUS(status);
}

/* Wait up to 5 s for the module's reference count to come back to want. */
static long wait_refs(const char *name, long want)
{
	long r = -1;
	int i;

	for (i = 0; i < 500; i++) {
		r = module_refs(name);
		if (r == want)
			break;
		usleep(10000);
	}
	return r;
}

#define NMIRRORS 64

TEST_F_TIMEOUT(core, many_mirrors_one_mm, 60)
{
	static struct hmm_dummy_counters before[NMIRRORS], after;
	uint64_t done, faults;
	int fds[NMIRRORS], i;
	uint8_t *p;

	ASSERT_NE(NULL, p = anon_map(16));
	fill_pattern(p, 16, 11);
	for (i = 0; i < NMIRRORS; i++) {
		fds[i] = dummy_open(0);
		ASSERT_GE(fds[i], 0) TH_LOG("%s", strerror(errno));
	}
	for (i = 0; i < NMIRRORS; i++) {
		ASSERT_EQ(0, dummy_fault(fds[i], p, 16, i & 1 ? HMM_DUMMY_FAULT_WRITE : 0,
					 &done)) TH_LOG("%s", strerror(errno));
		ASSERT_EQ(done, 16);
		memset(buf, 0, sizeof(buf));
		ASSERT_EQ(0, dummy_rw(fds[i], HMM_DUMMY_IOC_READ, p, buf, 16, &done,
				      &faults)) TH_LOG("%s", strerror(errno));
		ASSERT_EQ(check_pattern(buf, 16, 11), -1);
		ASSERT_EQ(dummy_nr_entries(fds[i], p, 16), 16);
		ASSERT_EQ(0, dummy_counters(fds[i], &before[i])) TH_LOG("%s", strerror(errno));
	}
	/* Every mirror sees every entry of its own: all coherent. */
	for (i = 0; i < NMIRRORS; i++) {
		struct oracle o = { .fd = fds[i], .abi = ABI_NATIVE };

		ASSERT_COHERENT(&o, p, 16);
	}
	ASSERT_EQ(0, munmap(p, 16 * PAGE)) TH_LOG("%s", strerror(errno));
	for (i = 0; i < NMIRRORS; i++) {
		ASSERT_EQ(0, dummy_counters(fds[i], &after)) TH_LOG("%s", strerror(errno));
		ASSERT_TRUE(after.invalidations[HMM_DUMMY_EVENT_UNMAP] >
			    before[i].invalidations[HMM_DUMMY_EVENT_UNMAP] &&
			    after.pages_invalidated >= before[i].pages_invalidated + 16)
			TH_LOG("mirror %d missed the munmap: unmap events %llu -> %llu, pages invalidated %llu -> %llu",
			       i,
			       (unsigned long long)before[i].invalidations[HMM_DUMMY_EVENT_UNMAP],
			       (unsigned long long)after.invalidations[HMM_DUMMY_EVENT_UNMAP],
			       (unsigned long long)before[i].pages_invalidated,
			       (unsigned long long)after.pages_invalidated);
		ASSERT_EQ(dummy_nr_entries(fds[i], p, 16), 0);
	}
	/* close in an interleaved order: unregister from the middle */
	for (i = 0; i < NMIRRORS; i += 2) {
		ASSERT_EQ(0, close(fds[i])) TH_LOG("%s", strerror(errno));
	}
	ASSERT_NE(NULL, p = anon_map(4));
	memset(p, 1, 4 * PAGE);
	for (i = 1; i < NMIRRORS; i += 2) {
		ASSERT_EQ(0, dummy_fault(fds[i], p, 4, 0, &done)) TH_LOG("%s", strerror(errno));
		ASSERT_EQ(done, 4);
	}
	ASSERT_EQ(0, munmap(p, 4 * PAGE)) TH_LOG("%s", strerror(errno));
	for (i = 1; i < NMIRRORS; i += 2) {
		ASSERT_EQ(dummy_nr_entries(fds[i], p, 4), 0);
		ASSERT_EQ(0, close(fds[i])) TH_LOG("%s", strerror(errno));
	}
}

/* In a child: what failed (and errno), and its exit status. */
static int child_fail(int n, const char *what)
{
	hmm_diag("child %d: %s (%s)", n, what, strerror(errno));
	return 1;
}

/*
 * In a child: a life with a mirror of its own mm. Returns 0, or 1 after
 * saying what failed (a child of a case does not assert).
 */
static int child_mirror_life(int n, int do_close)
{
	struct oracle o = { .abi = ABI_NATIVE };
	uint64_t done, faults;
	uint8_t *p;
	int fd;

	fd = dummy_open(n & 1);
	if (fd < 0)
		return child_fail(n, "open");
	o.fd = fd;
	p = anon_map(16);
	if (!p)
		return child_fail(n, "mmap");
	fill_pattern(p, 16, 100 + n);
	if (dummy_fault(fd, p, 16, HMM_DUMMY_FAULT_WRITE, &done) || done != 16)
		return child_fail(n, "FAULT of 16 pages");
	if (dummy_rw(fd, HMM_DUMMY_IOC_READ, p, buf, 16, &done, &faults))
		return child_fail(n, "READ");
	if (check_pattern(buf, 16, 100 + n) != -1)
		return child_fail(n, "READ: not the CPU's data");
	fill_pattern(buf, 16, 200 + n);
	if (dummy_rw(fd, HMM_DUMMY_IOC_WRITE, p, buf, 16, &done, &faults))
		return child_fail(n, "WRITE");
	if (check_pattern(p, 16, 200 + n) != -1)
		return child_fail(n, "WRITE: not seen by the CPU");
	if (oracle_coherent(&o, p, 16))
		return child_fail(n, "device page table not coherent");
	if (munmap(p, 8 * PAGE))
		return child_fail(n, "munmap");
	if (dummy_nr_entries(fd, p, 16) != 8)
		return child_fail(n, "not 8 entries left after munmap of 8 pages");
	if (do_close && close(fd))
		return child_fail(n, "close");
	return 0;
}

#define NCHILDREN 16

TEST_F_TIMEOUT(core, mirrors_on_many_mms, 60)
{
	long refs0 = module_refs("hmm_dummy");
	pid_t pids[NCHILDREN];
	int i, bad = 0;

	ASSERT_GE(refs0, 0) TH_LOG("%s", strerror(errno));
	fflush(stdout);
	for (i = 0; i < NCHILDREN; i++) {
		pids[i] = fork();
		ASSERT_GE(pids[i], 0) TH_LOG("%s", strerror(errno));
		if (pids[i] == 0)
			_exit(child_mirror_life(i, i & 2));
	}
	for (i = 0; i < NCHILDREN; i++) {
		int r = wait_child(pids[i]);

		if (r) {
			hmm_diag("child %d: status %d", i, r);
			bad++;
		}
	}
	ASSERT_EQ(bad, 0);
	/* every file of every child was released */
	ASSERT_EQ(wait_refs("hmm_dummy", refs0), refs0);
}

static void release_on_exit(struct __test_metadata *_metadata)
{
	long refs0 = module_refs("hmm_dummy");
	pid_t pid;

	ASSERT_GE(refs0, 0) TH_LOG("%s", strerror(errno));
	fflush(stdout);
	pid = fork();
	ASSERT_GE(pid, 0) TH_LOG("%s", strerror(errno));
	if (pid == 0)
		_exit(child_mirror_life(0, 0));	/* exits with the mirror */
	ASSERT_EQ(wait_child(pid), 0);
	ASSERT_EQ(wait_refs("hmm_dummy", refs0), refs0);
}

static void release_fd_passed(struct __test_metadata *_metadata)
{
	struct hmm_dummy_counters c;
	uint64_t done;
	long refs0 = module_refs("hmm_dummy");
	int sv[2], fd, go[2];
	uint8_t *p;
	pid_t pid;
	char x = 0;

	ASSERT_GE(refs0, 0) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(0, pipe(go)) TH_LOG("%s", strerror(errno));
	fflush(stdout);
	pid = fork();
	ASSERT_GE(pid, 0) TH_LOG("%s", strerror(errno));
	if (pid == 0) {
		int cfd = dummy_open(0);
		uint8_t *cp = anon_map(8);

		close(sv[0]);
		close(go[1]);
		if (cfd < 0 || !cp)
			_exit(2);
		memset(cp, 1, 8 * PAGE);
		if (dummy_fault(cfd, cp, 8, HMM_DUMMY_FAULT_WRITE, &done))
			_exit(3);
		if (send_fd(sv[1], cfd))
			_exit(4);
		/* wait until the parent tried it while we are alive */
		if (read(go[0], &x, 1) != 1)
			_exit(5);
		_exit(0);	/* the mm goes away, the file lives on */
	}
	close(sv[1]);
	close(go[0]);
	fd = recv_fd(sv[0]);
	ASSERT_GE(fd, 0) TH_LOG("%s", strerror(errno));
	ASSERT_NE(NULL, p = anon_map(2));
	memset(p, 1, 2 * PAGE);
	/* the child's mm is alive: still not ours */
	ASSERT_EQ(-1, dummy_fault(fd, p, 2, 0, &done));
	ASSERT_EQ(EPERM, errno);
	ASSERT_EQ(-1, dummy_counters(fd, &c));
	ASSERT_EQ(EPERM, errno);
	ASSERT_EQ(write(go[1], &x, 1), 1);
	ASSERT_EQ(wait_child(pid), 0);
	/* the child's mm is gone: still EPERM, no crash, no hang */
	ASSERT_EQ(-1, dummy_fault(fd, p, 2, 0, &done));
	ASSERT_EQ(EPERM, errno);
	ASSERT_EQ(-1, dummy_rw(fd, HMM_DUMMY_IOC_READ, p, buf, 1, &done, NULL));
	ASSERT_EQ(EPERM, errno);
	ASSERT_EQ(-1, dummy_counters(fd, &c));
	ASSERT_EQ(EPERM, errno);
	/* our file still holds the module */
	ASSERT_TRUE(module_refs("hmm_dummy") > refs0);
	ASSERT_EQ(0, close(fd)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(wait_refs("hmm_dummy", refs0), refs0);
}

TEST_F_TIMEOUT(core, release_on_exit_without_close, 60)
{
	release_on_exit(_metadata);
}

TEST_F_TIMEOUT(core, release_fd_passed_to_parent, 60)
{
	release_fd_passed(_metadata);
}

/* register/unregister racing invalidations */

static atomic_int stop;
static atomic_long churns, rounds;

/*
 * The threads of a case do not assert: each returns the number of errors
 * it saw (each said), which the case asserts on after the join.
 */
#define THREAD_ERRORS(n)	((void *)(uintptr_t)(n))

/* Join the n threads of th; their errors, summed, into *errors. */
static int join_all(pthread_t *th, int n, long *errors)
{
	void *ret;
	int i, e = 0;

	*errors = 0;
	for (i = 0; i < n; i++) {
		if (pthread_join(th[i], &ret))
			e = -1;
		else
			*errors += (long)(uintptr_t)ret;
	}
	return e;
}

static void *churn_thread(void *arg)
{
	uint8_t *p = arg;	/* 8 stable pages */
	uint64_t done;
	long errors = 0;

	while (!atomic_load(&stop)) {
		int fd = dummy_open(atomic_load(&churns) & 1);

		if (fd < 0) {
			errors++;
			hmm_diag("churn: open: %s", strerror(errno));
			break;
		}
		if (RETRY_EBUSY(dummy_fault(fd, p, 8, 0, &done)) || done != 8) {
			errors++;
			hmm_diag("churn: fault: %s done %llu", strerror(errno),
				 (unsigned long long)done);
		}
		close(fd);
		atomic_fetch_add(&churns, 1);
	}
	return THREAD_ERRORS(errors);
}

static void *mapper_thread(void *arg)
{
	static uint8_t tbuf[4][8 * 4096];
	uint8_t *mybuf = tbuf[(uintptr_t)arg];
	uint32_t seed = (uint32_t)(uintptr_t)arg * 1000003u;
	uint64_t done, faults;
	int fd = dummy_open(0);
	long errors = 0;

	if (fd < 0) {
		hmm_diag("mapper: open: %s", strerror(errno));
		return THREAD_ERRORS(1);
	}
	while (!atomic_load(&stop)) {
		struct oracle o = { .fd = fd, .abi = ABI_NATIVE };
		uint8_t *p = anon_map(8);
		long bad;

		seed++;
		if (!p) {
			errors++;
			break;
		}
		fill_pattern(p, 8, seed);
		if (RETRY_EBUSY(dummy_fault(fd, p, 8, HMM_DUMMY_FAULT_WRITE, &done)) ||
		    RETRY_EBUSY(dummy_rw(fd, HMM_DUMMY_IOC_READ, p, mybuf, 8,
					 &done, &faults)) ||
		    check_pattern(mybuf, 8, seed) != -1) {
			hmm_diag("mapper: device read mismatch (%s)", strerror(errno));
			errors++;
		}
		if (mprotect(p, 8 * PAGE, PROT_READ))
			errors++;
		/* the device must have lost write access */
		fill_pattern(mybuf, 8, seed + 1);
		if (RETRY_EBUSY(dummy_rw(fd, HMM_DUMMY_IOC_WRITE, p, mybuf, 8,
					 &done, &faults)) != -1 || errno != EPERM) {
			hmm_diag("mapper: WRITE to read-only memory: %s", strerror(errno));
			errors++;
		}
		if (check_pattern(p, 8, seed) != -1) {
			hmm_diag("mapper: read-only memory changed");
			errors++;
		}
		if (mprotect(p, 8 * PAGE, PROT_READ | PROT_WRITE))
			errors++;
		if (RETRY_EBUSY(dummy_rw(fd, HMM_DUMMY_IOC_WRITE, p, mybuf, 8,
					 &done, &faults))) {
			hmm_diag("mapper: device WRITE failed: %s", strerror(errno));
			errors++;
		} else if (check_pattern(p, 8, seed + 1) != -1) {
			hmm_diag("mapper: device write not seen by the CPU");
			errors++;
		}
		bad = oracle_coherent(&o, p, 8);
		if (bad) {
			hmm_diag("mapper: %ld coherence violations", bad);
			errors++;
		}
		munmap(p, 8 * PAGE);
		if (dummy_nr_entries(fd, p, 8) != 0) {
			hmm_diag("mapper: entries left after munmap");
			errors++;
		}
		atomic_fetch_add(&rounds, 1);
	}
	close(fd);
	return THREAD_ERRORS(errors);
}

TEST_F_TIMEOUT(core, register_unregister_race, 60)
{
	pthread_t th[4];
	uint8_t *stable;
	long errors;

	ASSERT_NE(NULL, stable = anon_map(8));
	memset(stable, 5, 8 * PAGE);
	ASSERT_EQ(0, pthread_create(&th[0], NULL, churn_thread, stable)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(0, pthread_create(&th[1], NULL, churn_thread, stable)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(0, pthread_create(&th[2], NULL, mapper_thread, (void *)1)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(0, pthread_create(&th[3], NULL, mapper_thread, (void *)2)) TH_LOG("%s", strerror(errno));
	sleep(3);
	atomic_store(&stop, 1);
	ASSERT_EQ(0, join_all(th, 4, &errors));
	hmm_diag("%ld open/close, %ld map rounds, %ld errors, %lu EBUSY retries",
		 atomic_load(&churns), atomic_load(&rounds), errors,
		 dummy_ebusy_retries);
	ASSERT_EQ(errors, 0);
	ASSERT_TRUE(atomic_load(&churns) >= 10);
	ASSERT_TRUE(atomic_load(&rounds) >= 10);
}

/*
 * populate racing invalidate: one thread keeps device-faulting a range while
 * another keeps changing its protection and zapping it. hmm_dummy's
 * invalidate_delay_us knob (if present) widens the window so commits really
 * meet invalidations (counted as retries). Whatever interleaving happened,
 * once both stop the device page table must be coherent with the CPU's, and
 * the device must have no write access to a read-only range.
 */
static uint8_t *race_p;
static int race_fd;

static void *race_faulter(void *arg)
{
	uint64_t done;
	long errors = 0;

	(void)arg;
	while (!atomic_load(&stop)) {
		int r = dummy_fault(race_fd, race_p, 16,
				    atomic_load(&rounds) & 1 ? HMM_DUMMY_FAULT_WRITE : 0,
				    &done);

		/* EPERM: asked to write while the range was read-only */
		if (r && errno != EPERM) {
			hmm_diag("faulter: %s", strerror(errno));
			errors++;
		}
		atomic_fetch_add(&churns, 1);
	}
	return THREAD_ERRORS(errors);
}

static void *race_changer(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop)) {
		long n = atomic_fetch_add(&rounds, 1);

		switch (n % 3) {
		case 0:
			mprotect(race_p, 16 * PAGE, PROT_READ);
			break;
		case 1:
			mprotect(race_p, 16 * PAGE, PROT_READ | PROT_WRITE);
			memset(race_p, (int)n, 16 * PAGE);
			break;
		default:
			madvise(race_p, 16 * PAGE, MADV_DONTNEED);
			break;
		}
	}
	return NULL;
}

TEST_F_TIMEOUT(core, populate_invalidate_race, 60)
{
	struct hmm_dummy_counters c;
	struct oracle o = { .abi = ABI_NATIVE };
	pthread_t th[2];
	int knob, i;
	long errors;
	uint64_t done, nr;
	static struct hmm_dummy_pte e[16];

	atomic_store(&stop, 0);
	atomic_store(&churns, 0);
	atomic_store(&rounds, 0);
	race_fd = dummy_open(0);
	ASSERT_GE(race_fd, 0) TH_LOG("%s", strerror(errno));
	o.fd = race_fd;
	ASSERT_NE(NULL, race_p = anon_map(16));
	memset(race_p, 1, 16 * PAGE);
	knob = write_knob(DELAY_KNOB, "200") == 0;
	self->delay_knob = knob;
	hmm_diag("invalidate_delay_us knob: %s", knob ? "200 us" : "absent");
	ASSERT_EQ(0, pthread_create(&th[0], NULL, race_faulter, NULL)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(0, pthread_create(&th[1], NULL, race_changer, NULL)) TH_LOG("%s", strerror(errno));
	sleep(3);
	atomic_store(&stop, 1);
	ASSERT_EQ(0, join_all(th, 2, &errors));
	if (knob) {
		ASSERT_EQ(0, write_knob(DELAY_KNOB, "0")) TH_LOG("%s", strerror(errno));
		self->delay_knob = false;
	}
	ASSERT_EQ(0, dummy_counters(race_fd, &c)) TH_LOG("%s", strerror(errno));
	hmm_diag("%ld faults, %ld changes, %llu retries, %llu pages invalidated",
		 atomic_load(&churns), atomic_load(&rounds),
		 (unsigned long long)c.retries,
		 (unsigned long long)c.pages_invalidated);
	ASSERT_EQ(errors, 0);
	ASSERT_TRUE(atomic_load(&churns) >= 10 && atomic_load(&rounds) >= 10);
	ASSERT_COHERENT(&o, race_p, 16);
	/* read-only now: the device may read, not write */
	ASSERT_EQ(0, mprotect(race_p, 16 * PAGE, PROT_READ)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(0, dummy_fault(race_fd, race_p, 16, 0, &done)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(0, dummy_dump(race_fd, race_p, 16, e, 16, &nr)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(nr, 16);
	for (i = 0; i < 16; i++) {
		ASSERT_EQ(e[i].perm, HMM_DUMMY_PERM_READ);
	}
	ASSERT_COHERENT(&o, race_p, 16);
}

/*
 * A commit racing an invalidation of the very range it commits: round
 * after round, one thread device-faults 512 fresh pages while another
 * zaps them (MADV_DONTNEED) a little later, then the range is checked.
 * The callback must take the commit lock even with nothing to clear yet:
 * hmm_core advances the sequence before calling it and outside that lock,
 * so only the lock waits out a commit that checked the old sequence (the
 * contract of ->sync_cpu_device_pagetables()). A callback that skips it
 * leaves entries of zapped pages behind: tests/mutants/
 * callback-without-lock.patch.
 */
#define CR_PAGES	512

static pthread_barrier_t cr_barrier;
static uint8_t *cr_p;
static int cr_fd;
static atomic_long cr_busy;

static void *cr_zapper(void *arg)
{
	unsigned int seed = 1;
	long n = (long)(uintptr_t)arg, i;

	for (i = 0; i < n; i++) {
		pthread_barrier_wait(&cr_barrier);
		/* Somewhere in the fault's read or its commit. */
		usleep(rand_r(&seed) % 400);
		madvise(cr_p, CR_PAGES * PAGE, MADV_DONTNEED);
		pthread_barrier_wait(&cr_barrier);
	}
	return NULL;
}

TEST_F_TIMEOUT(core, commit_invalidate_race, 120)
{
	struct oracle o = { .abi = ABI_NATIVE };
	const long n = 300;
	pthread_t th;
	uint64_t done;
	long i, bad;

	cr_fd = dummy_open(0);
	ASSERT_GE(cr_fd, 0) TH_LOG("%s", strerror(errno));
	o.fd = cr_fd;
	ASSERT_NE(NULL, cr_p = anon_map(CR_PAGES));
	ASSERT_EQ(0, pthread_barrier_init(&cr_barrier, NULL, 2)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(0, pthread_create(&th, NULL, cr_zapper, (void *)(uintptr_t)n)) TH_LOG("%s", strerror(errno));
	/* A failed ASSERT ends the case's process, the zapper with it. */
	for (i = 0; i < n; i++) {
		memset(cr_p, (int)i, CR_PAGES * PAGE);
		pthread_barrier_wait(&cr_barrier);
		if (dummy_fault(cr_fd, cr_p, CR_PAGES, HMM_DUMMY_FAULT_WRITE,
				&done)) {
			ASSERT_EQ(EBUSY, errno);
			atomic_fetch_add(&cr_busy, 1);
		}
		pthread_barrier_wait(&cr_barrier);
		bad = oracle_coherent(&o, cr_p, CR_PAGES);
		ASSERT_EQ(0, bad)
			TH_LOG("round %ld: %ld violation(s) after the zap", i, bad);
	}
	pthread_join(th, NULL);
	hmm_diag("%ld rounds, %ld EBUSY", n, atomic_load(&cr_busy));
}

/*
 * The same two exits with hmm_dummy unregistering its mirror from inside
 * ->release(): hmm_core must allow it (no self-deadlock), and a close
 * racing it must wait for it before the file is freed.
 */
TEST_F_TIMEOUT(core, unregister_from_inside_release, 60)
{
	int i;

	ASSERT_EQ(0, write_knob(RELEASE_KNOB, "Y")) TH_LOG("%s", strerror(errno));
	self->release_knob = true;
	for (i = 0; i < 10; i++) {
		release_on_exit(_metadata);
		release_fd_passed(_metadata);
	}
	self->release_knob = false;
	ASSERT_EQ(0, write_knob(RELEASE_KNOB, "N")) TH_LOG("%s", strerror(errno));
}

/*
 * delete_module(name), which must be refused (why: what holds it): the
 * errno of the refusal (printed), or 0 if the module went.
 */
static int unload_refused(const char *name, const char *why)
{
	int e;

	errno = 0;
	if (syscall(SYS_delete_module, name, O_NONBLOCK) != -1)
		return 0;
	e = errno;
	hmm_diag("delete_module(%s) %s: %s", name, why, strerror(e));
	return e;
}

TEST_F_TIMEOUT(core, rmmod_refused_while_in_use, 60)
{
	uint64_t done;
	uint8_t *p;
	int fd, e;

	if (module_refs("hmm_dummy") < 0 || module_refs("hmm_core") < 0)
		SKIP(return, "hmm_dummy/hmm_core not in /proc/modules");
	fd = dummy_open(0);
	ASSERT_GE(fd, 0) TH_LOG("%s", strerror(errno));
	ASSERT_NE(NULL, p = anon_map(2));
	ASSERT_EQ(0, dummy_fault(fd, p, 2, HMM_DUMMY_FAULT_WRITE, &done)) TH_LOG("%s", strerror(errno));
	ASSERT_TRUE(module_refs("hmm_dummy") >= 1);

	e = unload_refused("hmm_dummy", "with a mirror open");
	ASSERT_TRUE(e == EWOULDBLOCK || e == EBUSY);
	ASSERT_TRUE(module_refs("hmm_dummy") >= 1);

	/* hmm_dummy uses hmm_core: it cannot go either */
	e = unload_refused("hmm_core", "with hmm_dummy loaded");
	ASSERT_TRUE(e == EWOULDBLOCK || e == EBUSY);
	ASSERT_GE(module_refs("hmm_core"), 0) TH_LOG("%s", strerror(errno));

	/* and the mirror still works */
	ASSERT_EQ(0, dummy_fault(fd, p, 2, 0, &done)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(done, 2);
	ASSERT_EQ(0, munmap(p, 2 * PAGE)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(dummy_nr_entries(fd, p, 2), 0);
	ASSERT_EQ(0, close(fd)) TH_LOG("%s", strerror(errno));
}

TEST_HARNESS_MAIN
