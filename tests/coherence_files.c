// SPDX-License-Identifier: GPL-2.0
/*
 * coherence_files - the device never sees a page the CPU no longer maps, for
 * file mappings: shared and private mappings of tmpfs and memfd files,
 * truncate, fallocate punch-hole, write() through the fd, and page-cache
 * eviction (drop_caches: tmpfs pages stay, so it checks nothing breaks).
 *
 * Checked by the oracle of oracle.h after each step, and by data.
 *
 * Cases of kselftest_harness.h, fixture "files" (/dev/hmm_dummy0 and its
 * oracle): "coherence_files -l" lists them, "coherence_files -t truncate"
 * runs one.
 */
#define _GNU_SOURCE
#include <linux/falloc.h>

#include "kselftest_harness.h"
#include "oracle.h"

#define N 16

enum kind { TMPFS, MEMFD };

/* self->fd: /dev/hmm_dummy0, self->o: the oracle over it */
ORACLE_FIXTURE(files)

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

/*
 * A file of this kind, N pages mapped shared, filled with seed's pattern
 * and faulted in writable by the device: the mapping, the file in *f.
 */
static char *shared_mirrored(struct __test_metadata *_metadata,
			     const struct oracle *o, enum kind kind,
			     uint32_t seed, int *f)
{
	char *p;

	*f = file_open(kind);
	ASSERT_LE(0, *f);
	p = mmap(NULL, N * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, *f, 0);
	ASSERT_NE(MAP_FAILED, p);
	fill_pattern(p, N, seed);
	ASSERT_EQ(0, dummy_fault(o->fd, p, N, HMM_DUMMY_FAULT_WRITE, NULL));
	return p;
}

static void shared_case(struct __test_metadata *_metadata,
			const struct oracle *o, enum kind kind)
{
	static char buf[N * PAGE];
	char *p, *q;
	int f;

	p = shared_mirrored(_metadata, o, kind, 1, &f);
	ASSERT_COHERENT_DATA(o, p, N);
	/* The device writes the file's pages: the fd reads them. */
	ASSERT_WRITE_SEEN(o, p, N, 2);
	ASSERT_TRUE(file_has(f, 0, N, 2));
	/* write() through the fd: the device reads it (same pages). */
	fill_pattern(buf, N, 3);
	ASSERT_EQ((ssize_t)(N * PAGE), pwrite(f, buf, N * PAGE, 0));
	ASSERT_COHERENT_PATTERN(o, p, N, 3);
	/* A second mapping of the same file, then the first unmapped. */
	q = mmap(NULL, N * PAGE, PROT_READ, MAP_SHARED, f, 0);
	ASSERT_NE(MAP_FAILED, q);
	ASSERT_EQ(0, dummy_fault(o->fd, q, N, 0, NULL));
	ASSERT_COHERENT_DATA(o, q, N);
	ASSERT_EQ(0, munmap(p, N * PAGE));
	ASSERT_COHERENT(o, p, N);
	ASSERT_ENTRIES(o->fd, p, N, 0);
	ASSERT_COHERENT_PATTERN(o, q, N, 3);
}

static void private_case(struct __test_metadata *_metadata,
			 const struct oracle *o, enum kind kind)
{
	static char buf[N * PAGE];
	int f;
	char *p;

	f = file_open(kind);
	ASSERT_LE(0, f);
	fill_pattern(buf, N, 4);
	ASSERT_EQ((ssize_t)(N * PAGE), pwrite(f, buf, N * PAGE, 0));
	p = mmap(NULL, N * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, f, 0);
	ASSERT_NE(MAP_FAILED, p);
	/* Read entries on the page-cache pages. */
	ASSERT_EQ(0, dummy_fault(o->fd, p, N, 0, NULL));
	ASSERT_COHERENT_DATA(o, p, N);
	/* CPU writes to the first quarter: copies; the entries must follow. */
	fill_pattern(p, N / 4, 5);
	ASSERT_COHERENT_DATA(o, p, N);
	/* Device writes to the second quarter: copies too, file untouched. */
	ASSERT_WRITE_SEEN(o, p + N / 4 * PAGE, N / 4, 6);
	ASSERT_TRUE(file_has(f, 0, N, 4));
	/* write() through the fd reaches the pages not copied, only. */
	fill_pattern(buf, N, 7);
	ASSERT_EQ((ssize_t)(N * PAGE), pwrite(f, buf, N * PAGE, 0));
	ASSERT_COHERENT_DATA(o, p, N);
	ASSERT_EQ(check_pattern(p, N / 4, 5), -1);
	ASSERT_EQ(check_pattern(p + N / 4 * PAGE, N / 4, 6), -1);
	ASSERT_TRUE(!memcmp(p + N / 2 * PAGE, buf + N / 2 * PAGE, N / 2 * PAGE));
	/* Device write faults on the rest: now all private copies. */
	ASSERT_WRITE_SEEN(o, p, N, 8);
	ASSERT_TRUE(file_has(f, 0, N, 7));
}

TEST_F_TIMEOUT(files, tmpfs_shared, 60)
{
	shared_case(_metadata, &self->o, TMPFS);
}

TEST_F_TIMEOUT(files, tmpfs_private, 60)
{
	private_case(_metadata, &self->o, TMPFS);
}

TEST_F_TIMEOUT(files, memfd_shared, 60)
{
	shared_case(_metadata, &self->o, MEMFD);
}

TEST_F_TIMEOUT(files, memfd_private, 60)
{
	private_case(_metadata, &self->o, MEMFD);
}

TEST_F_TIMEOUT(files, truncate, 60)
{
	static char buf[PAGE];
	char *p, *q;
	int f;

	p = shared_mirrored(_metadata, &self->o, TMPFS, 9, &f);
	ASSERT_EQ(0, ftruncate(f, N / 2 * PAGE));
	ASSERT_COHERENT(&self->o, p, N);
	ASSERT_ENTRIES(self->fd, p + N / 2 * PAGE, N / 2, 0);
	/* Beyond the end of the file: the device faults like the CPU (SIGBUS). */
	ASSERT_EQ(-1, dummy_rw(self->fd, HMM_DUMMY_IOC_READ, p + N / 2 * PAGE,
			       buf, 1, NULL, NULL));
	ASSERT_EQ(EFAULT, errno);
	ASSERT_EQ(-1, dummy_fault(self->fd, p + (N - 1) * PAGE, 1, 0, NULL));
	ASSERT_EQ(EFAULT, errno);
	ASSERT_COHERENT_PATTERN(&self->o, p, N / 2, 9);
	/* Grown again: zeros. */
	ASSERT_EQ(0, ftruncate(f, N * PAGE));
	ASSERT_COHERENT_DATA(&self->o, p, N);
	ASSERT_TRUE(p[N / 2 * PAGE] == 0 && p[(N - 1) * PAGE] == 0);
	ASSERT_WRITE_SEEN(&self->o, p, N, 10);
	/* Truncated to nothing under a private mapping too. */
	q = mmap(NULL, N * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, f, 0);
	ASSERT_NE(MAP_FAILED, q);
	ASSERT_EQ(0, dummy_fault(self->fd, q, N, 0, NULL));
	ASSERT_EQ(0, dummy_fault(self->fd, q, N / 2, HMM_DUMMY_FAULT_WRITE,
				 NULL));
	ASSERT_EQ(0, ftruncate(f, 0));
	/* Truncation takes the private copies too (SIGBUS for the CPU). */
	ASSERT_COHERENT(&self->o, q, N);
	ASSERT_ENTRIES(self->fd, q, N, 0);
	ASSERT_COHERENT(&self->o, p, N);
	ASSERT_ENTRIES(self->fd, p, N, 0);
	ASSERT_EQ(-1, dummy_rw(self->fd, HMM_DUMMY_IOC_READ, q, buf, 1, NULL,
			       NULL));
	ASSERT_EQ(EFAULT, errno);
}

TEST_F_TIMEOUT(files, fallocate_punch_hole, 60)
{
	int f, i;
	char *p;

	p = shared_mirrored(_metadata, &self->o, MEMFD, 11, &f);
	ASSERT_EQ(0, fallocate(f, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			       4 * PAGE, 8 * PAGE));
	ASSERT_COHERENT(&self->o, p, N);
	ASSERT_ENTRIES(self->fd, p + 4 * PAGE, 8, 0);
	ASSERT_COHERENT_DATA(&self->o, p, N);
	for (i = 4; i < 12; i++)
		ASSERT_EQ(p[i * PAGE] | p[i * PAGE + PAGE - 1], 0);
	ASSERT_EQ(check_pattern(p, 4, 11), -1);
	ASSERT_WRITE_SEEN(&self->o, p, N, 12);
	/* On a tmpfs file as well. */
	p = shared_mirrored(_metadata, &self->o, TMPFS, 13, &f);
	ASSERT_EQ(0, fallocate(f, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0,
			       N * PAGE));
	ASSERT_COHERENT(&self->o, p, N);
	ASSERT_ENTRIES(self->fd, p, N, 0);
	ASSERT_COHERENT_DATA(&self->o, p, N);
}

TEST_F_TIMEOUT(files, write_through_fd, 60)
{
	static char buf[N * PAGE];
	int f;
	char *s, *q;

	f = file_open(TMPFS);
	ASSERT_LE(0, f);
	s = mmap(NULL, N * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, f, 0);
	q = mmap(NULL, N * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, f, 0);
	ASSERT_TRUE(s != MAP_FAILED && q != MAP_FAILED);
	fill_pattern(s, N, 14);
	ASSERT_EQ(0, dummy_fault(self->fd, s, N, HMM_DUMMY_FAULT_WRITE, NULL));
	ASSERT_EQ(0, dummy_fault(self->fd, q, N, 0, NULL));
	/* Several small writes, then one large one. */
	ASSERT_EQ(pwrite(f, "hello", 5, 3 * PAGE + 7), 5);
	ASSERT_COHERENT_DATA(&self->o, s, N);
	ASSERT_COHERENT_DATA(&self->o, q, N);
	ASSERT_TRUE(!memcmp(q + 3 * PAGE + 7, "hello", 5));
	fill_pattern(buf, N, 15);
	ASSERT_EQ((ssize_t)(N * PAGE), pwrite(f, buf, N * PAGE, 0));
	ASSERT_COHERENT_DATA(&self->o, s, N);
	ASSERT_COHERENT_DATA(&self->o, q, N);
	ASSERT_EQ(check_pattern(s, N, 15), -1);
	ASSERT_EQ(check_pattern(q, N, 15), -1);
	/* Extending the file with write(): a new page, mapped by neither yet. */
	ASSERT_EQ((ssize_t)PAGE, pwrite(f, buf, PAGE, N * PAGE));
	ASSERT_COHERENT(&self->o, s, N);
}

TEST_F_TIMEOUT(files, drop_caches, 60)
{
	int f, m;
	char *s, *q, *a;

	f = file_open(TMPFS);
	m = file_open(MEMFD);
	ASSERT_LE(0, f);
	ASSERT_LE(0, m);
	s = mmap(NULL, N * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, f, 0);
	q = mmap(NULL, N * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, m, 0);
	a = anon_filled(N, 16);
	ASSERT_TRUE(s != MAP_FAILED && q != MAP_FAILED && a);
	fill_pattern(s, N, 17);
	ASSERT_EQ(0, dummy_fault(self->fd, s, N, HMM_DUMMY_FAULT_WRITE, NULL));
	ASSERT_EQ(0, dummy_fault(self->fd, q, N, 0, NULL));
	ASSERT_EQ(0, dummy_fault(self->fd, a, N, HMM_DUMMY_FAULT_WRITE, NULL));
	sync();
	ASSERT_EQ(0, write_str("/proc/sys/vm/drop_caches", "3"));
	ASSERT_COHERENT_DATA(&self->o, s, N);
	ASSERT_COHERENT_DATA(&self->o, q, N);
	ASSERT_COHERENT_DATA(&self->o, a, N);
	ASSERT_EQ(check_pattern(s, N, 17), -1);
	ASSERT_EQ(check_pattern(a, N, 16), -1);
	ASSERT_WRITE_SEEN(&self->o, s, N, 18);
	ASSERT_WRITE_SEEN(&self->o, q, N, 19);
	ASSERT_EQ(0, write_str("/proc/sys/vm/drop_caches", "3"));
	ASSERT_COHERENT_DATA(&self->o, s, N);
	ASSERT_COHERENT_DATA(&self->o, q, N);
	ASSERT_EQ(check_pattern(s, N, 18), -1);
	ASSERT_EQ(check_pattern(q, N, 19), -1);
}

TEST_HARNESS_MAIN
