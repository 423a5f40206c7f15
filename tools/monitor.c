// SPDX-License-Identifier: GPL-2.0
/*
 * monitor.c - hmmctl monitor: print hmm_core's "events" group as it comes
 *
 * One line per event, flushed at once. Every event carries a sequence
 * number: a gap is a run of events this listener lost (its receive buffer
 * was full, or the kernel could not allocate the message), printed as a
 * "lost" line when the next event shows it. On SIGINT or SIGTERM, or after
 * --count events, what is queued is read and a summary line ends the
 * output: events received, lost (gaps), and dropped by the kernel meanwhile
 * (its events_dropped counter, for every listener).
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <netlink/errno.h>
#include <netlink/socket.h>

#include "hmmctl.h"

static volatile sig_atomic_t stop;

struct monitor {
	bool json;
	uint64_t count;		/* stop after this many events, 0: never */
	uint64_t received;
	uint64_t first_seq, max_seq;
	uint64_t overruns;	/* ENOBUFS seen on the socket */
};

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static const char *const ntf_names[HMM_CORE_CMD_MAX + 1] = {
	[HMM_CORE_CMD_INVALIDATE_NTF] = "invalidate",
	[HMM_CORE_CMD_REGISTER_NTF] = "register",
	[HMM_CORE_CMD_UNREGISTER_NTF] = "unregister",
	[HMM_CORE_CMD_RELEASE_NTF] = "release",
	[HMM_CORE_CMD_VERIFY_NTF] = "verify",
};

/* Indexed by enum hmm_core_finding. */
static const char *const finding_names[] = {
	[HMM_CORE_FINDING_LEFT] = "left",
	[HMM_CORE_FINDING_PFN] = "pfn",
	[HMM_CORE_FINDING_WRITE] = "write",
	[HMM_CORE_FINDING_ORDER] = "order",
};

static void print_lost(struct monitor *m, uint64_t first, uint64_t last)
{
	if (m->json)
		printf("{\"event\":\"lost\",\"count\":%" PRIu64
		       ",\"first_seq\":%" PRIu64 ",\"last_seq\":%" PRIu64 "}\n",
		       last - first + 1, first, last);
	else
		printf("lost %" PRIu64 " events (seq %" PRIu64 "-%" PRIu64 ")\n",
		       last - first + 1, first, last);
}

/* " key value" as text, ",\"key\":value" as JSON: one unsigned number. */
static void print_u64(const struct monitor *m, const char *key, uint64_t v,
		      bool hex)
{
	if (m->json)
		printf(",\"%s\":%" PRIu64, key, v);
	else if (hex)
		printf(" %s 0x%" PRIx64, key, v);
	else
		printf(" %s %" PRIu64, key, v);
}

static void print_str(const struct monitor *m, const char *key, const char *v)
{
	if (m->json) {
		printf(",\"%s\":", key);
		hmmctl_json_str(v);
	} else {
		printf(" %s %s", key, *v ? v : "-");
	}
}

static void print_event(struct monitor *m, const char *name, uint64_t seq,
			struct nlattr **tb)
{
	uint32_t reason = tb[HMM_CORE_A_EVENT_REASON] ?
		nla_get_u32(tb[HMM_CORE_A_EVENT_REASON]) : HMM_CORE_EVENT_OTHER;
	uint32_t id = tb[HMM_CORE_A_EVENT_MIRROR_ID] ?
		nla_get_u32(tb[HMM_CORE_A_EVENT_MIRROR_ID]) : 0;
	bool blockable = tb[HMM_CORE_A_EVENT_BLOCKABLE];

	if (reason >= HMMCTL_NR_EVENTS)
		reason = HMM_CORE_EVENT_OTHER;
	if (m->json)
		printf("{\"seq\":%" PRIu64 ",\"event\":\"%s\",\"mirror\":%u",
		       seq, name, id);
	else
		printf("seq %" PRIu64 " %s mirror %u", seq, name, id);
	if (tb[HMM_CORE_A_EVENT_START] && tb[HMM_CORE_A_EVENT_END]) {
		uint64_t start = nla_get_u64(tb[HMM_CORE_A_EVENT_START]);
		uint64_t end = nla_get_u64(tb[HMM_CORE_A_EVENT_END]);

		if (m->json)
			printf(",\"start\":%" PRIu64 ",\"end\":%" PRIu64,
			       start, end);
		else
			printf(" 0x%" PRIx64 "-0x%" PRIx64, start, end);
	}
	if (tb[HMM_CORE_A_EVENT_REASON]) {
		if (m->json)
			printf(",\"reason\":\"%s\",\"blockable\":%s",
			       hmmctl_event_names[reason],
			       blockable ? "true" : "false");
		else
			printf(" %s%s", hmmctl_event_names[reason],
			       blockable ? " blockable" : "");
	}
	if (tb[HMM_CORE_A_EVENT_DURATION_NS])
		print_u64(m, "duration_ns",
			  nla_get_u64(tb[HMM_CORE_A_EVENT_DURATION_NS]), false);
	if (tb[HMM_CORE_A_EVENT_TGID])
		print_u64(m, "tgid", nla_get_u32(tb[HMM_CORE_A_EVENT_TGID]),
			  false);
	if (tb[HMM_CORE_A_EVENT_DRIVER])
		print_str(m, "driver",
			  nla_get_string(tb[HMM_CORE_A_EVENT_DRIVER]));
	if (tb[HMM_CORE_A_EVENT_LABEL])
		print_str(m, "label", nla_get_string(tb[HMM_CORE_A_EVENT_LABEL]));
	if (tb[HMM_CORE_A_EVENT_ADDR])
		print_u64(m, "addr", nla_get_u64(tb[HMM_CORE_A_EVENT_ADDR]),
			  true);
	if (tb[HMM_CORE_A_EVENT_FINDING]) {
		uint32_t f = nla_get_u32(tb[HMM_CORE_A_EVENT_FINDING]);

		print_str(m, "finding",
			  f < sizeof(finding_names) / sizeof(finding_names[0]) ?
			  finding_names[f] : "unknown");
	}
	puts(m->json ? "}" : "");
}

static int event_cb(struct nl_msg *msg, void *arg)
{
	struct genlmsghdr *gnlh = genlmsg_hdr(nlmsg_hdr(msg));
	struct nlattr *tb[HMM_CORE_A_EVENT_MAX + 1];
	struct monitor *m = arg;
	const char *name = NULL;
	uint64_t seq;

	if (gnlh->cmd <= HMM_CORE_CMD_MAX)
		name = ntf_names[gnlh->cmd];
	if (!name || !hmmctl_parse(msg, tb, HMM_CORE_A_EVENT_MAX) ||
	    !tb[HMM_CORE_A_EVENT_SEQ])
		return NL_SKIP;
	seq = nla_get_u64(tb[HMM_CORE_A_EVENT_SEQ]);
	if (!m->first_seq || seq < m->first_seq)
		m->first_seq = seq;
	if (m->max_seq && seq > m->max_seq + 1)
		print_lost(m, m->max_seq + 1, seq - 1);
	if (seq > m->max_seq)
		m->max_seq = seq;
	print_event(m, name, seq, tb);
	m->received++;
	if (m->count && m->received >= m->count)
		stop = 1;
	return NL_OK;
}

static int no_seq_check(struct nl_msg *msg, void *arg)
{
	(void)msg;
	(void)arg;
	return NL_OK;
}

static int monitor_args(struct monitor *m, int *rcvbuf, int argc, char **argv)
{
	uint64_t v;
	int i;

	for (i = 0; i < argc; i++) {
		if (i + 1 < argc && !strcmp(argv[i], "--count")) {
			if (hmmctl_parse_u64(argv[++i], &m->count) || !m->count)
				return hmmctl_usage("bad --count '%s'", argv[i]);
		} else if (i + 1 < argc && !strcmp(argv[i], "--rcvbuf")) {
			if (hmmctl_parse_u64(argv[++i], &v) || !v || v > 1 << 30)
				return hmmctl_usage("bad --rcvbuf '%s'", argv[i]);
			*rcvbuf = v;
		} else {
			return hmmctl_usage("monitor: unknown argument '%s'", argv[i]);
		}
	}
	return 0;
}

/* Read events until told to stop; then drain what is queued. */
static int monitor_loop(struct hmmctl *h, struct monitor *m, struct nl_cb *cb)
{
	struct pollfd pfd = { .fd = nl_socket_get_fd(h->sk), .events = POLLIN };
	int ret, i;

	while (!stop) {
		if (poll(&pfd, 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			perror("hmmctl: poll");
			return HMMCTL_EXIT_ERROR;
		}
		ret = nl_recvmsgs(h->sk, cb);
		if (ret == -NLE_NOMEM) {	/* ENOBUFS: the queue overflowed */
			m->overruns++;
			continue;
		}
		if (ret < 0 && ret != -NLE_AGAIN) {
			fprintf(stderr, "hmmctl: reading events: %s\n",
				nl_geterror(ret));
			return HMMCTL_EXIT_ERROR;
		}
	}
	if (m->count && m->received >= m->count)
		return HMMCTL_EXIT_OK;
	nl_socket_set_nonblocking(h->sk);
	/* Bounded: the queue is at most the receive buffer. */
	for (i = 0; i < 1 << 20; i++) {
		ret = nl_recvmsgs(h->sk, cb);
		if (ret == -NLE_NOMEM)
			m->overruns++;
		else if (ret < 0)
			break;
	}
	return HMMCTL_EXIT_OK;
}

int hmmctl_monitor(struct hmmctl *h, int argc, char **argv)
{
	struct monitor m = { .json = h->json };
	struct hmmctl stats = { 0 };
	uint64_t sent, dropped0, dropped1, lost;
	struct sigaction sa = { .sa_handler = on_signal };
	struct nl_cb *cb;
	int rcvbuf = 0, ret;

	ret = monitor_args(&m, &rcvbuf, argc, argv);
	if (ret)
		return ret;
	ret = hmmctl_connect(h, HMM_CORE_FAMILY_NAME);
	if (!ret)
		ret = hmmctl_join_events(h);
	/* A second socket for the counters: this one receives events. */
	if (!ret)
		ret = hmmctl_connect(&stats, HMM_CORE_FAMILY_NAME);
	if (ret)
		goto out;
	if (hmmctl_read_stats(&stats, &sent, &dropped0)) {
		ret = hmmctl_fail(&stats, stats.err, "reading the counters", NULL);
		goto out;
	}
	if (rcvbuf)
		nl_socket_set_buffer_size(h->sk, rcvbuf, 0);
	cb = nl_cb_alloc(NL_CB_DEFAULT);
	if (!cb) {
		ret = HMMCTL_EXIT_ERROR;
		goto out;
	}
	/* Events are not replies: they have no sequence number to check. */
	nl_cb_set(cb, NL_CB_SEQ_CHECK, NL_CB_CUSTOM, no_seq_check, NULL);
	nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, event_cb, &m);
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	ret = monitor_loop(h, &m, cb);
	nl_cb_put(cb);
	if (hmmctl_read_stats(&stats, &sent, &dropped1)) {
		ret = hmmctl_fail(&stats, stats.err, "reading the counters", NULL);
		goto out;
	}
	lost = m.received ? m.max_seq - m.first_seq + 1 - m.received : 0;
	if (m.json)
		printf("{\"event\":\"summary\",\"received\":%" PRIu64
		       ",\"lost\":%" PRIu64 ",\"kernel_dropped\":%" PRIu64
		       ",\"overruns\":%" PRIu64 "}\n", m.received, lost,
		       dropped1 - dropped0, m.overruns);
	else
		printf("summary: %" PRIu64 " events received, %" PRIu64
		       " lost, %" PRIu64 " dropped by the kernel meanwhile\n",
		       m.received, lost, dropped1 - dropped0);
out:
	if (stats.sk)
		hmmctl_close(&stats);
	return ret;
}
