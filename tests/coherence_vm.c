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
 *
 * Cases of kselftest_harness.h, fixture "vm" (/dev/hmm_dummy0 and its
 * oracle): "coherence_vm -l" lists them, "coherence_vm -t munmap_whole"
 * runs one.
 */
#define _GNU_SOURCE
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <sys/syscall.h>

#include "kselftest_harness.h"
#include "oracle.h"

#define N 16

/* self->fd: /dev/hmm_dummy0, self->o: the oracle over it */
ORACLE_FIXTURE(vm)

/*
 * n pages at q, inside the N pages at p, were dropped: no device entry
 * there, zeros for the device as for the CPU, the rest coherent, and a
 * device WRITE of seed's pattern over all N seen by the CPU.
 */
#define ASSERT_DROPPED(o, p, q, n, seed) do {				\
	ASSERT_COHERENT(o, p, N);					\
	ASSERT_ENTRIES((o)->fd, q, n, 0);				\
	ASSERT_COHERENT_DATA(o, p, N);					\
	ASSERT_TRUE(is_zero(q, (n) * PAGE));				\
	ASSERT_WRITE_SEEN(o, p, N, seed);				\
} while (0)

/* n pages filled with seed, mirrored with writable device entries. */
static char *mirrored(struct __test_metadata *_metadata,
		      const struct oracle *o, size_t n, uint32_t seed)
{
	char *p = anon_filled(n, seed);

	ASSERT_NE(NULL, p);
	ASSERT_EQ(0, dummy_fault(o->fd, p, n, HMM_DUMMY_FAULT_WRITE, NULL));
	ASSERT_ENTRIES(o->fd, p, n, n);
	ASSERT_COHERENT_DATA(o, p, n);
	return p;
}

/* A device READ of the range fails with err. */
static void read_fails(struct __test_metadata *_metadata, int fd, void *addr,
		       size_t n, int err)
{
	static char buf[N * PAGE];

	ASSERT_GE((size_t)N, n);
	ASSERT_EQ(-1, dummy_rw(fd, HMM_DUMMY_IOC_READ, addr, buf, n, NULL,
			       NULL));
	ASSERT_EQ(err, errno);
}

TEST_F_TIMEOUT(vm, munmap_whole, 60)
{
	char *p;

	p = mirrored(_metadata, &self->o, N, 1);
	ASSERT_EQ(0, munmap(p, N * PAGE));
	ASSERT_COHERENT(&self->o, p, N);
	ASSERT_ENTRIES(self->fd, p, N, 0);
	read_fails(_metadata, self->fd, p, N, EFAULT);
}

TEST_F_TIMEOUT(vm, munmap_part, 60)
{
	char *p;

	p = mirrored(_metadata, &self->o, N, 2);
	ASSERT_EQ(0, munmap(p + N / 2 * PAGE, N / 2 * PAGE));
	ASSERT_COHERENT(&self->o, p, N);
	ASSERT_ENTRIES(self->fd, p + N / 2 * PAGE, N / 2, 0);
	ASSERT_COHERENT_PATTERN(&self->o, p, N / 2, 2);
	ASSERT_WRITE_SEEN(&self->o, p, N / 2, 22);
	read_fails(_metadata, self->fd, p + N / 2 * PAGE, 1, EFAULT);
}

TEST_F_TIMEOUT(vm, munmap_middle, 60)
{
	char *p;

	p = mirrored(_metadata, &self->o, N, 3);
	ASSERT_EQ(0, munmap(p + 4 * PAGE, 4 * PAGE));
	ASSERT_COHERENT(&self->o, p, N);
	ASSERT_ENTRIES(self->fd, p + 4 * PAGE, 4, 0);
	ASSERT_ENTRIES(self->fd, p, N, N - 4);
	ASSERT_COHERENT_DATA(&self->o, p, 4);
	ASSERT_COHERENT_DATA(&self->o, p + 8 * PAGE, N - 8);
	ASSERT_WRITE_SEEN(&self->o, p + 8 * PAGE, N - 8, 33);
	read_fails(_metadata, self->fd, p, N, EFAULT);
}

TEST_F_TIMEOUT(vm, mmap_fixed_over, 60)
{
	char *p, *q;

	p = mirrored(_metadata, &self->o, N, 4);
	q = mmap(p + 2 * PAGE, 8 * PAGE, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	ASSERT_TRUE(q == p + 2 * PAGE);
	ASSERT_DROPPED(&self->o, p, q, 8, 44);
}

TEST_F_TIMEOUT(vm, mremap_grow, 60)
{
	char *p, *q;

	/* In place: the pages after it are free. */
	p = mirrored(_metadata, &self->o, N, 5);
	ASSERT_EQ(0, munmap(p, N * PAGE));
	p = mmap(NULL, 2 * N * PAGE, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_TRUE(p != MAP_FAILED);
	ASSERT_EQ(0, munmap(p + N * PAGE, N * PAGE));
	fill_pattern(p, N, 5);
	ASSERT_EQ(0, dummy_fault(self->fd, p, N, HMM_DUMMY_FAULT_WRITE, NULL));
	q = mremap(p, N * PAGE, 2 * N * PAGE, 0);
	ASSERT_TRUE(q == p);
	ASSERT_COHERENT_DATA(&self->o, p, 2 * N);
	ASSERT_EQ(check_pattern(p, N, 5), -1);
	ASSERT_TRUE(is_zero(p + N * PAGE, N * PAGE));
	/* Growing while moving: somewhere else, the old range gone. */
	ASSERT_EQ(0, dummy_fault(self->fd, p, 2 * N, HMM_DUMMY_FAULT_WRITE, NULL));
	q = mmap(NULL, 4 * N * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
		 -1, 0);
	ASSERT_TRUE(q != MAP_FAILED);
	ASSERT_EQ(q, mremap(p, 2 * N * PAGE, 4 * N * PAGE,
			    MREMAP_MAYMOVE | MREMAP_FIXED, q));
	ASSERT_COHERENT(&self->o, p, 2 * N);
	ASSERT_ENTRIES(self->fd, p, 2 * N, 0);
	ASSERT_COHERENT_DATA(&self->o, q, 4 * N);
	ASSERT_EQ(check_pattern(q, N, 5), -1);
	ASSERT_WRITE_SEEN(&self->o, q, 4 * N, 55);
}

TEST_F_TIMEOUT(vm, mremap_shrink, 60)
{
	char *p, *q;

	p = mirrored(_metadata, &self->o, N, 6);
	q = mremap(p, N * PAGE, 4 * PAGE, 0);
	ASSERT_TRUE(q == p);
	ASSERT_COHERENT(&self->o, p, N);
	ASSERT_ENTRIES(self->fd, p + 4 * PAGE, N - 4, 0);
	ASSERT_COHERENT_PATTERN(&self->o, p, 4, 6);
	ASSERT_WRITE_SEEN(&self->o, p, 4, 66);
	read_fails(_metadata, self->fd, p + 4 * PAGE, 1, EFAULT);
}

TEST_F_TIMEOUT(vm, mremap_move, 60)
{
	char *p, *q, *dst;

	p = mirrored(_metadata, &self->o, N, 7);
	dst = anon_map(N);
	ASSERT_NE(NULL, dst);
	ASSERT_EQ(0, dummy_fault(self->fd, dst, N, 0, NULL));	/* zero page entries */
	q = mremap(p, N * PAGE, N * PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, dst);
	ASSERT_TRUE(q == dst);
	ASSERT_COHERENT(&self->o, p, N);
	ASSERT_COHERENT(&self->o, dst, N);
	ASSERT_ENTRIES(self->fd, p, N, 0);
	ASSERT_COHERENT_PATTERN(&self->o, dst, N, 7);
	ASSERT_WRITE_SEEN(&self->o, dst, N, 77);
	read_fails(_metadata, self->fd, p, N, EFAULT);
}

TEST_F_TIMEOUT(vm, mprotect_readonly, 60)
{
	char buf[PAGE];
	char *p;

	p = mirrored(_metadata, &self->o, N, 8);
	ASSERT_EQ(0, mprotect(p, N * PAGE, PROT_READ));
	ASSERT_COHERENT(&self->o, p, N);
	ASSERT_COHERENT_DATA(&self->o, p, N);
	ASSERT_EQ(-1, dummy_rw(self->fd, HMM_DUMMY_IOC_WRITE, p, buf, 1, NULL,
			       NULL));
	ASSERT_EQ(EPERM, errno);
	ASSERT_EQ(check_pattern(p, N, 8), -1);
	ASSERT_COHERENT(&self->o, p, N);
}

TEST_F_TIMEOUT(vm, mprotect_none, 60)
{
	char *p;

	p = mirrored(_metadata, &self->o, N, 9);
	ASSERT_EQ(0, mprotect(p + 4 * PAGE, 8 * PAGE, PROT_NONE));
	ASSERT_COHERENT(&self->o, p, N);
	ASSERT_ENTRIES(self->fd, p + 4 * PAGE, 8, 0);
	read_fails(_metadata, self->fd, p + 4 * PAGE, 8, EFAULT);
	ASSERT_EQ(-1, dummy_fault(self->fd, p + 4 * PAGE, 1, 0, NULL));
	ASSERT_EQ(EFAULT, errno);
	ASSERT_COHERENT_DATA(&self->o, p, 4);
	ASSERT_COHERENT_DATA(&self->o, p + 12 * PAGE, 4);
}

TEST_F_TIMEOUT(vm, mprotect_back, 60)
{
	char *p;

	p = mirrored(_metadata, &self->o, N, 10);
	ASSERT_EQ(0, mprotect(p, N * PAGE, PROT_NONE));
	ASSERT_COHERENT(&self->o, p, N);
	ASSERT_ENTRIES(self->fd, p, N, 0);
	ASSERT_EQ(0, mprotect(p, N * PAGE, PROT_READ));
	ASSERT_COHERENT_DATA(&self->o, p, N);
	ASSERT_EQ(0, mprotect(p, N * PAGE, PROT_READ | PROT_WRITE));
	ASSERT_COHERENT_DATA(&self->o, p, N);
	ASSERT_WRITE_SEEN(&self->o, p, N, 1010);
	ASSERT_EQ(check_pattern(p, N, 1010), -1);
}

TEST_F_TIMEOUT(vm, madvise_dontneed, 60)
{
	char *p;

	p = mirrored(_metadata, &self->o, N, 11);
	ASSERT_EQ(0, madvise(p + 2 * PAGE, 6 * PAGE, MADV_DONTNEED));
	ASSERT_DROPPED(&self->o, p, p + 2 * PAGE, 6, 1111);
}

TEST_F_TIMEOUT(vm, madvise_free, 60)
{
	char *p;

	p = mirrored(_metadata, &self->o, N, 12);
	ASSERT_EQ(0, madvise(p, N * PAGE, MADV_FREE));
	ASSERT_COHERENT(&self->o, p, N);
	ASSERT_COHERENT_DATA(&self->o, p, N);
	/*
	 * A device write must dirty the page, or reclaim, which discards
	 * clean lazily-freed pages, drops what the device wrote.
	 */
	ASSERT_WRITE_SEEN(&self->o, p, N, 1212);
	madvise(p, N * PAGE, MADV_PAGEOUT);
	ASSERT_COHERENT(&self->o, p, N);
	ASSERT_COHERENT_PATTERN(&self->o, p, N, 1212);
}

TEST_F_TIMEOUT(vm, madvise_cold, 60)
{
	char *p;

	p = mirrored(_metadata, &self->o, N, 13);
	if (madvise(p, N * PAGE, MADV_COLD))
		SKIP(return, "MADV_COLD: %s", strerror(errno));
	ASSERT_COHERENT_PATTERN(&self->o, p, N, 13);
	ASSERT_WRITE_SEEN(&self->o, p, N, 1313);
}

TEST_F_TIMEOUT(vm, madvise_pageout, 60)
{
	uint64_t pm[N];
	char why[256];
	int i, swapped = 0;
	char *p;

	if (swap_on_zram(why, sizeof(why)))
		SKIP(return, "%s", why);
	p = mirrored(_metadata, &self->o, N, 14);
	ASSERT_EQ(0, madvise(p, N * PAGE, MADV_PAGEOUT));
	ASSERT_COHERENT(&self->o, p, N);
	ASSERT_EQ(0, pagemap_read(p, N, pm));
	for (i = 0; i < N; i++)
		swapped += !!(pm[i] & PM_SWAP);
	TH_LOG("%d of %d pages swapped out", swapped, N);
	ASSERT_TRUE(swapped > 0);
	ASSERT_COHERENT_PATTERN(&self->o, p, N, 14);
	ASSERT_WRITE_SEEN(&self->o, p, N, 1414);
}

TEST_F_TIMEOUT(vm, madvise_remove_memfd, 60)
{
	int mfd;
	char *p;

	mfd = memfd_create("coherence", MFD_CLOEXEC);
	ASSERT_LE(0, mfd);
	ASSERT_EQ(0, ftruncate(mfd, N * PAGE));
	p = mmap(NULL, N * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	ASSERT_TRUE(p != MAP_FAILED);
	fill_pattern(p, N, 15);
	ASSERT_EQ(0, dummy_fault(self->fd, p, N, HMM_DUMMY_FAULT_WRITE, NULL));
	ASSERT_COHERENT_DATA(&self->o, p, N);
	ASSERT_EQ(0, madvise(p + 4 * PAGE, 8 * PAGE, MADV_REMOVE));
	ASSERT_DROPPED(&self->o, p, p + 4 * PAGE, 8, 1515);
}

TEST_F_TIMEOUT(vm, madvise_wipeonfork, 60)
{
	int status;
	pid_t pid;
	char *p;

	p = mirrored(_metadata, &self->o, N, 16);
	ASSERT_EQ(0, madvise(p, N * PAGE, MADV_WIPEONFORK));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct oracle c = { .fd = dummy_open(0), .abi = ABI_NATIVE };

		if (c.fd < 0 || !is_zero(p, N * PAGE))
			_exit(1);
		if (dummy_fault(c.fd, p, N, HMM_DUMMY_FAULT_WRITE, NULL) ||
		    oracle_coherent(&c, p, N) || oracle_read_agrees(&c, p, N) ||
		    !is_zero(p, N * PAGE) || oracle_write_seen(&c, p, N, 161))
			_exit(2);
		_exit(0);
	}
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(WEXITSTATUS(status), 0);
	/* The parent keeps its data, its device table coherent. */
	ASSERT_COHERENT_PATTERN(&self->o, p, N, 16);
	ASSERT_WRITE_SEEN(&self->o, p, N, 1616);
}

TEST_F_TIMEOUT(vm, mlock_munlock, 60)
{
	char *p;

	p = mirrored(_metadata, &self->o, N, 17);
	ASSERT_EQ(0, mlock(p, N * PAGE));
	ASSERT_COHERENT_DATA(&self->o, p, N);
	ASSERT_WRITE_SEEN(&self->o, p, N, 1717);
	ASSERT_EQ(0, munlock(p, N * PAGE));
	ASSERT_COHERENT_DATA(&self->o, p, N);
	ASSERT_EQ(0, mlock(p + 4 * PAGE, 4 * PAGE));
	ASSERT_EQ(0, madvise(p + 8 * PAGE, 4 * PAGE, MADV_DONTNEED));
	ASSERT_COHERENT_DATA(&self->o, p, N);
	ASSERT_EQ(0, munmap(p + 4 * PAGE, 4 * PAGE));	/* munlocks */
	ASSERT_COHERENT(&self->o, p, N);
	ASSERT_ENTRIES(self->fd, p + 4 * PAGE, 4, 0);
	ASSERT_WRITE_SEEN(&self->o, p + 8 * PAGE, 8, 1718);
}

TEST_F_TIMEOUT(vm, prot_none_holes, 60)
{
	uint64_t done = 0;
	int i;
	char *p;

	p = mirrored(_metadata, &self->o, N, 18);
	for (i = 3; i < N; i += 4)
		ASSERT_EQ(0, mprotect(p + i * PAGE, PAGE, PROT_NONE));
	ASSERT_COHERENT(&self->o, p, N);
	ASSERT_EQ(-1, dummy_fault(self->fd, p, N, HMM_DUMMY_FAULT_WRITE,
				  &done));
	ASSERT_EQ(EFAULT, errno);
	ASSERT_EQ((uint64_t)3, done);
	for (i = 0; i < N; i++) {
		if (i % 4 == 3) {
			ASSERT_EQ(-1, dummy_fault(self->fd, p + i * PAGE, 1,
						  0, NULL));
			ASSERT_EQ(EFAULT, errno);
			continue;
		}
		ASSERT_EQ(0, dummy_fault(self->fd, p + i * PAGE, 1,
					 HMM_DUMMY_FAULT_WRITE, NULL));
	}
	ASSERT_COHERENT(&self->o, p, N);
	ASSERT_ENTRIES(self->fd, p, N, N - N / 4);
	for (i = 0; i < N; i += 4)
		ASSERT_COHERENT_DATA(&self->o, p + i * PAGE, 3);
	for (i = 3; i < N; i += 4)
		ASSERT_EQ(0, mprotect(p + i * PAGE, PAGE, PROT_READ | PROT_WRITE));
	ASSERT_COHERENT_PATTERN(&self->o, p, N, 18);
	ASSERT_WRITE_SEEN(&self->o, p, N, 1818);
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

static uintptr_t stack_lo0, stack_hi0;
static volatile char *frames[GROW_DEPTH + 1];

/* The whole pages inside one level's frame buffer: its content is stable. */
static void frame_pages(int depth, char **start, size_t *n)
{
	uintptr_t a = ((uintptr_t)frames[depth] + PAGE - 1) & ~(PAGE - 1);

	*start = (char *)a;
	*n = ((uintptr_t)frames[depth] + GROW_FRAME - a) / PAGE;
}

/*
 * Grows the stack GROW_FRAME per level, checks the device from the deepest;
 * non-zero if a level's frame lost what it was set to.
 */
static int __attribute__((noinline))
grow(struct __test_metadata *_metadata, const struct oracle *o, int depth)
{
	volatile char frame[GROW_FRAME];
	uintptr_t lo, hi;
	char *start;
	size_t n;
	int r, d;

	frames[depth] = frame;
	memset((char *)frame, depth + 1, sizeof(frame));
	if (depth < GROW_DEPTH) {
		r = grow(_metadata, o, depth + 1);
		return r ? r : frame[100] != depth + 1;
	}
	ASSERT_EQ(0, stack_range(&lo, &hi));
	TH_LOG("stack grew from 0x%lx-0x%lx to 0x%lx-0x%lx", stack_lo0,
	       stack_hi0, lo, hi);
	ASSERT_LT(lo, stack_lo0);
	/*
	 * The pages the growth added, device entries writable; the frames of
	 * the levels above this one hold what they were set to (the pages
	 * below this frame change with every call, so are only checked by
	 * pfn).
	 */
	ASSERT_EQ(0, dummy_fault(o->fd, (void *)lo, (stack_lo0 - lo) / PAGE,
				 HMM_DUMMY_FAULT_WRITE, NULL));
	ASSERT_COHERENT(o, (void *)lo, (hi - lo) / PAGE);
	for (d = 0; d < GROW_DEPTH; d++) {
		frame_pages(d, &start, &n);
		ASSERT_COHERENT_DATA(o, start, n);
		ASSERT_EQ(start[0], d + 1);
	}
	/* This frame's buffer, written by the device, read by the CPU. */
	frame_pages(depth, &start, &n);
	ASSERT_WRITE_SEEN(o, start, 4, 1919);
	ASSERT_EQ(check_pattern(start, 4, 1919), -1);
	ASSERT_COHERENT(o, (void *)lo, (hi - lo) / PAGE);
	return 0;
}

TEST_F_TIMEOUT(vm, stack_growth, 60)
{
	ASSERT_EQ(0, stack_range(&stack_lo0, &stack_hi0));
	ASSERT_EQ(0, dummy_fault(self->fd, (void *)stack_lo0,
				 (stack_hi0 - stack_lo0) / PAGE,
				 HMM_DUMMY_FAULT_WRITE, NULL));
	ASSERT_COHERENT(&self->o, (void *)stack_lo0,
			(stack_hi0 - stack_lo0) / PAGE);
	ASSERT_EQ(0, grow(_metadata, &self->o, 0));
	ASSERT_EQ(0, stack_range(&stack_lo0, &stack_hi0));
	ASSERT_COHERENT(&self->o, (void *)stack_lo0,
			(stack_hi0 - stack_lo0) / PAGE);
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

TEST_F_TIMEOUT(vm, userfaultfd_copy, 60)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg;
	struct uffdio_copy copy;
	struct uffd_server srv = {};
	pthread_t th;
	char buf[PAGE];
	int uffd, r, err;
	char *p, *src;

	uffd = (int)syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (uffd < 0)
		SKIP(return, "userfaultfd: %s", strerror(errno));
	if (ioctl(uffd, UFFDIO_API, &api))
		SKIP(return, "UFFDIO_API: %s", strerror(errno));
	p = anon_map(N);
	src = anon_filled(N, 20);
	ASSERT_NE(NULL, p);
	ASSERT_NE(NULL, src);
	reg.range.start = (uintptr_t)p;
	reg.range.len = N * PAGE;
	reg.mode = UFFDIO_REGISTER_MODE_MISSING;
	ASSERT_EQ(0, ioctl(uffd, UFFDIO_REGISTER, &reg));
	/* Populate the first half with UFFDIO_COPY. */
	copy.dst = (uintptr_t)p;
	copy.src = (uintptr_t)src;
	copy.len = N / 2 * PAGE;
	copy.mode = 0;
	ASSERT_EQ(0, ioctl(uffd, UFFDIO_COPY, &copy));
	ASSERT_EQ(0, dummy_fault(self->fd, p, N / 2, HMM_DUMMY_FAULT_WRITE,
				 NULL));
	ASSERT_COHERENT_DATA(&self->o, p, N / 2);
	ASSERT_TRUE(!memcmp(p, src, N / 2 * PAGE));
	/* A device fault on a missing page: it fails or is served, no hang. */
	srv.uffd = uffd;
	srv.src = src;
	ASSERT_EQ(0, pthread_create(&th, NULL, uffd_serve, &srv));
	r = dummy_rw(self->fd, HMM_DUMMY_IOC_READ, p + N / 2 * PAGE, buf, 1,
		     NULL, NULL);
	err = errno;
	TH_LOG("device READ of a missing userfaultfd page: %s",
	       r ? strerror(err) : "served");
	ASSERT_TRUE(r == 0 || err == EFAULT);
	/* The CPU faults the rest in through the server. */
	for (r = N / 2; r < N; r++)
		ASSERT_EQ(p[r * PAGE], src[0]);
	ASSERT_COHERENT_DATA(&self->o, p, N);
	/* Dropped and copied again with other data: the device follows. */
	ASSERT_EQ(0, madvise(p, 4 * PAGE, MADV_DONTNEED));
	ASSERT_COHERENT(&self->o, p, N);
	ASSERT_ENTRIES(self->fd, p, 4, 0);
	fill_pattern(src, 4, 21);
	copy.dst = (uintptr_t)p;
	copy.len = 4 * PAGE;
	ASSERT_EQ(0, ioctl(uffd, UFFDIO_COPY, &copy));
	ASSERT_COHERENT_DATA(&self->o, p, N);
	ASSERT_EQ(check_pattern(p, 4, 21), -1);
	ASSERT_WRITE_SEEN(&self->o, p, N, 2020);
	__atomic_store_n(&srv.stop, 1, __ATOMIC_SEQ_CST);
	pthread_join(th, NULL);
}

TEST_HARNESS_MAIN
