// SPDX-License-Identifier: GPL-2.0
/*
 * coherence_files - the device never sees a page the CPU no longer maps, for
 * file mappings: shared and private mappings of tmpfs and memfd files,
 * truncate, fallocate punch-hole, write() through the fd, and page-cache
 * eviction (drop_caches: tmpfs pages stay, so it checks nothing breaks).
 *
 * Checked by the oracle of oracle.h after each step, and by data.
 */
#define _GNU_SOURCE
#include <linux/falloc.h>

#include "oracle.h"

#define N 16

enum kind { TMPFS, MEMFD };

static int file_open(enum kind kind)
{
	char path[] = "/tmp/coherence.XXXXXX";
	int fd;

	if (kind == MEMFD)
		fd = memfd_create("coherence", MFD_CLOEXEC);
	else {
		fd = mkostemp(path, O_CLOEXEC);
		if (fd >= 0)
			unlink(path);
	}
	if (fd < 0)
		return -1;
	if (ftruncate(fd, N * PAGE)) {
		close(fd);
		return -1;
	}
	return fd;
}

/* The file's bytes at page i equal the pattern of seed for that page. */
static int file_has(int f, size_t i, size_t n, uint32_t seed)
{
	static char buf[N * PAGE], ref[N * PAGE];

	if (pread(f, buf, n * PAGE, (off_t)(i * PAGE)) != (ssize_t)(n * PAGE))
		return 0;
	fill_pattern(ref, n, seed);
	return !memcmp(buf, ref, n * PAGE);
}

static int shared_case(enum kind kind)
{
	static char buf[N * PAGE];
	int fd, f;
	char *p;

	fd = dummy_open(0);
	f = file_open(kind);
	CHECK(fd >= 0 && f >= 0);
	p = mmap(NULL, N * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, f, 0);
	CHECK(p != MAP_FAILED);
	fill_pattern(p, N, 1);
	CHECK_OK(dummy_fault(fd, p, N, HMM_DUMMY_FAULT_WRITE, NULL));
	ORACLE_DATA(fd, p, N);
	/* The device writes the file's pages: the fd reads them. */
	ORACLE_WRITE(fd, p, N, 2);
	CHECK(file_has(f, 0, N, 2));
	/* write() through the fd: the device reads it (same pages). */
	fill_pattern(buf, N, 3);
	CHECK_EQ(pwrite(f, buf, N * PAGE, 0), N * PAGE);
	ORACLE_DATA(fd, p, N);
	CHECK_EQ(check_pattern(p, N, 3), -1);
	/* A second mapping of the same file, then the first unmapped. */
	{
		char *q = mmap(NULL, N * PAGE, PROT_READ, MAP_SHARED, f, 0);

		CHECK(q != MAP_FAILED);
		CHECK_OK(dummy_fault(fd, q, N, 0, NULL));
		ORACLE_DATA(fd, q, N);
		CHECK_OK(munmap(p, N * PAGE));
		ORACLE(fd, p, N);
		CHECK_ENTRIES(fd, p, N, 0);
		ORACLE_DATA(fd, q, N);
		CHECK_EQ(check_pattern(q, N, 3), -1);
	}
	return TAP_PASS;
}

static int private_case(enum kind kind)
{
	static char buf[N * PAGE];
	int fd, f;
	char *p;

	fd = dummy_open(0);
	f = file_open(kind);
	CHECK(fd >= 0 && f >= 0);
	fill_pattern(buf, N, 4);
	CHECK_EQ(pwrite(f, buf, N * PAGE, 0), N * PAGE);
	p = mmap(NULL, N * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, f, 0);
	CHECK(p != MAP_FAILED);
	/* Read entries on the page-cache pages. */
	CHECK_OK(dummy_fault(fd, p, N, 0, NULL));
	ORACLE_DATA(fd, p, N);
	/* CPU writes to the first quarter: copies; the entries must follow. */
	fill_pattern(p, N / 4, 5);
	ORACLE_DATA(fd, p, N);
	/* Device writes to the second quarter: copies too, file untouched. */
	ORACLE_WRITE(fd, p + N / 4 * PAGE, N / 4, 6);
	CHECK(file_has(f, 0, N, 4));
	/* write() through the fd reaches the pages not copied, only. */
	fill_pattern(buf, N, 7);
	CHECK_EQ(pwrite(f, buf, N * PAGE, 0), N * PAGE);
	ORACLE_DATA(fd, p, N);
	CHECK_EQ(check_pattern(p, N / 4, 5), -1);
	CHECK_EQ(check_pattern(p + N / 4 * PAGE, N / 4, 6), -1);
	CHECK(!memcmp(p + N / 2 * PAGE, buf + N / 2 * PAGE, N / 2 * PAGE));
	/* Device write faults on the rest: now all private copies. */
	ORACLE_WRITE(fd, p, N, 8);
	CHECK(file_has(f, 0, N, 7));
	return TAP_PASS;
}

static int t_tmpfs_shared(void)
{
	return shared_case(TMPFS);
}

static int t_tmpfs_private(void)
{
	return private_case(TMPFS);
}

static int t_memfd_shared(void)
{
	return shared_case(MEMFD);
}

static int t_memfd_private(void)
{
	return private_case(MEMFD);
}

static int t_truncate(void)
{
	static char buf[PAGE];
	int fd, f;
	char *p;

	fd = dummy_open(0);
	f = file_open(TMPFS);
	CHECK(fd >= 0 && f >= 0);
	p = mmap(NULL, N * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, f, 0);
	CHECK(p != MAP_FAILED);
	fill_pattern(p, N, 9);
	CHECK_OK(dummy_fault(fd, p, N, HMM_DUMMY_FAULT_WRITE, NULL));
	CHECK_OK(ftruncate(f, N / 2 * PAGE));
	ORACLE(fd, p, N);
	CHECK_ENTRIES(fd, p + N / 2 * PAGE, N / 2, 0);
	/* Beyond the end of the file: the device faults like the CPU (SIGBUS). */
	CHECK_ERR(dummy_rw(fd, HMM_DUMMY_IOC_READ, p + N / 2 * PAGE, buf, 1,
			   NULL, NULL), EFAULT);
	CHECK_ERR(dummy_fault(fd, p + (N - 1) * PAGE, 1, 0, NULL), EFAULT);
	ORACLE_DATA(fd, p, N / 2);
	CHECK_EQ(check_pattern(p, N / 2, 9), -1);
	/* Grown again: zeros. */
	CHECK_OK(ftruncate(f, N * PAGE));
	ORACLE_DATA(fd, p, N);
	CHECK(p[N / 2 * PAGE] == 0 && p[(N - 1) * PAGE] == 0);
	ORACLE_WRITE(fd, p, N, 10);
	/* Truncated to nothing under a private mapping too. */
	{
		char *q = mmap(NULL, N * PAGE, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE, f, 0);

		CHECK(q != MAP_FAILED);
		CHECK_OK(dummy_fault(fd, q, N, 0, NULL));
		CHECK_OK(dummy_fault(fd, q, N / 2, HMM_DUMMY_FAULT_WRITE, NULL));
		CHECK_OK(ftruncate(f, 0));
		/* Truncation takes the private copies too (SIGBUS for the CPU). */
		ORACLE(fd, q, N);
		CHECK_ENTRIES(fd, q, N, 0);
		ORACLE(fd, p, N);
		CHECK_ENTRIES(fd, p, N, 0);
		CHECK_ERR(dummy_rw(fd, HMM_DUMMY_IOC_READ, q, buf, 1, NULL, NULL),
			  EFAULT);
	}
	return TAP_PASS;
}

static int t_punch_hole(void)
{
	int fd, f, i;
	char *p;

	fd = dummy_open(0);
	f = file_open(MEMFD);
	CHECK(fd >= 0 && f >= 0);
	p = mmap(NULL, N * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, f, 0);
	CHECK(p != MAP_FAILED);
	fill_pattern(p, N, 11);
	CHECK_OK(dummy_fault(fd, p, N, HMM_DUMMY_FAULT_WRITE, NULL));
	CHECK_OK(fallocate(f, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			   4 * PAGE, 8 * PAGE));
	ORACLE(fd, p, N);
	CHECK_ENTRIES(fd, p + 4 * PAGE, 8, 0);
	ORACLE_DATA(fd, p, N);
	for (i = 4; i < 12; i++)
		CHECK_EQ(p[i * PAGE] | p[i * PAGE + PAGE - 1], 0);
	CHECK_EQ(check_pattern(p, 4, 11), -1);
	ORACLE_WRITE(fd, p, N, 12);
	/* On a tmpfs file as well. */
	f = file_open(TMPFS);
	CHECK(f >= 0);
	p = mmap(NULL, N * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, f, 0);
	CHECK(p != MAP_FAILED);
	fill_pattern(p, N, 13);
	CHECK_OK(dummy_fault(fd, p, N, HMM_DUMMY_FAULT_WRITE, NULL));
	CHECK_OK(fallocate(f, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0,
			   N * PAGE));
	ORACLE(fd, p, N);
	CHECK_ENTRIES(fd, p, N, 0);
	ORACLE_DATA(fd, p, N);
	return TAP_PASS;
}

static int t_fd_write(void)
{
	static char buf[N * PAGE];
	int fd, f;
	char *s, *q;

	fd = dummy_open(0);
	f = file_open(TMPFS);
	CHECK(fd >= 0 && f >= 0);
	s = mmap(NULL, N * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, f, 0);
	q = mmap(NULL, N * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, f, 0);
	CHECK(s != MAP_FAILED && q != MAP_FAILED);
	fill_pattern(s, N, 14);
	CHECK_OK(dummy_fault(fd, s, N, HMM_DUMMY_FAULT_WRITE, NULL));
	CHECK_OK(dummy_fault(fd, q, N, 0, NULL));
	/* Several small writes, then one large one. */
	CHECK_EQ(pwrite(f, "hello", 5, 3 * PAGE + 7), 5);
	ORACLE_DATA(fd, s, N);
	ORACLE_DATA(fd, q, N);
	CHECK(!memcmp(q + 3 * PAGE + 7, "hello", 5));
	fill_pattern(buf, N, 15);
	CHECK_EQ(pwrite(f, buf, N * PAGE, 0), N * PAGE);
	ORACLE_DATA(fd, s, N);
	ORACLE_DATA(fd, q, N);
	CHECK_EQ(check_pattern(s, N, 15), -1);
	CHECK_EQ(check_pattern(q, N, 15), -1);
	/* Extending the file with write(): a new page, mapped by neither yet. */
	CHECK_EQ(pwrite(f, buf, PAGE, N * PAGE), PAGE);
	ORACLE(fd, s, N);
	return TAP_PASS;
}

static int t_drop_caches(void)
{
	int fd, f, m;
	char *s, *q, *a;

	fd = dummy_open(0);
	f = file_open(TMPFS);
	m = file_open(MEMFD);
	CHECK(fd >= 0 && f >= 0 && m >= 0);
	s = mmap(NULL, N * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, f, 0);
	q = mmap(NULL, N * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, m, 0);
	a = anon_filled(N, 16);
	CHECK(s != MAP_FAILED && q != MAP_FAILED && a);
	fill_pattern(s, N, 17);
	CHECK_OK(dummy_fault(fd, s, N, HMM_DUMMY_FAULT_WRITE, NULL));
	CHECK_OK(dummy_fault(fd, q, N, 0, NULL));
	CHECK_OK(dummy_fault(fd, a, N, HMM_DUMMY_FAULT_WRITE, NULL));
	sync();
	CHECK_OK(write_str("/proc/sys/vm/drop_caches", "3"));
	ORACLE_DATA(fd, s, N);
	ORACLE_DATA(fd, q, N);
	ORACLE_DATA(fd, a, N);
	CHECK_EQ(check_pattern(s, N, 17), -1);
	CHECK_EQ(check_pattern(a, N, 16), -1);
	ORACLE_WRITE(fd, s, N, 18);
	ORACLE_WRITE(fd, q, N, 19);
	CHECK_OK(write_str("/proc/sys/vm/drop_caches", "3"));
	ORACLE_DATA(fd, s, N);
	ORACLE_DATA(fd, q, N);
	CHECK_EQ(check_pattern(s, N, 18), -1);
	CHECK_EQ(check_pattern(q, N, 19), -1);
	return TAP_PASS;
}

static const struct tap_case cases[] = {
	{ "tmpfs_shared", t_tmpfs_shared, 0 },
	{ "tmpfs_private", t_tmpfs_private, 0 },
	{ "memfd_shared", t_memfd_shared, 0 },
	{ "memfd_private", t_memfd_private, 0 },
	{ "truncate", t_truncate, 0 },
	{ "fallocate_punch_hole", t_punch_hole, 0 },
	{ "write_through_fd", t_fd_write, 0 },
	{ "drop_caches", t_drop_caches, 0 },
};

int main(void)
{
	return TAP_MAIN(cases);
}
