// SPDX-License-Identifier: GPL-2.0
/*
 * coherence_vm - the device never sees a page the CPU no longer maps, across
 * the address-space system calls: munmap, mmap MAP_FIXED, mremap, mprotect,
 * madvise, mlock, PROT_NONE holes, stack growth, userfaultfd.
 *
 * Every case mirrors a range on /dev/hmm_dummy0 (device entries writable
 * where it can), changes the CPU page table, then asks the oracle (oracle.h)
 * before anything else: a stale device entry is found before a device
 * access could go through it. Then the data: the device reads what the CPU
 * reads, and the CPU sees what the device writes.
 */
#define _GNU_SOURCE
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <sys/syscall.h>

#include "oracle.h"

#define N 16

/* Open the device, map n pages filled with seed, device entries writable. */
static int setup(int *fd, char **p, size_t n, uint32_t seed)
{
	*fd = dummy_open(0);
	CHECK(*fd >= 0);
	*p = anon_filled(n, seed);
	CHECK(*p);
	CHECK_OK(dummy_fault(*fd, *p, n, HMM_DUMMY_FAULT_WRITE, NULL));
	CHECK_ENTRIES(*fd, *p, n, n);
	ORACLE_DATA(*fd, *p, n);
	return TAP_PASS;
}

#define SETUP(fd, p, n, seed) do {				\
	if (setup(&(fd), &(p), (n), (seed)) != TAP_PASS)		\
		return TAP_FAIL;					\
} while (0)

/* A device READ of the range fails with err. */
static int read_fails(int fd, void *addr, size_t n, int err)
{
	static char buf[N * PAGE];

	CHECK(n <= N);
	CHECK_ERR(dummy_rw(fd, HMM_DUMMY_IOC_READ, addr, buf, n, NULL, NULL),
		  err);
	return TAP_PASS;
}

static int t_munmap_whole(void)
{
	int fd;
	char *p;

	SETUP(fd, p, N, 1);
	CHECK_OK(munmap(p, N * PAGE));
	ORACLE(fd, p, N);
	CHECK_ENTRIES(fd, p, N, 0);
	return read_fails(fd, p, N, EFAULT);
}

static int t_munmap_part(void)
{
	int fd;
	char *p;

	SETUP(fd, p, N, 2);
	CHECK_OK(munmap(p + N / 2 * PAGE, N / 2 * PAGE));
	ORACLE(fd, p, N);
	CHECK_ENTRIES(fd, p + N / 2 * PAGE, N / 2, 0);
	ORACLE_DATA(fd, p, N / 2);
	CHECK_EQ(check_pattern(p, N / 2, 2), -1);
	ORACLE_WRITE(fd, p, N / 2, 22);
	return read_fails(fd, p + N / 2 * PAGE, 1, EFAULT);
}

static int t_munmap_middle(void)
{
	int fd;
	char *p;

	SETUP(fd, p, N, 3);
	CHECK_OK(munmap(p + 4 * PAGE, 4 * PAGE));
	ORACLE(fd, p, N);
	CHECK_ENTRIES(fd, p + 4 * PAGE, 4, 0);
	CHECK_ENTRIES(fd, p, N, N - 4);
	ORACLE_DATA(fd, p, 4);
	ORACLE_DATA(fd, p + 8 * PAGE, N - 8);
	ORACLE_WRITE(fd, p + 8 * PAGE, N - 8, 33);
	return read_fails(fd, p, N, EFAULT);
}

static int t_mmap_fixed_over(void)
{
	int fd;
	char *p, *q;

	SETUP(fd, p, N, 4);
	q = mmap(p + 2 * PAGE, 8 * PAGE, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	CHECK(q == p + 2 * PAGE);
	ORACLE(fd, p, N);
	CHECK_ENTRIES(fd, q, 8, 0);
	ORACLE_DATA(fd, p, N);
	CHECK(is_zero(q, 8 * PAGE));
	ORACLE_WRITE(fd, p, N, 44);
	return TAP_PASS;
}

static int t_mremap_grow(void)
{
	int fd;
	char *p, *q;

	/* In place: the pages after it are free. */
	SETUP(fd, p, N, 5);
	CHECK_OK(munmap(p, N * PAGE));
	p = mmap(NULL, 2 * N * PAGE, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(p != MAP_FAILED);
	CHECK_OK(munmap(p + N * PAGE, N * PAGE));
	fill_pattern(p, N, 5);
	CHECK_OK(dummy_fault(fd, p, N, HMM_DUMMY_FAULT_WRITE, NULL));
	q = mremap(p, N * PAGE, 2 * N * PAGE, 0);
	CHECK(q == p);
	ORACLE_DATA(fd, p, 2 * N);
	CHECK_EQ(check_pattern(p, N, 5), -1);
	CHECK(is_zero(p + N * PAGE, N * PAGE));
	/* Growing while moving: somewhere else, the old range gone. */
	CHECK_OK(dummy_fault(fd, p, 2 * N, HMM_DUMMY_FAULT_WRITE, NULL));
	q = mmap(NULL, 4 * N * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
		 -1, 0);
	CHECK(q != MAP_FAILED);
	CHECK(mremap(p, 2 * N * PAGE, 4 * N * PAGE,
		     MREMAP_MAYMOVE | MREMAP_FIXED, q) == q);
	ORACLE(fd, p, 2 * N);
	CHECK_ENTRIES(fd, p, 2 * N, 0);
	ORACLE_DATA(fd, q, 4 * N);
	CHECK_EQ(check_pattern(q, N, 5), -1);
	ORACLE_WRITE(fd, q, 4 * N, 55);
	return TAP_PASS;
}

static int t_mremap_shrink(void)
{
	int fd;
	char *p, *q;

	SETUP(fd, p, N, 6);
	q = mremap(p, N * PAGE, 4 * PAGE, 0);
	CHECK(q == p);
	ORACLE(fd, p, N);
	CHECK_ENTRIES(fd, p + 4 * PAGE, N - 4, 0);
	ORACLE_DATA(fd, p, 4);
	CHECK_EQ(check_pattern(p, 4, 6), -1);
	ORACLE_WRITE(fd, p, 4, 66);
	return read_fails(fd, p + 4 * PAGE, 1, EFAULT);
}

static int t_mremap_move(void)
{
	int fd;
	char *p, *q, *dst;

	SETUP(fd, p, N, 7);
	dst = anon_map(N);
	CHECK(dst);
	CHECK_OK(dummy_fault(fd, dst, N, 0, NULL));	/* zero page entries */
	q = mremap(p, N * PAGE, N * PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, dst);
	CHECK(q == dst);
	ORACLE(fd, p, N);
	ORACLE(fd, dst, N);
	CHECK_ENTRIES(fd, p, N, 0);
	ORACLE_DATA(fd, dst, N);
	CHECK_EQ(check_pattern(dst, N, 7), -1);
	ORACLE_WRITE(fd, dst, N, 77);
	return read_fails(fd, p, N, EFAULT);
}

static int t_mprotect_readonly(void)
{
	char buf[PAGE];
	int fd;
	char *p;

	SETUP(fd, p, N, 8);
	CHECK_OK(mprotect(p, N * PAGE, PROT_READ));
	ORACLE(fd, p, N);
	ORACLE_DATA(fd, p, N);
	CHECK_ERR(dummy_rw(fd, HMM_DUMMY_IOC_WRITE, p, buf, 1, NULL, NULL),
		  EPERM);
	CHECK_EQ(check_pattern(p, N, 8), -1);
	ORACLE(fd, p, N);
	return TAP_PASS;
}

static int t_mprotect_none(void)
{
	int fd;
	char *p;

	SETUP(fd, p, N, 9);
	CHECK_OK(mprotect(p + 4 * PAGE, 8 * PAGE, PROT_NONE));
	ORACLE(fd, p, N);
	CHECK_ENTRIES(fd, p + 4 * PAGE, 8, 0);
	if (read_fails(fd, p + 4 * PAGE, 8, EFAULT))
		return TAP_FAIL;
	CHECK_ERR(dummy_fault(fd, p + 4 * PAGE, 1, 0, NULL), EFAULT);
	ORACLE_DATA(fd, p, 4);
	ORACLE_DATA(fd, p + 12 * PAGE, 4);
	return TAP_PASS;
}

static int t_mprotect_back(void)
{
	int fd;
	char *p;

	SETUP(fd, p, N, 10);
	CHECK_OK(mprotect(p, N * PAGE, PROT_NONE));
	ORACLE(fd, p, N);
	CHECK_ENTRIES(fd, p, N, 0);
	CHECK_OK(mprotect(p, N * PAGE, PROT_READ));
	ORACLE_DATA(fd, p, N);
	CHECK_OK(mprotect(p, N * PAGE, PROT_READ | PROT_WRITE));
	ORACLE_DATA(fd, p, N);
	ORACLE_WRITE(fd, p, N, 1010);
	CHECK_EQ(check_pattern(p, N, 1010), -1);
	return TAP_PASS;
}

static int t_madv_dontneed(void)
{
	int fd;
	char *p;

	SETUP(fd, p, N, 11);
	CHECK_OK(madvise(p + 2 * PAGE, 6 * PAGE, MADV_DONTNEED));
	ORACLE(fd, p, N);
	CHECK_ENTRIES(fd, p + 2 * PAGE, 6, 0);
	ORACLE_DATA(fd, p, N);
	CHECK(is_zero(p + 2 * PAGE, 6 * PAGE));
	ORACLE_WRITE(fd, p, N, 1111);
	return TAP_PASS;
}

static int t_madv_free(void)
{
	int fd;
	char *p;

	SETUP(fd, p, N, 12);
	CHECK_OK(madvise(p, N * PAGE, MADV_FREE));
	ORACLE(fd, p, N);
	ORACLE_DATA(fd, p, N);
	/*
	 * A device write must dirty the page, or reclaim, which discards
	 * clean lazily-freed pages, drops what the device wrote.
	 */
	ORACLE_WRITE(fd, p, N, 1212);
	madvise(p, N * PAGE, MADV_PAGEOUT);
	ORACLE(fd, p, N);
	ORACLE_DATA(fd, p, N);
	CHECK_EQ(check_pattern(p, N, 1212), -1);
	return TAP_PASS;
}

static int t_madv_cold(void)
{
	int fd;
	char *p;

	SETUP(fd, p, N, 13);
	if (madvise(p, N * PAGE, MADV_COLD))
		return tap_skip_reason("MADV_COLD: %s", strerror(errno));
	ORACLE_DATA(fd, p, N);
	CHECK_EQ(check_pattern(p, N, 13), -1);
	ORACLE_WRITE(fd, p, N, 1313);
	return TAP_PASS;
}

static int t_madv_pageout(void)
{
	uint64_t pm[N];
	char why[256];
	int fd, i, swapped = 0;
	char *p;

	if (swap_on_zram(why, sizeof(why)))
		return tap_skip_reason("%s", why);
	SETUP(fd, p, N, 14);
	CHECK_OK(madvise(p, N * PAGE, MADV_PAGEOUT));
	ORACLE(fd, p, N);
	CHECK_OK(pagemap_read(p, N, pm));
	for (i = 0; i < N; i++)
		swapped += !!(pm[i] & PM_SWAP);
	diag("%d of %d pages swapped out", swapped, N);
	CHECK(swapped > 0);
	ORACLE_DATA(fd, p, N);
	CHECK_EQ(check_pattern(p, N, 14), -1);
	ORACLE_WRITE(fd, p, N, 1414);
	return TAP_PASS;
}

static int t_madv_remove(void)
{
	int fd, mfd;
	char *p;

	fd = dummy_open(0);
	CHECK(fd >= 0);
	mfd = memfd_create("coherence", MFD_CLOEXEC);
	CHECK(mfd >= 0);
	CHECK_OK(ftruncate(mfd, N * PAGE));
	p = mmap(NULL, N * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	CHECK(p != MAP_FAILED);
	fill_pattern(p, N, 15);
	CHECK_OK(dummy_fault(fd, p, N, HMM_DUMMY_FAULT_WRITE, NULL));
	ORACLE_DATA(fd, p, N);
	CHECK_OK(madvise(p + 4 * PAGE, 8 * PAGE, MADV_REMOVE));
	ORACLE(fd, p, N);
	CHECK_ENTRIES(fd, p + 4 * PAGE, 8, 0);
	ORACLE_DATA(fd, p, N);
	CHECK(is_zero(p + 4 * PAGE, 8 * PAGE));
	ORACLE_WRITE(fd, p, N, 1515);
	return TAP_PASS;
}

static int t_madv_wipeonfork(void)
{
	int fd, status;
	pid_t pid;
	char *p;

	SETUP(fd, p, N, 16);
	CHECK_OK(madvise(p, N * PAGE, MADV_WIPEONFORK));
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		int cfd = dummy_open(0);

		if (cfd < 0 || !is_zero(p, N * PAGE))
			_exit(1);
		if (dummy_fault(cfd, p, N, HMM_DUMMY_FAULT_WRITE, NULL) ||
		    check_coherent(cfd, p, N) || oracle_read_agrees(cfd, p, N) ||
		    !is_zero(p, N * PAGE) || oracle_write_seen(cfd, p, N, 161))
			_exit(2);
		_exit(0);
	}
	CHECK_EQ(waitpid(pid, &status, 0), pid);
	CHECK(WIFEXITED(status));
	CHECK_EQ(WEXITSTATUS(status), 0);
	/* The parent keeps its data, its device table coherent. */
	ORACLE_DATA(fd, p, N);
	CHECK_EQ(check_pattern(p, N, 16), -1);
	ORACLE_WRITE(fd, p, N, 1616);
	return TAP_PASS;
}

static int t_mlock_munlock(void)
{
	int fd;
	char *p;

	SETUP(fd, p, N, 17);
	CHECK_OK(mlock(p, N * PAGE));
	ORACLE_DATA(fd, p, N);
	ORACLE_WRITE(fd, p, N, 1717);
	CHECK_OK(munlock(p, N * PAGE));
	ORACLE_DATA(fd, p, N);
	CHECK_OK(mlock(p + 4 * PAGE, 4 * PAGE));
	CHECK_OK(madvise(p + 8 * PAGE, 4 * PAGE, MADV_DONTNEED));
	ORACLE_DATA(fd, p, N);
	CHECK_OK(munmap(p + 4 * PAGE, 4 * PAGE));	/* munlocks */
	ORACLE(fd, p, N);
	CHECK_ENTRIES(fd, p + 4 * PAGE, 4, 0);
	ORACLE_WRITE(fd, p + 8 * PAGE, 8, 1718);
	return TAP_PASS;
}

static int t_prot_none_holes(void)
{
	uint64_t done = 0;
	int fd, i;
	char *p;

	SETUP(fd, p, N, 18);
	for (i = 3; i < N; i += 4)
		CHECK_OK(mprotect(p + i * PAGE, PAGE, PROT_NONE));
	ORACLE(fd, p, N);
	CHECK_ERR(dummy_fault(fd, p, N, HMM_DUMMY_FAULT_WRITE, &done), EFAULT);
	CHECK_EQ(done, 3);
	for (i = 0; i < N; i++) {
		if (i % 4 == 3) {
			CHECK_ERR(dummy_fault(fd, p + i * PAGE, 1, 0, NULL), EFAULT);
			continue;
		}
		CHECK_OK(dummy_fault(fd, p + i * PAGE, 1, HMM_DUMMY_FAULT_WRITE,
				     NULL));
	}
	ORACLE(fd, p, N);
	CHECK_ENTRIES(fd, p, N, N - N / 4);
	for (i = 0; i < N; i += 4)
		ORACLE_DATA(fd, p + i * PAGE, 3);
	for (i = 3; i < N; i += 4)
		CHECK_OK(mprotect(p + i * PAGE, PAGE, PROT_READ | PROT_WRITE));
	ORACLE_DATA(fd, p, N);
	CHECK_EQ(check_pattern(p, N, 18), -1);
	ORACLE_WRITE(fd, p, N, 1818);
	return TAP_PASS;
}

/* The [stack] mapping of this process. */
static int stack_range(uintptr_t *lo, uintptr_t *hi)
{
	char line[512];
	FILE *f = fopen("/proc/self/maps", "r");
	int found = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, "[stack]") &&
		    sscanf(line, "%lx-%lx", lo, hi) == 2)
			found = 1;
	fclose(f);
	return found ? 0 : -1;
}

#define GROW_FRAME	(64 * 1024)
#define GROW_DEPTH	8

static int stack_fd = -1;
static uintptr_t stack_lo0, stack_hi0;
static volatile char *frames[GROW_DEPTH + 1];

/* The whole pages inside one level's frame buffer: its content is stable. */
static void frame_pages(int depth, char **start, size_t *n)
{
	uintptr_t a = ((uintptr_t)frames[depth] + PAGE - 1) & ~(PAGE - 1);

	*start = (char *)a;
	*n = ((uintptr_t)frames[depth] + GROW_FRAME - a) / PAGE;
}

/* Grows the stack GROW_FRAME per level, checks the device from the deepest. */
static int __attribute__((noinline)) grow(int depth)
{
	volatile char frame[GROW_FRAME];
	uintptr_t lo, hi;
	char *start;
	size_t n;
	int r, d;

	frames[depth] = frame;
	memset((char *)frame, depth + 1, sizeof(frame));
	if (depth < GROW_DEPTH) {
		r = grow(depth + 1);
		return r ? r : (frame[100] == depth + 1 ? TAP_PASS : TAP_FAIL);
	}
	CHECK_OK(stack_range(&lo, &hi));
	diag("stack grew from 0x%lx-0x%lx to 0x%lx-0x%lx", stack_lo0,
	     stack_hi0, lo, hi);
	CHECK(lo < stack_lo0);
	/*
	 * The pages the growth added, device entries writable; the frames of
	 * the levels above this one hold what they were set to (the pages
	 * below this frame change with every call, so are only checked by
	 * pfn).
	 */
	CHECK_OK(dummy_fault(stack_fd, (void *)lo, (stack_lo0 - lo) / PAGE,
			     HMM_DUMMY_FAULT_WRITE, NULL));
	ORACLE(stack_fd, (void *)lo, (hi - lo) / PAGE);
	for (d = 0; d < GROW_DEPTH; d++) {
		frame_pages(d, &start, &n);
		ORACLE_DATA(stack_fd, start, n);
		CHECK_EQ(start[0], d + 1);
	}
	/* This frame's buffer, written by the device, read by the CPU. */
	frame_pages(depth, &start, &n);
	ORACLE_WRITE(stack_fd, start, 4, 1919);
	CHECK_EQ(check_pattern(start, 4, 1919), -1);
	ORACLE(stack_fd, (void *)lo, (hi - lo) / PAGE);
	return TAP_PASS;
}

static int t_stack_growth(void)
{
	int r;

	stack_fd = dummy_open(0);
	CHECK(stack_fd >= 0);
	CHECK_OK(stack_range(&stack_lo0, &stack_hi0));
	CHECK_OK(dummy_fault(stack_fd, (void *)stack_lo0,
			     (stack_hi0 - stack_lo0) / PAGE,
			     HMM_DUMMY_FAULT_WRITE, NULL));
	ORACLE(stack_fd, (void *)stack_lo0, (stack_hi0 - stack_lo0) / PAGE);
	r = grow(0);
	if (r)
		return r;
	CHECK_OK(stack_range(&stack_lo0, &stack_hi0));
	ORACLE(stack_fd, (void *)stack_lo0, (stack_hi0 - stack_lo0) / PAGE);
	return TAP_PASS;
}

struct uffd_server {
	int uffd;
	char *src;
	int stop;
};

static void *uffd_serve(void *arg)
{
	struct uffd_server *s = arg;

	while (!__atomic_load_n(&s->stop, __ATOMIC_SEQ_CST)) {
		struct pollfd pfd = { .fd = s->uffd, .events = POLLIN };
		struct uffd_msg msg;
		struct uffdio_copy copy;

		if (poll(&pfd, 1, 50) <= 0)
			continue;
		if (read(s->uffd, &msg, sizeof(msg)) != sizeof(msg) ||
		    msg.event != UFFD_EVENT_PAGEFAULT)
			continue;
		copy.dst = msg.arg.pagefault.address & ~(PAGE - 1);
		copy.src = (uintptr_t)s->src;
		copy.len = PAGE;
		copy.mode = 0;
		copy.copy = 0;
		ioctl(s->uffd, UFFDIO_COPY, &copy);
	}
	return NULL;
}

static int t_userfaultfd(void)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg;
	struct uffdio_copy copy;
	struct uffd_server srv = {};
	pthread_t th;
	char buf[PAGE];
	int fd, uffd, r;
	char *p, *src;

	uffd = (int)syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (uffd < 0)
		return tap_skip_reason("userfaultfd: %s", strerror(errno));
	if (ioctl(uffd, UFFDIO_API, &api))
		return tap_skip_reason("UFFDIO_API: %s", strerror(errno));
	fd = dummy_open(0);
	CHECK(fd >= 0);
	p = anon_map(N);
	src = anon_filled(N, 20);
	CHECK(p && src);
	reg.range.start = (uintptr_t)p;
	reg.range.len = N * PAGE;
	reg.mode = UFFDIO_REGISTER_MODE_MISSING;
	CHECK_OK(ioctl(uffd, UFFDIO_REGISTER, &reg));
	/* Populate the first half with UFFDIO_COPY. */
	copy.dst = (uintptr_t)p;
	copy.src = (uintptr_t)src;
	copy.len = N / 2 * PAGE;
	copy.mode = 0;
	CHECK_OK(ioctl(uffd, UFFDIO_COPY, &copy));
	CHECK_OK(dummy_fault(fd, p, N / 2, HMM_DUMMY_FAULT_WRITE, NULL));
	ORACLE_DATA(fd, p, N / 2);
	CHECK(!memcmp(p, src, N / 2 * PAGE));
	/* A device fault on a missing page: it fails or is served, no hang. */
	srv.uffd = uffd;
	srv.src = src;
	CHECK_OK(pthread_create(&th, NULL, uffd_serve, &srv));
	r = dummy_rw(fd, HMM_DUMMY_IOC_READ, p + N / 2 * PAGE, buf, 1, NULL,
		     NULL);
	diag("device READ of a missing userfaultfd page: %s",
	     r ? strerror(errno) : "served");
	CHECK(r == 0 || errno == EFAULT);
	/* The CPU faults the rest in through the server. */
	for (r = N / 2; r < N; r++)
		CHECK_EQ(p[r * PAGE], src[0]);
	ORACLE_DATA(fd, p, N);
	/* Dropped and copied again with other data: the device follows. */
	CHECK_OK(madvise(p, 4 * PAGE, MADV_DONTNEED));
	ORACLE(fd, p, N);
	CHECK_ENTRIES(fd, p, 4, 0);
	fill_pattern(src, 4, 21);
	copy.dst = (uintptr_t)p;
	copy.len = 4 * PAGE;
	CHECK_OK(ioctl(uffd, UFFDIO_COPY, &copy));
	ORACLE_DATA(fd, p, N);
	CHECK_EQ(check_pattern(p, 4, 21), -1);
	ORACLE_WRITE(fd, p, N, 2020);
	__atomic_store_n(&srv.stop, 1, __ATOMIC_SEQ_CST);
	pthread_join(th, NULL);
	return TAP_PASS;
}

static const struct tap_case cases[] = {
	{ "munmap_whole", t_munmap_whole, 0 },
	{ "munmap_part", t_munmap_part, 0 },
	{ "munmap_middle", t_munmap_middle, 0 },
	{ "mmap_fixed_over", t_mmap_fixed_over, 0 },
	{ "mremap_grow", t_mremap_grow, 0 },
	{ "mremap_shrink", t_mremap_shrink, 0 },
	{ "mremap_move", t_mremap_move, 0 },
	{ "mprotect_readonly", t_mprotect_readonly, 0 },
	{ "mprotect_none", t_mprotect_none, 0 },
	{ "mprotect_back", t_mprotect_back, 0 },
	{ "madvise_dontneed", t_madv_dontneed, 0 },
	{ "madvise_free", t_madv_free, 0 },
	{ "madvise_cold", t_madv_cold, 0 },
	{ "madvise_pageout", t_madv_pageout, 0 },
	{ "madvise_remove_memfd", t_madv_remove, 0 },
	{ "madvise_wipeonfork", t_madv_wipeonfork, 0 },
	{ "mlock_munlock", t_mlock_munlock, 0 },
	{ "prot_none_holes", t_prot_none_holes, 0 },
	{ "stack_growth", t_stack_growth, 0 },
	{ "userfaultfd_copy", t_userfaultfd, 0 },
};

int main(void)
{
	return TAP_MAIN(cases);
}
