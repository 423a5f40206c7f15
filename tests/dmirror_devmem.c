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
 */
#include "tap.h"
#include "dummy_util.h"

#include <pthread.h>
#include <stdint.h>
#include <sys/klog.h>
#include <sys/syscall.h>
#include <time.h>

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
		return tap_skip_reason("no device memory in this kernel"); \
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

static int t_unsupported(void)
{
	static const unsigned long cmds[] = {
		HMM_DMIRROR_MIGRATE_TO_DEV, HMM_DMIRROR_MIGRATE_TO_SYS,
		HMM_DMIRROR_RELEASE,
		/* make_device_exclusive*() needs CONFIG_DEVICE_PRIVATE too */
		HMM_DMIRROR_EXCLUSIVE, HMM_DMIRROR_CHECK_EXCLUSIVE,
	};
	char buf[PAGE];
	int fd, *p;

	if (device_memory() != 'N')
		return tap_skip_reason("device memory present: covered below");
	CHECK((fd = dmirror_open(0)) >= 0);
	CHECK((p = filled(0)));
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		CHECK_ERR(dmirror_cmd(fd, cmds[i], p, buf, 1, NULL), EOPNOTSUPP);
	return TAP_PASS;
}

static int t_write_cow_device_page(void)
{
	char *buf = malloc(NPAGES * PAGE);
	uint8_t s[NPAGES];
	uint64_t cp;
	int fd, *p, st;
	pid_t pid;

	NEED_DEVMEM();
	CHECK(buf);
	CHECK((fd = dmirror_open(0)) >= 0);
	CHECK((p = filled(100)));
	CHECK_OK(dmirror_cmd(fd, HMM_DMIRROR_MIGRATE_TO_DEV, p, buf, NPAGES, &cp));
	CHECK_EQ(cp, NPAGES);
	CHECK_OK(snap(fd, p, s));
	CHECK_EQ(s[0], HMM_DMIRROR_PROT_DEV_PRIVATE_LOCAL | HMM_DMIRROR_PROT_WRITE);

	/* fork makes both mappings of the device pages read-only */
	fflush(stdout);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		pause();
		_exit(0);
	}
	memset(buf, 0x5a, NPAGES * PAGE);
	CHECK_OK(dmirror_cmd(fd, HMM_DMIRROR_WRITE, p, buf, NPAGES, &cp));
	CHECK_EQ(cp, NPAGES);
	CHECK_EQ(p[0], 0x5a5a5a5a);
	CHECK_EQ(p[NPAGES * PAGE / sizeof(int) - 1], 0x5a5a5a5a);
	CHECK_OK(snap(fd, p, s));
	CHECK_EQ(s[0], HMM_DMIRROR_PROT_WRITE);
	CHECK_OK(kill(pid, SIGKILL));
	CHECK_EQ(waitpid(pid, &st, 0), pid);
	return TAP_PASS;
}

static int t_pages_reused(void)
{
	char *buf = malloc(NPAGES * PAGE);
	uint64_t cp;
	int fd, *p, round;

	NEED_DEVMEM();
	CHECK(buf);
	CHECK((fd = dmirror_open(1)) >= 0);
	/* 40 rounds of 64 pages, each unmapped while on the device */
	for (round = 0; round < 40; round++) {
		CHECK((p = filled(round)));
		CHECK_OK(dmirror_cmd(fd, HMM_DMIRROR_MIGRATE_TO_DEV, p, buf, NPAGES, &cp));
		CHECK_EQ(cp, NPAGES);
		CHECK_EQ(((int *)buf)[PAGE / sizeof(int) * 7], round + 7);
		CHECK_OK(munmap(p, NPAGES * PAGE));
	}
	return TAP_PASS;
}

static int t_release_and_snapshot(void)
{
	char *buf = malloc(NPAGES * PAGE);
	uint8_t s[NPAGES];
	uint64_t cp;
	int fd0, fd1, *p;

	NEED_DEVMEM();
	CHECK(buf);
	CHECK((fd0 = dmirror_open(0)) >= 0);
	CHECK((fd1 = dmirror_open(1)) >= 0);
	CHECK((p = filled(7)));
	/* first half to device 0, second half to device 1 */
	CHECK_OK(dmirror_cmd(fd0, HMM_DMIRROR_MIGRATE_TO_DEV, p, buf, NPAGES / 2, &cp));
	CHECK_OK(dmirror_cmd(fd1, HMM_DMIRROR_MIGRATE_TO_DEV,
			(char *)p + NPAGES / 2 * PAGE, buf, NPAGES / 2, &cp));
	CHECK_OK(snap(fd0, p, s));
	CHECK_EQ(s[0], HMM_DMIRROR_PROT_DEV_PRIVATE_LOCAL | HMM_DMIRROR_PROT_WRITE);
	CHECK_EQ(s[NPAGES - 1], HMM_DMIRROR_PROT_NONE);	/* the other device's */
	CHECK_OK(snap(fd1, p, s));
	CHECK_EQ(s[0], HMM_DMIRROR_PROT_NONE);
	CHECK_EQ(s[NPAGES - 1],
		 HMM_DMIRROR_PROT_DEV_PRIVATE_LOCAL | HMM_DMIRROR_PROT_WRITE);

	/* device 0 lets go of all its memory: its pages come back, intact */
	CHECK_OK(dmirror_cmd(fd0, HMM_DMIRROR_RELEASE, p, buf, 1, NULL));
	CHECK_OK(snap(fd0, p, s));
	CHECK_EQ(s[0], HMM_DMIRROR_PROT_WRITE);
	CHECK_EQ(s[NPAGES - 1], HMM_DMIRROR_PROT_NONE);
	/* device 1 gives its own back on request */
	CHECK_OK(dmirror_cmd(fd1, HMM_DMIRROR_MIGRATE_TO_SYS, p, buf, NPAGES, &cp));
	CHECK_EQ(cp, NPAGES / 2);
	CHECK_OK(snap(fd1, p, s));
	CHECK_EQ(s[NPAGES - 1], HMM_DMIRROR_PROT_WRITE);
	for (int i = 0; i < NPAGES; i++)
		CHECK_EQ(p[i * PAGE / sizeof(int) + 1], 7 + i);
	return TAP_PASS;
}

static int t_exclusive_twice(void)
{
	char *buf = malloc(NPAGES * PAGE);
	uint64_t cp;
	int fd, *p;

	NEED_DEVMEM();
	CHECK(buf);
	CHECK((fd = dmirror_open(0)) >= 0);
	CHECK((p = filled(3)));
	CHECK_OK(dmirror_cmd(fd, HMM_DMIRROR_EXCLUSIVE, p, buf, NPAGES, &cp));
	CHECK_EQ(cp, NPAGES);
	CHECK_ERR(dmirror_cmd(fd, HMM_DMIRROR_CHECK_EXCLUSIVE, p, buf, NPAGES, NULL),
		  EPERM);
	CHECK_OK(dmirror_cmd(fd, HMM_DMIRROR_EXCLUSIVE, p, buf, NPAGES, &cp));
	CHECK_EQ(cp, NPAGES);
	CHECK_EQ(((int *)buf)[PAGE / sizeof(int) * 5], 3 + 5);
	/* the CPU takes every page back */
	for (int i = 0; i < NPAGES; i++)
		p[i * PAGE / sizeof(int)] = -i;
	CHECK_OK(dmirror_cmd(fd, HMM_DMIRROR_CHECK_EXCLUSIVE, p, buf, NPAGES, NULL));
	CHECK_EQ(p[5 * PAGE / sizeof(int)], -5);
	return TAP_PASS;
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

static int t_release_racing_migrate_to_sys(void)
{
	char *buf = malloc(RACE_PAGES * PAGE);
	struct race r[2];
	pthread_t th[2];
	volatile int go;
	uint64_t cp;
	int fd, *p;

	NEED_DEVMEM();
	/* the kernel's own test_hmm.ko makes the one pass */
	if (access("/sys/module/hmm_dummy", F_OK))
		return tap_skip_reason("hmm_dummy's eviction only");
	CHECK(buf);
	CHECK((fd = dmirror_open(0)) >= 0);
	CHECK((p = filled_n(RACE_PAGES, 11)));
	for (int round = 0; round < RACE_ROUNDS; round++) {
		CHECK_OK(dmirror_cmd(fd, HMM_DMIRROR_MIGRATE_TO_DEV, p, buf,
				     RACE_PAGES, &cp));
		CHECK_EQ(cp, RACE_PAGES);
		go = 0;
		for (int i = 0; i < 2; i++) {
			r[i] = (struct race){ .fd = fd, .p = p, .go = &go,
					      .buf = malloc(RACE_PAGES * PAGE) };
			CHECK(r[i].buf);
			CHECK_OK(pthread_create(&th[i], NULL, to_sys_thread, &r[i]));
		}
		go = 1;
		CHECK_OK(dmirror_cmd(fd, HMM_DMIRROR_RELEASE, p, buf, 1, NULL));
		for (int i = 0; i < 2; i++) {
			CHECK_OK(pthread_join(th[i], NULL));
			CHECK_OK(r[i].ret);
			free(r[i].buf);
		}
		if (count_local(fd, p, RACE_PAGES)) {
			diag("round %d: %ld pages still on the device", round,
			     count_local(fd, p, RACE_PAGES));
			return TAP_FAIL;
		}
	}
	CHECK_EQ(first_bad_page(p, RACE_PAGES, 11), -1);
	return TAP_PASS;
}

/*
 * Loading hmm_dummy again: only as vm-run's guest has it (/hmm_dummy.ko, the
 * module loaded from it), never the kernel's own test_hmm.
 */
#define KO_PATH	"/hmm_dummy.ko"

#define NEED_RELOAD() do {						\
	NEED_DEVMEM();							\
	if (access(KO_PATH, R_OK) || access("/sys/module/hmm_dummy", F_OK)) \
		return tap_skip_reason("no " KO_PATH " to load again (not in a vm-run guest)"); \
} while (0)

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

/*
 * Run fn in a child with hmm_dummy loaded with params, then load it again
 * with its defaults, whatever fn did: the child has exited, so none of its
 * files or mappings keeps it.
 */
static int with_params(const char *params, int (*fn)(void))
{
	int r = TAP_FAIL, st;
	pid_t pid;

	if (reload(params)) {
		diag("loading hmm_dummy with \"%s\": %s", params, strerror(errno));
	} else {
		fflush(stdout);
		pid = fork();
		if (pid == 0)
			_exit(fn());
		if (pid > 0 && waitpid(pid, &st, 0) == pid)
			r = WIFEXITED(st) ? WEXITSTATUS(st) : TAP_FAIL;
	}
	if (reload("")) {
		diag("loading hmm_dummy again with its defaults: %s", strerror(errno));
		return TAP_FAIL;
	}
	return r;
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

static int t_devmem_max_mb_checked(void)
{
	static const char *const bad[] = { "devmem_max_mb=0", "devmem_max_mb=1025" };
	static const char line[] = "hmm_dummy: devmem_max_mb must be 1 to 1024";
	int before, r = TAP_PASS;

	NEED_RELOAD();
	CHECK((before = klog_count(line)) >= 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]) && r == TAP_PASS; i++) {
		errno = 0;
		if (reload(bad[i]) != -1 || errno != EINVAL) {
			diag("loading hmm_dummy with %s: want EINVAL, got %s",
			     bad[i], errno ? strerror(errno) : "no error");
			r = TAP_FAIL;
		} else if (!access("/sys/module/hmm_dummy", F_OK)) {
			diag("hmm_dummy is loaded after %s failed", bad[i]);
			r = TAP_FAIL;
		}
	}
	if (r == TAP_PASS && klog_count(line) != before + 2) {
		diag("want 2 more \"%s\" lines in the kernel log, got %d",
		     line, klog_count(line) - before);
		r = TAP_FAIL;
	}
	if (reload("")) {
		diag("loading hmm_dummy again with its defaults: %s", strerror(errno));
		return TAP_FAIL;
	}
	return r;
}

/* devmem_max_mb=2: 512 pages of device memory for each device. */
#define CAP_PAGES	512
#define OVER_PAGES	(CAP_PAGES + 128)

static int beyond_cap(void)
{
	char *buf = malloc(OVER_PAGES * PAGE);
	uint8_t *s = malloc(OVER_PAGES);
	uint64_t cp;
	int fd0, fd1, *p;

	CHECK(buf && s);
	CHECK((fd0 = dmirror_open(0)) >= 0);
	CHECK((fd1 = dmirror_open(1)) >= 0);
	CHECK((p = filled_n(OVER_PAGES, 1000)));

	/* what fits moves, the rest stays in system memory: ENOMEM */
	CHECK_ERR(dmirror_cmd(fd0, HMM_DMIRROR_MIGRATE_TO_DEV, p, buf,
			      OVER_PAGES, &cp), ENOMEM);
	CHECK_OK(dmirror_cmd(fd0, HMM_DMIRROR_SNAPSHOT, p, s, OVER_PAGES, &cp));
	for (int i = 0; i < OVER_PAGES; i++) {
		if (s[i] == (i < CAP_PAGES ? HMM_DMIRROR_PROT_DEV_PRIVATE_LOCAL |
						     HMM_DMIRROR_PROT_WRITE :
					     HMM_DMIRROR_PROT_WRITE))
			continue;
		diag("page %d: snapshot 0x%x", i, s[i]);
		return TAP_FAIL;
	}
	/* full: not one page more */
	CHECK_ERR(dmirror_cmd(fd0, HMM_DMIRROR_MIGRATE_TO_DEV,
			      (char *)p + CAP_PAGES * PAGE, buf, 1, &cp), ENOMEM);
	CHECK_EQ(count_local(fd0, p, OVER_PAGES), CAP_PAGES);
	/* the other device has memory of its own */
	CHECK_OK(dmirror_cmd(fd1, HMM_DMIRROR_MIGRATE_TO_DEV,
			     (char *)p + CAP_PAGES * PAGE, buf,
			     OVER_PAGES - CAP_PAGES, &cp));
	CHECK_EQ(cp, OVER_PAGES - CAP_PAGES);
	CHECK_EQ(((int *)buf)[3 * PAGE / sizeof(int)], 1000 + CAP_PAGES + 3);

	/* the CPU reads every page back, intact: device 0 is empty again */
	CHECK_EQ(first_bad_page(p, OVER_PAGES, 1000), -1);
	CHECK_EQ(count_local(fd0, p, OVER_PAGES), 0);
	CHECK_OK(dmirror_cmd(fd0, HMM_DMIRROR_MIGRATE_TO_DEV, p, buf,
			     CAP_PAGES, &cp));
	CHECK_EQ(cp, CAP_PAGES);
	CHECK_OK(dmirror_cmd(fd0, HMM_DMIRROR_RELEASE, p, buf, 1, NULL));
	CHECK_EQ(count_local(fd0, p, OVER_PAGES), 0);
	CHECK_EQ(first_bad_page(p, OVER_PAGES, 1000), -1);
	return TAP_PASS;
}

static int t_migrate_beyond_cap(void)
{
	NEED_RELOAD();
	return with_params("devmem_max_mb=2", beyond_cap);
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

static int unload_with_pages(void)
{
	char *buf = malloc(UNLOAD_PAGES * PAGE);
	pthread_t th;
	uint64_t cp;
	int fd0, fd1, *p;

	CHECK(buf);
	CHECK((fd0 = dmirror_open(0)) >= 0);
	CHECK((fd1 = dmirror_open(1)) >= 0);
	CHECK((p = filled_n(UNLOAD_PAGES, 77)));
	CHECK_OK(dmirror_cmd(fd0, HMM_DMIRROR_MIGRATE_TO_DEV, p, buf,
			     UNLOAD_PAGES / 2, &cp));
	CHECK_EQ(cp, UNLOAD_PAGES / 2);
	CHECK_OK(dmirror_cmd(fd1, HMM_DMIRROR_MIGRATE_TO_DEV,
			     (char *)p + UNLOAD_PAGES / 2 * PAGE, buf,
			     UNLOAD_PAGES / 2, &cp));
	CHECK_EQ(cp, UNLOAD_PAGES / 2);
	CHECK_OK(close(fd0));
	CHECK_OK(close(fd1));

	/* the unload evicts every page (or waits for ever in memunmap_pages) */
	CHECK_OK(pthread_create(&th, NULL, fault_back_thread, p));
	if (reload("")) {
		diag("unloading and loading hmm_dummy: %s", strerror(errno));
		return TAP_FAIL;
	}
	CHECK_OK(pthread_join(th, NULL));
	CHECK((fd0 = dmirror_open(0)) >= 0);
	CHECK_EQ(count_local(fd0, p, UNLOAD_PAGES), 0);
	CHECK_EQ(first_bad_page(p, UNLOAD_PAGES, 77), -1);
	/* and the new module's device memory works */
	CHECK_OK(dmirror_cmd(fd0, HMM_DMIRROR_MIGRATE_TO_DEV, p, buf,
			     UNLOAD_PAGES, &cp));
	CHECK_EQ(cp, UNLOAD_PAGES);
	return TAP_PASS;
}

static int t_unload_with_pages(void)
{
	NEED_RELOAD();
	return with_params("", unload_with_pages);
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

static int release_in_flight_round(void)
{
	char *buf = malloc(IN_FLIGHT_PAGES * PAGE);
	struct in_flight a = { .buf = malloc(IN_FLIGHT_PAGES * PAGE) };
	struct timespec start, done;
	pthread_t th;
	uint64_t cp;
	int *r0, *r1;
	double late;

	CHECK(buf && a.buf);
	CHECK((a.fd = dmirror_open(0)) >= 0);
	CHECK((r0 = filled_n(IN_FLIGHT_PAGES, 5)));
	CHECK((r1 = filled_n(R1_PAGES, 6)));
	CHECK((a.p = anon_map(IN_FLIGHT_PAGES)));
	CHECK_OK(dmirror_cmd(a.fd, HMM_DMIRROR_MIGRATE_TO_DEV, r0, buf,
			     IN_FLIGHT_PAGES, &cp));
	CHECK_EQ(cp, IN_FLIGHT_PAGES);
	CHECK_OK(dmirror_cmd(a.fd, HMM_DMIRROR_MIGRATE_TO_DEV, r1, buf, R1_PAGES,
			     &cp));
	CHECK_EQ(cp, R1_PAGES);
	CHECK_OK(munmap(r0, IN_FLIGHT_PAGES * PAGE));

	CHECK_OK(set_delay_us(DELAY_US));
	CHECK_OK(pthread_create(&th, NULL, to_dev_thread, &a));
	usleep(DELAY_US / 2);
	clock_gettime(CLOCK_MONOTONIC, &start);
	CHECK_OK(dmirror_cmd(a.fd, HMM_DMIRROR_RELEASE, r1, buf, 1, NULL));
	clock_gettime(CLOCK_MONOTONIC, &done);
	CHECK_OK(pthread_join(th, NULL));
	CHECK_OK(set_delay_us(0));

	late = ms_of(&a.end) - ms_of(&start);
	diag("RELEASE: 0 to %.0f ms; MIGRATE_TO_DEV: %.0f to %.0f ms, %s",
	     ms_of(&done) - ms_of(&start), ms_of(&a.begin) - ms_of(&start),
	     late, a.ret ? strerror(a.err) : "moved");
	/* EBUSY: moved, but the device map that follows timed out (uapi) */
	if (a.ret)
		CHECK(a.err == ENOMEM || a.err == EBUSY);
	CHECK_EQ(count_local(a.fd, r1, R1_PAGES), 0);
	CHECK_EQ(first_bad_page(r1, R1_PAGES, 6), -1);
	if (late >= R1_PAGES * DELAY_US / 1000)
		return tap_skip_reason("the migration was not in flight during RELEASE");
	CHECK_EQ(count_local(a.fd, a.p, IN_FLIGHT_PAGES), 0);
	return TAP_PASS;
}

static int t_release_in_flight(void)
{
	int r = TAP_SKIP;

	NEED_RELOAD();
	for (int i = 0; i < 3 && r == TAP_SKIP; i++)
		r = with_params("", release_in_flight_round);
	return r;
}

static const struct tap_case cases[] = {
	{ "devmem_cmds_eopnotsupp_without_device_memory", t_unsupported, 0 },
	{ "device_write_to_cow_device_page", t_write_cow_device_page, 0 },
	{ "device_pages_freed_and_reused", t_pages_reused, 0 },
	{ "release_snapshot_migrate_to_sys", t_release_and_snapshot, 0 },
	{ "exclusive_twice", t_exclusive_twice, 0 },
	{ "release_racing_migrate_to_sys", t_release_racing_migrate_to_sys, 120 },
	{ "devmem_max_mb_checked_at_load", t_devmem_max_mb_checked, 0 },
	{ "migrate_beyond_devmem_max_mb", t_migrate_beyond_cap, 120 },
	{ "unload_evicts_every_page", t_unload_with_pages, 120 },
	{ "release_waits_for_migration_in_flight", t_release_in_flight, 120 },
};

int main(void)
{
	return TAP_MAIN(cases);
}
