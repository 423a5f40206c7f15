// SPDX-License-Identifier: GPL-2.0
/*
 * coherence_proc - the device never sees a page the CPU no longer maps,
 * across processes and threads: fork and copy-on-write from both sides,
 * vfork, exec (file inherited or closed), exit with mirrors open, several
 * devices on one process, several processes on one device, many threads,
 * and SIGKILL while a device is mid-fault or mid-copy.
 *
 * Checked by the oracle of oracle.h after each step, and by data.
 *
 * Cases of kselftest_harness.h, fixture "proc" (/dev/hmm_dummy0 and its
 * oracle): "coherence_proc -l" lists them, "coherence_proc -t vfork" runs one.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include "kselftest_harness.h"
#include "oracle.h"

#define N 16

static char *self_exe;

/* self->fd: /dev/hmm_dummy0, self->o: the oracle over it */
ORACLE_FIXTURE(proc)

/* The child pid exited with status 0. */
static void wait_ok(struct __test_metadata *_metadata, pid_t pid)
{
	int status;

	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	if (WIFSIGNALED(status))
		TH_LOG("child %d: signal %d", pid, WTERMSIG(status));
	ASSERT_TRUE(WIFEXITED(status));
	if (WEXITSTATUS(status))
		TH_LOG("child %d: exit status %d", pid, WEXITSTATUS(status));
	ASSERT_EQ(0, WEXITSTATUS(status));
}

/* A native oracle over a new file of /dev/hmm_dummy<unit> (fd -1: none). */
static struct oracle native(int unit)
{
	struct oracle o = { .fd = dummy_open(unit), .abi = ABI_NATIVE };

	return o;
}

/* In a child: the oracle and data over its own view of [p, +n), via its own
 * device file; 0 if coherent, the pattern of seed there, else non-zero. */
static int child_check(char *p, size_t n, uint32_t seed)
{
	struct oracle o = native(0);

	if (o.fd < 0)
		return 10;
	if (check_pattern(p, n, seed) != -1)
		return 11;
	if (dummy_fault(o.fd, p, n, 0, NULL))
		return 12;
	if (oracle_coherent(&o, p, n))
		return 13;
	if (oracle_read_agrees(&o, p, n))
		return 14;
	close(o.fd);
	return 0;
}

/*
 * fork with writable device entries in the parent: fork write-protects the
 * parent's pages, so its entries must lose write; a device write in the
 * parent then breaks copy-on-write in the parent, never reaching the child;
 * a CPU write in the parent must drop the old entry.
 */
TEST_F_TIMEOUT(proc, fork_cow_parent_device_write, 60)
{
	int go[2], done[2];
	char c = 0;
	pid_t pid;
	char *p;

	p = anon_filled(N, 1);
	ASSERT_NE(NULL, p);
	ASSERT_EQ(0, dummy_fault(self->fd, p, N, HMM_DUMMY_FAULT_WRITE, NULL));
	ASSERT_EQ(0, pipe(go));
	ASSERT_EQ(0, pipe(done));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		int r;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (read(go[0], &c, 1) != 1)
			_exit(20);
		/* The parent wrote through its device: not here. */
		r = child_check(p, N, 1);
		if (write(done[1], &c, 1) != 1)
			_exit(21);
		_exit(r);
	}
	ASSERT_COHERENT(&self->o, p, N);
	/* Device write in the parent over the first half. */
	ASSERT_WRITE_SEEN(&self->o, p, N / 2, 2);
	/* CPU write in the parent over the second half. */
	fill_pattern(p + N / 2 * PAGE, N / 2, 3);
	ASSERT_COHERENT_DATA(&self->o, p, N);
	ASSERT_EQ(check_pattern(p, N / 2, 2), -1);
	ASSERT_EQ(check_pattern(p + N / 2 * PAGE, N / 2, 3), -1);
	ASSERT_EQ(1, write(go[1], &c, 1));
	ASSERT_EQ(1, read(done[0], &c, 1));
	wait_ok(_metadata, pid);
	ASSERT_COHERENT_DATA(&self->o, p, N);
}

/*
 * fork with device entries in the parent; the child writes with the CPU
 * (breaking copy-on-write on its side) and through its own device: the
 * parent's device view keeps the parent's data.
 */
TEST_F_TIMEOUT(proc, fork_cow_child_cpu_write, 60)
{
	int done[2];
	char c = 0;
	pid_t pid;
	char *p;

	p = anon_filled(N, 4);
	ASSERT_NE(NULL, p);
	ASSERT_EQ(0, dummy_fault(self->fd, p, N, 0, NULL));
	ASSERT_EQ(0, pipe(done));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct oracle co = native(0);

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (co.fd < 0)
			_exit(30);
		fill_pattern(p, N / 2, 5);
		if (oracle_write_seen(&co, p + N / 2 * PAGE, N / 2, 6) ||
		    oracle_coherent(&co, p, N) || oracle_read_agrees(&co, p, N))
			_exit(31);
		if (write(done[1], &c, 1) != 1)
			_exit(32);
		pause();	/* keep the child's pages alive */
		_exit(0);
	}
	ASSERT_EQ(1, read(done[0], &c, 1));
	ASSERT_COHERENT_PATTERN(&self->o, p, N, 4);
	/* The parent writes too, now: its pages become its own again. */
	ASSERT_WRITE_SEEN(&self->o, p, N, 7);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	ASSERT_COHERENT_PATTERN(&self->o, p, N, 7);
}

/*
 * vfork: the child shares the address space, so the parent's file works in
 * it: the child writes through the device and unmaps a page, then execs.
 */
TEST_F_TIMEOUT(proc, vfork, 60)
{
	static char wbuf[PAGE];
	struct hmm_dummy_rw rw = {};
	int fd = self->fd;
	pid_t pid;
	char *p;

	p = anon_filled(N, 8);
	ASSERT_NE(NULL, p);
	ASSERT_EQ(0, dummy_fault(self->fd, p, N, HMM_DUMMY_FAULT_WRITE, NULL));
	fill_pattern(wbuf, 1, 9);
	rw.addr = (uintptr_t)p;
	rw.ptr = (uintptr_t)wbuf;
	rw.npages = 1;
	pid = vfork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		/* Only raw system calls here: the parent's stack is ours. */
		if (ioctl(fd, HMM_DUMMY_IOC_WRITE, &rw))
			_exit(40);
		if (syscall(SYS_munmap, p + (N - 1) * PAGE, PAGE))
			_exit(41);
		execl(self_exe, self_exe, "--exit", "0", (char *)NULL);
		_exit(42);
	}
	wait_ok(_metadata, pid);
	ASSERT_COHERENT(&self->o, p, N);
	ASSERT_ENTRIES(self->fd, p + (N - 1) * PAGE, 1, 0);
	ASSERT_EQ(check_pattern(p, 1, 9), -1);
	ASSERT_COHERENT_DATA(&self->o, p, N - 1);
	ASSERT_EQ(check_pattern(p + PAGE, 1, 8) == -1 ||
		  !memcmp(p + PAGE, wbuf, 0), 1);
	ASSERT_WRITE_SEEN(&self->o, p, N - 1, 10);
}

/*
 * exec with a mirror open: the old address space goes, and its mirror with
 * it. With O_CLOEXEC the file is closed; without, the new image inherits a
 * file bound to an address space that is gone: EPERM, and a new file works.
 */
static void exec_case(struct __test_metadata *_metadata, int cloexec)
{
	char fdstr[16];
	pid_t pid;

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		int fd = open("/dev/hmm_dummy0", O_RDWR | (cloexec ? O_CLOEXEC : 0));
		char *p = anon_filled(N, 11);

		if (fd < 0 || !p ||
		    dummy_fault(fd, p, N, HMM_DUMMY_FAULT_WRITE, NULL))
			_exit(50);
		snprintf(fdstr, sizeof(fdstr), "%d", fd);
		execl(self_exe, self_exe, cloexec ? "--exec-cloexec" :
		      "--exec-inherit", fdstr, (char *)NULL);
		_exit(51);
	}
	wait_ok(_metadata, pid);
}

/* The exec'd image: argv[2] is the old file's number. */
static int exec_child(int cloexec, int fd)
{
	char buf[PAGE];
	struct oracle no;
	char *p;

	if (cloexec) {
		if (fcntl(fd, F_GETFD) != -1 || errno != EBADF)
			return 60;
	} else {
		if (fcntl(fd, F_GETFD) < 0)
			return 61;
		p = anon_filled(N, 12);
		if (!p)
			return 62;
		if (dummy_fault(fd, p, N, 0, NULL) != -1 || errno != EPERM)
			return 63;
		if (dummy_rw(fd, HMM_DUMMY_IOC_READ, p, buf, 1, NULL, NULL) != -1 ||
		    errno != EPERM)
			return 64;
		if (dummy_nr_entries(fd, p, N) != -1 || errno != EPERM)
			return 65;
		close(fd);	/* the old mirror's last reference */
	}
	no = native(0);
	p = anon_filled(N, 13);
	if (no.fd < 0 || !p ||
	    dummy_fault(no.fd, p, N, HMM_DUMMY_FAULT_WRITE, NULL))
		return 66;
	if (oracle_coherent(&no, p, N) || oracle_read_agrees(&no, p, N) ||
	    oracle_write_seen(&no, p, N, 14))
		return 67;
	return 0;
}

TEST_F_TIMEOUT(proc, exec_cloexec, 60)
{
	exec_case(_metadata, 1);
}

TEST_F_TIMEOUT(proc, exec_inherited_fd, 60)
{
	exec_case(_metadata, 0);
}

static void *reader(void *arg)
{
	int fd = dummy_open(1);
	char *p = anon_filled(256, 15);
	char *buf = malloc(256 * PAGE);

	(void)arg;
	if (fd < 0 || !p || !buf)
		return NULL;
	for (;;) {
		dummy_rw(fd, HMM_DUMMY_IOC_READ, p, buf, 256, NULL, NULL);
		madvise(p, 256 * PAGE, MADV_DONTNEED);
	}
	return NULL;
}

/*
 * exit with mirrors open (two devices, one dmirror), entries populated, and
 * another thread in the middle of device copies: the address space goes
 * down with the files still open; closing them then needs no address space.
 */
TEST_F_TIMEOUT(proc, exit_with_mirrors_open, 60)
{
	int round;

	for (round = 0; round < 4; round++) {
		pid_t pid = fork();

		ASSERT_LE(0, pid);
		if (pid == 0) {
			int fd0 = dummy_open(0), fd1 = dummy_open(1);
			int dm = open("/dev/hmm_dmirror0", O_RDWR);
			char *p = anon_filled(64, 16);
			pthread_t th;

			if (fd0 < 0 || fd1 < 0 || dm < 0 || !p)
				_exit(70);
			if (dummy_fault(fd0, p, 64, HMM_DUMMY_FAULT_WRITE, NULL) ||
			    dummy_fault(fd1, p, 64, 0, NULL))
				_exit(71);
			if (pthread_create(&th, NULL, reader, NULL))
				_exit(72);
			msleep(20 * round);
			exit(0);	/* exit_group, files open */
		}
		wait_ok(_metadata, pid);
	}
}

/* Three files (two devices) on one process: each one coherent. */
TEST_F_TIMEOUT(proc, devices_one_process, 60)
{
	struct oracle o[3] = { self->o, native(1), native(0) };
	int i;
	char *p;

	ASSERT_TRUE(o[0].fd >= 0 && o[1].fd >= 0 && o[2].fd >= 0);
	p = anon_filled(N, 17);
	ASSERT_NE(NULL, p);
	ASSERT_EQ(0, dummy_fault(o[0].fd, p, N, HMM_DUMMY_FAULT_WRITE, NULL));
	ASSERT_EQ(0, dummy_fault(o[1].fd, p, N, 0, NULL));
	ASSERT_EQ(0, dummy_fault(o[2].fd, p + 4 * PAGE, 8,
				 HMM_DUMMY_FAULT_WRITE, NULL));
	for (i = 0; i < 3; i++)
		ASSERT_COHERENT_DATA(&o[i], p, N);
	/* One device writes, the others read it. */
	ASSERT_WRITE_SEEN(&o[1], p, N, 18);
	for (i = 0; i < 3; i++)
		ASSERT_COHERENT_DATA(&o[i], p, N);
	ASSERT_EQ(0, munmap(p + 6 * PAGE, 2 * PAGE));
	ASSERT_EQ(0, mprotect(p, 4 * PAGE, PROT_READ));
	ASSERT_EQ(0, madvise(p + 12 * PAGE, 4 * PAGE, MADV_DONTNEED));
	for (i = 0; i < 3; i++) {
		ASSERT_COHERENT(&o[i], p, N);
		ASSERT_ENTRIES(o[i].fd, p + 6 * PAGE, 2, 0);
		ASSERT_ENTRIES(o[i].fd, p + 12 * PAGE, 4, 0);
		ASSERT_COHERENT_DATA(&o[i], p, 6);
		ASSERT_COHERENT_DATA(&o[i], p + 8 * PAGE, 8);
	}
	ASSERT_WRITE_SEEN(&o[2], p + 8 * PAGE, 8, 19);
	for (i = 0; i < 3; i++)
		ASSERT_COHERENT_DATA(&o[i], p + 8 * PAGE, 8);
}

#define NPROC 4

/*
 * Several processes on one device, each with its own file, all mirroring
 * one MAP_SHARED anonymous (shmem) range: MADV_REMOVE in the parent frees
 * the pages under every one of them; each child's device table must drop
 * them, and what one child's device then writes the others read.
 */
TEST_F_TIMEOUT(proc, processes_one_device, 60)
{
	int ready[2], go[NPROC][2], i;
	pid_t pid[NPROC];
	char c = 0, *p;

	p = mmap(NULL, N * PAGE, PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, p);
	fill_pattern(p, N, 20);
	ASSERT_EQ(0, pipe(ready));
	for (i = 0; i < NPROC; i++) {
		ASSERT_EQ(0, pipe(go[i]));
		pid[i] = fork();
		ASSERT_LE(0, pid[i]);
		if (pid[i] == 0) {
			struct oracle co = native(0);
			char *own = anon_filled(N, 21 + i);

			prctl(PR_SET_PDEATHSIG, SIGKILL);
			if (co.fd < 0 || !own ||
			    dummy_fault(co.fd, p, N, HMM_DUMMY_FAULT_WRITE, NULL) ||
			    dummy_fault(co.fd, own, N, HMM_DUMMY_FAULT_WRITE,
					NULL) ||
			    oracle_coherent(&co, p, N))
				_exit(80);
			if (write(ready[1], &c, 1) != 1 ||
			    read(go[i][0], &c, 1) != 1)
				_exit(81);
			/* The parent removed the shared pages. */
			if (oracle_coherent(&co, p, N) ||
			    dummy_nr_entries(co.fd, p, N) != 0 ||
			    oracle_read_agrees(&co, p, N))
				_exit(82);
			/* Each writes its page of the shared range. */
			if (oracle_write_seen(&co, p + i * PAGE, 1, 30 + i))
				_exit(83);
			if (oracle_coherent(&co, own, N) ||
			    oracle_read_agrees(&co, own, N) ||
			    check_pattern(own, N, 21 + i) != -1)
				_exit(84);
			if (write(ready[1], &c, 1) != 1 ||
			    read(go[i][0], &c, 1) != 1)
				_exit(85);
			/* Every child's page, through this one's device. */
			if (oracle_coherent(&co, p, N) ||
			    oracle_read_agrees(&co, p, NPROC))
				_exit(86);
			_exit(0);
		}
	}
	/* (braces: an ASSERT_*() ends the case only after its statement) */
	for (i = 0; i < NPROC; i++) {
		ASSERT_EQ(1, read(ready[0], &c, 1));
	}
	ASSERT_EQ(0, madvise(p, N * PAGE, MADV_REMOVE));
	/* One at a time: each reads all pages, then writes its own. */
	for (i = 0; i < NPROC; i++) {
		ASSERT_EQ(1, write(go[i][1], &c, 1));
		ASSERT_EQ(1, read(ready[0], &c, 1));
	}
	for (i = 0; i < NPROC; i++)
		ASSERT_EQ(check_pattern(p + i * PAGE, 1, 30 + i), -1);
	for (i = 0; i < NPROC; i++) {
		ASSERT_EQ(1, write(go[i][1], &c, 1));
	}
	for (i = 0; i < NPROC; i++)
		wait_ok(_metadata, pid[i]);
}

#define NTHREADS 8
#define TPAGES 32

struct thread_arg {
	struct oracle o;
	int idx;
	int result;	/* 0: passed; the line of the failed check */
};

/*
 * A check in one of many_threads' threads, where the harness's ASSERT_*()
 * may not be used (they end the case from its own thread only): the line
 * of the failed check is the thread's result, which the case asserts on.
 */
#define THREAD_CHECK(a, cond) do {					\
	if (!(cond)) {							\
		ksft_print_msg("thread %d: line %d: %s\n", (a)->idx,	\
			       __LINE__, #cond);			\
		return __LINE__;					\
	}								\
} while (0)

/* One thread: its own region, random changes, oracle after each. */
static int thread_body(struct thread_arg *a)
{
	unsigned int seed = (unsigned int)a->idx * 7919u + 1;
	uint32_t gen = (uint32_t)a->idx * 1000;
	const struct oracle *o = &a->o;
	char *p = anon_filled(TPAGES, gen);
	int it;

	THREAD_CHECK(a, p);
	for (it = 0; it < 60; it++) {
		int op = rand_r(&seed) % 6;
		size_t off = (size_t)(rand_r(&seed) % (TPAGES / 2));
		size_t n = 1 + (size_t)(rand_r(&seed) % (TPAGES / 2));

		switch (op) {
		case 0:
			THREAD_CHECK(a, !RETRY_EBUSY(dummy_fault(o->fd, p,
					TPAGES, HMM_DUMMY_FAULT_WRITE, NULL)));
			break;
		case 1:
			THREAD_CHECK(a, mmap(p + off * PAGE, n * PAGE,
					     PROT_READ | PROT_WRITE,
					     MAP_PRIVATE | MAP_ANONYMOUS |
					     MAP_FIXED, -1, 0) != MAP_FAILED);
			break;
		case 2:
			THREAD_CHECK(a, !mprotect(p + off * PAGE, n * PAGE,
						  PROT_READ));
			/* ASSERT_COHERENT_DATA()'s three checks */
			THREAD_CHECK(a, !oracle_coherent(o, p, TPAGES));
			THREAD_CHECK(a, !oracle_read_agrees(o, p, TPAGES));
			THREAD_CHECK(a, !oracle_coherent(o, p, TPAGES));
			THREAD_CHECK(a, !mprotect(p + off * PAGE, n * PAGE,
						  PROT_READ | PROT_WRITE));
			break;
		case 3:
			THREAD_CHECK(a, !madvise(p + off * PAGE, n * PAGE,
						 MADV_DONTNEED));
			break;
		case 4:
			fill_pattern(p + off * PAGE, n, ++gen);
			break;
		default:
			/* ASSERT_WRITE_SEEN()'s two */
			THREAD_CHECK(a, !oracle_write_seen(o, p + off * PAGE, n,
							   ++gen));
			THREAD_CHECK(a, !oracle_coherent(o, p + off * PAGE, n));
			break;
		}
		THREAD_CHECK(a, !oracle_coherent(o, p, TPAGES));
		THREAD_CHECK(a, !oracle_read_agrees(o, p, TPAGES));
		THREAD_CHECK(a, !oracle_coherent(o, p, TPAGES));
	}
	return 0;
}

static void *thread_main(void *arg)
{
	struct thread_arg *a = arg;

	a->result = thread_body(a);
	return NULL;
}

TEST_F_TIMEOUT(proc, many_threads, 120)
{
	struct thread_arg args[NTHREADS];
	pthread_t th[NTHREADS];
	int i;

	for (i = 0; i < NTHREADS; i++) {
		args[i].o = self->o;
		args[i].idx = i;
		args[i].result = -1;
		ASSERT_EQ(0, pthread_create(&th[i], NULL, thread_main,
					    &args[i]));
	}
	for (i = 0; i < NTHREADS; i++)
		pthread_join(th[i], NULL);
	if (dummy_ebusy_retries)
		TH_LOG("%lu device accesses tried again after EBUSY",
		       dummy_ebusy_retries);
	for (i = 0; i < NTHREADS; i++) {
		EXPECT_EQ(0, args[i].result)
			TH_LOG("thread %d failed at line %d", i,
			       args[i].result);
	}
}

#define KPAGES 8192	/* 32 MiB */

static void *fault_loop(void *arg)
{
	char *p = arg;
	int fd = dummy_open(0);

	for (;;) {
		dummy_fault(fd, p, KPAGES, HMM_DUMMY_FAULT_WRITE, NULL);
		madvise(p, KPAGES * PAGE, MADV_DONTNEED);
	}
	return NULL;
}

/* A child with one thread in a large device READ, one in a large FAULT. */
static void kill_case(struct __test_metadata *_metadata, int copy)
{
	struct oracle no;
	char *p;
	unsigned int seed = 42;
	int round;

	for (round = 0; round < 4; round++) {
		int status;
		pid_t pid = fork();

		ASSERT_LE(0, pid);
		if (pid == 0) {
			int fd = dummy_open(0);
			char *p = anon_map(KPAGES), *buf = malloc(KPAGES * PAGE);
			pthread_t th;

			prctl(PR_SET_PDEATHSIG, SIGKILL);
			if (fd < 0 || !p || !buf)
				_exit(90);
			if (!copy && pthread_create(&th, NULL, fault_loop, p))
				_exit(91);
			for (;;) {
				if (copy)
					dummy_rw(fd, HMM_DUMMY_IOC_READ, p, buf,
						 KPAGES, NULL, NULL);
				else
					dummy_fault(fd, p, KPAGES, 0, NULL);
				madvise(p, KPAGES * PAGE, MADV_DONTNEED);
			}
		}
		msleep(100 + rand_r(&seed) % 400);
		ASSERT_EQ(0, kill(pid, SIGKILL));
		ASSERT_EQ(pid, waitpid(pid, &status, 0));
		ASSERT_TRUE(WIFSIGNALED(status));
		ASSERT_EQ(SIGKILL, WTERMSIG(status));
	}
	/* The device still works, for a file opened now. */
	no = native(0);
	p = anon_filled(N, 99);
	ASSERT_LE(0, no.fd);
	ASSERT_NE(NULL, p);
	ASSERT_EQ(0, dummy_fault(no.fd, p, N, HMM_DUMMY_FAULT_WRITE, NULL));
	ASSERT_COHERENT_DATA(&no, p, N);
	close(no.fd);
}

TEST_F_TIMEOUT(proc, sigkill_mid_fault, 120)
{
	kill_case(_metadata, 0);
}

TEST_F_TIMEOUT(proc, sigkill_mid_copy, 120)
{
	kill_case(_metadata, 1);
}

int main(int argc, char **argv)
{
	self_exe = "/proc/self/exe";
	if (argc == 3 && !strcmp(argv[1], "--exit"))
		return atoi(argv[2]);
	if (argc == 3 && !strcmp(argv[1], "--exec-cloexec"))
		return exec_child(1, atoi(argv[2]));
	if (argc == 3 && !strcmp(argv[1], "--exec-inherit"))
		return exec_child(0, atoi(argv[2]));
	return test_harness_run(argc, argv);
}
