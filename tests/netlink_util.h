/* SPDX-License-Identifier: GPL-2.0 */
/*
 * netlink_util.h - run hmmctl from a guest test and read what it prints
 *
 * hmmctl is spawned with posix_spawn() (vfork semantics: the test's own
 * address space, which holds mirrors, is never copied, so spawning causes no
 * invalidation of its own). Its --json output is one JSON object per line;
 * json_u64() and friends pick a field out of one such line.
 *
 * Nothing here asserts: every helper returns what it found, for the case
 * (kselftest_harness.h) to ASSERT on. What hmmctl said on stderr goes out
 * as a "# " diagnostic line (ksft_print_msg()), which keeps the KTAP whole.
 */
#ifndef HMM_TESTS_NETLINK_UTIL_H
#define HMM_TESTS_NETLINK_UTIL_H

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kselftest.h"

extern char **environ;

static char hmmctl_path[PATH_MAX];

/* hmmctl sits next to the test program (build/tests/, /tests/ in the guest). */
static inline const char *hmmctl_bin(void)
{
	char *slash;
	ssize_t n;

	if (hmmctl_path[0])
		return hmmctl_path;
	n = readlink("/proc/self/exe", hmmctl_path, sizeof(hmmctl_path) - 8);
	if (n < 0)
		n = 0;
	hmmctl_path[n] = '\0';
	slash = strrchr(hmmctl_path, '/');
	strcpy(slash ? slash + 1 : hmmctl_path, "hmmctl");
	return hmmctl_path;
}

/*
 * Start hmmctl ARGS... (NULL-terminated, without argv[0]) with stdout and
 * stderr on pipes (*out, *err; NULL: inherited). Returns the pid or -1.
 */
static inline pid_t hmmctl_spawn(int *out, int *err, const char *const *args)
{
	const char *argv[32] = { "hmmctl" };
	int po[2] = { -1, -1 }, pe[2] = { -1, -1 };
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int i, r;

	for (i = 0; args[i] && i < 30; i++)
		argv[i + 1] = args[i];
	argv[i + 1] = NULL;
	if ((out && pipe2(po, O_CLOEXEC)) || (err && pipe2(pe, O_CLOEXEC)))
		return -1;
	posix_spawn_file_actions_init(&fa);
	if (out)
		posix_spawn_file_actions_adddup2(&fa, po[1], 1);
	if (err)
		posix_spawn_file_actions_adddup2(&fa, pe[1], 2);
	r = posix_spawn(&pid, hmmctl_bin(), &fa, NULL, (char *const *)argv,
			environ);
	posix_spawn_file_actions_destroy(&fa);
	if (out) {
		close(po[1]);
		*out = po[0];
	}
	if (err) {
		close(pe[1]);
		*err = pe[0];
	}
	if (r) {
		errno = r;
		return -1;
	}
	return pid;
}

/* Everything left on fd, NUL-terminated, malloc()ed. */
static inline char *slurp(int fd)
{
	size_t len = 0, cap = 65536;
	char *buf = malloc(cap);
	ssize_t n;

	while (buf) {
		if (len + 1 == cap) {
			char *b = realloc(buf, cap *= 2);

			if (!b) {
				free(buf);
				return NULL;
			}
			buf = b;
		}
		n = read(fd, buf + len, cap - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += n;
	}
	if (buf)
		buf[len] = '\0';
	return buf;
}

/**
 * struct hmmctl_result - what one run of hmmctl did
 * @status: its exit code, or -1 if it did not exit normally
 * @out: its stdout (malloc()ed)
 * @err: its stderr (malloc()ed)
 */
struct hmmctl_result {
	int status;
	char *out;
	char *err;
};

static inline void hmmctl_result_free(struct hmmctl_result *r)
{
	free(r->out);
	free(r->err);
	r->out = r->err = NULL;
}

/* Run hmmctl ARGS... to completion. Returns its exit code, -1 on error. */
static inline int hmmctl_run(struct hmmctl_result *r, const char *const *args)
{
	int out, err, st;
	pid_t pid = hmmctl_spawn(&out, &err, args);

	r->status = -1;
	r->out = r->err = NULL;
	if (pid < 0)
		return -1;
	r->out = slurp(out);	/* stderr is short: it fits in its pipe */
	r->err = slurp(err);
	close(out);
	close(err);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(st))
		r->status = WEXITSTATUS(st);
	if (r->err && r->err[0])
		ksft_print_msg("hmmctl said: %.*s\n",
			       (int)strcspn(r->err, "\n"), r->err);
	return r->status;
}

#define HMMCTL(r, ...) hmmctl_run(r, (const char *const[]){ __VA_ARGS__, NULL })

/* The text after "key": in the JSON object on this line, or NULL. */
static inline const char *json_field(const char *line, const char *key)
{
	char pat[64];
	const char *p, *nl = strchr(line, '\n');

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	p = strstr(line, pat);
	if (!p || (nl && p > nl))
		return NULL;
	return p + strlen(pat);
}

static inline bool json_u64(const char *line, const char *key, uint64_t *v)
{
	const char *p = json_field(line, key);

	if (!p || *p < '0' || *p > '9')
		return false;
	*v = strtoull(p, NULL, 10);
	return true;
}

/* true if "key":"value" (a string) or "key":value (anything else). */
static inline bool json_is(const char *line, const char *key, const char *value)
{
	const char *p = json_field(line, key);
	size_t n = strlen(value);

	if (!p)
		return false;
	if (*p == '"')
		return !strncmp(p + 1, value, n) && p[n + 1] == '"';
	return !strncmp(p, value, n) && !strchr("0123456789", p[n]);
}

/* The next line holding "event":"EVENT", or NULL; advances *pos past it. */
static inline const char *next_line(const char **pos, const char *key,
				    const char *value)
{
	const char *l = *pos;

	while (l && *l) {
		const char *nl = strchr(l, '\n');

		*pos = nl ? nl + 1 : l + strlen(l);
		if (json_is(l, key, value))
			return l;
		l = *pos;
	}
	return NULL;
}

/*
 * A line reader on a pipe, with a timeout: lines of a background hmmctl
 * monitor as they come.
 */
struct line_reader {
	int fd;
	size_t len;
	char buf[1 << 16];
};

/* The next line (without '\n') in line[n], or false on EOF or timeout. */
static inline bool read_line(struct line_reader *lr, char *line, size_t n,
			     int timeout_ms)
{
	struct pollfd pfd = { .fd = lr->fd, .events = POLLIN };

	for (;;) {
		char *nl = memchr(lr->buf, '\n', lr->len);
		ssize_t r;

		if (nl) {
			size_t l = nl - lr->buf;

			snprintf(line, n, "%.*s", (int)l, lr->buf);
			memmove(lr->buf, nl + 1, lr->len - l - 1);
			lr->len -= l + 1;
			return true;
		}
		if (lr->len == sizeof(lr->buf))
			lr->len = 0;	/* a line longer than that: drop it */
		if (poll(&pfd, 1, timeout_ms) <= 0)
			return false;
		r = read(lr->fd, lr->buf + lr->len, sizeof(lr->buf) - lr->len);
		if (r <= 0)
			return false;
		lr->len += r;
	}
}

#endif /* HMM_TESTS_NETLINK_UTIL_H */
