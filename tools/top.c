// SPDX-License-Identifier: GPL-2.0
/*
 * top.c - hmmctl top: every mirror's rates, refreshed, like top(1) or iotop(8)
 *
 * Every interval one dump of hmm_core's mirrors (MIRROR_GET): a mirror's
 * counters minus the same mirror's in the dump before, over the time between
 * the two dumps, are its rates. A mirror that is new since (or whose id came
 * back with smaller counters: another mirror) counts from zero. The caller
 * sees what the family lets it see: every mirror with CAP_SYS_ADMIN, else
 * its own (hmmctl(8)). The callback latency is the mean of the interval's
 * callbacks (callback-ns delta over callbacks delta); its max is the
 * mirror's since it registered, which is all the family keeps.
 *
 * On a terminal: the alternate screen, redrawn in place and cut to the
 * terminal's size (again at once on SIGWINCH), 'q' quits, and the terminal
 * is restored on every way out (q, --count, SIGINT, SIGTERM, SIGHUP, an
 * error) and around a stop (SIGTSTP). Otherwise, or with -b: plain frames
 * one after the other, no escape code, like top -b; --json: one JSON
 * object per frame, one per line.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "hmmctl.h"

/* One mirror in one dump. */
struct sample {
	uint32_t id, tgid;
	char driver[64];
	char label[HMM_CORE_LABEL_LEN];
	uint64_t inval, retries, callbacks, callback_ns, callback_max_ns;
	uint64_t pages;
	bool has_pages;
};

/* One dump: its mirrors, by id, and when it was asked for. */
struct snap {
	struct sample *v;
	size_t n, cap;
	double t;
	bool failed;	/* out of memory in the callback */
};

/* One mirror's line: its rates over the interval, NAN where unknown. */
struct row {
	const struct sample *s;
	double inval, pages, retries, avg_us;
};

struct top {
	bool json, tty, keys;	/* keys: stdin is a terminal too */
	double interval;
	uint64_t count;		/* frames to print, 0: until told */
	unsigned short cols, lines;
	struct termios saved;	/* stdin's, when keys */
	bool screen;		/* the terminal is in top's mode */
};

static volatile sig_atomic_t quit, resized, stopped;

static void on_signal(int sig)
{
	if (sig == SIGWINCH)
		resized = 1;
	else if (sig == SIGTSTP)
		stopped = 1;
	else
		quit = 1;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A string for a terminal: control characters (escapes) shown as '?'. */
static void copy_clean(char *dst, size_t size, const char *src)
{
	size_t i;

	for (i = 0; i + 1 < size && src[i]; i++)
		dst[i] = (unsigned char)src[i] < 0x20 || src[i] == 0x7f ?
			 '?' : src[i];
	dst[i] = '\0';
}

static uint64_t attr_u64(struct nlattr **tb, int attr)
{
	return tb[attr] ? nla_get_u64(tb[attr]) : 0;
}

static int sample_cb(struct nl_msg *msg, void *arg)
{
	struct nlattr *tb[HMM_CORE_A_MIRROR_MAX + 1];
	struct nlattr *c[HMM_CORE_A_COUNTS_MAX + 1] = { 0 };
	struct snap *sn = arg;
	struct sample *s;
	struct nlattr *pages;
	int ev;

	if (!hmmctl_parse(msg, tb, HMM_CORE_A_MIRROR_MAX) ||
	    !tb[HMM_CORE_A_MIRROR_ID])
		return NL_SKIP;
	if (sn->n == sn->cap) {
		size_t cap = sn->cap ? 2 * sn->cap : 64;
		struct sample *v = realloc(sn->v, cap * sizeof(*v));

		if (!v) {
			sn->failed = true;
			return NL_STOP;
		}
		sn->v = v;
		sn->cap = cap;
	}
	s = &sn->v[sn->n++];
	memset(s, 0, sizeof(*s));
	s->id = nla_get_u32(tb[HMM_CORE_A_MIRROR_ID]);
	if (tb[HMM_CORE_A_MIRROR_TGID])
		s->tgid = nla_get_u32(tb[HMM_CORE_A_MIRROR_TGID]);
	copy_clean(s->driver, sizeof(s->driver),
		   tb[HMM_CORE_A_MIRROR_DRIVER] ?
		   nla_get_string(tb[HMM_CORE_A_MIRROR_DRIVER]) : "?");
	copy_clean(s->label, sizeof(s->label),
		   tb[HMM_CORE_A_MIRROR_LABEL] ?
		   nla_get_string(tb[HMM_CORE_A_MIRROR_LABEL]) : "");
	if (tb[HMM_CORE_A_MIRROR_INVALIDATIONS])
		nla_parse_nested(c, HMM_CORE_A_COUNTS_MAX,
				 tb[HMM_CORE_A_MIRROR_INVALIDATIONS], NULL);
	for (ev = 1; ev <= HMMCTL_NR_EVENTS; ev++)
		if (c[ev])
			s->inval += nla_get_u64(c[ev]);
	s->retries = attr_u64(tb, HMM_CORE_A_MIRROR_RETRIES);
	s->callbacks = attr_u64(tb, HMM_CORE_A_MIRROR_CALLBACKS);
	s->callback_ns = attr_u64(tb, HMM_CORE_A_MIRROR_CALLBACK_NS);
	s->callback_max_ns = attr_u64(tb, HMM_CORE_A_MIRROR_CALLBACK_MAX_NS);
	pages = hmmctl_pages_attr(tb);
	if (pages) {
		s->pages = nla_get_u64(pages);
		s->has_pages = true;
	}
	return NL_OK;
}

static int by_id(const void *a, const void *b)
{
	const struct sample *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

/* One dump into @sn, sorted by id; 0 or the kernel's negative errno. */
static int take(struct hmmctl *h, struct snap *sn)
{
	int ret;

	sn->n = 0;
	sn->failed = false;
	sn->t = now();
	ret = hmmctl_run(h, hmmctl_msg(h, HMM_CORE_CMD_MIRROR_GET, true),
			 sample_cb, sn);
	if (!ret && sn->failed)
		ret = -ENOMEM;
	if (!ret)
		qsort(sn->v, sn->n, sizeof(*sn->v), by_id);
	return ret;
}

/* Busiest first: invalidations/s, then id. */
static int by_rate(const void *a, const void *b)
{
	const struct row *x = a, *y = b;
	double rx = isnan(x->inval) ? -1 : x->inval;
	double ry = isnan(y->inval) ? -1 : y->inval;

	if (rx != ry)
		return rx > ry ? -1 : 1;
	return by_id(x->s, y->s);
}

/* @cur's rows against @prev (NULL: no interval yet, every rate unknown). */
static void rates(const struct snap *cur, const struct snap *prev,
		  struct row *rows)
{
	double dt = prev ? cur->t - prev->t : 0;
	size_t i;

	for (i = 0; i < cur->n; i++) {
		const struct sample *s = &cur->v[i], *p = NULL;
		struct row *r = &rows[i];
		struct sample zero = { 0 };

		r->s = s;
		r->inval = r->pages = r->retries = r->avg_us = NAN;
		if (!prev || dt <= 0)
			continue;
		p = bsearch(s, prev->v, prev->n, sizeof(*s), by_id);
		/* New, or the id of another mirror now: from zero. */
		if (!p || p->inval > s->inval || p->callbacks > s->callbacks ||
		    p->retries > s->retries || p->pages > s->pages ||
		    strcmp(p->driver, s->driver))
			p = &zero;
		r->inval = (s->inval - p->inval) / dt;
		r->retries = (s->retries - p->retries) / dt;
		if (s->has_pages)
			r->pages = (s->pages - p->pages) / dt;
		if (s->callbacks > p->callbacks)
			r->avg_us = (double)(s->callback_ns - p->callback_ns) /
				    (s->callbacks - p->callbacks) / 1000;
	}
	qsort(rows, cur->n, sizeof(*rows), by_rate);
}

/* A rate in @w columns, or '-' when it is not known. */
static void put_rate(FILE *f, int w, double v)
{
	if (isnan(v))
		fprintf(f, " %*s", w, "-");
	else
		fprintf(f, " %*.1f", w, v);
}

static void put_json_rate(FILE *f, const char *key, double v)
{
	if (isnan(v))
		fprintf(f, ",\"%s\":null", key);
	else
		fprintf(f, ",\"%s\":%.3f", key, v);
}

static void frame_json(FILE *f, const struct snap *cur,
		       const struct snap *prev, const struct row *rows)
{
	size_t i;

	fprintf(f, "{\"time\":%lld,\"interval\":%.3f,\"mirrors\":[",
		(long long)time(NULL), cur->t - prev->t);
	for (i = 0; i < cur->n; i++) {
		const struct row *r = &rows[i];

		fprintf(f, "%s{\"id\":%u,\"driver\":", i ? "," : "", r->s->id);
		hmmctl_json_fstr(f, r->s->driver);
		fprintf(f, ",\"label\":");
		hmmctl_json_fstr(f, r->s->label);
		fprintf(f, ",\"tgid\":%u", r->s->tgid);
		put_json_rate(f, "invalidations_per_s", r->inval);
		put_json_rate(f, "pages_per_s", r->pages);
		put_json_rate(f, "retries_per_s", r->retries);
		put_json_rate(f, "callback_avg_us", r->avg_us);
		fprintf(f, ",\"callback_max_us\":%.3f}",
			r->s->callback_max_ns / 1000.0);
	}
	fprintf(f, "]}\n");
}

/*
 * One frame as text into @f: a title, the totals, the column heads, one line
 * per mirror; at most @max lines of mirrors (0: all), then how many more.
 */
static void frame_text(FILE *f, const struct top *t, const struct snap *cur,
		       const struct snap *prev, const struct row *rows,
		       size_t max)
{
	double inval = 0, pages = NAN, retries = 0;
	char clock[16];
	time_t wall = time(NULL);
	size_t i;

	strftime(clock, sizeof(clock), "%H:%M:%S", localtime(&wall));
	for (i = 0; prev && i < cur->n; i++) {
		inval += isnan(rows[i].inval) ? 0 : rows[i].inval;
		retries += isnan(rows[i].retries) ? 0 : rows[i].retries;
		if (!isnan(rows[i].pages))
			pages = (isnan(pages) ? 0 : pages) + rows[i].pages;
	}
	fprintf(f, "hmmctl top - %s, every %.1f s, %zu mirror%s\n", clock,
		t->interval, cur->n, cur->n == 1 ? "" : "s");
	fprintf(f, "Total:");
	put_rate(f, 1, prev ? inval : NAN);
	fprintf(f, " invalidations/s,");
	put_rate(f, 1, pages);
	fprintf(f, " pages/s,");
	put_rate(f, 1, prev ? retries : NAN);
	fprintf(f, " retries/s\n\n");
	fprintf(f, "%7s %-14s %-14s %7s %10s %10s %9s %9s %9s\n", "ID",
		"DRIVER", "LABEL", "TGID", "INVAL/s", "PAGES/s", "RETRY/s",
		"AVG_US", "MAX_US");
	for (i = 0; i < cur->n; i++) {
		const struct row *r = &rows[i];

		if (max && i == max - 1 && cur->n > max) {
			fprintf(f, "... %zu more\n", cur->n - i);
			break;
		}
		fprintf(f, "%7u %-14s %-14s %7u", r->s->id, r->s->driver,
			r->s->label[0] ? r->s->label : "-", r->s->tgid);
		put_rate(f, 10, r->inval);
		put_rate(f, 10, r->pages);
		put_rate(f, 9, r->retries);
		put_rate(f, 9, r->avg_us);
		fprintf(f, " %9.1f\n", r->s->callback_max_ns / 1000.0);
	}
}

static void term_size(struct top *t)
{
	struct winsize ws;

	t->cols = 80;
	t->lines = 24;
	if (!ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) && ws.ws_col && ws.ws_row) {
		t->cols = ws.ws_col;
		t->lines = ws.ws_row;
	}
}

/* Every write to the terminal is whole: retried on EINTR. */
static void put_all(const char *s, size_t n)
{
	ssize_t w;

	while (n) {
		w = write(STDOUT_FILENO, s, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		s += w;
		n -= w;
	}
}

static void term_enter(struct top *t)
{
	struct termios raw;

	if (!t->tty || t->screen)
		return;
	if (t->keys && !tcgetattr(STDIN_FILENO, &t->saved)) {
		raw = t->saved;
		raw.c_lflag &= ~(ICANON | ECHO);
		raw.c_cc[VMIN] = 0;
		raw.c_cc[VTIME] = 0;
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &raw);
	} else {
		t->keys = false;
	}
	/* The alternate screen, the cursor hidden. */
	put_all("\033[?1049h\033[?25l", 14);
	t->screen = true;
}

static void term_leave(struct top *t)
{
	if (!t->screen)
		return;
	put_all("\033[?25h\033[?1049l", 14);
	if (t->keys)
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &t->saved);
	t->screen = false;
}

/* Draw a frame in place: each line cut to the width, the rest cleared. */
static void draw(struct top *t, const struct snap *cur,
		 const struct snap *prev, const struct row *rows)
{
	char *text = NULL, *out = NULL, *line, *nl;
	size_t len = 0, olen = 0, shown = 0;
	FILE *f = open_memstream(&text, &len);
	FILE *o;

	if (!f)
		return;
	/* Four lines of head; a frame never scrolls the screen. */
	frame_text(f, t, cur, prev, rows, t->lines > 5 ? t->lines - 4 : 1);
	fclose(f);
	o = open_memstream(&out, &olen);
	if (!o) {
		free(text);
		return;
	}
	fputs("\033[H", o);
	for (line = text; *line && shown < t->lines; line = nl + 1) {
		size_t n;

		nl = strchr(line, '\n');
		n = nl ? (size_t)(nl - line) : strlen(line);
		fprintf(o, "%s%.*s\033[K", shown ? "\r\n" : "",
			(int)(n < t->cols ? n : t->cols), line);
		shown++;
		if (!nl)
			break;
	}
	fputs("\033[J", o);
	fclose(o);
	put_all(out, olen);
	free(out);
	free(text);
}

/*
 * Wait until @deadline (monotonic) or something to do: 1 to quit, 0 when
 * it is time, -1 to redraw (a resize, a return from a stop).
 */
static int wait_until(struct top *t, double deadline)
{
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	struct sigaction sa = { .sa_handler = on_signal };
	struct pollfd pfd = { .fd = STDIN_FILENO, .events = POLLIN };
	double left;
	char c;

	for (;;) {
		if (quit)
			return 1;
		if (stopped) {
			stopped = 0;
			term_leave(t);
			sigaction(SIGTSTP, &dfl, NULL);
			raise(SIGTSTP);
			/* Continued. */
			sigaction(SIGTSTP, &sa, NULL);
			term_enter(t);
			resized = 1;
		}
		if (resized) {
			resized = 0;
			term_size(t);
			return -1;
		}
		left = deadline - now();
		if (left <= 0)
			return 0;
		if (poll(&pfd, t->keys ? 1 : 0, (int)(left * 1000) + 1) > 0) {
			if (read(STDIN_FILENO, &c, 1) == 1 &&
			    (c == 'q' || c == 'Q'))
				return 1;
		}
	}
}

static int top_args(struct top *t, int argc, char **argv)
{
	bool batch = false;
	char *end;
	int i;

	for (i = 0; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "-b") || !strcmp(a, "--batch")) {
			batch = true;
		} else if (i + 1 < argc &&
			   (!strcmp(a, "-d") || !strcmp(a, "--interval"))) {
			errno = 0;
			t->interval = strtod(argv[++i], &end);
			if (errno || *end || !(t->interval >= 0.1) ||
			    t->interval > 86400)
				return hmmctl_usage("bad --interval '%s' (0.1 to 86400 seconds)",
						    argv[i]);
		} else if (i + 1 < argc &&
			   (!strcmp(a, "-n") || !strcmp(a, "--count"))) {
			if (hmmctl_parse_u64(argv[++i], &t->count) || !t->count)
				return hmmctl_usage("bad --count '%s'", argv[i]);
		} else {
			return hmmctl_usage("top: unknown argument '%s'", a);
		}
	}
	t->tty = !batch && !t->json && isatty(STDOUT_FILENO);
	t->keys = t->tty && isatty(STDIN_FILENO);
	return 0;
}

/* Dump, compute, show; until the count, 'q' or a signal. */
static int top_loop(struct hmmctl *h, struct top *t, struct snap sn[2])
{
	struct row *rows = NULL;
	size_t cap = 0;
	uint64_t frames = 0;
	int cur = 0, ret, w;

	for (;;) {
		struct snap *c = &sn[cur], *p = &sn[!cur];
		bool first = frames == 0 && !p->t;

		ret = take(h, c);
		if (ret)
			break;
		if (c->n > cap) {
			struct row *r = realloc(rows, c->n * sizeof(*r));

			if (!r) {
				ret = -ENOMEM;
				break;
			}
			rows = r;
			cap = c->n;
		}
		rates(c, first ? NULL : p, rows);
		if (t->tty) {
			draw(t, c, first ? NULL : p, rows);
		} else if (!first) {
			if (t->json) {
				frame_json(stdout, c, p, rows);
			} else {
				if (frames)
					putchar('\n');
				frame_text(stdout, t, c, p, rows, 0);
			}
			fflush(stdout);
		}
		if (!first && ++frames == t->count)
			break;
		while ((w = wait_until(t, c->t + t->interval)) < 0)
			draw(t, c, first ? NULL : p, rows);
		if (w > 0)
			break;
		cur = !cur;
	}
	free(rows);
	return ret;
}

int hmmctl_top(struct hmmctl *h, int argc, char **argv)
{
	struct top t = { .json = h->json, .interval = 1.0 };
	struct snap sn[2] = { 0 };
	struct sigaction sa = { .sa_handler = on_signal };
	int ret;

	ret = top_args(&t, argc, argv);
	if (ret)
		return ret;
	ret = hmmctl_connect(h, HMM_CORE_FAMILY_NAME);
	if (ret)
		return ret;
	/* No SA_RESTART: a signal ends the wait at once. */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	if (t.tty) {
		sigaction(SIGWINCH, &sa, NULL);
		sigaction(SIGTSTP, &sa, NULL);
		term_size(&t);
		term_enter(&t);
	}
	ret = top_loop(h, &t, sn);
	term_leave(&t);
	free(sn[0].v);
	free(sn[1].v);
	if (ret)
		return hmmctl_fail(h, ret, "listing the mirrors", NULL);
	return HMMCTL_EXIT_OK;
}
