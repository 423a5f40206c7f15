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
 *     ends it.
 */
#include "tap.h"
#include "dummy_util.h"

#include <stdint.h>

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

/* A mapping of NPAGES pages, page i filled with the int i + base. */
static int *filled(int base)
{
	int *p = anon_map(NPAGES);

	if (p)
		for (size_t i = 0; i < NPAGES * PAGE / sizeof(int); i++)
			p[i] = base + (int)(i / (PAGE / sizeof(int)));
	return p;
}

static int snap(int fd, void *p, uint8_t *out)
{
	uint64_t cp;

	return dmirror_cmd(fd, HMM_DMIRROR_SNAPSHOT, p, out, NPAGES, &cp);
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

static const struct tap_case cases[] = {
	{ "devmem_cmds_eopnotsupp_without_device_memory", t_unsupported, 0 },
	{ "device_write_to_cow_device_page", t_write_cow_device_page, 0 },
	{ "device_pages_freed_and_reused", t_pages_reused, 0 },
	{ "release_snapshot_migrate_to_sys", t_release_and_snapshot, 0 },
	{ "exclusive_twice", t_exclusive_twice, 0 },
};

int main(void)
{
	return TAP_MAIN(cases);
}
