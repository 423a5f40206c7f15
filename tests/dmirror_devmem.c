// SPDX-License-Identifier: GPL-2.0
/*
 * dmirror_devmem - hmm_dummy's simulated device memory, through the test_hmm
 * ABI of /dev/hmm_dmirror0 and 1, beyond what the kernel's hmm-tests check
 *
 * Where /sys/module/hmm_dummy/parameters/device_memory says N (a kernel
 * without device-private memory), every device-memory command must fail
 * with EOPNOTSUPP and nothing else is asked. Where it says Y:
 *   - a device write to its own page made read-only by fork (copy-on-write)
 *     completes: the page comes back to system memory, the child keeps the
 *     old data (this looped forever once);
 *   - pages migrated to the device, then unmapped, are freed to the device
 *     and reused by the next migration (no device memory is lost);
 *   - RELEASE brings every page back with its data; SNAPSHOT tells the
 *     device's own pages (LOCAL) from system ones and from another device's;
 *   - MIGRATE_TO_SYS brings them back on request;
 *   - EXCLUSIVE of pages already exclusive succeeds (the kernel undoes and
 *     redoes them: once refused as a concurrent change), and a CPU write
 *     ends it;
 *   - RELEASE while other threads migrate the same pages back still leaves
 *     no page on the device (a stress; the case that shows the one pass
 *     RELEASE once made is the in-flight one below).
 * Where /hmm_dummy.ko is there to load again (a vm-run guest), hmm_dummy is
 * unloaded and loaded with other parameters, and with its defaults after:
 *   - devmem_max_mb out of range fails the load with EINVAL and one line;
 *   - a migration beyond devmem_max_mb moves what fits and fails with
 *     ENOMEM, the rest staying in system memory, data intact, no splat;
 *     the device's memory is reused once its pages come back; each device
 *     has its own;
 *   - unloading with device pages still mapped (files closed) brings every
 *     one back with its data, while a thread faults some of them back;
 *   - RELEASE while a migration to the device is in flight: when both are
 *     done, and the migration ended before RELEASE could have, none of its
 *     pages is on the device (the one pass went by pages the migration took
 *     behind it, or held locked).
 *
 * Two fixtures: devmem (both devices open, what hmm_dummy's device_memory
 * says) for the cases of a loaded driver, and reload (no file open: the
 * module is unloaded) for those that load hmm_dummy again.
 */
#include <pthread.h>
#include <stdint.h>
#include <sys/klog.h>
#include <sys/syscall.h>
#include <time.h>

#include "kselftest_harness.h"
#include "dummy_util.h"

#define NPAGES	64

/*
 * Y, N, or '?' if hmm_dummy does not say. The kernel's own test_hmm.ko,
 * where it is the driver loaded, always has device memory: the same cases
 * then run against it.
 */
static char device_memory(void)
{
	char c = '?';
	int fd = open("/sys/module/hmm_dummy/parameters/device_memory", O_RDONLY);

	if (fd < 0 && !access("/sys/module/test_hmm", F_OK))
		return 'Y';

	if (fd >= 0) {
		if (read(fd, &c, 1) != 1)
			c = '?';
		close(fd);
	}
	return c;
}

#define NEED_DEVMEM() do {						\
	if (device_memory() != 'Y')					\
		SKIP(return, "no device memory in this kernel");	\
} while (0)

/* A mapping of n pages, page i filled with the int i + base. */
static int *filled_n(size_t n, int base)
{
	int *p = anon_map(n);

	if (p)
		for (size_t i = 0; i < n * PAGE / sizeof(int); i++)
			p[i] = base + (int)(i / (PAGE / sizeof(int)));
	return p;
}

static int *filled(int base)
{
	return filled_n(NPAGES, base);
}

static int snap(int fd, void *p, uint8_t *out)
{
	uint64_t cp;

	return dmirror_cmd(fd, HMM_DMIRROR_SNAPSHOT, p, out, NPAGES, &cp);
}

/* The first page of [p, p + n pages) whose data is not filled_n()'s, or -1. */
static long first_bad_page(const int *p, size_t n, int base)
{
	for (size_t i = 0; i < n * PAGE / sizeof(int); i++)
		if (p[i] != base + (int)(i / (PAGE / sizeof(int))))
			return (long)(i / (PAGE / sizeof(int)));
	return -1;
}

/* Pages of [p, p + n pages) SNAPSHOT says are on fd's device. */
static long count_local(int fd, void *p, size_t n)
{
	uint8_t *s = malloc(n);
	uint64_t cp;
	long local = 0;

	if (!s || dmirror_cmd(fd, HMM_DMIRROR_SNAPSHOT, p, s, n, &cp)) {
		free(s);
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		if (s[i] & HMM_DMIRROR_PROT_DEV_PRIVATE_LOCAL)
			local++;
	free(s);
	return local;
}

/* The snapshot byte of a page of fd's device memory, writable. */
#define LOCAL_RW	(HMM_DMIRROR_PROT_DEV_PRIVATE_LOCAL | HMM_DMIRROR_PROT_WRITE)

FIXTURE(devmem) {
	char devmem;	/* device_memory(): Y, N or ? */
	int fd0, fd1;	/* /dev/hmm_dmirror0 and 1 */
};

/* Both devices open, where a driver says whether it has device memory. */
FIXTURE_SETUP(devmem)
{
	self->fd0 = self->fd1 = -1;
	self->devmem = device_memory();
	if (self->devmem == '?')
		SKIP(return, "no device memory in this kernel (no hmm_dummy nor test_hmm loaded)");
	self->fd0 = dmirror_open(0);
	ASSERT_LE(0, self->fd0) TH_LOG("/dev/hmm_dmirror0: %s", strerror(errno));
	self->fd1 = dmirror_open(1);
	ASSERT_LE(0, self->fd1) TH_LOG("/dev/hmm_dmirror1: %s", strerror(errno));
}

FIXTURE_TEARDOWN(devmem)
{
	if (self->fd0 >= 0)
		close(self->fd0);
	if (self->fd1 >= 0)
		close(self->fd1);
}

/* No device memory: every device-memory command fails with EOPNOTSUPP. */
TEST_F_TIMEOUT(devmem, devmem_cmds_eopnotsupp_without_device_memory, 60)
{
	static const unsigned long cmds[] = {
		HMM_DMIRROR_MIGRATE_TO_DEV, HMM_DMIRROR_MIGRATE_TO_SYS,
		HMM_DMIRROR_RELEASE,
		/* make_device_exclusive*() needs CONFIG_DEVICE_PRIVATE too */
		HMM_DMIRROR_EXCLUSIVE, HMM_DMIRROR_CHECK_EXCLUSIVE,
	};
	char buf[PAGE];
	int *p;

	if (self->devmem != 'N')
		SKIP(return, "device memory present: covered below");
	ASSERT_NE(NULL, (p = filled(0)));
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		errno = 0;
		ASSERT_EQ(-1, dmirror_cmd(self->fd0, cmds[i], p, buf, 1, NULL))
			TH_LOG("command %#lx", cmds[i]);
		ASSERT_EQ(EOPNOTSUPP, errno)
			TH_LOG("command %#lx: %s", cmds[i], strerror(errno));
	}
}

/* A device write to its own page made read-only by fork completes. */
TEST_F_TIMEOUT(devmem, device_write_to_cow_device_page, 60)
{
	char *buf = malloc(NPAGES * PAGE);
	uint8_t s[NPAGES];
	uint64_t cp;
	int fd = self->fd0, *p, st;
	pid_t pid;

	NEED_DEVMEM();
	ASSERT_NE(NULL, buf);
	ASSERT_NE(NULL, (p = filled(100)));
	ASSERT_EQ(0, dmirror_cmd(fd, HMM_DMIRROR_MIGRATE_TO_DEV, p, buf,
				 NPAGES, &cp))
		TH_LOG("MIGRATE_TO_DEV: %s", strerror(errno));
	ASSERT_EQ((uint64_t)NPAGES, cp);
	ASSERT_EQ(0, snap(fd, p, s));
	ASSERT_EQ(LOCAL_RW, s[0]);

	/* fork makes both mappings of the device pages read-only */
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		pause();
		_exit(0);
	}
	memset(buf, 0x5a, NPAGES * PAGE);
	ASSERT_EQ(0, dmirror_cmd(fd, HMM_DMIRROR_WRITE, p, buf, NPAGES, &cp))
		TH_LOG("WRITE: %s", strerror(errno));
	ASSERT_EQ((uint64_t)NPAGES, cp);
	ASSERT_EQ(0x5a5a5a5a, p[0]);
	ASSERT_EQ(0x5a5a5a5a, p[NPAGES * PAGE / sizeof(int) - 1]);
	ASSERT_EQ(0, snap(fd, p, s));
	ASSERT_EQ(HMM_DMIRROR_PROT_WRITE, s[0]);
	ASSERT_EQ(0, kill(pid, SIGKILL));
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
}

/* Pages unmapped on the device are freed to it and reused: 40 rounds. */
TEST_F_TIMEOUT(devmem, device_pages_freed_and_reused, 60)
{
	char *buf = malloc(NPAGES * PAGE);
	uint64_t cp;
	int fd = self->fd1, *p, round;

	NEED_DEVMEM();
	ASSERT_NE(NULL, buf);
	/* 40 rounds of 64 pages, each unmapped while on the device */
	for (round = 0; round < 40; round++) {
		ASSERT_NE(NULL, (p = filled(round)));
		ASSERT_EQ(0, dmirror_cmd(fd, HMM_DMIRROR_MIGRATE_TO_DEV, p,
					 buf, NPAGES, &cp))
			TH_LOG("round %d: MIGRATE_TO_DEV: %s", round,
			       strerror(errno));
		ASSERT_EQ((uint64_t)NPAGES, cp) TH_LOG("round %d", round);
		ASSERT_EQ(round + 7, ((int *)buf)[PAGE / sizeof(int) * 7]);
		ASSERT_EQ(0, munmap(p, NPAGES * PAGE));
	}
}

/* RELEASE and MIGRATE_TO_SYS bring pages back; SNAPSHOT tells whose. */
TEST_F_TIMEOUT(devmem, release_snapshot_migrate_to_sys, 60)
{
	char *buf = malloc(NPAGES * PAGE);
	uint8_t s[NPAGES];
	uint64_t cp;
	int fd0 = self->fd0, fd1 = self->fd1, *p;

	NEED_DEVMEM();
	ASSERT_NE(NULL, buf);
	ASSERT_NE(NULL, (p = filled(7)));
	/* first half to device 0, second half to device 1 */
	ASSERT_EQ(0, dmirror_cmd(fd0, HMM_DMIRROR_MIGRATE_TO_DEV, p, buf,
				 NPAGES / 2, &cp));
	ASSERT_EQ(0, dmirror_cmd(fd1, HMM_DMIRROR_MIGRATE_TO_DEV,
				 (char *)p + NPAGES / 2 * PAGE, buf,
				 NPAGES / 2, &cp));
	ASSERT_EQ(0, snap(fd0, p, s));
	ASSERT_EQ(LOCAL_RW, s[0]);
	ASSERT_EQ(HMM_DMIRROR_PROT_NONE, s[NPAGES - 1]);	/* the other device's */
	ASSERT_EQ(0, snap(fd1, p, s));
	ASSERT_EQ(HMM_DMIRROR_PROT_NONE, s[0]);
	ASSERT_EQ(LOCAL_RW, s[NPAGES - 1]);

	/* device 0 lets go of all its memory: its pages come back, intact */
	ASSERT_EQ(0, dmirror_cmd(fd0, HMM_DMIRROR_RELEASE, p, buf, 1, NULL));
	ASSERT_EQ(0, snap(fd0, p, s));
	ASSERT_EQ(HMM_DMIRROR_PROT_WRITE, s[0]);
	ASSERT_EQ(HMM_DMIRROR_PROT_NONE, s[NPAGES - 1]);
	/* device 1 gives its own back on request */
	ASSERT_EQ(0, dmirror_cmd(fd1, HMM_DMIRROR_MIGRATE_TO_SYS, p, buf,
				 NPAGES, &cp));
	ASSERT_EQ((uint64_t)NPAGES / 2, cp);
	ASSERT_EQ(0, snap(fd1, p, s));
	ASSERT_EQ(HMM_DMIRROR_PROT_WRITE, s[NPAGES - 1]);
	for (int i = 0; i < NPAGES; i++) {
		ASSERT_EQ(7 + i, p[i * PAGE / sizeof(int) + 1])
			TH_LOG("page %d", i);
	}
}

/* EXCLUSIVE of pages already exclusive succeeds; a CPU write ends it. */
TEST_F_TIMEOUT(devmem, exclusive_twice, 60)
{
	char *buf = malloc(NPAGES * PAGE);
	uint64_t cp;
	int fd = self->fd0, *p;

	NEED_DEVMEM();
	ASSERT_NE(NULL, buf);
	ASSERT_NE(NULL, (p = filled(3)));
	ASSERT_EQ(0, dmirror_cmd(fd, HMM_DMIRROR_EXCLUSIVE, p, buf, NPAGES,
				 &cp))
		TH_LOG("EXCLUSIVE: %s", strerror(errno));
	ASSERT_EQ((uint64_t)NPAGES, cp);
	errno = 0;
	ASSERT_EQ(-1, dmirror_cmd(fd, HMM_DMIRROR_CHECK_EXCLUSIVE, p, buf,
				  NPAGES, NULL));
	ASSERT_EQ(EPERM, errno);
	ASSERT_EQ(0, dmirror_cmd(fd, HMM_DMIRROR_EXCLUSIVE, p, buf, NPAGES,
				 &cp))
		TH_LOG("EXCLUSIVE again: %s", strerror(errno));
	ASSERT_EQ((uint64_t)NPAGES, cp);
	ASSERT_EQ(3 + 5, ((int *)buf)[PAGE / sizeof(int) * 5]);
	/* the CPU takes every page back */
	for (int i = 0; i < NPAGES; i++)
		p[i * PAGE / sizeof(int)] = -i;
	ASSERT_EQ(0, dmirror_cmd(fd, HMM_DMIRROR_CHECK_EXCLUSIVE, p, buf,
				 NPAGES, NULL))
		TH_LOG("CHECK_EXCLUSIVE: %s", strerror(errno));
	ASSERT_EQ(-5, p[5 * PAGE / sizeof(int)]);
}

/*
 * RELEASE while two threads migrate the same pages back to system memory:
 * each side finds pages the other holds locked or referenced. Every page
 * must be back when all three are done, whoever moved it. A single pass of
 * RELEASE could lose that race, in a window of a few instructions (it never
 * did in our runs): a stress, not a reproducer. Nothing user space can do
 * holds a device page locked or referenced for long (the CPU cannot map
 * one, so get_user_pages() moves it back instead of holding it) but a
 * migration in flight: release_in_flight_round() lines one up.
 */
#define RACE_PAGES	256
#define RACE_ROUNDS	30

struct race {
	int fd;
	int *p;
	char *buf;
	int ret;
	volatile int *go;
};

static void *to_sys_thread(void *arg)
{
	struct race *r = arg;
	uint64_t cp;

	while (!*r->go)
		;
	for (int i = 0; i < 3 && !r->ret; i++)
		r->ret = dmirror_cmd(r->fd, HMM_DMIRROR_MIGRATE_TO_SYS, r->p,
				     r->buf, RACE_PAGES, &cp);
	return NULL;
}

/* RELEASE racing two threads' MIGRATE_TO_SYS leaves no page on the device. */
TEST_F_TIMEOUT(devmem, release_racing_migrate_to_sys, 120)
{
	char *buf = malloc(RACE_PAGES * PAGE);
	struct race r[2];
	pthread_t th[2];
	volatile int go;
	uint64_t cp;
	int fd = self->fd0, *p;

	NEED_DEVMEM();
	/* the kernel's own test_hmm.ko makes the one pass */
	if (access("/sys/module/hmm_dummy", F_OK))
		SKIP(return, "hmm_dummy's eviction only");
	ASSERT_NE(NULL, buf);
	ASSERT_NE(NULL, (p = filled_n(RACE_PAGES, 11)));
	for (int round = 0; round < RACE_ROUNDS; round++) {
		ASSERT_EQ(0, dmirror_cmd(fd, HMM_DMIRROR_MIGRATE_TO_DEV, p, buf,
					 RACE_PAGES, &cp))
			TH_LOG("round %d: MIGRATE_TO_DEV: %s", round,
			       strerror(errno));
		ASSERT_EQ((uint64_t)RACE_PAGES, cp);
		go = 0;
		for (int i = 0; i < 2; i++) {
			r[i] = (struct race){ .fd = fd, .p = p, .go = &go,
					      .buf = malloc(RACE_PAGES * PAGE) };
			ASSERT_NE(NULL, r[i].buf);
			ASSERT_EQ(0, pthread_create(&th[i], NULL, to_sys_thread,
						    &r[i]));
		}
		go = 1;
		ASSERT_EQ(0, dmirror_cmd(fd, HMM_DMIRROR_RELEASE, p, buf, 1,
					 NULL))
			TH_LOG("round %d: RELEASE: %s", round, strerror(errno));
		for (int i = 0; i < 2; i++) {
			ASSERT_EQ(0, pthread_join(th[i], NULL));
			ASSERT_EQ(0, r[i].ret)
				TH_LOG("round %d: MIGRATE_TO_SYS of thread %d failed",
				       round, i);
			free(r[i].buf);
		}
		ASSERT_EQ(0, count_local(fd, p, RACE_PAGES))
			TH_LOG("round %d: pages still on the device", round);
	}
	ASSERT_EQ(-1, first_bad_page(p, RACE_PAGES, 11));
}

/*
 * Loading hmm_dummy again: only as vm-run's guest has it (/hmm_dummy.ko, the
 * module loaded from it), never the kernel's own test_hmm.
 */
#define KO_PATH	"/hmm_dummy.ko"

/*
 * Unload hmm_dummy (a file of an earlier case may still be closing), then
 * load KO_PATH with params. 0, or -1 with errno: load failed; -2 with
 * errno: unload failed.
 */
static int reload(const char *params)
{
	int ko, i, r, e;

	for (i = 0; syscall(SYS_delete_module, "hmm_dummy", O_NONBLOCK); i++) {
		if (errno == ENOENT)
			break;	/* not loaded: an earlier load failed */
		if (errno != EAGAIN || i == 100)
			return -2;
		usleep(100000);
	}
	ko = open(KO_PATH, O_RDONLY | O_CLOEXEC);
	if (ko < 0)
		return -1;
	r = (int)syscall(SYS_finit_module, ko, params, 0);
	e = errno;
	close(ko);
	errno = e;
	return r;
}

/* No file open: every case of it unloads hmm_dummy. */
FIXTURE(reload) {
};

FIXTURE_SETUP(reload)
{
	NEED_DEVMEM();
	if (access(KO_PATH, R_OK) || access("/sys/module/hmm_dummy", F_OK))
		SKIP(return, "no " KO_PATH " to load again (not in a vm-run guest)");
}

FIXTURE_TEARDOWN(reload)
{
}

/*
 * Run fn in a child with hmm_dummy loaded with params, then load it again
 * with its defaults, whatever fn did: the child has exited, so none of its
 * files or mappings keeps it. fn's ASSERTs are the case's (_metadata is
 * shared with the child): a failure there stops the case here too, once
 * the defaults are loaded. Returns what fn returned.
 */
static int with_params(struct __test_metadata *_metadata, const char *params,
		       int (*fn)(struct __test_metadata *_metadata))
{
	int loaded, e, st = 0;
	pid_t pid = -1;

	loaded = reload(params);
	e = errno;
	if (!loaded) {
		fflush(stdout);
		fflush(stderr);
		pid = fork();
		if (pid == 0)
			_exit(fn(_metadata));
		if (pid > 0 && waitpid(pid, &st, 0) != pid)
			pid = -1;
	}
	ASSERT_EQ(0, reload(""))
		TH_LOG("loading hmm_dummy again with its defaults: %s",
		       strerror(errno));
	ASSERT_EQ(0, loaded)
		TH_LOG("loading hmm_dummy with \"%s\": %s", params, strerror(e));
	ASSERT_LT(0, pid);
	ASSERT_NE(KSFT_FAIL, _metadata->exit_code)
		TH_LOG("failed with hmm_dummy loaded with \"%s\"", params);
	ASSERT_TRUE(WIFEXITED(st))
		TH_LOG("killed by signal %d", WTERMSIG(st));
	return WEXITSTATUS(st);
}

/* Lines of the kernel log that hold s. */
static int klog_count(const char *s)
{
	int size = klogctl(10 /* SYSLOG_ACTION_SIZE_BUFFER */, NULL, 0), n = 0;
	char *log, *at;

	if (size <= 0 || !(log = malloc((size_t)size + 1)))
		return -1;
	size = klogctl(3 /* SYSLOG_ACTION_READ_ALL */, log, size);
	if (size < 0) {
		free(log);
		return -1;
	}
	log[size] = '\0';
	for (at = log; (at = strstr(at, s)); at += strlen(s))
		n++;
	free(log);
	return n;
}

/* devmem_max_mb out of range fails the load with EINVAL and one line. */
TEST_F_TIMEOUT(reload, devmem_max_mb_checked_at_load, 60)
{
	static const char *const bad[] = { "devmem_max_mb=0", "devmem_max_mb=1025" };
	static const char line[] = "hmm_dummy: devmem_max_mb must be 1 to 1024";
	int before, after = -1, r[2] = { 0 }, e[2] = { 0 }, still[2] = { 0 };

	ASSERT_LE(0, (before = klog_count(line)));
	for (size_t i = 0; i < 2; i++) {
		errno = 0;
		r[i] = reload(bad[i]);
		e[i] = errno;
		still[i] = !access("/sys/module/hmm_dummy", F_OK);
		if (r[i] != -1 || e[i] != EINVAL || still[i])
			break;
		if (i == 1)
			after = klog_count(line);
	}
	/* hmm_dummy with its defaults again before anything is checked */
	ASSERT_EQ(0, reload(""))
		TH_LOG("loading hmm_dummy again with its defaults: %s",
		       strerror(errno));
	for (size_t i = 0; i < 2; i++) {
		ASSERT_EQ(-1, r[i]) TH_LOG("loading hmm_dummy with %s", bad[i]);
		ASSERT_EQ(EINVAL, e[i])
			TH_LOG("loading hmm_dummy with %s: %s", bad[i],
			       strerror(e[i]));
		ASSERT_FALSE(still[i])
			TH_LOG("hmm_dummy is loaded after %s failed", bad[i]);
	}
	ASSERT_EQ(before + 2, after)
		TH_LOG("want 2 more \"%s\" lines in the kernel log", line);
}

/* devmem_max_mb=2: 512 pages of device memory for each device. */
#define CAP_PAGES	512
#define OVER_PAGES	(CAP_PAGES + 128)

static int beyond_cap(struct __test_metadata *_metadata)
{
	char *buf = malloc(OVER_PAGES * PAGE);
	uint8_t *s = malloc(OVER_PAGES);
	uint64_t cp;
	int fd0, fd1, *p;

	ASSERT_TRUE(buf && s);
	ASSERT_LE(0, (fd0 = dmirror_open(0)));
	ASSERT_LE(0, (fd1 = dmirror_open(1)));
	ASSERT_NE(NULL, (p = filled_n(OVER_PAGES, 1000)));

	/* what fits moves, the rest stays in system memory: ENOMEM */
	errno = 0;
	ASSERT_EQ(-1, dmirror_cmd(fd0, HMM_DMIRROR_MIGRATE_TO_DEV, p, buf,
				  OVER_PAGES, &cp));
	ASSERT_EQ(ENOMEM, errno) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(0, dmirror_cmd(fd0, HMM_DMIRROR_SNAPSHOT, p, s, OVER_PAGES,
				 &cp));
	for (int i = 0; i < OVER_PAGES; i++) {
		ASSERT_EQ(i < CAP_PAGES ? LOCAL_RW : HMM_DMIRROR_PROT_WRITE,
			  s[i])
			TH_LOG("page %d: snapshot 0x%x", i, s[i]);
	}
	/* full: not one page more */
	errno = 0;
	ASSERT_EQ(-1, dmirror_cmd(fd0, HMM_DMIRROR_MIGRATE_TO_DEV,
				  (char *)p + CAP_PAGES * PAGE, buf, 1, &cp));
	ASSERT_EQ(ENOMEM, errno) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(CAP_PAGES, count_local(fd0, p, OVER_PAGES));
	/* the other device has memory of its own */
	ASSERT_EQ(0, dmirror_cmd(fd1, HMM_DMIRROR_MIGRATE_TO_DEV,
				 (char *)p + CAP_PAGES * PAGE, buf,
				 OVER_PAGES - CAP_PAGES, &cp))
		TH_LOG("MIGRATE_TO_DEV of device 1: %s", strerror(errno));
	ASSERT_EQ((uint64_t)(OVER_PAGES - CAP_PAGES), cp);
	ASSERT_EQ(1000 + CAP_PAGES + 3, ((int *)buf)[3 * PAGE / sizeof(int)]);

	/* the CPU reads every page back, intact: device 0 is empty again */
	ASSERT_EQ(-1, first_bad_page(p, OVER_PAGES, 1000));
	ASSERT_EQ(0, count_local(fd0, p, OVER_PAGES));
	ASSERT_EQ(0, dmirror_cmd(fd0, HMM_DMIRROR_MIGRATE_TO_DEV, p, buf,
				 CAP_PAGES, &cp))
		TH_LOG("MIGRATE_TO_DEV after: %s", strerror(errno));
	ASSERT_EQ((uint64_t)CAP_PAGES, cp);
	ASSERT_EQ(0, dmirror_cmd(fd0, HMM_DMIRROR_RELEASE, p, buf, 1, NULL));
	ASSERT_EQ(0, count_local(fd0, p, OVER_PAGES));
	ASSERT_EQ(-1, first_bad_page(p, OVER_PAGES, 1000));
	return 0;
}

/* A migration beyond devmem_max_mb moves what fits, fails with ENOMEM. */
TEST_F_TIMEOUT(reload, migrate_beyond_devmem_max_mb, 120)
{
	with_params(_metadata, "devmem_max_mb=2", beyond_cap);
}

/* Unloading with pages on both devices, one thread faulting some back. */
#define UNLOAD_PAGES	512

static void *fault_back_thread(void *arg)
{
	volatile int *p = arg, sum = 0;

	/* the first quarter, last page first, while the module unloads */
	for (int i = UNLOAD_PAGES / 4 - 1; i >= 0; i--)
		sum += p[i * PAGE / sizeof(int)];
	return (void *)(long)sum;
}

static int unload_with_pages(struct __test_metadata *_metadata)
{
	char *buf = malloc(UNLOAD_PAGES * PAGE);
	pthread_t th;
	uint64_t cp;
	int fd0, fd1, *p;

	ASSERT_NE(NULL, buf);
	ASSERT_LE(0, (fd0 = dmirror_open(0)));
	ASSERT_LE(0, (fd1 = dmirror_open(1)));
	ASSERT_NE(NULL, (p = filled_n(UNLOAD_PAGES, 77)));
	ASSERT_EQ(0, dmirror_cmd(fd0, HMM_DMIRROR_MIGRATE_TO_DEV, p, buf,
				 UNLOAD_PAGES / 2, &cp));
	ASSERT_EQ((uint64_t)UNLOAD_PAGES / 2, cp);
	ASSERT_EQ(0, dmirror_cmd(fd1, HMM_DMIRROR_MIGRATE_TO_DEV,
				 (char *)p + UNLOAD_PAGES / 2 * PAGE, buf,
				 UNLOAD_PAGES / 2, &cp));
	ASSERT_EQ((uint64_t)UNLOAD_PAGES / 2, cp);
	ASSERT_EQ(0, close(fd0));
	ASSERT_EQ(0, close(fd1));

	/* the unload evicts every page (or waits for ever in memunmap_pages) */
	ASSERT_EQ(0, pthread_create(&th, NULL, fault_back_thread, p));
	ASSERT_EQ(0, reload(""))
		TH_LOG("unloading and loading hmm_dummy: %s", strerror(errno));
	ASSERT_EQ(0, pthread_join(th, NULL));
	ASSERT_LE(0, (fd0 = dmirror_open(0)));
	ASSERT_EQ(0, count_local(fd0, p, UNLOAD_PAGES));
	ASSERT_EQ(-1, first_bad_page(p, UNLOAD_PAGES, 77));
	/* and the new module's device memory works */
	ASSERT_EQ(0, dmirror_cmd(fd0, HMM_DMIRROR_MIGRATE_TO_DEV, p, buf,
				 UNLOAD_PAGES, &cp))
		TH_LOG("MIGRATE_TO_DEV after the reload: %s", strerror(errno));
	ASSERT_EQ((uint64_t)UNLOAD_PAGES, cp);
	return 0;
}

/* Unloading with device pages mapped brings every one back, intact. */
TEST_F_TIMEOUT(reload, unload_evicts_every_page, 120)
{
	with_params(_metadata, "", unload_with_pages);
}

/*
 * RELEASE and a MIGRATE_TO_DEV in flight, lined up with hmm_dummy's
 * invalidate_delay_us (every invalidation of the mirrored mm sleeps that
 * long), on a fresh load, so that the device's free pages go in a known
 * order:
 *   - 64 pages are migrated and unmapped (their device pages, the lowest,
 *     go back to the free list), 16 pages R1 are migrated after them;
 *   - thread A migrates 64 untouched pages R2: its migrate_vma_setup()
 *     sleeps one delay, it takes device pages (the lowest), and
 *     migrate_vma_pages() sleeps another with them locked;
 *   - half a delay after A starts, RELEASE: it has at least R1's 16 pages
 *     to unmap, each unmapping an invalidation, so it runs at least 16
 *     delays. A ended before RELEASE ended if A's end was seen less than 16
 *     delays after RELEASE began: then A took its pages before RELEASE
 *     ended, and none may stay on the device. A's MIGRATE_TO_DEV may fail
 *     with ENOMEM (RELEASE lets no page be taken while it runs), or EBUSY
 *     (RELEASE's invalidations kept the device map that follows waiting).
 * A round where A was not in time (a slow guest) proves nothing: tried
 * again on another load, and the case skips if none lines up.
 */
#define DELAY_US	100000
#define IN_FLIGHT_PAGES	64
#define R1_PAGES	16

struct in_flight {
	int fd;
	void *p;
	char *buf;
	int ret, err;
	struct timespec begin, end;
};

static double ms_of(const struct timespec *t)
{
	return t->tv_sec * 1e3 + t->tv_nsec / 1e6;
}

static int set_delay_us(unsigned int us)
{
	int fd = open("/sys/module/hmm_dummy/parameters/invalidate_delay_us",
		      O_WRONLY | O_CLOEXEC);
	char v[16];
	int n = snprintf(v, sizeof(v), "%u", us), r = -1;

	if (fd < 0)
		return -1;
	if (write(fd, v, (size_t)n) == n)
		r = 0;
	close(fd);
	return r;
}

static void *to_dev_thread(void *arg)
{
	struct in_flight *a = arg;
	uint64_t cp;

	clock_gettime(CLOCK_MONOTONIC, &a->begin);
	a->ret = dmirror_cmd(a->fd, HMM_DMIRROR_MIGRATE_TO_DEV, a->p, a->buf,
			     IN_FLIGHT_PAGES, &cp);
	a->err = errno;
	clock_gettime(CLOCK_MONOTONIC, &a->end);
	return NULL;
}

/* One round: 0 if it proved its point, 1 if the migration was not in flight. */
static int release_in_flight_round(struct __test_metadata *_metadata)
{
	char *buf = malloc(IN_FLIGHT_PAGES * PAGE);
	struct in_flight a = { .buf = malloc(IN_FLIGHT_PAGES * PAGE) };
	struct timespec start, done;
	pthread_t th;
	uint64_t cp;
	int *r0, *r1;
	double late;

	ASSERT_TRUE(buf && a.buf);
	ASSERT_LE(0, (a.fd = dmirror_open(0)));
	ASSERT_NE(NULL, (r0 = filled_n(IN_FLIGHT_PAGES, 5)));
	ASSERT_NE(NULL, (r1 = filled_n(R1_PAGES, 6)));
	ASSERT_NE(NULL, (a.p = anon_map(IN_FLIGHT_PAGES)));
	ASSERT_EQ(0, dmirror_cmd(a.fd, HMM_DMIRROR_MIGRATE_TO_DEV, r0, buf,
				 IN_FLIGHT_PAGES, &cp));
	ASSERT_EQ((uint64_t)IN_FLIGHT_PAGES, cp);
	ASSERT_EQ(0, dmirror_cmd(a.fd, HMM_DMIRROR_MIGRATE_TO_DEV, r1, buf,
				 R1_PAGES, &cp));
	ASSERT_EQ((uint64_t)R1_PAGES, cp);
	ASSERT_EQ(0, munmap(r0, IN_FLIGHT_PAGES * PAGE));

	ASSERT_EQ(0, set_delay_us(DELAY_US));
	ASSERT_EQ(0, pthread_create(&th, NULL, to_dev_thread, &a));
	usleep(DELAY_US / 2);
	clock_gettime(CLOCK_MONOTONIC, &start);
	ASSERT_EQ(0, dmirror_cmd(a.fd, HMM_DMIRROR_RELEASE, r1, buf, 1, NULL))
		TH_LOG("RELEASE: %s", strerror(errno));
	clock_gettime(CLOCK_MONOTONIC, &done);
	ASSERT_EQ(0, pthread_join(th, NULL));
	ASSERT_EQ(0, set_delay_us(0));

	late = ms_of(&a.end) - ms_of(&start);
	hmm_diag("RELEASE: 0 to %.0f ms; MIGRATE_TO_DEV: %.0f to %.0f ms, %s",
		 ms_of(&done) - ms_of(&start),
		 ms_of(&a.begin) - ms_of(&start), late,
		 a.ret ? strerror(a.err) : "moved");
	/* EBUSY: moved, but the device map that follows timed out (uapi) */
	if (a.ret) {
		ASSERT_TRUE(a.err == ENOMEM || a.err == EBUSY)
			TH_LOG("MIGRATE_TO_DEV: %s", strerror(a.err));
	}
	ASSERT_EQ(0, count_local(a.fd, r1, R1_PAGES));
	ASSERT_EQ(-1, first_bad_page(r1, R1_PAGES, 6));
	if (late >= R1_PAGES * DELAY_US / 1000) {
		hmm_diag("the migration was not in flight during RELEASE");
		return 1;
	}
	ASSERT_EQ(0, count_local(a.fd, a.p, IN_FLIGHT_PAGES));
	return 0;
}

/* RELEASE waits for a migration in flight: none of its pages stays. */
TEST_F_TIMEOUT(reload, release_waits_for_migration_in_flight, 120)
{
	for (int i = 0; i < 3; i++)
		if (!with_params(_metadata, "", release_in_flight_round))
			return;
	SKIP(return, "the migration was not in flight during RELEASE");
}

TEST_HARNESS_MAIN
