// SPDX-License-Identifier: GPL-2.0
/*
 * netlink_raw - hmm_core's and hmm_dummy's families against hand-built
 * messages
 *
 * A raw NETLINK_GENERIC socket, no library: both families are resolved
 * through the controller by hand (hmm_core's, which lists every driver's
 * mirrors and has the events group, and hmm_dummy's, which keeps what is
 * about its device: DEV_GET and PTE_GET), then sent unknown commands,
 * notification commands, attributes they do not take, attributes of the
 * wrong length, zero, bogus nla_len values, truncated headers, a non-zero
 * reserved byte, and a seeded stream of random messages. Each must get an
 * error (or, for a datagram whose nlmsg_len lies past its end, be ignored)
 * and leave the socket and the kernel working: vm-run fails the run on any
 * splat. Also: the wire format of hmm_core's REGISTER_NTF event (and that
 * hmm_dummy's PTE_GET takes the id it names), what uid 65534 may not do,
 * and who sees whose mirrors in hmm_core's MIRROR_GET and hmm_dummy's
 * DEV_GET count (uid 65534 not root's, a process its own and another
 * process's of the same user, as ptrace read access), MIRROR_GET's range
 * after SET_RANGE, and its tgid in the caller's pid namespace.
 *
 * kselftest_harness.h: one fixture, netlink, whose setup opens a socket
 * and resolves both families; run one case with "netlink_raw -t NAME", list
 * them with "netlink_raw -l". The raw client is nl_raw.h; hand-built bytes
 * stay where a case sends a malformed message.
 *
 * netlink_raw [--seed N] [harness options]: the random messages' seed (also
 * from the environment, HMM_TEST_SEED; --seed wins), taken out of the
 * arguments before the harness parses them; printed by random_messages
 * either way, to replay a run: netlink_raw --seed N -t random_messages.
 */
#define _GNU_SOURCE
#include "kselftest_harness.h"
#include "dummy_util.h"
#include "nl_raw.h"
#include "hmm_core_nl.h"

#include <grp.h>
#include <inttypes.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>

static int core_id, events_grp, dummy_id, dummy_grp;
static unsigned int random_seed;

/* Send m, read to its ACK, error or end: see nl_xfer(). */
static int xfer(int s, struct nl_msg *m, int *n)
{
	return nl_xfer(s, m, n, NULL, NULL);
}

/*
 * A socket, hmm_core's family id and events group, and hmm_dummy's family
 * id (and its "events" group, which it no longer has: dummy_grp stays 0);
 * -1 if not all three.
 */
static int setup(void)
{
	struct nl_family f;
	int s = nl_open_family(HMM_CORE_FAMILY_NAME, HMM_CORE_MCGRP_EVENTS, &f);

	if (s < 0)
		return -1;
	core_id = f.id;
	events_grp = f.grp;
	if (nl_resolve(s, HMM_DUMMY_FAMILY_NAME, "events", &f) || f.id <= 0) {
		close(s);
		return -1;
	}
	dummy_id = f.id;
	dummy_grp = f.grp;
	return s;
}

#define CORE(m, cmd, flags) nl_msg_init(m, core_id, cmd, flags)
#define DUMMY(m, cmd, flags) nl_msg_init(m, dummy_id, cmd, flags)

/* Every case: a socket of its own, the families resolved through it. */
FIXTURE(netlink) {
	int s;
};

FIXTURE_SETUP(netlink)
{
	self->s = setup();
	ASSERT_LE(0, self->s)
		TH_LOG("socket or families %s, %s: %s", HMM_CORE_FAMILY_NAME,
		       HMM_DUMMY_FAMILY_NAME, strerror(errno));
}

FIXTURE_TEARDOWN(netlink)
{
	if (self->s >= 0)
		close(self->s);
}

/* Resolving (the fixture's): two families, the events group hmm_core's. */
TEST_F_TIMEOUT(netlink, resolves, 60)
{
	ASSERT_LE(0, self->s);
	ASSERT_LT(0, core_id);
	ASSERT_LT(0, events_grp);
	ASSERT_LT(0, dummy_id);
	ASSERT_NE(core_id, dummy_id);
	/* hmm_dummy's events are hmm_core's now. */
	ASSERT_EQ(0, dummy_grp);
	hmm_diag("hmm_core %d (events group %d), hmm_dummy %d", core_id,
		 events_grp, dummy_id);
}

/* Well-formed requests work: the baseline of every error case below. */
TEST_F_TIMEOUT(netlink, baseline, 60)
{
	struct nl_msg m;
	int s = self->s, n;

	CORE(&m, HMM_CORE_CMD_STATS_GET, 0);
	ASSERT_EQ(xfer(s, &m, &n), 0);
	ASSERT_EQ(n, 1);
	CORE(&m, HMM_CORE_CMD_MIRROR_GET, NLM_F_DUMP);
	ASSERT_EQ(xfer(s, &m, &n), 0);
	CORE(&m, HMM_CORE_CMD_MM_GET, NLM_F_DUMP);
	ASSERT_EQ(xfer(s, &m, &n), 0);
	DUMMY(&m, HMM_DUMMY_CMD_DEV_GET, NLM_F_DUMP);
	ASSERT_EQ(xfer(s, &m, &n), 0);
	ASSERT_EQ(n, 4);
}

/*
 * Unknown commands, events sent as requests, do/dump mix-ups; for
 * hmm_dummy also the numbers of the commands it gave to hmm_core
 * (mirror-get 2, stats-get 4, its events 5 to 8).
 */
TEST_F_TIMEOUT(netlink, unknown_commands, 60)
{
	static const uint8_t core_cmds[] = {
		0, HMM_CORE_CMD_MAX + 1, 100, 255,
		HMM_CORE_CMD_INVALIDATE_NTF, HMM_CORE_CMD_REGISTER_NTF,
		HMM_CORE_CMD_UNREGISTER_NTF, HMM_CORE_CMD_RELEASE_NTF,
		HMM_CORE_CMD_VERIFY_NTF,
	};
	static const uint8_t dummy_cmds[] = {
		0, 2, 4, 5, 6, 7, 8, HMM_DUMMY_CMD_MAX + 1, 100, 255,
	};
	struct nl_msg m;
	int s = self->s;
	unsigned int i;

	for (i = 0; i < sizeof(core_cmds); i++) {
		CORE(&m, core_cmds[i], 0);
		ASSERT_EQ(xfer(s, &m, NULL), -EOPNOTSUPP);
		CORE(&m, core_cmds[i], NLM_F_DUMP);
		ASSERT_EQ(xfer(s, &m, NULL), -EOPNOTSUPP);
	}
	for (i = 0; i < sizeof(dummy_cmds); i++) {
		DUMMY(&m, dummy_cmds[i], 0);
		ASSERT_EQ(xfer(s, &m, NULL), -EOPNOTSUPP);
		DUMMY(&m, dummy_cmds[i], NLM_F_DUMP);
		ASSERT_EQ(xfer(s, &m, NULL), -EOPNOTSUPP);
	}
	DUMMY(&m, HMM_DUMMY_CMD_DEV_GET, 0);		/* a dump, as a do */
	ASSERT_EQ(xfer(s, &m, NULL), -EOPNOTSUPP);
	DUMMY(&m, HMM_DUMMY_CMD_PTE_GET, 0);
	ASSERT_EQ(xfer(s, &m, NULL), -EOPNOTSUPP);
	CORE(&m, HMM_CORE_CMD_MM_GET, 0);
	ASSERT_EQ(xfer(s, &m, NULL), -EOPNOTSUPP);
	CORE(&m, HMM_CORE_CMD_STATS_GET, NLM_F_DUMP);	/* a do, as a dump */
	ASSERT_EQ(xfer(s, &m, NULL), -EOPNOTSUPP);
}

/* Attributes a command does not take are rejected, not ignored. */
TEST_F_TIMEOUT(netlink, strict_attributes, 60)
{
	static const uint16_t types[] = { 1, 2, 7, 50, 0x7fff };
	struct nl_msg m;
	int s = self->s;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(types); i++) {
		CORE(&m, HMM_CORE_CMD_STATS_GET, 0);
		nl_put_u32(&m, types[i], 1);
		ASSERT_EQ(xfer(s, &m, NULL), -EINVAL);
		CORE(&m, HMM_CORE_CMD_MIRROR_GET, NLM_F_DUMP);
		nl_put_u32(&m, types[i], 1);
		ASSERT_EQ(xfer(s, &m, NULL), -EINVAL);
		CORE(&m, HMM_CORE_CMD_MM_GET, NLM_F_DUMP);
		nl_put_u32(&m, types[i], 1);
		ASSERT_EQ(xfer(s, &m, NULL), -EINVAL);
		DUMMY(&m, HMM_DUMMY_CMD_DEV_GET, NLM_F_DUMP);
		nl_put_u32(&m, types[i], 1);
		ASSERT_EQ(xfer(s, &m, NULL), -EINVAL);
	}
	/* MIRROR_GET's do: reply-only attributes, and types past its policy. */
	for (i = HMM_CORE_A_MIRROR_DRIVER; i <= HMM_CORE_A_MIRROR_MAX + 1; i++) {
		CORE(&m, HMM_CORE_CMD_MIRROR_GET, 0);
		nl_put_u32(&m, HMM_CORE_A_MIRROR_ID, 1);
		nl_put_u64(&m, i, 0);
		ASSERT_EQ(xfer(s, &m, NULL), -EINVAL);
	}
	/* PTE_GET: reply-only attributes, and types past its policy. */
	for (i = HMM_DUMMY_A_PTE_ADDR; i <= HMM_DUMMY_A_PTE_MAX + 1; i++) {
		DUMMY(&m, HMM_DUMMY_CMD_PTE_GET, NLM_F_DUMP);
		nl_put_u32(&m, HMM_DUMMY_A_PTE_MIRROR_ID, 1);
		nl_put_u64(&m, i, 0);
		ASSERT_EQ(xfer(s, &m, NULL), -EINVAL);
	}
}

static bool is_einval_or_erange(int r)
{
	return r == -EINVAL || r == -ERANGE;
}

/* Wrong types and lengths, a zero id, a missing id, no such mirror. */
TEST_F_TIMEOUT(netlink, bad_values, 60)
{
	uint8_t junk[16] = { 0 };
	struct nl_msg m;
	int s = self->s, r;

#define MIRROR_CASE(setup_attrs, want) do {				\
		CORE(&m, HMM_CORE_CMD_MIRROR_GET, 0);			\
		setup_attrs;						\
		r = xfer(s, &m, NULL);					\
		ASSERT_TRUE(want)					\
			TH_LOG("%s: got %d", #setup_attrs, r);		\
	} while (0)
#define PTE_CASE(setup_attrs, want) do {				\
		DUMMY(&m, HMM_DUMMY_CMD_PTE_GET, NLM_F_DUMP);		\
		setup_attrs;						\
		r = xfer(s, &m, NULL);					\
		ASSERT_TRUE(want)					\
			TH_LOG("%s: got %d", #setup_attrs, r);		\
	} while (0)

	MIRROR_CASE(nl_put_attr(&m, HMM_CORE_A_MIRROR_ID, junk, 2), is_einval_or_erange(r));
	MIRROR_CASE(nl_put_attr(&m, HMM_CORE_A_MIRROR_ID, junk, 0), is_einval_or_erange(r));
	MIRROR_CASE(nl_put_u64(&m, HMM_CORE_A_MIRROR_ID, 1), r == -EINVAL);
	MIRROR_CASE(nl_put_u32(&m, HMM_CORE_A_MIRROR_ID, 0), is_einval_or_erange(r));
	MIRROR_CASE(nl_put_attr(&m, HMM_CORE_A_MIRROR_ID | NLA_F_NESTED, junk, 4),
		    r == -EINVAL);
	MIRROR_CASE((void)0, r == -EINVAL);
	MIRROR_CASE(nl_put_u32(&m, HMM_CORE_A_MIRROR_ID, 0x7ffffff0), r == -ENOENT);

	PTE_CASE(nl_put_attr(&m, HMM_DUMMY_A_PTE_MIRROR_ID, junk, 2), is_einval_or_erange(r));
	PTE_CASE(nl_put_attr(&m, HMM_DUMMY_A_PTE_MIRROR_ID, junk, 0), is_einval_or_erange(r));
	PTE_CASE(nl_put_u64(&m, HMM_DUMMY_A_PTE_MIRROR_ID, 1), r == -EINVAL);
	PTE_CASE(nl_put_u32(&m, HMM_DUMMY_A_PTE_MIRROR_ID, 0), is_einval_or_erange(r));
	PTE_CASE((nl_put_u32(&m, HMM_DUMMY_A_PTE_MIRROR_ID, 1),
		  nl_put_u32(&m, HMM_DUMMY_A_PTE_START, 0)), is_einval_or_erange(r));
	PTE_CASE((nl_put_u32(&m, HMM_DUMMY_A_PTE_MIRROR_ID, 1),
		  nl_put_attr(&m, HMM_DUMMY_A_PTE_END, junk, 16)), r == -EINVAL);
	PTE_CASE((nl_put_u32(&m, HMM_DUMMY_A_PTE_MIRROR_ID, 1),
		  nl_put_attr(&m, HMM_DUMMY_A_PTE_END | NLA_F_NESTED, junk, 8)),
		 r == -EINVAL);
	/* Well-formed, but wrong. */
	PTE_CASE(nl_put_u64(&m, HMM_DUMMY_A_PTE_START, 0), r == -EINVAL);
	PTE_CASE(nl_put_u32(&m, HMM_DUMMY_A_PTE_MIRROR_ID, 0x7ffffff0), r == -ENOENT);
}

/* Truncated and lying headers. */
TEST_F_TIMEOUT(netlink, truncated, 60)
{
	struct nl_msg m;
	int s = self->s, n;

	/* The genl header cut short. */
	CORE(&m, HMM_CORE_CMD_STATS_GET, 0);
	m.nlh.nlmsg_len = NLMSG_HDRLEN + 2;
	ASSERT_EQ(xfer(s, &m, NULL), -EINVAL);
	DUMMY(&m, HMM_DUMMY_CMD_DEV_GET, NLM_F_DUMP);
	m.nlh.nlmsg_len = NLMSG_HDRLEN + 2;
	ASSERT_EQ(xfer(s, &m, NULL), -EINVAL);
	/* No genl header at all. */
	CORE(&m, HMM_CORE_CMD_STATS_GET, 0);
	m.nlh.nlmsg_len = NLMSG_HDRLEN;
	ASSERT_EQ(xfer(s, &m, NULL), -EINVAL);
	/* An attribute longer than the message. */
	CORE(&m, HMM_CORE_CMD_MIRROR_GET, 0);
	nl_put_attr_len(&m, HMM_CORE_A_MIRROR_ID, "\1\0\0\0", 4, 64);
	ASSERT_EQ(xfer(s, &m, NULL), -EINVAL);
	DUMMY(&m, HMM_DUMMY_CMD_PTE_GET, NLM_F_DUMP);
	nl_put_attr_len(&m, HMM_DUMMY_A_PTE_MIRROR_ID, "\1\0\0\0", 4, 64);
	ASSERT_EQ(xfer(s, &m, NULL), -EINVAL);
	/* An attribute shorter than its own header. */
	CORE(&m, HMM_CORE_CMD_MIRROR_GET, 0);
	nl_put_attr_len(&m, HMM_CORE_A_MIRROR_ID, "\1\0\0\0", 4, 2);
	ASSERT_EQ(xfer(s, &m, NULL), -EINVAL);
	DUMMY(&m, HMM_DUMMY_CMD_PTE_GET, NLM_F_DUMP);
	nl_put_attr_len(&m, HMM_DUMMY_A_PTE_MIRROR_ID, "\1\0\0\0", 4, 2);
	ASSERT_EQ(xfer(s, &m, NULL), -EINVAL);
	/* Trailing bytes too short for an attribute. */
	CORE(&m, HMM_CORE_CMD_STATS_GET, 0);
	m.nlh.nlmsg_len += 2;
	ASSERT_EQ(xfer(s, &m, NULL), -EINVAL);
	/* nlmsg_len past the datagram: the kernel drops it, says nothing. */
	CORE(&m, HMM_CORE_CMD_STATS_GET, 0);
	m.nlh.nlmsg_len = 200;
	ASSERT_EQ(nl_xfer_raw(s, &m, NLMSG_LENGTH(GENL_HDRLEN), NULL, NULL,
			      NULL), NL_NO_REPLY);
	/* Shorter than a netlink header: dropped as well. */
	ASSERT_EQ(nl_xfer_raw(s, &m, 6, NULL, NULL, NULL), NL_NO_REPLY);
	/* And the socket still works. */
	CORE(&m, HMM_CORE_CMD_STATS_GET, 0);
	ASSERT_EQ(xfer(s, &m, &n), 0);
	ASSERT_EQ(n, 1);
}

/* The genl header's reserved field must be zero. */
TEST_F_TIMEOUT(netlink, reserved_field, 60)
{
	struct nl_msg m;
	int s = self->s;

	CORE(&m, HMM_CORE_CMD_STATS_GET, 0);
	m.gh.reserved = 1;
	ASSERT_EQ(xfer(s, &m, NULL), -EINVAL);
	CORE(&m, HMM_CORE_CMD_MM_GET, NLM_F_DUMP);
	m.gh.reserved = 0x8000;
	ASSERT_EQ(xfer(s, &m, NULL), -EINVAL);
	DUMMY(&m, HMM_DUMMY_CMD_DEV_GET, NLM_F_DUMP);
	m.gh.reserved = 0x8000;
	ASSERT_EQ(xfer(s, &m, NULL), -EINVAL);
}

/*
 * What the kernel did with one random message: read until the ACK of the
 * probe sent right behind it (hmm_core's STATS_GET, seq PROBE_SEQ), which
 * proves that the random one was handled or dropped by then, and until the
 * NLMSG_DONE of the random one if it started a dump (whose later parts
 * come only as the socket is read).
 */
#define PROBE_SEQ 0x7fff0000u

enum fate { ANSWERED, ERRORED, IGNORED, BROKEN };

static enum fate random_fate(int s, const struct nl_msg *m, size_t len)
{
	static char buf[1 << 16];
	bool answered = false, errored = false, in_dump = false, acked = false;
	struct nl_msg probe;

	nl_msg_init(&probe, core_id, HMM_CORE_CMD_STATS_GET, 0);
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
 * Seeded random messages to either family, each followed by a probe: each
 * is answered, or refused with an error, or ignored (a datagram shorter
 * than its nlmsg_len, a header shorter than a netlink header, a message
 * without NLM_F_REQUEST that asks no ACK), and the socket survives all of
 * them.
 */
TEST_F_TIMEOUT(netlink, random_messages, 120)
{
	unsigned int i, fates[BROKEN + 1] = { 0 };
	struct nl_msg m;
	int s = self->s;

	hmm_diag("seed %u (replay: netlink_raw --seed %u -t random_messages)",
		 random_seed, random_seed);
	srand(random_seed);
	for (i = 0; i < 3000; i++) {
		int nattrs = rand() % 5, a, how = rand() % 16;
		bool core = rand() % 2;
		size_t len;
		enum fate f;

		if (core)
			CORE(&m, rand() % (HMM_CORE_CMD_MAX + 3),
			     rand() % 2 ? NLM_F_DUMP : 0);
		else
			DUMMY(&m, rand() % (HMM_DUMMY_CMD_MAX + 3),
			      rand() % 2 ? NLM_F_DUMP : 0);
		for (a = 0; a < nattrs; a++) {
			uint8_t data[24];
			size_t alen = rand() % sizeof(data);
			size_t k;

			for (k = 0; k < alen; k++)
				data[k] = rand();
			if (rand() % 8)
				nl_put_attr(&m, rand() % (core ? HMM_CORE_A_MIRROR_MAX + 2 :
							  HMM_DUMMY_A_PTE_MAX + 2),
					    data, alen);
			else
				nl_put_attr_len(&m, rand() % 16, data, alen,
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
			hmm_diag("message %u (%s, how %d, %zu bytes): no answer to the probe",
				 i, core ? "hmm_core" : "hmm_dummy", how, len);
		ASSERT_TRUE(f != BROKEN);
		fates[f]++;
	}
	hmm_diag("%u answered, %u errors, %u ignored", fates[ANSWERED],
		 fates[ERRORED], fates[IGNORED]);
	ASSERT_TRUE(fates[ANSWERED] > 0 && fates[ERRORED] > 0 && fates[IGNORED] > 0);
	CORE(&m, HMM_CORE_CMD_STATS_GET, 0);
	ASSERT_EQ(xfer(s, &m, NULL), 0);
}

static int event_cmd;
static uint32_t event_tgid, event_id;
static char event_driver[64], event_label[HMM_CORE_LABEL_LEN];

static void event_parse(const struct nlmsghdr *nlh)
{
	const struct genlmsghdr *gh = NLMSG_DATA(nlh);
	const struct nlattr *a, *next;
	int len;

	event_cmd = gh->cmd;
	for (a = nl_msg_attrs(nlh, &len); (next = nl_attr_next(a, &len));
	     a = next) {
		if (a->nla_type == HMM_CORE_A_EVENT_TGID && a->nla_len == 8)
			event_tgid = *(const uint32_t *)nl_attr_data(a);
		if (a->nla_type == HMM_CORE_A_EVENT_MIRROR_ID && a->nla_len == 8)
			event_id = *(const uint32_t *)nl_attr_data(a);
		if (a->nla_type == HMM_CORE_A_EVENT_DRIVER)
			snprintf(event_driver, sizeof(event_driver), "%.*s",
				 nl_attr_len(a), (const char *)nl_attr_data(a));
		if (a->nla_type == HMM_CORE_A_EVENT_LABEL)
			snprintf(event_label, sizeof(event_label), "%.*s",
				 nl_attr_len(a), (const char *)nl_attr_data(a));
	}
}

/*
 * Root joins hmm_core's events group and gets a well-formed REGISTER_NTF
 * of an hmm_dummy file; the mirror it names then has its PTE_GET range
 * checked in hmm_dummy's family, which names mirrors by hmm_core's id.
 */
TEST_F_TIMEOUT(netlink, events_wire_format, 60)
{
	static const uint64_t ranges[][2] = {
		{ 1, 0x10000 }, { 0, 0x10001 }, { 0x2000, 0x1000 },
		{ 0x1000, 0x1000 }, { 0, 0x7ffffffffffff000ULL },
	};
	static char buf[8192];
	int s = self->s, s2, fd, i, n;
	struct nl_msg m;
	bool seen = false;
	unsigned int k;

	ASSERT_OK(setsockopt(s, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &events_grp,
			     sizeof(events_grp)));
	ASSERT_LE(0, (fd = dummy_open(0)));
	for (i = 0; i < 100 && !seen; i++) {
		ssize_t r = recv(s, buf, sizeof(buf), 0);
		struct nlmsghdr *nlh;

		ASSERT_LT(0, r);
		for (nlh = (void *)buf; NLMSG_OK(nlh, (size_t)r); nlh = NLMSG_NEXT(nlh, r)) {
			ASSERT_EQ(nlh->nlmsg_type, core_id);
			event_tgid = 0;
			event_parse(nlh);
			if (event_cmd == HMM_CORE_CMD_REGISTER_NTF &&
			    event_tgid == (uint32_t)getpid()) {
				seen = true;
				break;
			}
		}
	}
	ASSERT_TRUE(seen);
	ASSERT_LT(0, event_id);
	ASSERT_STREQ("hmm_dummy", event_driver);
	ASSERT_STREQ("hmm_dummy0", event_label);

	/* That mirror's range checks: aligned, non-empty, in user space. */
	s2 = setup();
	ASSERT_LE(0, s2);
	for (k = 0; k < ARRAY_SIZE(ranges); k++) {
		DUMMY(&m, HMM_DUMMY_CMD_PTE_GET, NLM_F_DUMP);
		nl_put_u32(&m, HMM_DUMMY_A_PTE_MIRROR_ID, event_id);
		nl_put_u64(&m, HMM_DUMMY_A_PTE_START, ranges[k][0]);
		nl_put_u64(&m, HMM_DUMMY_A_PTE_END, ranges[k][1]);
		ASSERT_EQ(xfer(s2, &m, NULL), -EINVAL)
			TH_LOG("range [%#" PRIx64 ", %#" PRIx64 ")",
			       ranges[k][0], ranges[k][1]);
	}
	DUMMY(&m, HMM_DUMMY_CMD_PTE_GET, NLM_F_DUMP);
	nl_put_u32(&m, HMM_DUMMY_A_PTE_MIRROR_ID, event_id);
	ASSERT_EQ(xfer(s2, &m, &n), 0);
	ASSERT_EQ(n, 0);
	close(s2);
	close(fd);
}

/*
 * uid 65534: no PTE_GET (EPERM), no events group (EPERM); the reads are
 * fine (STATS_GET, MIRROR_GET, MM_GET, DEV_GET).
 */
TEST_F_TIMEOUT(netlink, unprivileged, 60)
{
	int st;
	pid_t pid = fork();

	ASSERT_TRUE(pid >= 0);
	if (pid == 0) {
		struct nl_msg m;
		int s, grp;

		if (setgroups(0, NULL) || setgid(65534) || setuid(65534))
			_exit(10);
		s = setup();
		if (s < 0)
			_exit(11);
		DUMMY(&m, HMM_DUMMY_CMD_PTE_GET, NLM_F_DUMP);
		nl_put_u32(&m, HMM_DUMMY_A_PTE_MIRROR_ID, 1);
		if (xfer(s, &m, NULL) != -EPERM)
			_exit(12);
		grp = events_grp;
		if (setsockopt(s, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &grp,
			       sizeof(grp)) != -1 || errno != EPERM)
			_exit(13);
		CORE(&m, HMM_CORE_CMD_STATS_GET, 0);
		if (xfer(s, &m, NULL) != 0)
			_exit(14);
		DUMMY(&m, HMM_DUMMY_CMD_DEV_GET, NLM_F_DUMP);
		if (xfer(s, &m, NULL) != 0)
			_exit(15);
		CORE(&m, HMM_CORE_CMD_MIRROR_GET, NLM_F_DUMP);
		if (xfer(s, &m, NULL) != 0)
			_exit(16);
		CORE(&m, HMM_CORE_CMD_MM_GET, NLM_F_DUMP);
		if (xfer(s, &m, NULL) != 0)
			_exit(17);
		_exit(0);
	}
	ASSERT_TRUE(waitpid(pid, &st, 0) == pid);
	ASSERT_TRUE(WIFEXITED(st));
	ASSERT_EQ(WEXITSTATUS(st), 0);
}

/* The mirrors a MIRROR_GET answer (hmm_core's) lists, at most MAX_SEEN. */
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
	const struct genlmsghdr *gh = NLMSG_DATA(nlh);
	const struct nlattr *a, *next;
	struct seen *seen = arg;
	int len;
	struct seen_mirror *sm;

	if (gh->cmd != HMM_CORE_CMD_MIRROR_GET || seen->n == MAX_SEEN)
		return;
	sm = &seen->m[seen->n++];
	memset(sm, 0, sizeof(*sm));
	for (a = nl_msg_attrs(nlh, &len); (next = nl_attr_next(a, &len));
	     a = next) {
		if (a->nla_type == HMM_CORE_A_MIRROR_ID && a->nla_len == 8)
			sm->id = *(const uint32_t *)nl_attr_data(a);
		if (a->nla_type == HMM_CORE_A_MIRROR_TGID && a->nla_len == 8)
			sm->tgid = *(const uint32_t *)nl_attr_data(a);
		if (a->nla_type == HMM_CORE_A_MIRROR_START && a->nla_len == 12)
			memcpy(&sm->start, nl_attr_data(a), 8);
		if (a->nla_type == HMM_CORE_A_MIRROR_END && a->nla_len == 12)
			memcpy(&sm->end, nl_attr_data(a), 8);
	}
}

/* MIRROR_GET, the dump (id 0) or the do of one id, into *seen. */
static int mirror_get(int s, uint32_t id, struct seen *seen)
{
	struct nl_msg m;

	seen->n = 0;
	if (id) {
		CORE(&m, HMM_CORE_CMD_MIRROR_GET, 0);
		nl_put_u32(&m, HMM_CORE_A_MIRROR_ID, id);
	} else {
		CORE(&m, HMM_CORE_CMD_MIRROR_GET, NLM_F_DUMP);
	}
	return nl_xfer_raw(s, &m, m.nlh.nlmsg_len, NULL, mirror_cb, seen);
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
	const struct nlattr *a, *next;
	uint32_t index = UINT32_MAX, mirrors = 0;
	uint32_t *out = arg;
	int len;

	for (a = nl_msg_attrs(nlh, &len); (next = nl_attr_next(a, &len));
	     a = next) {
		if (a->nla_type == HMM_DUMMY_A_DEV_INDEX && a->nla_len == 8)
			index = *(const uint32_t *)nl_attr_data(a);
		if (a->nla_type == HMM_DUMMY_A_DEV_MIRRORS && a->nla_len == 8)
			mirrors = *(const uint32_t *)nl_attr_data(a);
	}
	if (index < 4)
		out[index] = mirrors;
}

/* DEV_GET's mirror count of each of the four devices, into counts. */
static int dev_mirrors(int s, uint32_t counts[4])
{
	struct nl_msg m;

	memset(counts, 0xff, 4 * sizeof(*counts));
	DUMMY(&m, HMM_DUMMY_CMD_DEV_GET, NLM_F_DUMP);
	return nl_xfer_raw(s, &m, m.nlh.nlmsg_len, NULL, dev_cb, counts);
}

/* MIRROR_GET's do: one mirror by id; no id, an id of 0, a dump with one. */
TEST_F_TIMEOUT(netlink, mirror_get_do, 60)
{
	struct seen seen;
	struct nl_msg m;
	int s = self->s, fd;
	const struct seen_mirror *sm;
	uint32_t id;

	ASSERT_LE(0, (fd = dummy_open(0)));
	ASSERT_EQ(mirror_get(s, 0, &seen), 0);
	ASSERT_NE(NULL, (sm = find_tgid(&seen, getpid())));
	id = sm->id;
	ASSERT_EQ(mirror_get(s, id, &seen), 0);
	ASSERT_EQ(seen.n, 1);
	ASSERT_EQ(seen.m[0].id, id);
	ASSERT_EQ(seen.m[0].tgid, getpid());
	ASSERT_EQ(mirror_get(s, 0x7ffffff0, &seen), -ENOENT);
	CORE(&m, HMM_CORE_CMD_MIRROR_GET, 0);
	ASSERT_EQ(xfer(s, &m, NULL), -EINVAL);
	CORE(&m, HMM_CORE_CMD_MIRROR_GET, 0);
	nl_put_u32(&m, HMM_CORE_A_MIRROR_ID, 0);
	ASSERT_TRUE(is_einval_or_erange(xfer(s, &m, NULL)));
	CORE(&m, HMM_CORE_CMD_MIRROR_GET, NLM_F_DUMP);
	nl_put_u32(&m, HMM_CORE_A_MIRROR_ID, id);
	ASSERT_EQ(xfer(s, &m, NULL), -EINVAL);
	close(fd);
	ASSERT_EQ(mirror_get(s, id, &seen), -ENOENT);
}

/* After SET_RANGE, MIRROR_GET (dump and do) gives that range, not 0. */
TEST_F_TIMEOUT(netlink, set_range_start, 60)
{
	struct seen seen;
	int s = self->s, fd;
	const struct seen_mirror *sm;
	uint64_t start, end;
	char *p;

	ASSERT_LE(0, (fd = dummy_open(0)));
	ASSERT_NE(NULL, (p = anon_map(16)));
	ASSERT_OK(dummy_set_range(fd, p + 4 * PAGE, 8));
	start = (uintptr_t)p + 4 * PAGE;
	end = start + 8 * PAGE;
	ASSERT_EQ(mirror_get(s, 0, &seen), 0);
	ASSERT_NE(NULL, (sm = find_tgid(&seen, getpid())));
	hmm_diag("mirror %u: [%#" PRIx64 ", %#" PRIx64 ")", sm->id, sm->start, sm->end);
	ASSERT_EQ(sm->start, start);
	ASSERT_EQ(sm->end, end);
	ASSERT_EQ(mirror_get(s, sm->id, &seen), 0);
	ASSERT_EQ(seen.n, 1);
	ASSERT_EQ(seen.m[0].start, start);
	ASSERT_EQ(seen.m[0].end, end);
	close(fd);
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
		hmm_diag("uid 65534 child: exit %d", WEXITSTATUS(st));
	return WEXITSTATUS(st);
}

/* uid 65534 sees neither root's mirror nor it in DEV_GET's count. */
TEST_F_TIMEOUT(netlink, nobody_not_root, 60)
{
	struct seen seen;
	int s = self->s, fd;
	const struct seen_mirror *sm;

	ASSERT_LE(0, (fd = dummy_open(1)));
	ASSERT_EQ(mirror_get(s, 0, &seen), 0);
	ASSERT_NE(NULL, (sm = find_tgid(&seen, getpid())));
	ASSERT_EQ(nobody_sees(sm->id, 0, 1, 0), 0);
	close(fd);
}

/*
 * A mirror owned by a uid-65534 process: a child opens the device as root
 * (device nodes are root-only), then drops to uid 65534 for good, and with
 * it every capability. The owner sees its own mirror; another uid-65534
 * process sees it too (the credential checks of ptrace read access; the
 * owner's dumpability, which setresuid() cleared, is not checked), and
 * root does.
 */
TEST_F_TIMEOUT(netlink, nobody_own, 60)
{
	int to_owner[2], from_owner[2], st, s = self->s;
	struct seen seen;
	uint32_t id = 0;
	char c = 0;
	pid_t owner;

	ASSERT_OK(pipe(to_owner));
	ASSERT_OK(pipe(from_owner));
	owner = fork();
	ASSERT_TRUE(owner >= 0);
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
	ASSERT_EQ(read(from_owner[0], &id, sizeof(id)), sizeof(id));
	hmm_diag("mirror %u of pid %d, uid 65534", id, owner);
	ASSERT_EQ(nobody_sees(id, owner, 0, 1), 1);
	/* Root sees it, with the owner's pid. */
	ASSERT_EQ(mirror_get(s, id, &seen), 0);
	ASSERT_EQ(seen.m[0].tgid, owner);
	ASSERT_EQ(write(to_owner[1], "x", 1), 1);
	ASSERT_TRUE(waitpid(owner, &st, 0) == owner && WIFEXITED(st));
	ASSERT_EQ(WEXITSTATUS(st), 0);
	/* Closed: gone, for root too. */
	ASSERT_EQ(mirror_get(s, id, &seen), -ENOENT);
}

/*
 * tgid in the caller's pid namespace: pid 1 of a new pid namespace (root,
 * so it sees every mirror) sees its own mirror as tgid 1 and this
 * process's, which is outside its namespace, as tgid 0.
 */
TEST_F_TIMEOUT(netlink, pid_namespace, 60)
{
	int s = self->s, fd, st;
	struct seen seen;
	const struct seen_mirror *sm;
	uint32_t id;
	pid_t pid;

	ASSERT_LE(0, (fd = dummy_open(0)));
	ASSERT_EQ(mirror_get(s, 0, &seen), 0);
	ASSERT_NE(NULL, (sm = find_tgid(&seen, getpid())));
	id = sm->id;
	if (unshare(CLONE_NEWPID))
		SKIP(return, "unshare(CLONE_NEWPID): %s", strerror(errno));
	pid = fork();
	ASSERT_TRUE(pid >= 0);
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
	ASSERT_TRUE(waitpid(pid, &st, 0) == pid && WIFEXITED(st));
	ASSERT_EQ(WEXITSTATUS(st), 0);
	close(fd);
}

/*
 * The harness parses the arguments; --seed N, which is ours, is taken out
 * of them first.
 */
int main(int argc, char **argv)
{
	const char *env = getenv("HMM_TEST_SEED");
	char **args = calloc(argc + 1, sizeof(*args));
	int i, n = 0;

	if (!args)
		return KSFT_FAIL;
	random_seed = (unsigned int)time(NULL) ^ (unsigned int)getpid() << 16;
	if (env && *env)
		random_seed = strtoul(env, NULL, 0);
	for (i = 0; i < argc; i++) {
		if (i && !strcmp(argv[i], "--seed")) {
			if (i + 1 == argc) {
				fprintf(stderr, "usage: netlink_raw [--seed N] [harness options]\n");
				return 2;
			}
			random_seed = strtoul(argv[++i], NULL, 0);
			continue;
		}
		args[n++] = argv[i];
	}
	return test_harness_run(n, args);
}
