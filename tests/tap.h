/* SPDX-License-Identifier: GPL-2.0 */
/*
 * tap.h - a tiny TAP 13 producer for the guest test programs
 *
 * A program lists its cases in a table of struct tap_case and calls
 * tap_main(). Each case runs in a forked child (so a crash or a hang fails
 * that case only) under an alarm; the child returns TAP_PASS, TAP_FAIL or
 * TAP_SKIP (after tap_skip_reason()). Diagnostics go to stdout as "# ..."
 * lines through diag(). The CHECK*() macros print what failed and return
 * TAP_FAIL from the case.
 */
#ifndef HMM_TESTS_TAP_H
#define HMM_TESTS_TAP_H

#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

enum { TAP_PASS = 0, TAP_FAIL = 1, TAP_SKIP = 77 };

struct tap_case {
	const char *name;
	int (*fn)(void);
	unsigned int timeout;	/* seconds, 0: 60 */
};

static char *tap_skip_msg;	/* shared with the parent: MAP_SHARED */

static inline void diag(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));
static inline void diag(const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	/* one fputs per line: threads may diagnose at once */
	line[0] = '#';
	line[1] = ' ';
	va_start(ap, fmt);
	vsnprintf(line + 2, sizeof(line) - 3, fmt, ap);
	va_end(ap);
	strcat(line, "\n");
	fputs(line, stdout);
	fflush(stdout);
}

static inline int tap_skip_reason(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));
static inline int tap_skip_reason(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(tap_skip_msg, 256, fmt, ap);
	va_end(ap);
	return TAP_SKIP;
}

#define CHECK(cond) do {						\
	if (!(cond)) {							\
		diag("%s:%d: check failed: %s (errno %d: %s)",		\
		     __func__, __LINE__, #cond, errno, strerror(errno));\
		return TAP_FAIL;					\
	}								\
} while (0)

#define CHECK_EQ(a, b) do {						\
	unsigned long long _a = (unsigned long long)(a);		\
	unsigned long long _b = (unsigned long long)(b);		\
	if (_a != _b) {							\
		diag("%s:%d: %s == %s failed: 0x%llx (%lld) != 0x%llx (%lld)", \
		     __func__, __LINE__, #a, #b, _a, (long long)_a,	\
		     _b, (long long)_b);				\
		return TAP_FAIL;					\
	}								\
} while (0)

/* expr must be -1 with errno == err */
#define CHECK_ERR(expr, err) do {					\
	errno = 0;							\
	long _r = (long)(expr);						\
	int _e = errno;							\
	if (_r != -1 || _e != (err)) {					\
		diag("%s:%d: %s: want -1/%s, got %ld/%s",		\
		     __func__, __LINE__, #expr, strerror(err), _r,	\
		     _r == -1 ? strerror(_e) : "no error");		\
		return TAP_FAIL;					\
	}								\
} while (0)

/* expr must be 0 */
#define CHECK_OK(expr) do {						\
	errno = 0;							\
	long _r = (long)(expr);						\
	if (_r != 0) {							\
		diag("%s:%d: %s: want 0, got %ld (errno %d: %s)",	\
		     __func__, __LINE__, #expr, _r, errno,		\
		     strerror(errno));					\
		return TAP_FAIL;					\
	}								\
} while (0)

static inline int tap_run_one(const struct tap_case *c)
{
	int status;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		diag("fork: %s", strerror(errno));
		return TAP_FAIL;
	}
	if (pid == 0) {
		/* Its own process group: what it forks goes with it. */
		setpgid(0, 0);
		alarm(c->timeout ? c->timeout : 60);
		fflush(stdout);
		_exit(c->fn());
	}
	setpgid(pid, pid);
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			diag("waitpid: %s", strerror(errno));
			kill(-pid, SIGKILL);
			return TAP_FAIL;
		}
	}
	/* A child the case left running (a timed-out case's) would keep its files. */
	kill(-pid, SIGKILL);
	if (WIFSIGNALED(status)) {
		diag("%s: killed by signal %d (%s)%s", c->name,
		     WTERMSIG(status), strsignal(WTERMSIG(status)),
		     WTERMSIG(status) == SIGALRM ? ": timed out" : "");
		return TAP_FAIL;
	}
	if (WEXITSTATUS(status) == TAP_SKIP || WEXITSTATUS(status) == TAP_PASS)
		return WEXITSTATUS(status);
	return TAP_FAIL;
}

/*
 * A known bug of the code under test, found by a case: TODO_BUG("...")
 * returns from the case, which tap_main() reports as
 * "not ok N name # TODO bug: ..." (counted apart from passes and failures).
 * Only after every other check of the case passed.
 */
#define TODO_BUG(...) \
	(snprintf(tap_skip_msg, 256, "TODO bug: " __VA_ARGS__), TAP_FAIL)

static inline int tap_main(const struct tap_case *cases, int n)
{
	int i, failed = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	tap_skip_msg = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
			    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (tap_skip_msg == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	printf("TAP version 13\n1..%d\n", n);
	for (i = 0; i < n; i++) {
		int r;

		tap_skip_msg[0] = '\0';
		r = tap_run_one(&cases[i]);
		if (r == TAP_PASS) {
			printf("ok %d %s\n", i + 1, cases[i].name);
		} else if (r == TAP_SKIP) {
			printf("ok %d %s # SKIP %s\n", i + 1, cases[i].name,
			       tap_skip_msg[0] ? tap_skip_msg : "no reason");
		} else if (!strncmp(tap_skip_msg, "TODO bug: ", 10)) {
			printf("not ok %d %s # %s\n", i + 1, cases[i].name,
			       tap_skip_msg);
		} else {
			printf("not ok %d %s\n", i + 1, cases[i].name);
			failed++;
		}
		fflush(stdout);
	}
	if (failed)
		diag("%d of %d failed", failed, n);
	return failed ? 1 : 0;
}

#define TAP_MAIN(cases) \
	tap_main(cases, (int)(sizeof(cases) / sizeof((cases)[0])))

#endif /* HMM_TESTS_TAP_H */

/*
 * ---- LEGACY: delete with this file once the last program is converted ----
 *
 * The TAP-style coherence checks of the programs not yet converted to
 * kselftest_harness.h (issue 15), as thin wrappers of oracle.h's one
 * oracle, native ABI: check_coherent(), ORACLE(), ORACLE_DATA(),
 * ORACLE_WRITE(), CHECK_ENTRIES(), and oracle_read_agrees() /
 * oracle_write_seen() / thp_map_advised() as they were called (an fd, a
 * skip reason set). Outside the include guard: tap.h and oracle.h include
 * each other for the transition, in whichever order a program has them.
 */
#ifndef HMM_TESTS_TAP_LEGACY
#define HMM_TESTS_TAP_LEGACY

#include "oracle.h"

/* oracle_coherent() of the native device fd. */
static inline long check_coherent(int fd, void *addr, uint64_t npages)
{
	const struct oracle o = { .fd = fd, .abi = ABI_NATIVE };

	return oracle_coherent(&o, addr, npages);
}

#define oracle_read_agrees(dev, addr, npages)				\
	oracle_read_agrees(&(const struct oracle){ .fd = (dev),		\
			   .abi = ABI_NATIVE }, (addr), (npages))
#define oracle_write_seen(dev, addr, npages, seed)			\
	oracle_write_seen(&(const struct oracle){ .fd = (dev),		\
			  .abi = ABI_NATIVE }, (addr), (npages), (seed))
#define thp_map_advised() ({						\
	char *_p = thp_map_advised();					\
	if (!_p)							\
		tap_skip_reason("%s", oracle_why);			\
	_p;								\
})

/* The device table of fd over the range is coherent with the CPU's. */
#define ORACLE(fd, addr, npages) do {					\
	long _bad = check_coherent((fd), (addr), (npages));		\
	if (_bad) {							\
		diag("%s:%d: oracle: device page table not coherent "	\
		     "over %s (%ld)", __func__, __LINE__, #addr, _bad);	\
		return TAP_FAIL;					\
	}								\
} while (0)

/* ... and the device reads what the CPU reads there. */
#define ORACLE_DATA(fd, addr, npages) do {				\
	ORACLE(fd, addr, npages);					\
	long _d = oracle_read_agrees((fd), (addr), (npages));		\
	if (_d) {							\
		diag("%s:%d: oracle: device and CPU disagree over %s (%ld)", \
		     __func__, __LINE__, #addr, _d);			\
		return TAP_FAIL;					\
	}								\
	ORACLE(fd, addr, npages);					\
} while (0)

/* A device WRITE of seed's pattern is what the CPU then reads. */
#define ORACLE_WRITE(fd, addr, npages, seed) do {			\
	long _w = oracle_write_seen((fd), (addr), (npages), (seed));	\
	if (_w) {							\
		diag("%s:%d: oracle: device WRITE over %s not seen by the CPU (%ld)", \
		     __func__, __LINE__, #addr, _w);			\
		return TAP_FAIL;					\
	}								\
	ORACLE(fd, addr, npages);					\
} while (0)

/* The number of device entries over the range must be n. */
#define CHECK_ENTRIES(fd, addr, npages, n) \
	CHECK_EQ(dummy_nr_entries((fd), (addr), (npages)), (n))

/*
 * kselftest.h (through dummy_util.h) defines ARRAY_SIZE, which programs of
 * the TAP days define themselves after their includes.
 */
#undef ARRAY_SIZE

#endif /* HMM_TESTS_TAP_LEGACY */
