/* SPDX-License-Identifier: GPL-2.0 */
/*
 * dummy_util.h - thin wrappers around the hmm_dummy native ioctls, and the
 * CPU-side view (/proc/self/pagemap) the device view is compared against.
 * Every wrapper returns the ioctl's return value with errno as it left it.
 * Diagnostics are kselftest "# ..." lines (hmm_diag(), ksft_print_msg());
 * the coherence oracle is in oracle.h.
 */
#ifndef HMM_TESTS_DUMMY_UTIL_H
#define HMM_TESTS_DUMMY_UTIL_H

#include <grp.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "kselftest.h"

#include "hmm_dmirror.h"
#include "hmm_dummy.h"

#define PAGE	4096UL
#define HPAGE	(2UL << 20)

/*
 * One diagnostic line, "# " and a newline added, through ksft_print_msg():
 * stdout is held for the line, so threads diagnosing at once do not mix
 * their lines (which would break the KTAP). errno is kept.
 */
static inline void hmm_diag(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));
static inline void hmm_diag(const char *fmt, ...)
{
	int saved_errno = errno;
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	flockfile(stdout);
	ksft_print_msg("%s\n", line);
	fflush(stdout);
	funlockfile(stdout);
	errno = saved_errno;
}

/*
 * EBUSY is a documented answer of every device access (uapi/hmm_dummy.h):
 * hmm_core gave up after the kernel's HMM_RANGE_DEFAULT_TIMEOUT of
 * invalidations overlapping the mirror (a whole-address-space mirror, other
 * threads changing the address space, a slow guest). It is transient: a
 * test tries the access again, up to this many times, and counts the
 * retries here.
 */
#define DUMMY_EBUSY_TRIES	50
static unsigned long dummy_ebusy_retries __attribute__((unused));

/* Run expr (an ioctl wrapper) again while it fails with EBUSY. */
#define RETRY_EBUSY(expr) ({						\
	__typeof__(expr) _r;						\
	int _t = 0;							\
									\
	while ((_r = (expr)) == -1 && errno == EBUSY &&			\
	       ++_t < DUMMY_EBUSY_TRIES)				\
		__atomic_fetch_add(&dummy_ebusy_retries, 1,		\
				   __ATOMIC_RELAXED);			\
	_r;								\
})

/*
 * Reference count of a module from /proc/modules: -1 if it is not loaded,
 * -2 if /proc/modules cannot be read.
 */
static inline long module_refs(const char *name)
{
	char line[512], mod[64];
	long size, refs;
	FILE *f = fopen("/proc/modules", "r");

	if (!f)
		return -2;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%63s %ld %ld", mod, &size, &refs) == 3 &&
		    !strcmp(mod, name)) {
			fclose(f);
			return refs;
		}
	}
	fclose(f);
	return -1;
}

/*
 * Whether hmm_core reads CPU page tables with its get_user_pages_remote()
 * fallback (its read-only parameter "backend" says "get_user_pages"), which
 * never reports a huge mapping: every entry has order 0, no snapshot says
 * HUGE. 0 for hmm_range_fault(), and when the parameter cannot be read, so
 * that a case then expects the most.
 */
static inline int hmm_core_backend_gup(void)
{
	char buf[32] = "";
	FILE *f = fopen("/sys/module/hmm_core/parameters/backend", "re");

	if (!f)
		return 0;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = '\0';
	fclose(f);
	return !strcmp(buf, "get_user_pages\n");
}

/* Whether len bytes from p are all zero. */
static inline int is_zero(const void *p, size_t len)
{
	const char *c = p;
	size_t i;

	for (i = 0; i < len; i++)
		if (c[i])
			return 0;
	return 1;
}

static inline int dummy_open(int unit)
{
	char path[32];

	snprintf(path, sizeof(path), "/dev/hmm_dummy%d", unit);
	return open(path, O_RDWR | O_CLOEXEC);
}

/* The test_hmm-ABI devices, /dev/hmm_dmirrorN. */
static inline int dmirror_open(int unit)
{
	char path[32];

	snprintf(path, sizeof(path), "/dev/hmm_dmirror%d", unit);
	return open(path, O_RDWR | O_CLOEXEC);
}

/* One HMM_DMIRROR_* ioctl over [addr, addr + npages pages) and buf. */
static inline int dmirror_cmd(int fd, unsigned long req, void *addr,
			      void *buf, uint64_t npages, uint64_t *cpages)
{
	struct hmm_dmirror_cmd c = {
		.addr = (uintptr_t)addr, .ptr = (uintptr_t)buf, .npages = npages,
	};
	int r = ioctl(fd, req, &c);

	if (cpages)
		*cpages = c.cpages;
	return r;
}

static inline int dummy_fault(int fd, void *addr, uint64_t npages,
			      uint32_t flags, uint64_t *done)
{
	struct hmm_dummy_fault f = {
		.addr = (uintptr_t)addr, .npages = npages, .flags = flags,
		.done = ~0ULL,
	};
	int r = ioctl(fd, HMM_DUMMY_IOC_FAULT, &f);

	if (done)
		*done = f.done;
	return r;
}

/* cmd: HMM_DUMMY_IOC_READ or HMM_DUMMY_IOC_WRITE */
static inline int dummy_rw(int fd, unsigned long cmd, void *addr, void *buf,
			   uint64_t npages, uint64_t *done, uint64_t *faults)
{
	struct hmm_dummy_rw rw = {
		.addr = (uintptr_t)addr, .ptr = (uintptr_t)buf,
		.npages = npages, .done = ~0ULL, .faults = ~0ULL,
	};
	int r = ioctl(fd, cmd, &rw);

	if (done)
		*done = rw.done;
	if (faults)
		*faults = rw.faults;
	return r;
}

static inline int dummy_snapshot(int fd, void *addr, uint64_t npages,
				 uint8_t *out)
{
	struct hmm_dummy_snapshot s = {
		.addr = (uintptr_t)addr, .ptr = (uintptr_t)out,
		.npages = npages,
	};

	return ioctl(fd, HMM_DUMMY_IOC_SNAPSHOT, &s);
}

static inline int dummy_dump(int fd, void *addr, uint64_t npages,
			     struct hmm_dummy_pte *ents, uint64_t max,
			     uint64_t *nr)
{
	struct hmm_dummy_dump d = {
		.addr = (uintptr_t)addr, .npages = npages,
		.ptr = (uintptr_t)ents, .max_entries = max,
		.nr_entries = ~0ULL,
	};
	int r = ioctl(fd, HMM_DUMMY_IOC_DUMP, &d);

	if (nr)
		*nr = d.nr_entries;
	return r;
}

static inline int dummy_counters(int fd, struct hmm_dummy_counters *c)
{
	memset(c, 0xff, sizeof(*c));
	return ioctl(fd, HMM_DUMMY_IOC_COUNTERS, c);
}

static inline int dummy_set_range(int fd, void *addr, uint64_t npages)
{
	struct hmm_dummy_range r = {
		.addr = (uintptr_t)addr, .npages = npages,
	};

	return ioctl(fd, HMM_DUMMY_IOC_SET_RANGE, &r);
}

/* Number of device entries in [addr, addr + npages pages), or -1. */
static inline long dummy_nr_entries(int fd, void *addr, uint64_t npages)
{
	static __thread struct hmm_dummy_pte ents[4096];
	uint64_t nr;

	if (npages > 4096)
		return -1;
	if (dummy_dump(fd, addr, npages, ents, 4096, &nr))
		return -1;
	return (long)nr;
}

/*
 * The pfn the CPU maps at addr now: 0 if not present, -1 on error. Needs
 * CAP_SYS_ADMIN (otherwise the kernel reports pfn 0).
 */
static inline long long cpu_pfn(const void *addr)
{
	uint64_t e;
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	off_t off = (off_t)((uintptr_t)addr / PAGE * 8);

	if (fd < 0)
		return -1;
	if (pread(fd, &e, sizeof(e), off) != sizeof(e)) {
		close(fd);
		return -1;
	}
	close(fd);
	if (!(e & (1ULL << 63)))
		return 0;
	return (long long)(e & ((1ULL << 55) - 1));
}

/* A fresh private anonymous mapping, untouched. */
static inline void *anon_map(size_t npages)
{
	void *p = mmap(NULL, npages * PAGE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

static inline void fill_pattern(void *p, size_t npages, uint32_t seed)
{
	uint32_t *w = p;
	size_t i;

	for (i = 0; i < npages * PAGE / 4; i++)
		w[i] = seed * 2654435761u + (uint32_t)i;
}

/* Index of the first word that differs from the pattern, or -1. */
static inline long check_pattern(const void *p, size_t npages, uint32_t seed)
{
	const uint32_t *w = p;
	size_t i;

	for (i = 0; i < npages * PAGE / 4; i++)
		if (w[i] != seed * 2654435761u + (uint32_t)i)
			return (long)i;
	return -1;
}

static inline void msleep(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* Drop to uid and gid 65534 with no supplementary groups: 0 or -1. */
static inline int drop_to_nobody(void)
{
	return setgroups(0, NULL) || setgid(65534) || setuid(65534) ? -1 : 0;
}

/* Pass a file descriptor over a unix socket (SCM_RIGHTS). */
static inline int send_fd(int sock, int fd)
{
	char c = 'f';
	struct iovec iov = { .iov_base = &c, .iov_len = 1 };
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int))];
	} u;
	struct msghdr m = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = u.b, .msg_controllen = sizeof(u.b),
	};
	struct cmsghdr *h = CMSG_FIRSTHDR(&m);

	memset(&u, 0, sizeof(u));
	h->cmsg_level = SOL_SOCKET;
	h->cmsg_type = SCM_RIGHTS;
	h->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(h), &fd, sizeof(int));
	return sendmsg(sock, &m, 0) == 1 ? 0 : -1;
}

/* Receive one sent by send_fd(); -1 on failure. */
static inline int recv_fd(int sock)
{
	char c;
	struct iovec iov = { .iov_base = &c, .iov_len = 1 };
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int))];
	} u;
	struct msghdr m = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = u.b, .msg_controllen = sizeof(u.b),
	};
	struct cmsghdr *h;
	int fd;

	if (recvmsg(sock, &m, 0) != 1)
		return -1;
	h = CMSG_FIRSTHDR(&m);
	if (!h || h->cmsg_type != SCM_RIGHTS)
		return -1;
	memcpy(&fd, CMSG_DATA(h), sizeof(int));
	return fd;
}

/* Seconds on CLOCK_MONOTONIC. */
static inline double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A field of /proc/meminfo, in kB, or -1. */
static inline long meminfo_kb(const char *field)
{
	char line[256];
	size_t n = strlen(field);
	long v = -1;
	FILE *f = fopen("/proc/meminfo", "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, field, n) && line[n] == ':')
			v = strtol(line + n + 1, NULL, 10);
	fclose(f);
	return v;
}

#ifdef __KSELFTEST_HARNESS_H
/* Harness assertions on a call's result (need _metadata in scope). */

/* expr must be -1 with errno == err (errno cleared first). */
#define ASSERT_ERRNO(expr, err) do {					\
	errno = 0;							\
	long _r = (long)(expr);						\
	int _e = errno;							\
	ASSERT_TRUE(_r == -1 && _e == (err))				\
		TH_LOG("%s: want -1/%s, got %ld/%s", #expr,		\
		       strerror(err), _r,				\
		       _r == -1 ? strerror(_e) : "no error");		\
} while (0)

/* expr must be 0. */
#define ASSERT_OK(expr) do {						\
	errno = 0;							\
	long _r = (long)(expr);						\
	ASSERT_EQ(0, _r)						\
		TH_LOG("%s: errno %d: %s", #expr, errno, strerror(errno)); \
} while (0)
#endif /* __KSELFTEST_HARNESS_H */

#endif /* HMM_TESTS_DUMMY_UTIL_H */
