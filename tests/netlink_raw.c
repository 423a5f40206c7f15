// SPDX-License-Identifier: GPL-2.0
/*
 * netlink_raw - the hmm_dummy family against hand-built messages
 *
 * A raw NETLINK_GENERIC socket, no library: the family is resolved through
 * the controller by hand, then sent unknown commands, notification commands,
 * attributes it does not take, attributes of the wrong length, zero, bogus
 * nla_len values, truncated headers, a non-zero reserved byte, and a seeded
 * stream of random messages. Each must get an error (or, for a datagram
 * whose nlmsg_len lies past its end, be ignored) and leave the socket and
 * the kernel working: vm-run fails the run on any splat. Also: the wire
 * format of a REGISTER_NTF event, what uid 65534 may not do, and who sees
 * whose mirrors (uid 65534 not root's, a process its own and another
 * process's of the same user, as ptrace read access), MIRROR_GET's range after SET_RANGE, and its tgid in the
 * caller's pid namespace.
 *
 * netlink_raw [--seed N]: the random messages' seed (also from the
 * environment, HMM_TEST_SEED); printed either way, to replay a run.
 */
#define _GNU_SOURCE
#include <grp.h>
#include <inttypes.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>

#include <linux/genetlink.h>
#include <linux/netlink.h>

#include "tap.h"
#include "dummy_util.h"
#include "hmm_dummy_nl.h"

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif

#define NO_REPLY 1	/* xfer(): nothing came back before the timeout */

static int family_id, events_grp;
static unsigned int random_seed;

struct msg {
	struct nlmsghdr nlh;
	struct genlmsghdr gh;
	char attrs[1024];
};

static int nl_socket(void)
{
	struct timeval tv = { .tv_sec = 2 };
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	int s = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);

	if (s < 0 || bind(s, (struct sockaddr *)&sa, sizeof(sa)) ||
	    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)))
		return -1;
	return s;
}

static void msg_init(struct msg *m, int family, uint8_t cmd, uint16_t flags)
{
	static uint32_t seq;

	memset(m, 0, sizeof(*m));
	m->nlh.nlmsg_len = NLMSG_LENGTH(GENL_HDRLEN);
	m->nlh.nlmsg_type = family;
	m->nlh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
	m->nlh.nlmsg_seq = ++seq;
	m->gh.cmd = cmd;
	m->gh.version = HMM_DUMMY_FAMILY_VERSION;
}

/* Append an attribute whose nla_len says nla_len (normally 4 + len). */
static void put_attr_len(struct msg *m, uint16_t type, const void *data,
			 size_t len, uint16_t nla_len)
{
	struct nlattr *a = (struct nlattr *)((char *)m + NLMSG_ALIGN(m->nlh.nlmsg_len));

	a->nla_type = type;
	a->nla_len = nla_len;
	memcpy(a + 1, data, len);
	m->nlh.nlmsg_len = NLMSG_ALIGN(m->nlh.nlmsg_len) + NLA_ALIGN(NLA_HDRLEN + len);
}

static void put_attr(struct msg *m, uint16_t type, const void *data, size_t len)
{
	put_attr_len(m, type, data, len, NLA_HDRLEN + len);
}

static void put_u32(struct msg *m, uint16_t type, uint32_t v)
{
	put_attr(m, type, &v, sizeof(v));
}

static void put_u64(struct msg *m, uint16_t type, uint64_t v)
{
	put_attr(m, type, &v, sizeof(v));
}

/*
 * Send len bytes of m; read until an ACK, an error or NLMSG_DONE. Returns 0,
 * the kernel's negative errno, or NO_REPLY; *n counts the other messages,
 * each given to fn if set.
 */
static int xfer_raw(int s, const void *m, size_t len, int *n,
		    void (*fn)(const struct nlmsghdr *nlh, void *arg), void *arg)
{
	static char buf[1 << 16];
	int count = 0;

	if (send(s, m, len, 0) != (ssize_t)len)
		return -errno;
	for (;;) {
		ssize_t r = recv(s, buf, sizeof(buf), 0);
		struct nlmsghdr *nlh;

		if (r < 0)
			return errno == EAGAIN ? NO_REPLY : -errno;
		for (nlh = (void *)buf; NLMSG_OK(nlh, (size_t)r);
		     nlh = NLMSG_NEXT(nlh, r)) {
			if (nlh->nlmsg_type == NLMSG_ERROR) {
				struct nlmsgerr *e = NLMSG_DATA(nlh);

				/* A dump's error, or the ACK of a do. */
				if (e->error || !(((struct msg *)m)->nlh.nlmsg_flags & NLM_F_DUMP)) {
					if (n)
						*n = count;
					return e->error;
				}
			} else if (nlh->nlmsg_type == NLMSG_DONE) {
				if (n)
					*n = count;
				return *(int *)NLMSG_DATA(nlh);
			} else {
				count++;
				if (fn)
					fn(nlh, arg);
			}
		}
	}
}

static int xfer(int s, struct msg *m, int *n)
{
	return xfer_raw(s, m, m->nlh.nlmsg_len, n, NULL, NULL);
}

static void family_cb(const struct nlmsghdr *nlh, void *arg)
{
	struct nlattr *a = (void *)((char *)NLMSG_DATA(nlh) + GENL_HDRLEN);
	int len = nlh->nlmsg_len - NLMSG_LENGTH(GENL_HDRLEN);

	(void)arg;
	for (; len >= NLA_HDRLEN && a->nla_len >= NLA_HDRLEN && a->nla_len <= len;
	     len -= NLA_ALIGN(a->nla_len), a = (void *)((char *)a + NLA_ALIGN(a->nla_len))) {
		if (a->nla_type == CTRL_ATTR_FAMILY_ID)
			family_id = *(uint16_t *)(a + 1);
		if ((a->nla_type & NLA_TYPE_MASK) == CTRL_ATTR_MCAST_GROUPS) {
			struct nlattr *g = a + 1;
			int glen = a->nla_len - NLA_HDRLEN;

			for (; glen >= NLA_HDRLEN && g->nla_len >= NLA_HDRLEN;
			     glen -= NLA_ALIGN(g->nla_len),
			     g = (void *)((char *)g + NLA_ALIGN(g->nla_len))) {
				struct nlattr *f = g + 1;
				int flen = g->nla_len - NLA_HDRLEN, id = -1;
				bool events = false;

				for (; flen >= NLA_HDRLEN && f->nla_len >= NLA_HDRLEN;
				     flen -= NLA_ALIGN(f->nla_len),
				     f = (void *)((char *)f + NLA_ALIGN(f->nla_len))) {
					if (f->nla_type == CTRL_ATTR_MCAST_GRP_ID)
						id = *(uint32_t *)(f + 1);
					if (f->nla_type == CTRL_ATTR_MCAST_GRP_NAME)
						events = !strcmp((char *)(f + 1),
								 HMM_DUMMY_MCGRP_EVENTS);
				}
				if (events)
					events_grp = id;
			}
		}
	}
}

/* The family's id and its events group, from the controller. */
static int resolve(int s)
{
	struct msg m;

	msg_init(&m, GENL_ID_CTRL, CTRL_CMD_GETFAMILY, 0);
	m.gh.version = 1;
	put_attr(&m, CTRL_ATTR_FAMILY_NAME, HMM_DUMMY_FAMILY_NAME,
		 sizeof(HMM_DUMMY_FAMILY_NAME));
	family_id = events_grp = 0;
	return xfer_raw(s, &m, m.nlh.nlmsg_len, NULL, family_cb, NULL);
}

static int setup(void)
{
	int s = nl_socket();

	if (s < 0 || resolve(s) || family_id <= 0 || events_grp <= 0)
		return -1;
	return s;
}

#define REQ(m, cmd, flags) msg_init(m, family_id, cmd, flags)

/* Resolving: a family id and an events group. */
static int resolves(void)
{
	int s = setup();

	CHECK(s >= 0);
	diag("family %d, events group %d", family_id, events_grp);
	return TAP_PASS;
}

/* Well-formed requests work: the baseline of every error case below. */
static int baseline(void)
{
	struct msg m;
	int s = setup(), n;

	CHECK(s >= 0);
	REQ(&m, HMM_DUMMY_CMD_STATS_GET, 0);
	CHECK_EQ(xfer(s, &m, &n), 0);
	CHECK_EQ(n, 1);
	REQ(&m, HMM_DUMMY_CMD_DEV_GET, NLM_F_DUMP);
	CHECK_EQ(xfer(s, &m, &n), 0);
	CHECK_EQ(n, 4);
	REQ(&m, HMM_DUMMY_CMD_MIRROR_GET, NLM_F_DUMP);
	CHECK_EQ(xfer(s, &m, &n), 0);
	return TAP_PASS;
}

/* Unknown commands, events sent as requests, do/dump mix-ups. */
static int unknown_commands(void)
{
	static const uint8_t cmds[] = {
		0, HMM_DUMMY_CMD_MAX + 1, 100, 255,
		HMM_DUMMY_CMD_INVALIDATE_NTF, HMM_DUMMY_CMD_REGISTER_NTF,
		HMM_DUMMY_CMD_UNREGISTER_NTF, HMM_DUMMY_CMD_RELEASE_NTF,
	};
	struct msg m;
	int s = setup();
	unsigned int i;

	CHECK(s >= 0);
	for (i = 0; i < sizeof(cmds); i++) {
		REQ(&m, cmds[i], 0);
		CHECK_EQ(xfer(s, &m, NULL), -EOPNOTSUPP);
		REQ(&m, cmds[i], NLM_F_DUMP);
		CHECK_EQ(xfer(s, &m, NULL), -EOPNOTSUPP);
	}
	REQ(&m, HMM_DUMMY_CMD_DEV_GET, 0);		/* a dump, as a do */
	CHECK_EQ(xfer(s, &m, NULL), -EOPNOTSUPP);
	REQ(&m, HMM_DUMMY_CMD_STATS_GET, NLM_F_DUMP);	/* a do, as a dump */
	CHECK_EQ(xfer(s, &m, NULL), -EOPNOTSUPP);
	return TAP_PASS;
}

/* Attributes a command does not take are rejected, not ignored. */
static int strict_attributes(void)
{
	static const uint16_t types[] = { 1, 2, 7, 50, 0x7fff };
	struct msg m;
	int s = setup();
	unsigned int i;

	CHECK(s >= 0);
	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		REQ(&m, HMM_DUMMY_CMD_STATS_GET, 0);
		put_u32(&m, types[i], 1);
		CHECK_EQ(xfer(s, &m, NULL), -EINVAL);
		REQ(&m, HMM_DUMMY_CMD_DEV_GET, NLM_F_DUMP);
		put_u32(&m, types[i], 1);
		CHECK_EQ(xfer(s, &m, NULL), -EINVAL);
		REQ(&m, HMM_DUMMY_CMD_MIRROR_GET, NLM_F_DUMP);
		put_u32(&m, types[i], 1);
		CHECK_EQ(xfer(s, &m, NULL), -EINVAL);
	}
	/* PTE_GET: reply-only attributes, and types past its policy. */
	for (i = HMM_DUMMY_A_PTE_ADDR; i <= HMM_DUMMY_A_PTE_MAX + 1; i++) {
		REQ(&m, HMM_DUMMY_CMD_PTE_GET, NLM_F_DUMP);
		put_u32(&m, HMM_DUMMY_A_PTE_MIRROR_ID, 1);
		put_u64(&m, i, 0);
		CHECK_EQ(xfer(s, &m, NULL), -EINVAL);
	}
	return TAP_PASS;
}

static bool is_einval_or_erange(int r)
{
	return r == -EINVAL || r == -ERANGE;
}

/* Wrong types and lengths, a zero id, a missing id, no such mirror. */
static int bad_values(void)
{
	uint8_t junk[16] = { 0 };
	struct msg m;
	int s = setup(), r;

	CHECK(s >= 0);
#define PTE_CASE(setup_attrs, want) do {				\
		REQ(&m, HMM_DUMMY_CMD_PTE_GET, NLM_F_DUMP);		\
		setup_attrs;						\
		r = xfer(s, &m, NULL);					\
		if (!(want)) {						\
			diag("%s: got %d", #setup_attrs, r);		\
			return TAP_FAIL;				\
		}							\
	} while (0)

	PTE_CASE(put_attr(&m, HMM_DUMMY_A_PTE_MIRROR_ID, junk, 2), is_einval_or_erange(r));
	PTE_CASE(put_attr(&m, HMM_DUMMY_A_PTE_MIRROR_ID, junk, 0), is_einval_or_erange(r));
	PTE_CASE(put_u64(&m, HMM_DUMMY_A_PTE_MIRROR_ID, 1), r == -EINVAL);
	PTE_CASE(put_u32(&m, HMM_DUMMY_A_PTE_MIRROR_ID, 0), is_einval_or_erange(r));
	PTE_CASE((put_u32(&m, HMM_DUMMY_A_PTE_MIRROR_ID, 1),
		  put_u32(&m, HMM_DUMMY_A_PTE_START, 0)), is_einval_or_erange(r));
	PTE_CASE((put_u32(&m, HMM_DUMMY_A_PTE_MIRROR_ID, 1),
		  put_attr(&m, HMM_DUMMY_A_PTE_END, junk, 16)), r == -EINVAL);
	PTE_CASE((put_u32(&m, HMM_DUMMY_A_PTE_MIRROR_ID, 1),
		  put_attr(&m, HMM_DUMMY_A_PTE_END | NLA_F_NESTED, junk, 8)),
		 r == -EINVAL);
	/* Well-formed, but wrong. */
	PTE_CASE(put_u64(&m, HMM_DUMMY_A_PTE_START, 0), r == -EINVAL);
	PTE_CASE(put_u32(&m, HMM_DUMMY_A_PTE_MIRROR_ID, 0x7ffffff0), r == -ENOENT);
	return TAP_PASS;
}

/* Truncated and lying headers. */
static int truncated(void)
{
	struct msg m;
	int s = setup(), n;

	CHECK(s >= 0);
	/* The genl header cut short. */
	REQ(&m, HMM_DUMMY_CMD_STATS_GET, 0);
	m.nlh.nlmsg_len = NLMSG_HDRLEN + 2;
	CHECK_EQ(xfer(s, &m, NULL), -EINVAL);
	/* No genl header at all. */
	REQ(&m, HMM_DUMMY_CMD_STATS_GET, 0);
	m.nlh.nlmsg_len = NLMSG_HDRLEN;
	CHECK_EQ(xfer(s, &m, NULL), -EINVAL);
	/* An attribute longer than the message. */
	REQ(&m, HMM_DUMMY_CMD_PTE_GET, NLM_F_DUMP);
	put_attr_len(&m, HMM_DUMMY_A_PTE_MIRROR_ID, "\1\0\0\0", 4, 64);
	CHECK_EQ(xfer(s, &m, NULL), -EINVAL);
	/* An attribute shorter than its own header. */
	REQ(&m, HMM_DUMMY_CMD_PTE_GET, NLM_F_DUMP);
	put_attr_len(&m, HMM_DUMMY_A_PTE_MIRROR_ID, "\1\0\0\0", 4, 2);
	CHECK_EQ(xfer(s, &m, NULL), -EINVAL);
	/* Trailing bytes too short for an attribute. */
	REQ(&m, HMM_DUMMY_CMD_STATS_GET, 0);
	m.nlh.nlmsg_len += 2;
	CHECK_EQ(xfer(s, &m, NULL), -EINVAL);
	/* nlmsg_len past the datagram: the kernel drops it, says nothing. */
	REQ(&m, HMM_DUMMY_CMD_STATS_GET, 0);
	m.nlh.nlmsg_len = 200;
	CHECK_EQ(xfer_raw(s, &m, NLMSG_LENGTH(GENL_HDRLEN), NULL, NULL, NULL),
		 NO_REPLY);
	/* Shorter than a netlink header: dropped as well. */
	CHECK_EQ(xfer_raw(s, &m, 6, NULL, NULL, NULL), NO_REPLY);
	/* And the socket still works. */
	REQ(&m, HMM_DUMMY_CMD_STATS_GET, 0);
	CHECK_EQ(xfer(s, &m, &n), 0);
	CHECK_EQ(n, 1);
	return TAP_PASS;
}

/* The genl header's reserved field must be zero. */
static int reserved_field(void)
{
	struct msg m;
	int s = setup();

	CHECK(s >= 0);
	REQ(&m, HMM_DUMMY_CMD_STATS_GET, 0);
	m.gh.reserved = 1;
	CHECK_EQ(xfer(s, &m, NULL), -EINVAL);
	REQ(&m, HMM_DUMMY_CMD_DEV_GET, NLM_F_DUMP);
	m.gh.reserved = 0x8000;
	CHECK_EQ(xfer(s, &m, NULL), -EINVAL);
	return TAP_PASS;
}

/*
 * What the kernel did with one random message: read until the ACK of the
 * probe sent right behind it (a STATS_GET, seq PROBE_SEQ), which proves that
 * the random one was handled or dropped by then, and until the NLMSG_DONE
 * of the random one if it started a dump (whose later parts come only as
 * the socket is read).
 */
#define PROBE_SEQ 0x7fff0000u

enum fate { ANSWERED, ERRORED, IGNORED, BROKEN };

static enum fate random_fate(int s, const struct msg *m, size_t len)
{
	static char buf[1 << 16];
	bool answered = false, errored = false, in_dump = false, acked = false;
	struct msg probe;

	msg_init(&probe, family_id, HMM_DUMMY_CMD_STATS_GET, 0);
	probe.nlh.nlmsg_seq = PROBE_SEQ;
	if (send(s, m, len, 0) != (ssize_t)len ||
	    send(s, &probe, probe.nlh.nlmsg_len, 0) != (ssize_t)probe.nlh.nlmsg_len)
		return BROKEN;
	while (!acked || in_dump) {
		ssize_t r = recv(s, buf, sizeof(buf), 0);
		struct nlmsghdr *nlh;

		if (r < 0)
			return BROKEN;	/* not even the probe: a dead socket */
		for (nlh = (void *)buf; NLMSG_OK(nlh, (size_t)r);
		     nlh = NLMSG_NEXT(nlh, r)) {
			if (nlh->nlmsg_seq == PROBE_SEQ) {
				if (nlh->nlmsg_type == NLMSG_ERROR) {
					if (((struct nlmsgerr *)NLMSG_DATA(nlh))->error)
						return BROKEN;
					acked = true;
				}
				continue;	/* else the probe's reply */
			}
			/* Anything else answers the random message. */
			if (nlh->nlmsg_seq != m->nlh.nlmsg_seq)
				return BROKEN;
			if (nlh->nlmsg_type == NLMSG_ERROR &&
			    ((struct nlmsgerr *)NLMSG_DATA(nlh))->error) {
				errored = true;
				in_dump = false;
			} else if (nlh->nlmsg_type == NLMSG_DONE) {
				answered = true;
				in_dump = false;
			} else {
				answered = true;
				in_dump = nlh->nlmsg_flags & NLM_F_MULTI;
			}
		}
	}
	return errored ? ERRORED : answered ? ANSWERED : IGNORED;
}

/*
 * Seeded random messages, each followed by a probe: each is answered, or
 * refused with an error, or ignored (a datagram shorter than its
 * nlmsg_len, a header shorter than a netlink header, a message without
 * NLM_F_REQUEST that asks no ACK), and the socket survives all of them.
 */
static int random_messages(void)
{
	unsigned int i, fates[BROKEN + 1] = { 0 };
	struct msg m;
	int s = setup();

	CHECK(s >= 0);
	diag("seed %u (replay: netlink_raw --seed %u)", random_seed, random_seed);
	srand(random_seed);
	for (i = 0; i < 3000; i++) {
		int nattrs = rand() % 5, a, how = rand() % 16;
		size_t len;
		enum fate f;

		REQ(&m, rand() % (HMM_DUMMY_CMD_MAX + 3),
		    rand() % 2 ? NLM_F_DUMP : 0);
		for (a = 0; a < nattrs; a++) {
			uint8_t data[24];
			size_t alen = rand() % sizeof(data);
			size_t k;

			for (k = 0; k < alen; k++)
				data[k] = rand();
			if (rand() % 8)
				put_attr(&m, rand() % (HMM_DUMMY_A_PTE_MAX + 2),
					 data, alen);
			else
				put_attr_len(&m, rand() % 16, data, alen,
					     rand() % 40);
		}
		len = m.nlh.nlmsg_len;
		if (how == 0)		/* cut short: dropped whole */
			len = NLMSG_HDRLEN + rand() % (len - NLMSG_HDRLEN);
		else if (how == 1)	/* nlmsg_len below a header: dropped */
			m.nlh.nlmsg_len = rand() % NLMSG_HDRLEN;
		else if (how == 2)	/* not a request, no ACK asked */
			m.nlh.nlmsg_flags &= ~(NLM_F_REQUEST | NLM_F_ACK);
		else if (how == 3)	/* no ACK asked */
			m.nlh.nlmsg_flags &= ~NLM_F_ACK;
		f = random_fate(s, &m, len);
		if (f == BROKEN)
			diag("message %u (how %d, %zu bytes): no answer to the probe",
			     i, how, len);
		CHECK(f != BROKEN);
		fates[f]++;
	}
	diag("%u answered, %u errors, %u ignored", fates[ANSWERED],
	     fates[ERRORED], fates[IGNORED]);
	CHECK(fates[ANSWERED] > 0 && fates[ERRORED] > 0 && fates[IGNORED] > 0);
	REQ(&m, HMM_DUMMY_CMD_STATS_GET, 0);
	CHECK_EQ(xfer(s, &m, NULL), 0);
	return TAP_PASS;
}

static int event_cmd;
static uint32_t event_tgid, event_id;
static char event_dev[32];

static void event_parse(const struct nlmsghdr *nlh)
{
	struct genlmsghdr *gh = NLMSG_DATA(nlh);
	struct nlattr *a = (void *)((char *)gh + GENL_HDRLEN);
	int len = nlh->nlmsg_len - NLMSG_LENGTH(GENL_HDRLEN);

	event_cmd = gh->cmd;
	for (; len >= NLA_HDRLEN && a->nla_len >= NLA_HDRLEN && a->nla_len <= len;
	     len -= NLA_ALIGN(a->nla_len), a = (void *)((char *)a + NLA_ALIGN(a->nla_len))) {
		if (a->nla_type == HMM_DUMMY_A_EVENT_TGID && a->nla_len == 8)
			event_tgid = *(uint32_t *)(a + 1);
		if (a->nla_type == HMM_DUMMY_A_EVENT_MIRROR_ID && a->nla_len == 8)
			event_id = *(uint32_t *)(a + 1);
		if (a->nla_type == HMM_DUMMY_A_EVENT_DEV_NAME)
			snprintf(event_dev, sizeof(event_dev), "%s", (char *)(a + 1));
	}
}

/*
 * Root joins the events group and gets a well-formed REGISTER_NTF; the
 * mirror it names then has its PTE_GET range checked.
 */
static int events_wire_format(void)
{
	static char buf[8192];
	int s = setup(), fd, i;
	bool seen = false;

	CHECK(s >= 0);
	CHECK_OK(setsockopt(s, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &events_grp,
			    sizeof(events_grp)));
	CHECK((fd = dummy_open(0)) >= 0);
	for (i = 0; i < 100 && !seen; i++) {
		ssize_t r = recv(s, buf, sizeof(buf), 0);
		struct nlmsghdr *nlh;

		CHECK(r > 0);
		for (nlh = (void *)buf; NLMSG_OK(nlh, (size_t)r); nlh = NLMSG_NEXT(nlh, r)) {
			CHECK_EQ(nlh->nlmsg_type, family_id);
			event_tgid = 0;
			event_parse(nlh);
			if (event_cmd == HMM_DUMMY_CMD_REGISTER_NTF &&
			    event_tgid == (uint32_t)getpid()) {
				seen = true;
				break;
			}
		}
	}
	CHECK(seen);
	CHECK(event_id > 0);
	CHECK(!strcmp(event_dev, "hmm_dummy0"));

	/* That mirror's range checks: aligned, non-empty, in user space. */
	{
		static const uint64_t ranges[][2] = {
			{ 1, 0x10000 }, { 0, 0x10001 }, { 0x2000, 0x1000 },
			{ 0x1000, 0x1000 }, { 0, 0x7ffffffffffff000ULL },
		};
		struct msg m;
		unsigned int k;
		int s2 = setup(), n;

		CHECK(s2 >= 0);
		for (k = 0; k < sizeof(ranges) / sizeof(ranges[0]); k++) {
			REQ(&m, HMM_DUMMY_CMD_PTE_GET, NLM_F_DUMP);
			put_u32(&m, HMM_DUMMY_A_PTE_MIRROR_ID, event_id);
			put_u64(&m, HMM_DUMMY_A_PTE_START, ranges[k][0]);
			put_u64(&m, HMM_DUMMY_A_PTE_END, ranges[k][1]);
			CHECK_EQ(xfer(s2, &m, NULL), -EINVAL);
		}
		REQ(&m, HMM_DUMMY_CMD_PTE_GET, NLM_F_DUMP);
		put_u32(&m, HMM_DUMMY_A_PTE_MIRROR_ID, event_id);
		CHECK_EQ(xfer(s2, &m, &n), 0);
		CHECK_EQ(n, 0);
		close(s2);
	}
	close(fd);
	return TAP_PASS;
}

/* uid 65534: no PTE_GET (EPERM), no events group (EPERM); reads are fine. */
static int unprivileged(void)
{
	int st;
	pid_t pid = fork();

	CHECK(pid >= 0);
	if (pid == 0) {
		struct msg m;
		int s, grp;

		if (setgroups(0, NULL) || setgid(65534) || setuid(65534))
			_exit(10);
		s = setup();
		if (s < 0)
			_exit(11);
		REQ(&m, HMM_DUMMY_CMD_PTE_GET, NLM_F_DUMP);
		put_u32(&m, HMM_DUMMY_A_PTE_MIRROR_ID, 1);
		if (xfer(s, &m, NULL) != -EPERM)
			_exit(12);
		grp = events_grp;
		if (setsockopt(s, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &grp,
			       sizeof(grp)) != -1 || errno != EPERM)
			_exit(13);
		REQ(&m, HMM_DUMMY_CMD_STATS_GET, 0);
		if (xfer(s, &m, NULL) != 0)
			_exit(14);
		REQ(&m, HMM_DUMMY_CMD_DEV_GET, NLM_F_DUMP);
		if (xfer(s, &m, NULL) != 0)
			_exit(15);
		_exit(0);
	}
	CHECK(waitpid(pid, &st, 0) == pid);
	CHECK(WIFEXITED(st));
	CHECK_EQ(WEXITSTATUS(st), 0);
	return TAP_PASS;
}

/* The mirrors a MIRROR_GET answer lists (at most MAX_SEEN of them). */
#define MAX_SEEN 64

struct seen_mirror {
	uint32_t id, tgid;
	uint64_t start, end;
};

struct seen {
	int n;
	struct seen_mirror m[MAX_SEEN];
};

static void mirror_cb(const struct nlmsghdr *nlh, void *arg)
{
	struct genlmsghdr *gh = NLMSG_DATA(nlh);
	struct nlattr *a = (void *)((char *)gh + GENL_HDRLEN);
	int len = nlh->nlmsg_len - NLMSG_LENGTH(GENL_HDRLEN);
	struct seen *seen = arg;
	struct seen_mirror *sm;

	if (gh->cmd != HMM_DUMMY_CMD_MIRROR_GET || seen->n == MAX_SEEN)
		return;
	sm = &seen->m[seen->n++];
	memset(sm, 0, sizeof(*sm));
	for (; len >= NLA_HDRLEN && a->nla_len >= NLA_HDRLEN && a->nla_len <= len;
	     len -= NLA_ALIGN(a->nla_len), a = (void *)((char *)a + NLA_ALIGN(a->nla_len))) {
		if (a->nla_type == HMM_DUMMY_A_MIRROR_ID && a->nla_len == 8)
			sm->id = *(uint32_t *)(a + 1);
		if (a->nla_type == HMM_DUMMY_A_MIRROR_TGID && a->nla_len == 8)
			sm->tgid = *(uint32_t *)(a + 1);
		if (a->nla_type == HMM_DUMMY_A_MIRROR_START && a->nla_len == 12)
			memcpy(&sm->start, a + 1, 8);
		if (a->nla_type == HMM_DUMMY_A_MIRROR_END && a->nla_len == 12)
			memcpy(&sm->end, a + 1, 8);
	}
}

/* MIRROR_GET, the dump (id 0) or the do of one id, into *seen. */
static int mirror_get(int s, uint32_t id, struct seen *seen)
{
	struct msg m;

	seen->n = 0;
	if (id) {
		REQ(&m, HMM_DUMMY_CMD_MIRROR_GET, 0);
		put_u32(&m, HMM_DUMMY_A_MIRROR_ID, id);
	} else {
		REQ(&m, HMM_DUMMY_CMD_MIRROR_GET, NLM_F_DUMP);
	}
	return xfer_raw(s, &m, m.nlh.nlmsg_len, NULL, mirror_cb, seen);
}

static const struct seen_mirror *find_id(const struct seen *seen, uint32_t id)
{
	int i;

	for (i = 0; i < seen->n; i++)
		if (seen->m[i].id == id)
			return &seen->m[i];
	return NULL;
}

/* The one mirror of thread group tgid in the dump, or NULL. */
static const struct seen_mirror *find_tgid(const struct seen *seen,
					   uint32_t tgid)
{
	int i;

	for (i = 0; i < seen->n; i++)
		if (seen->m[i].tgid == tgid)
			return &seen->m[i];
	return NULL;
}

static void dev_cb(const struct nlmsghdr *nlh, void *arg)
{
	struct nlattr *a = (void *)((char *)NLMSG_DATA(nlh) + GENL_HDRLEN);
	int len = nlh->nlmsg_len - NLMSG_LENGTH(GENL_HDRLEN);
	uint32_t index = UINT32_MAX, mirrors = 0;
	uint32_t *out = arg;

	for (; len >= NLA_HDRLEN && a->nla_len >= NLA_HDRLEN && a->nla_len <= len;
	     len -= NLA_ALIGN(a->nla_len), a = (void *)((char *)a + NLA_ALIGN(a->nla_len))) {
		if (a->nla_type == HMM_DUMMY_A_DEV_INDEX && a->nla_len == 8)
			index = *(uint32_t *)(a + 1);
		if (a->nla_type == HMM_DUMMY_A_DEV_MIRRORS && a->nla_len == 8)
			mirrors = *(uint32_t *)(a + 1);
	}
	if (index < 4)
		out[index] = mirrors;
}

/* DEV_GET's mirror count of each of the four devices, into counts. */
static int dev_mirrors(int s, uint32_t counts[4])
{
	struct msg m;

	memset(counts, 0xff, 4 * sizeof(*counts));
	REQ(&m, HMM_DUMMY_CMD_DEV_GET, NLM_F_DUMP);
	return xfer_raw(s, &m, m.nlh.nlmsg_len, NULL, dev_cb, counts);
}

/* MIRROR_GET's do: one mirror by id; no id, an id of 0, a dump with one. */
static int mirror_get_do(void)
{
	struct seen seen;
	struct msg m;
	int s = setup(), fd;
	const struct seen_mirror *sm;
	uint32_t id;

	CHECK(s >= 0);
	CHECK((fd = dummy_open(0)) >= 0);
	CHECK_EQ(mirror_get(s, 0, &seen), 0);
	CHECK((sm = find_tgid(&seen, getpid())));
	id = sm->id;
	CHECK_EQ(mirror_get(s, id, &seen), 0);
	CHECK_EQ(seen.n, 1);
	CHECK_EQ(seen.m[0].id, id);
	CHECK_EQ(seen.m[0].tgid, getpid());
	CHECK_EQ(mirror_get(s, 0x7ffffff0, &seen), -ENOENT);
	REQ(&m, HMM_DUMMY_CMD_MIRROR_GET, 0);
	CHECK_EQ(xfer(s, &m, NULL), -EINVAL);
	REQ(&m, HMM_DUMMY_CMD_MIRROR_GET, 0);
	put_u32(&m, HMM_DUMMY_A_MIRROR_ID, 0);
	CHECK(is_einval_or_erange(xfer(s, &m, NULL)));
	REQ(&m, HMM_DUMMY_CMD_MIRROR_GET, NLM_F_DUMP);
	put_u32(&m, HMM_DUMMY_A_MIRROR_ID, id);
	CHECK_EQ(xfer(s, &m, NULL), -EINVAL);
	close(fd);
	CHECK_EQ(mirror_get(s, id, &seen), -ENOENT);
	return TAP_PASS;
}

/* After SET_RANGE, MIRROR_GET (dump and do) gives that range, not 0. */
static int set_range_start(void)
{
	struct seen seen;
	int s = setup(), fd;
	const struct seen_mirror *sm;
	uint64_t start, end;
	char *p;

	CHECK(s >= 0);
	CHECK((fd = dummy_open(0)) >= 0);
	CHECK((p = anon_map(16)));
	CHECK_OK(dummy_set_range(fd, p + 4 * PAGE, 8));
	start = (uintptr_t)p + 4 * PAGE;
	end = start + 8 * PAGE;
	CHECK_EQ(mirror_get(s, 0, &seen), 0);
	CHECK((sm = find_tgid(&seen, getpid())));
	diag("mirror %u: [%#" PRIx64 ", %#" PRIx64 ")", sm->id, sm->start, sm->end);
	CHECK_EQ(sm->start, start);
	CHECK_EQ(sm->end, end);
	CHECK_EQ(mirror_get(s, sm->id, &seen), 0);
	CHECK_EQ(seen.n, 1);
	CHECK_EQ(seen.m[0].start, start);
	CHECK_EQ(seen.m[0].end, end);
	close(fd);
	return TAP_PASS;
}

/* Drop to uid and gid 65534 for good (no groups, no capabilities). */
static int become_nobody(void)
{
	return setgroups(0, NULL) || setresgid(65534, 65534, 65534) ||
	       setresuid(65534, 65534, 65534) ? -1 : 0;
}

/*
 * In a child, as uid 65534: whether mirror id shows in the dump and to the
 * do (1 both, 0 neither; anything else fails), and, if it shows, with
 * tgid; and DEV_GET's count of device dev.
 */
static int nobody_sees(uint32_t id, uint32_t tgid, int dev, uint32_t count)
{
	int st;
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (pid == 0) {
		struct seen seen;
		uint32_t counts[4];
		const struct seen_mirror *sm;
		int s, r, in_dump, in_do;

		if (become_nobody())
			_exit(10);
		s = setup();
		if (s < 0 || mirror_get(s, 0, &seen))
			_exit(11);
		sm = find_id(&seen, id);
		in_dump = sm != NULL;
		if (sm && sm->tgid != tgid)
			_exit(12);
		r = mirror_get(s, id, &seen);
		in_do = r == 0;
		if ((r && r != -ENOENT) || (in_do && seen.m[0].tgid != tgid))
			_exit(13);
		if (in_dump != in_do)
			_exit(14);
		if (dev_mirrors(s, counts) || counts[dev] != count)
			_exit(15);
		_exit(in_do);
	}
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
		return -1;
	if (WEXITSTATUS(st) > 1)
		diag("uid 65534 child: exit %d", WEXITSTATUS(st));
	return WEXITSTATUS(st);
}

/* uid 65534 sees neither root's mirror nor it in DEV_GET's count. */
static int nobody_not_root(void)
{
	struct seen seen;
	int s = setup(), fd;
	const struct seen_mirror *sm;

	CHECK(s >= 0);
	CHECK((fd = dummy_open(1)) >= 0);
	CHECK_EQ(mirror_get(s, 0, &seen), 0);
	CHECK((sm = find_tgid(&seen, getpid())));
	CHECK_EQ(nobody_sees(sm->id, 0, 1, 0), 0);
	close(fd);
	return TAP_PASS;
}

/*
 * A mirror owned by a uid-65534 process: a child opens the device as root
 * (device nodes are root-only), then drops to uid 65534 for good, and with
 * it every capability. The owner sees its own mirror; another uid-65534
 * process sees it too (the credential checks of ptrace read access; the
 * owner's dumpability, which setresuid() cleared, is not checked), and
 * root does.
 */
static int nobody_own(void)
{
	int to_owner[2], from_owner[2], st, s = setup();
	struct seen seen;
	uint32_t id = 0;
	char c = 0;
	pid_t owner;

	CHECK(s >= 0);
	CHECK_OK(pipe(to_owner));
	CHECK_OK(pipe(from_owner));
	owner = fork();
	CHECK(owner >= 0);
	if (owner == 0) {
		const struct seen_mirror *sm;
		int fd = dummy_open(0), ns;

		close(to_owner[1]);
		close(from_owner[0]);
		if (fd < 0 || become_nobody())
			_exit(10);
		ns = setup();
		/* Its own: in the dump and to the do, with its tgid. */
		if (ns < 0 || mirror_get(ns, 0, &seen) ||
		    !(sm = find_tgid(&seen, getpid())))
			_exit(11);
		id = sm->id;
		if (mirror_get(ns, id, &seen) || seen.n != 1 ||
		    seen.m[0].tgid != (uint32_t)getpid())
			_exit(12);
		if (write(from_owner[1], &id, sizeof(id)) != sizeof(id) ||
		    read(to_owner[0], &c, 1) < 0)
			_exit(13);
		_exit(0);
	}
	close(to_owner[0]);
	close(from_owner[1]);
	CHECK_EQ(read(from_owner[0], &id, sizeof(id)), sizeof(id));
	diag("mirror %u of pid %d, uid 65534", id, owner);
	CHECK_EQ(nobody_sees(id, owner, 0, 1), 1);
	/* Root sees it, with the owner's pid. */
	CHECK_EQ(mirror_get(s, id, &seen), 0);
	CHECK_EQ(seen.m[0].tgid, owner);
	CHECK_EQ(write(to_owner[1], "x", 1), 1);
	CHECK(waitpid(owner, &st, 0) == owner && WIFEXITED(st));
	CHECK_EQ(WEXITSTATUS(st), 0);
	/* Closed: gone, for root too. */
	CHECK_EQ(mirror_get(s, id, &seen), -ENOENT);
	return TAP_PASS;
}

/*
 * tgid in the caller's pid namespace: pid 1 of a new pid namespace (root,
 * so it sees every mirror) sees its own mirror as tgid 1 and this
 * process's, which is outside its namespace, as tgid 0.
 */
static int pid_namespace(void)
{
	int s = setup(), fd, st;
	struct seen seen;
	const struct seen_mirror *sm;
	uint32_t id;
	pid_t pid;

	CHECK(s >= 0);
	CHECK((fd = dummy_open(0)) >= 0);
	CHECK_EQ(mirror_get(s, 0, &seen), 0);
	CHECK((sm = find_tgid(&seen, getpid())));
	id = sm->id;
	if (unshare(CLONE_NEWPID))
		return tap_skip_reason("unshare(CLONE_NEWPID): %s", strerror(errno));
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		const struct seen_mirror *own;
		int ns = setup(), myfd = dummy_open(1);

		if (getpid() != 1 || ns < 0 || myfd < 0)
			_exit(10);
		if (mirror_get(ns, 0, &seen) || !(sm = find_id(&seen, id)))
			_exit(11);
		if (sm->tgid != 0)
			_exit(12);
		if (!(own = find_tgid(&seen, 1)) || own->id == id)
			_exit(13);
		if (mirror_get(ns, id, &seen) || seen.m[0].tgid != 0)
			_exit(14);
		_exit(0);
	}
	CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st));
	CHECK_EQ(WEXITSTATUS(st), 0);
	close(fd);
	return TAP_PASS;
}

static const struct tap_case cases[] = {
	{ "resolves", resolves, 0 },
	{ "baseline", baseline, 0 },
	{ "unknown_commands", unknown_commands, 0 },
	{ "strict_attributes", strict_attributes, 0 },
	{ "bad_values", bad_values, 0 },
	{ "truncated", truncated, 0 },
	{ "reserved_field", reserved_field, 0 },
	{ "random_messages", random_messages, 120 },
	{ "events_wire_format", events_wire_format, 0 },
	{ "unprivileged", unprivileged, 0 },
	{ "mirror_get_do", mirror_get_do, 0 },
	{ "set_range_start", set_range_start, 0 },
	{ "nobody_not_root", nobody_not_root, 0 },
	{ "nobody_own", nobody_own, 0 },
	{ "pid_namespace", pid_namespace, 0 },
};

int main(int argc, char **argv)
{
	const char *env = getenv("HMM_TEST_SEED");
	int i;

	random_seed = (unsigned int)time(NULL) ^ (unsigned int)getpid() << 16;
	if (env && *env)
		random_seed = strtoul(env, NULL, 0);
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--seed") && i + 1 < argc) {
			random_seed = strtoul(argv[++i], NULL, 0);
		} else {
			fprintf(stderr, "usage: netlink_raw [--seed N]\n");
			return 2;
		}
	}
	return TAP_MAIN(cases);
}
