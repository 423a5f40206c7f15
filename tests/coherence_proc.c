// SPDX-License-Identifier: GPL-2.0
/*
 * coherence_proc - the device never sees a page the CPU no longer maps,
 * across processes and threads: fork and copy-on-write from both sides,
 * vfork, exec (file inherited or closed), exit with mirrors open, several
 * devices on one process, several processes on one device, many threads,
 * and SIGKILL while a device is mid-fault or mid-copy.
 *
 * Checked by the oracle of oracle.h after each step, and by data.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include "oracle.h"

#define N 16

static char *self_exe;

static int wait_ok(pid_t pid)
{
	int status;

	CHECK_EQ(waitpid(pid, &status, 0), pid);
	if (WIFSIGNALED(status))
		diag("child %d: signal %d", pid, WTERMSIG(status));
	CHECK(WIFEXITED(status));
	if (WEXITSTATUS(status))
		diag("child %d: exit status %d", pid, WEXITSTATUS(status));
	CHECK_EQ(WEXITSTATUS(status), 0);
	return TAP_PASS;
}

/* In a child: the oracle and data over its own view of [p, +n), via its own
 * device file; 0 if coherent, the pattern of seed there, else non-zero. */
static int child_check(char *p, size_t n, uint32_t seed)
{
	int fd = dummy_open(0);

	if (fd < 0)
		return 10;
	if (check_pattern(p, n, seed) != -1)
		return 11;
	if (dummy_fault(fd, p, n, 0, NULL))
		return 12;
	if (check_coherent(fd, p, n))
		return 13;
	if (oracle_read_agrees(fd, p, n))
		return 14;
	close(fd);
	return 0;
}

/*
 * fork with writable device entries in the parent: fork write-protects the
 * parent's pages, so its entries must lose write; a device write in the
 * parent then breaks copy-on-write in the parent, never reaching the child;
 * a CPU write in the parent must drop the old entry.
 */
static int t_fork_cow_parent(void)
{
	int fd, go[2], done[2];
	char c = 0;
	pid_t pid;
	char *p;

	fd = dummy_open(0);
	CHECK(fd >= 0);
	p = anon_filled(N, 1);
	CHECK(p);
	CHECK_OK(dummy_fault(fd, p, N, HMM_DUMMY_FAULT_WRITE, NULL));
	CHECK_OK(pipe(go));
	CHECK_OK(pipe(done));
	pid = fork();
	CHECK(pid >= 0);
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
	ORACLE(fd, p, N);
	/* Device write in the parent over the first half. */
	ORACLE_WRITE(fd, p, N / 2, 2);
	/* CPU write in the parent over the second half. */
	fill_pattern(p + N / 2 * PAGE, N / 2, 3);
	ORACLE_DATA(fd, p, N);
	CHECK_EQ(check_pattern(p, N / 2, 2), -1);
	CHECK_EQ(check_pattern(p + N / 2 * PAGE, N / 2, 3), -1);
	CHECK_EQ(write(go[1], &c, 1), 1);
	CHECK_EQ(read(done[0], &c, 1), 1);
	if (wait_ok(pid))
		return TAP_FAIL;
	ORACLE_DATA(fd, p, N);
	return TAP_PASS;
}

/*
 * fork with device entries in the parent; the child writes with the CPU
 * (breaking copy-on-write on its side) and through its own device: the
 * parent's device view keeps the parent's data.
 */
static int t_fork_cow_child(void)
{
	int fd, done[2];
	char c = 0;
	pid_t pid;
	char *p;

	fd = dummy_open(0);
	CHECK(fd >= 0);
	p = anon_filled(N, 4);
	CHECK(p);
	CHECK_OK(dummy_fault(fd, p, N, 0, NULL));
	CHECK_OK(pipe(done));
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		int cfd = dummy_open(0);

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (cfd < 0)
			_exit(30);
		fill_pattern(p, N / 2, 5);
		if (oracle_write_seen(cfd, p + N / 2 * PAGE, N / 2, 6) ||
		    check_coherent(cfd, p, N) || oracle_read_agrees(cfd, p, N))
			_exit(31);
		if (write(done[1], &c, 1) != 1)
			_exit(32);
		pause();	/* keep the child's pages alive */
		_exit(0);
	}
	CHECK_EQ(read(done[0], &c, 1), 1);
	ORACLE_DATA(fd, p, N);
	CHECK_EQ(check_pattern(p, N, 4), -1);
	/* The parent writes too, now: its pages become its own again. */
	ORACLE_WRITE(fd, p, N, 7);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	ORACLE_DATA(fd, p, N);
	CHECK_EQ(check_pattern(p, N, 7), -1);
	return TAP_PASS;
}

/*
 * vfork: the child shares the address space, so the parent's file works in
 * it: the child writes through the device and unmaps a page, then execs.
 */
static int t_vfork(void)
{
	static char wbuf[PAGE];
	struct hmm_dummy_rw rw = {};
	int fd;
	pid_t pid;
	char *p;

	fd = dummy_open(0);
	CHECK(fd >= 0);
	p = anon_filled(N, 8);
	CHECK(p);
	CHECK_OK(dummy_fault(fd, p, N, HMM_DUMMY_FAULT_WRITE, NULL));
	fill_pattern(wbuf, 1, 9);
	rw.addr = (uintptr_t)p;
	rw.ptr = (uintptr_t)wbuf;
	rw.npages = 1;
	pid = vfork();
	CHECK(pid >= 0);
	if (pid == 0) {
		/* Only raw system calls here: the parent's stack is ours. */
		if (ioctl(fd, HMM_DUMMY_IOC_WRITE, &rw))
			_exit(40);
		if (syscall(SYS_munmap, p + (N - 1) * PAGE, PAGE))
			_exit(41);
		execl(self_exe, self_exe, "--exit", "0", (char *)NULL);
		_exit(42);
	}
	if (wait_ok(pid))
		return TAP_FAIL;
	ORACLE(fd, p, N);
	CHECK_ENTRIES(fd, p + (N - 1) * PAGE, 1, 0);
	CHECK_EQ(check_pattern(p, 1, 9), -1);
	ORACLE_DATA(fd, p, N - 1);
	CHECK_EQ(check_pattern(p + PAGE, 1, 8) == -1 ||
		 !memcmp(p + PAGE, wbuf, 0), 1);
	ORACLE_WRITE(fd, p, N - 1, 10);
	return TAP_PASS;
}

/*
 * exec with a mirror open: the old address space goes, and its mirror with
 * it. With O_CLOEXEC the file is closed; without, the new image inherits a
 * file bound to an address space that is gone: EPERM, and a new file works.
 */
static int exec_case(int cloexec)
{
	char fdstr[16];
	pid_t pid;

	pid = fork();
	CHECK(pid >= 0);
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
	return wait_ok(pid);
}

/* The exec'd image: argv[2] is the old file's number. */
static int exec_child(int cloexec, int fd)
{
	char buf[PAGE];
	int nfd;
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
	nfd = dummy_open(0);
	p = anon_filled(N, 13);
	if (nfd < 0 || !p || dummy_fault(nfd, p, N, HMM_DUMMY_FAULT_WRITE, NULL))
		return 66;
	if (check_coherent(nfd, p, N) || oracle_read_agrees(nfd, p, N) ||
	    oracle_write_seen(nfd, p, N, 14))
		return 67;
	return 0;
}

static int t_exec_cloexec(void)
{
	return exec_case(1);
}

static int t_exec_inherit(void)
{
	return exec_case(0);
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
static int t_exit_with_mirrors(void)
{
	int round;

	for (round = 0; round < 4; round++) {
		pid_t pid = fork();

		CHECK(pid >= 0);
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
		if (wait_ok(pid))
			return TAP_FAIL;
	}
	return TAP_PASS;
}

/* Three files (two devices) on one process: each one coherent. */
static int t_devices_one_process(void)
{
	int fd[3], i;
	char *p;

	fd[0] = dummy_open(0);
	fd[1] = dummy_open(1);
	fd[2] = dummy_open(0);
	CHECK(fd[0] >= 0 && fd[1] >= 0 && fd[2] >= 0);
	p = anon_filled(N, 17);
	CHECK(p);
	CHECK_OK(dummy_fault(fd[0], p, N, HMM_DUMMY_FAULT_WRITE, NULL));
	CHECK_OK(dummy_fault(fd[1], p, N, 0, NULL));
	CHECK_OK(dummy_fault(fd[2], p + 4 * PAGE, 8, HMM_DUMMY_FAULT_WRITE, NULL));
	for (i = 0; i < 3; i++)
		ORACLE_DATA(fd[i], p, N);
	/* One device writes, the others read it. */
	ORACLE_WRITE(fd[1], p, N, 18);
	for (i = 0; i < 3; i++)
		ORACLE_DATA(fd[i], p, N);
	CHECK_OK(munmap(p + 6 * PAGE, 2 * PAGE));
	CHECK_OK(mprotect(p, 4 * PAGE, PROT_READ));
	CHECK_OK(madvise(p + 12 * PAGE, 4 * PAGE, MADV_DONTNEED));
	for (i = 0; i < 3; i++) {
		ORACLE(fd[i], p, N);
		CHECK_ENTRIES(fd[i], p + 6 * PAGE, 2, 0);
		CHECK_ENTRIES(fd[i], p + 12 * PAGE, 4, 0);
		ORACLE_DATA(fd[i], p, 6);
		ORACLE_DATA(fd[i], p + 8 * PAGE, 8);
	}
	ORACLE_WRITE(fd[2], p + 8 * PAGE, 8, 19);
	for (i = 0; i < 3; i++)
		ORACLE_DATA(fd[i], p + 8 * PAGE, 8);
	return TAP_PASS;
}

#define NPROC 4

/*
 * Several processes on one device, each with its own file, all mirroring
 * one MAP_SHARED anonymous (shmem) range: MADV_REMOVE in the parent frees
 * the pages under every one of them; each child's device table must drop
 * them, and what one child's device then writes the others read.
 */
static int t_processes_one_device(void)
{
	int ready[2], go[NPROC][2], i;
	pid_t pid[NPROC];
	char c = 0, *p;

	p = mmap(NULL, N * PAGE, PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	CHECK(p != MAP_FAILED);
	fill_pattern(p, N, 20);
	CHECK_OK(pipe(ready));
	for (i = 0; i < NPROC; i++) {
		CHECK_OK(pipe(go[i]));
		pid[i] = fork();
		CHECK(pid[i] >= 0);
		if (pid[i] == 0) {
			int fd = dummy_open(0);
			char *own = anon_filled(N, 21 + i);

			prctl(PR_SET_PDEATHSIG, SIGKILL);
			if (fd < 0 || !own ||
			    dummy_fault(fd, p, N, HMM_DUMMY_FAULT_WRITE, NULL) ||
			    dummy_fault(fd, own, N, HMM_DUMMY_FAULT_WRITE, NULL) ||
			    check_coherent(fd, p, N))
				_exit(80);
			if (write(ready[1], &c, 1) != 1 ||
			    read(go[i][0], &c, 1) != 1)
				_exit(81);
			/* The parent removed the shared pages. */
			if (check_coherent(fd, p, N) ||
			    dummy_nr_entries(fd, p, N) != 0 ||
			    oracle_read_agrees(fd, p, N))
				_exit(82);
			/* Each writes its page of the shared range. */
			if (oracle_write_seen(fd, p + i * PAGE, 1, 30 + i))
				_exit(83);
			if (check_coherent(fd, own, N) ||
			    oracle_read_agrees(fd, own, N) ||
			    check_pattern(own, N, 21 + i) != -1)
				_exit(84);
			if (write(ready[1], &c, 1) != 1 ||
			    read(go[i][0], &c, 1) != 1)
				_exit(85);
			/* Every child's page, through this one's device. */
			if (check_coherent(fd, p, N) ||
			    oracle_read_agrees(fd, p, NPROC))
				_exit(86);
			_exit(0);
		}
	}
	for (i = 0; i < NPROC; i++)
		CHECK_EQ(read(ready[0], &c, 1), 1);
	CHECK_OK(madvise(p, N * PAGE, MADV_REMOVE));
	/* One at a time: each reads all pages, then writes its own. */
	for (i = 0; i < NPROC; i++) {
		CHECK_EQ(write(go[i][1], &c, 1), 1);
		CHECK_EQ(read(ready[0], &c, 1), 1);
	}
	for (i = 0; i < NPROC; i++)
		CHECK_EQ(check_pattern(p + i * PAGE, 1, 30 + i), -1);
	for (i = 0; i < NPROC; i++)
		CHECK_EQ(write(go[i][1], &c, 1), 1);
	for (i = 0; i < NPROC; i++)
		if (wait_ok(pid[i]))
			return TAP_FAIL;
	return TAP_PASS;
}

#define NTHREADS 8
#define TPAGES 32

struct thread_arg {
	int fd;
	int idx;
	int result;
};

/* One thread: its own region, random changes, oracle after each. */
static int thread_body(struct thread_arg *a)
{
	unsigned int seed = (unsigned int)a->idx * 7919u + 1;
	uint32_t gen = (uint32_t)a->idx * 1000;
	int fd = a->fd, it;
	char *p = anon_filled(TPAGES, gen);

	CHECK(p);
	for (it = 0; it < 60; it++) {
		int op = rand_r(&seed) % 6;
		size_t off = (size_t)(rand_r(&seed) % (TPAGES / 2));
		size_t n = 1 + (size_t)(rand_r(&seed) % (TPAGES / 2));

		switch (op) {
		case 0:
			CHECK_OK(RETRY_EBUSY(dummy_fault(fd, p, TPAGES,
							 HMM_DUMMY_FAULT_WRITE,
							 NULL)));
			break;
		case 1:
			CHECK(mmap(p + off * PAGE, n * PAGE,
				   PROT_READ | PROT_WRITE,
				   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1,
				   0) != MAP_FAILED);
			break;
		case 2:
			CHECK_OK(mprotect(p + off * PAGE, n * PAGE, PROT_READ));
			ORACLE_DATA(fd, p, TPAGES);
			CHECK_OK(mprotect(p + off * PAGE, n * PAGE,
					  PROT_READ | PROT_WRITE));
			break;
		case 3:
			CHECK_OK(madvise(p + off * PAGE, n * PAGE,
					 MADV_DONTNEED));
			break;
		case 4:
			fill_pattern(p + off * PAGE, n, ++gen);
			break;
		default:
			ORACLE_WRITE(fd, p + off * PAGE, n, ++gen);
			break;
		}
		ORACLE_DATA(fd, p, TPAGES);
	}
	return TAP_PASS;
}

static void *thread_main(void *arg)
{
	struct thread_arg *a = arg;

	a->result = thread_body(a);
	return NULL;
}

static int t_many_threads(void)
{
	struct thread_arg args[NTHREADS];
	pthread_t th[NTHREADS];
	int fd, i, fail = 0;

	fd = dummy_open(0);
	CHECK(fd >= 0);
	for (i = 0; i < NTHREADS; i++) {
		args[i].fd = fd;
		args[i].idx = i;
		args[i].result = TAP_FAIL;
		CHECK_OK(pthread_create(&th[i], NULL, thread_main, &args[i]));
	}
	for (i = 0; i < NTHREADS; i++) {
		pthread_join(th[i], NULL);
		if (args[i].result != TAP_PASS) {
			diag("thread %d failed", i);
			fail = 1;
		}
	}
	if (dummy_ebusy_retries)
		diag("%lu device accesses tried again after EBUSY",
		     dummy_ebusy_retries);
	return fail ? TAP_FAIL : TAP_PASS;
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
static int kill_case(int copy)
{
	unsigned int seed = 42;
	int round;

	for (round = 0; round < 4; round++) {
		int status;
		pid_t pid = fork();

		CHECK(pid >= 0);
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
		CHECK_OK(kill(pid, SIGKILL));
		CHECK_EQ(waitpid(pid, &status, 0), pid);
		CHECK(WIFSIGNALED(status));
		CHECK_EQ(WTERMSIG(status), SIGKILL);
	}
	/* The device still works. */
	{
		int fd = dummy_open(0);
		char *p = anon_filled(N, 99);

		CHECK(fd >= 0 && p);
		CHECK_OK(dummy_fault(fd, p, N, HMM_DUMMY_FAULT_WRITE, NULL));
		ORACLE_DATA(fd, p, N);
	}
	return TAP_PASS;
}

static int t_sigkill_mid_fault(void)
{
	return kill_case(0);
}

static int t_sigkill_mid_copy(void)
{
	return kill_case(1);
}

static const struct tap_case cases[] = {
	{ "fork_cow_parent_device_write", t_fork_cow_parent, 0 },
	{ "fork_cow_child_cpu_write", t_fork_cow_child, 0 },
	{ "vfork", t_vfork, 0 },
	{ "exec_cloexec", t_exec_cloexec, 0 },
	{ "exec_inherited_fd", t_exec_inherit, 0 },
	{ "exit_with_mirrors_open", t_exit_with_mirrors, 0 },
	{ "devices_one_process", t_devices_one_process, 0 },
	{ "processes_one_device", t_processes_one_device, 0 },
	{ "many_threads", t_many_threads, 120 },
	{ "sigkill_mid_fault", t_sigkill_mid_fault, 120 },
	{ "sigkill_mid_copy", t_sigkill_mid_copy, 120 },
};

int main(int argc, char **argv)
{
	self_exe = "/proc/self/exe";
	if (argc == 3 && !strcmp(argv[1], "--exit"))
		return atoi(argv[2]);
	if (argc == 3 && !strcmp(argv[1], "--exec-cloexec"))
		return exec_child(1, atoi(argv[2]));
	if (argc == 3 && !strcmp(argv[1], "--exec-inherit"))
		return exec_child(0, atoi(argv[2]));
	return TAP_MAIN(cases);
}
