// SPDX-License-Identifier: GPL-2.0
/*
 * core_semantics - hmm_core's behaviours, seen through hmm_dummy: many
 * mirrors on one mm, mirrors on many mms, release at process exit,
 * register/unregister racing invalidations, and the module references
 * that keep hmm_dummy and hmm_core loaded while they are in use.
 */
#include "tap.h"
#include "oracle.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>

static uint8_t buf[16 * 4096] __attribute__((aligned(4096)));

static int wait_child(pid_t pid)
{
	int status;

	if (waitpid(pid, &status, 0) != pid)
		return -1;
	if (!WIFEXITED(status)) {
		diag("child %d died of signal %d", pid, WTERMSIG(status));
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

static int t_many_mirrors_one_mm(void)
{
	static struct hmm_dummy_counters before[NMIRRORS], after;
	uint64_t done, faults;
	int fds[NMIRRORS], i;
	uint8_t *p;

	CHECK((p = anon_map(16)));
	fill_pattern(p, 16, 11);
	for (i = 0; i < NMIRRORS; i++) {
		fds[i] = dummy_open(0);
		CHECK(fds[i] >= 0);
	}
	for (i = 0; i < NMIRRORS; i++) {
		CHECK_OK(dummy_fault(fds[i], p, 16, i & 1 ? HMM_DUMMY_FAULT_WRITE : 0,
				     &done));
		CHECK_EQ(done, 16);
		memset(buf, 0, sizeof(buf));
		CHECK_OK(dummy_rw(fds[i], HMM_DUMMY_IOC_READ, p, buf, 16, &done,
				  &faults));
		CHECK_EQ(check_pattern(buf, 16, 11), -1);
		CHECK_EQ(dummy_nr_entries(fds[i], p, 16), 16);
		CHECK_OK(dummy_counters(fds[i], &before[i]));
	}
	/* Every mirror sees every entry of its own: all coherent. */
	for (i = 0; i < NMIRRORS; i++)
		CHECK_EQ(check_coherent(fds[i], p, 16), 0);
	CHECK_OK(munmap(p, 16 * PAGE));
	for (i = 0; i < NMIRRORS; i++) {
		CHECK_OK(dummy_counters(fds[i], &after));
		if (after.invalidations[HMM_DUMMY_EVENT_UNMAP] <=
		    before[i].invalidations[HMM_DUMMY_EVENT_UNMAP] ||
		    after.pages_invalidated < before[i].pages_invalidated + 16) {
			diag("mirror %d missed the munmap: unmap events %llu -> %llu,"
			     " pages invalidated %llu -> %llu", i,
			     (unsigned long long)before[i].invalidations[HMM_DUMMY_EVENT_UNMAP],
			     (unsigned long long)after.invalidations[HMM_DUMMY_EVENT_UNMAP],
			     (unsigned long long)before[i].pages_invalidated,
			     (unsigned long long)after.pages_invalidated);
			return TAP_FAIL;
		}
		CHECK_EQ(dummy_nr_entries(fds[i], p, 16), 0);
	}
	/* close in an interleaved order: unregister from the middle */
	for (i = 0; i < NMIRRORS; i += 2)
		CHECK_OK(close(fds[i]));
	CHECK((p = anon_map(4)));
	memset(p, 1, 4 * PAGE);
	for (i = 1; i < NMIRRORS; i += 2) {
		CHECK_OK(dummy_fault(fds[i], p, 4, 0, &done));
		CHECK_EQ(done, 4);
	}
	CHECK_OK(munmap(p, 4 * PAGE));
	for (i = 1; i < NMIRRORS; i += 2) {
		CHECK_EQ(dummy_nr_entries(fds[i], p, 4), 0);
		CHECK_OK(close(fds[i]));
	}
	return TAP_PASS;
}

/* A child's life with a mirror of its own mm; returns a TAP_* code. */
static int child_mirror_life(int n, int do_close)
{
	uint64_t done, faults;
	uint8_t *p;
	int fd;

	fd = dummy_open(n & 1);
	CHECK(fd >= 0);
	CHECK((p = anon_map(16)));
	fill_pattern(p, 16, 100 + n);
	CHECK_OK(dummy_fault(fd, p, 16, HMM_DUMMY_FAULT_WRITE, &done));
	CHECK_EQ(done, 16);
	CHECK_OK(dummy_rw(fd, HMM_DUMMY_IOC_READ, p, buf, 16, &done, &faults));
	CHECK_EQ(check_pattern(buf, 16, 100 + n), -1);
	fill_pattern(buf, 16, 200 + n);
	CHECK_OK(dummy_rw(fd, HMM_DUMMY_IOC_WRITE, p, buf, 16, &done, &faults));
	CHECK_EQ(check_pattern(p, 16, 200 + n), -1);
	CHECK_EQ(check_coherent(fd, p, 16), 0);
	CHECK_OK(munmap(p, 8 * PAGE));
	CHECK_EQ(dummy_nr_entries(fd, p, 16), 8);
	if (do_close)
		CHECK_OK(close(fd));
	return TAP_PASS;
}

#define NCHILDREN 16

static int t_many_mms(void)
{
	long refs0 = module_refs("hmm_dummy");
	pid_t pids[NCHILDREN];
	int i, bad = 0;

	CHECK(refs0 >= 0);
	fflush(stdout);
	for (i = 0; i < NCHILDREN; i++) {
		pids[i] = fork();
		CHECK(pids[i] >= 0);
		if (pids[i] == 0)
			_exit(child_mirror_life(i, i & 2));
	}
	for (i = 0; i < NCHILDREN; i++) {
		int r = wait_child(pids[i]);

		if (r) {
			diag("child %d: status %d", i, r);
			bad++;
		}
	}
	CHECK_EQ(bad, 0);
	/* every file of every child was released */
	CHECK_EQ(wait_refs("hmm_dummy", refs0), refs0);
	return TAP_PASS;
}

static int t_release_on_exit(void)
{
	long refs0 = module_refs("hmm_dummy");
	pid_t pid;

	CHECK(refs0 >= 0);
	fflush(stdout);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0)
		_exit(child_mirror_life(0, 0));	/* exits with the mirror */
	CHECK_EQ(wait_child(pid), 0);
	CHECK_EQ(wait_refs("hmm_dummy", refs0), refs0);
	return TAP_PASS;
}

static int t_release_fd_passed(void)
{
	struct hmm_dummy_counters c;
	uint64_t done;
	long refs0 = module_refs("hmm_dummy");
	int sv[2], fd, go[2];
	uint8_t *p;
	pid_t pid;
	char x = 0;

	CHECK(refs0 >= 0);
	CHECK_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	CHECK_OK(pipe(go));
	fflush(stdout);
	pid = fork();
	CHECK(pid >= 0);
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
	CHECK(fd >= 0);
	CHECK((p = anon_map(2)));
	memset(p, 1, 2 * PAGE);
	/* the child's mm is alive: still not ours */
	CHECK_ERR(dummy_fault(fd, p, 2, 0, &done), EPERM);
	CHECK_ERR(dummy_counters(fd, &c), EPERM);
	CHECK_EQ(write(go[1], &x, 1), 1);
	CHECK_EQ(wait_child(pid), 0);
	/* the child's mm is gone: still EPERM, no crash, no hang */
	CHECK_ERR(dummy_fault(fd, p, 2, 0, &done), EPERM);
	CHECK_ERR(dummy_rw(fd, HMM_DUMMY_IOC_READ, p, buf, 1, &done, NULL),
		  EPERM);
	CHECK_ERR(dummy_counters(fd, &c), EPERM);
	/* our file still holds the module */
	CHECK(module_refs("hmm_dummy") > refs0);
	CHECK_OK(close(fd));
	CHECK_EQ(wait_refs("hmm_dummy", refs0), refs0);
	return TAP_PASS;
}

/* register/unregister racing invalidations */

static atomic_int stop;
static atomic_long errors, churns, rounds;

static void *churn_thread(void *arg)
{
	uint8_t *p = arg;	/* 8 stable pages */
	uint64_t done;

	while (!atomic_load(&stop)) {
		int fd = dummy_open(atomic_load(&churns) & 1);

		if (fd < 0) {
			atomic_fetch_add(&errors, 1);
			diag("churn: open: %s", strerror(errno));
			break;
		}
		if (RETRY_EBUSY(dummy_fault(fd, p, 8, 0, &done)) || done != 8) {
			atomic_fetch_add(&errors, 1);
			diag("churn: fault: %s done %llu", strerror(errno),
			     (unsigned long long)done);
		}
		close(fd);
		atomic_fetch_add(&churns, 1);
	}
	return NULL;
}

static void *mapper_thread(void *arg)
{
	static uint8_t tbuf[4][8 * 4096];
	uint8_t *mybuf = tbuf[(uintptr_t)arg];
	uint32_t seed = (uint32_t)(uintptr_t)arg * 1000003u;
	uint64_t done, faults;
	int fd = dummy_open(0);

	if (fd < 0) {
		atomic_fetch_add(&errors, 1);
		return NULL;
	}
	while (!atomic_load(&stop)) {
		uint8_t *p = anon_map(8);
		long bad;

		seed++;
		if (!p) {
			atomic_fetch_add(&errors, 1);
			break;
		}
		fill_pattern(p, 8, seed);
		if (RETRY_EBUSY(dummy_fault(fd, p, 8, HMM_DUMMY_FAULT_WRITE, &done)) ||
		    RETRY_EBUSY(dummy_rw(fd, HMM_DUMMY_IOC_READ, p, mybuf, 8,
					 &done, &faults)) ||
		    check_pattern(mybuf, 8, seed) != -1) {
			diag("mapper: device read mismatch (%s)", strerror(errno));
			atomic_fetch_add(&errors, 1);
		}
		if (mprotect(p, 8 * PAGE, PROT_READ))
			atomic_fetch_add(&errors, 1);
		/* the device must have lost write access */
		fill_pattern(mybuf, 8, seed + 1);
		if (RETRY_EBUSY(dummy_rw(fd, HMM_DUMMY_IOC_WRITE, p, mybuf, 8,
					 &done, &faults)) != -1 || errno != EPERM) {
			diag("mapper: WRITE to read-only memory: %s", strerror(errno));
			atomic_fetch_add(&errors, 1);
		}
		if (check_pattern(p, 8, seed) != -1) {
			diag("mapper: read-only memory changed");
			atomic_fetch_add(&errors, 1);
		}
		if (mprotect(p, 8 * PAGE, PROT_READ | PROT_WRITE))
			atomic_fetch_add(&errors, 1);
		if (RETRY_EBUSY(dummy_rw(fd, HMM_DUMMY_IOC_WRITE, p, mybuf, 8,
					 &done, &faults))) {
			diag("mapper: device WRITE failed: %s", strerror(errno));
			atomic_fetch_add(&errors, 1);
		} else if (check_pattern(p, 8, seed + 1) != -1) {
			diag("mapper: device write not seen by the CPU");
			atomic_fetch_add(&errors, 1);
		}
		bad = check_coherent(fd, p, 8);
		if (bad) {
			diag("mapper: %ld coherence violations", bad);
			atomic_fetch_add(&errors, 1);
		}
		munmap(p, 8 * PAGE);
		if (dummy_nr_entries(fd, p, 8) != 0) {
			diag("mapper: entries left after munmap");
			atomic_fetch_add(&errors, 1);
		}
		atomic_fetch_add(&rounds, 1);
	}
	close(fd);
	return NULL;
}

static int t_register_race(void)
{
	pthread_t th[4];
	uint8_t *stable;
	int i;

	CHECK((stable = anon_map(8)));
	memset(stable, 5, 8 * PAGE);
	CHECK_OK(pthread_create(&th[0], NULL, churn_thread, stable));
	CHECK_OK(pthread_create(&th[1], NULL, churn_thread, stable));
	CHECK_OK(pthread_create(&th[2], NULL, mapper_thread, (void *)1));
	CHECK_OK(pthread_create(&th[3], NULL, mapper_thread, (void *)2));
	sleep(3);
	atomic_store(&stop, 1);
	for (i = 0; i < 4; i++)
		CHECK_OK(pthread_join(th[i], NULL));
	diag("%ld open/close, %ld map rounds, %ld errors, %lu EBUSY retries",
	     atomic_load(&churns), atomic_load(&rounds), atomic_load(&errors),
	     dummy_ebusy_retries);
	CHECK_EQ(atomic_load(&errors), 0);
	CHECK(atomic_load(&churns) >= 10);
	CHECK(atomic_load(&rounds) >= 10);
	return TAP_PASS;
}

/*
 * populate racing invalidate: one thread keeps device-faulting a range while
 * another keeps changing its protection and zapping it. hmm_dummy's
 * invalidate_delay_us knob (if present) widens the window so commits really
 * meet invalidations (counted as retries). Whatever interleaving happened,
 * once both stop the device page table must be coherent with the CPU's, and
 * the device must have no write access to a read-only range.
 */
#define DELAY_KNOB "/sys/module/hmm_dummy/parameters/invalidate_delay_us"

static uint8_t *race_p;
static int race_fd;

static void *race_faulter(void *arg)
{
	uint64_t done;

	(void)arg;
	while (!atomic_load(&stop)) {
		int r = dummy_fault(race_fd, race_p, 16,
				    atomic_load(&rounds) & 1 ? HMM_DUMMY_FAULT_WRITE : 0,
				    &done);

		/* EPERM: asked to write while the range was read-only */
		if (r && errno != EPERM) {
			diag("faulter: %s", strerror(errno));
			atomic_fetch_add(&errors, 1);
		}
		atomic_fetch_add(&churns, 1);
	}
	return NULL;
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

static int t_populate_invalidate_race(void)
{
	struct hmm_dummy_counters c;
	pthread_t th[2];
	int knob, i;
	uint64_t done, nr;
	static struct hmm_dummy_pte e[16];

	atomic_store(&stop, 0);
	atomic_store(&errors, 0);
	atomic_store(&churns, 0);
	atomic_store(&rounds, 0);
	race_fd = dummy_open(0);
	CHECK(race_fd >= 0);
	CHECK((race_p = anon_map(16)));
	memset(race_p, 1, 16 * PAGE);
	knob = write_knob(DELAY_KNOB, "200") == 0;
	diag("invalidate_delay_us knob: %s", knob ? "200 us" : "absent");
	CHECK_OK(pthread_create(&th[0], NULL, race_faulter, NULL));
	CHECK_OK(pthread_create(&th[1], NULL, race_changer, NULL));
	sleep(3);
	atomic_store(&stop, 1);
	for (i = 0; i < 2; i++)
		CHECK_OK(pthread_join(th[i], NULL));
	if (knob)
		CHECK_OK(write_knob(DELAY_KNOB, "0"));
	CHECK_OK(dummy_counters(race_fd, &c));
	diag("%ld faults, %ld changes, %llu retries, %llu pages invalidated",
	     atomic_load(&churns), atomic_load(&rounds),
	     (unsigned long long)c.retries,
	     (unsigned long long)c.pages_invalidated);
	CHECK_EQ(atomic_load(&errors), 0);
	CHECK(atomic_load(&churns) >= 10 && atomic_load(&rounds) >= 10);
	CHECK_EQ(check_coherent(race_fd, race_p, 16), 0);
	/* read-only now: the device may read, not write */
	CHECK_OK(mprotect(race_p, 16 * PAGE, PROT_READ));
	CHECK_OK(dummy_fault(race_fd, race_p, 16, 0, &done));
	CHECK_OK(dummy_dump(race_fd, race_p, 16, e, 16, &nr));
	CHECK_EQ(nr, 16);
	for (i = 0; i < 16; i++)
		CHECK_EQ(e[i].perm, HMM_DUMMY_PERM_READ);
	CHECK_EQ(check_coherent(race_fd, race_p, 16), 0);
	return TAP_PASS;
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

static int t_commit_invalidate_race(void)
{
	const long n = 300;
	pthread_t th;
	uint64_t done;
	long i, bad;

	CHECK((cr_fd = dummy_open(0)) >= 0);
	CHECK((cr_p = anon_map(CR_PAGES)));
	CHECK_OK(pthread_barrier_init(&cr_barrier, NULL, 2));
	CHECK_OK(pthread_create(&th, NULL, cr_zapper, (void *)(uintptr_t)n));
	/* A failed CHECK ends the case's process, the zapper with it. */
	for (i = 0; i < n; i++) {
		memset(cr_p, (int)i, CR_PAGES * PAGE);
		pthread_barrier_wait(&cr_barrier);
		if (dummy_fault(cr_fd, cr_p, CR_PAGES, HMM_DUMMY_FAULT_WRITE,
				&done)) {
			CHECK_EQ(errno, EBUSY);
			atomic_fetch_add(&cr_busy, 1);
		}
		pthread_barrier_wait(&cr_barrier);
		bad = check_coherent(cr_fd, cr_p, CR_PAGES);
		if (bad)
			diag("round %ld: %ld violation(s) after the zap", i, bad);
		CHECK_EQ(bad, 0);
	}
	pthread_join(th, NULL);
	diag("%ld rounds, %ld EBUSY", n, atomic_load(&cr_busy));
	return TAP_PASS;
}

#define RELEASE_KNOB "/sys/module/hmm_dummy/parameters/unregister_in_release"

/*
 * The same two exits with hmm_dummy unregistering its mirror from inside
 * ->release(): hmm_core must allow it (no self-deadlock), and a close
 * racing it must wait for it before the file is freed.
 */
static int t_unregister_in_release(void)
{
	int i, ret = TAP_PASS;

	CHECK_OK(write_knob(RELEASE_KNOB, "Y"));
	for (i = 0; i < 10 && ret == TAP_PASS; i++) {
		ret = t_release_on_exit();
		if (ret == TAP_PASS)
			ret = t_release_fd_passed();
	}
	CHECK_OK(write_knob(RELEASE_KNOB, "N"));
	return ret;
}

static int try_unload(const char *name)
{
	return (int)syscall(SYS_delete_module, name, O_NONBLOCK);
}

static int t_rmmod_busy(void)
{
	uint64_t done;
	uint8_t *p;
	int fd, e;

	if (module_refs("hmm_dummy") < 0 || module_refs("hmm_core") < 0)
		return tap_skip_reason("hmm_dummy/hmm_core not in /proc/modules");
	fd = dummy_open(0);
	CHECK(fd >= 0);
	CHECK((p = anon_map(2)));
	CHECK_OK(dummy_fault(fd, p, 2, HMM_DUMMY_FAULT_WRITE, &done));
	CHECK(module_refs("hmm_dummy") >= 1);

	errno = 0;
	CHECK_EQ(try_unload("hmm_dummy"), -1);
	e = errno;
	diag("delete_module(hmm_dummy) with a mirror open: %s", strerror(e));
	CHECK(e == EWOULDBLOCK || e == EBUSY);
	CHECK(module_refs("hmm_dummy") >= 1);

	/* hmm_dummy uses hmm_core: it cannot go either */
	errno = 0;
	CHECK_EQ(try_unload("hmm_core"), -1);
	e = errno;
	diag("delete_module(hmm_core) with hmm_dummy loaded: %s", strerror(e));
	CHECK(e == EWOULDBLOCK || e == EBUSY);
	CHECK(module_refs("hmm_core") >= 0);

	/* and the mirror still works */
	CHECK_OK(dummy_fault(fd, p, 2, 0, &done));
	CHECK_EQ(done, 2);
	CHECK_OK(munmap(p, 2 * PAGE));
	CHECK_EQ(dummy_nr_entries(fd, p, 2), 0);
	CHECK_OK(close(fd));
	return TAP_PASS;
}

static const struct tap_case cases[] = {
	{ "many_mirrors_one_mm", t_many_mirrors_one_mm, 0 },
	{ "mirrors_on_many_mms", t_many_mms, 0 },
	{ "release_on_exit_without_close", t_release_on_exit, 0 },
	{ "release_fd_passed_to_parent", t_release_fd_passed, 0 },
	{ "register_unregister_race", t_register_race, 60 },
	{ "populate_invalidate_race", t_populate_invalidate_race, 60 },
	{ "commit_invalidate_race", t_commit_invalidate_race, 120 },
	{ "unregister_from_inside_release", t_unregister_in_release, 60 },
	{ "rmmod_refused_while_in_use", t_rmmod_busy, 0 },
};

int main(void)
{
	return TAP_MAIN(cases);
}
