// SPDX-License-Identifier: GPL-2.0
/*
 * netlink_core - hmm_core's own netlink family: every driver's mirrors
 *
 * A raw NETLINK_GENERIC socket (nl_raw.h), the "hmm_core" family resolved
 * through the controller. The mirrors of hmm_dummy's two ABIs, and of
 * examples/hmm_example when its module is at /tests/hmm_example.ko (the
 * case loads it, and skips without it), must show in MIRROR_GET's dump and
 * do with their driver, label, owner, range and pass count, and counters
 * that move with what the test does; uid 65534 must not see root's mirrors
 * nor join the events group (EPERM); an invalidation must reach a listener
 * of the group with its range, reason, blockable flag and duration; and
 * every operation must reject an attribute it does not take (EINVAL).
 *
 * kselftest_harness.h: one fixture, core, whose setup opens a socket and
 * resolves the family; run one case with "netlink_core -t NAME".
 */
#define _GNU_SOURCE
#include "kselftest_harness.h"
#include "dummy_util.h"
#include "nl_raw.h"
#include "hmm_core_nl.h"
#include "hmm_dummy_nl.h"

#include <grp.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/wait.h>

static int family_id, events_grp;

/* What MIRROR_GET says of one mirror. */
struct core_mirror {
	uint32_t id, tgid;
	char driver[64], label[HMM_CORE_LABEL_LEN];
	uint64_t start, end;
	bool two_phase;
	uint64_t inval[HMM_CORE_EVENT_OTHER + 1];
	uint64_t retries, nonblock, callbacks, callback_ns, callback_max_ns;
	bool has_pages;		/* PAGES_INVALIDATED was there */
	uint64_t pages;
};

#define MAX_MIRRORS 64

struct core_seen {
	int n;
	struct core_mirror m[MAX_MIRRORS];
};

static uint64_t get_u64(const void *v, int len)
{
	uint64_t x = 0;

	memcpy(&x, v, len < 8 ? len : 8);
	return x;
}

static void copy_str(char *dst, size_t size, const void *v, int len)
{
	size_t n = (size_t)len < size ? (size_t)len : size - 1;

	memcpy(dst, v, n);
	dst[n] = '\0';
}

/* One MIRROR_GET reply into the next slot. */
static void mirror_cb(const struct nlmsghdr *nlh, void *arg)
{
	struct core_seen *seen = arg;
	const struct nlattr *a, *next;
	struct core_mirror *m;
	int len;

	if (seen->n >= MAX_MIRRORS)
		return;
	m = &seen->m[seen->n++];
	memset(m, 0, sizeof(*m));
	for (a = nl_msg_attrs(nlh, &len); (next = nl_attr_next(a, &len));
	     a = next) {
		const void *v = nl_attr_data(a);
		int l = nl_attr_len(a);

		switch (a->nla_type & NLA_TYPE_MASK) {
		case HMM_CORE_A_MIRROR_ID:
			m->id = (uint32_t)get_u64(v, l);
			break;
		case HMM_CORE_A_MIRROR_TGID:
			m->tgid = (uint32_t)get_u64(v, l);
			break;
		case HMM_CORE_A_MIRROR_DRIVER:
			copy_str(m->driver, sizeof(m->driver), v, l);
			break;
		case HMM_CORE_A_MIRROR_LABEL:
			copy_str(m->label, sizeof(m->label), v, l);
			break;
		case HMM_CORE_A_MIRROR_START:
			m->start = get_u64(v, l);
			break;
		case HMM_CORE_A_MIRROR_END:
			m->end = get_u64(v, l);
			break;
		case HMM_CORE_A_MIRROR_TWO_PHASE:
			m->two_phase = true;
			break;
		case HMM_CORE_A_MIRROR_RETRIES:
			m->retries = get_u64(v, l);
			break;
		case HMM_CORE_A_MIRROR_NONBLOCK_FAILURES:
			m->nonblock = get_u64(v, l);
			break;
		case HMM_CORE_A_MIRROR_CALLBACKS:
			m->callbacks = get_u64(v, l);
			break;
		case HMM_CORE_A_MIRROR_CALLBACK_NS:
			m->callback_ns = get_u64(v, l);
			break;
		case HMM_CORE_A_MIRROR_CALLBACK_MAX_NS:
			m->callback_max_ns = get_u64(v, l);
			break;
		case HMM_CORE_A_MIRROR_PAGES_INVALIDATED:
			m->has_pages = true;
			m->pages = get_u64(v, l);
			break;
		case HMM_CORE_A_MIRROR_INVALIDATIONS: {
			const struct nlattr *c, *cnext;
			int nest_len = l;

			for (c = v; (cnext = nl_attr_next(c, &nest_len)); c = cnext) {
				int t = c->nla_type & NLA_TYPE_MASK;

				if (t >= 1 && t <= HMM_CORE_EVENT_OTHER + 1)
					m->inval[t - 1] = get_u64(nl_attr_data(c),
								  nl_attr_len(c));
			}
			break;
		}
		}
	}
}

/* A socket with the family's id and events group resolved; -1 if not. */
static int setup(void)
{
	struct nl_family f;
	int s = nl_open_family(HMM_CORE_FAMILY_NAME, HMM_CORE_MCGRP_EVENTS, &f);

	if (s >= 0) {
		family_id = f.id;
		events_grp = f.grp;
	}
	return s;
}

#define REQ(m, cmd, flags) nl_msg_init(m, family_id, cmd, flags)

/* MIRROR_GET: the dump (id 0) or the do of id, into seen. */
static int mirror_get(int s, uint32_t id, struct core_seen *seen)
{
	struct nl_msg m;

	seen->n = 0;
	REQ(&m, HMM_CORE_CMD_MIRROR_GET, id ? 0 : NLM_F_DUMP);
	if (id)
		nl_put_u32(&m, HMM_CORE_A_MIRROR_ID, id);
	return nl_xfer(s, &m, NULL, mirror_cb, seen);
}

static const struct core_mirror *find(const struct core_seen *seen,
				      const char *label, uint32_t tgid)
{
	int i;

	for (i = 0; i < seen->n; i++)
		if (seen->m[i].tgid == tgid && !strcmp(seen->m[i].label, label))
			return &seen->m[i];
	return NULL;
}

static const struct core_mirror *find_id(const struct core_seen *seen,
					 uint32_t id)
{
	int i;

	for (i = 0; i < seen->n; i++)
		if (seen->m[i].id == id)
			return &seen->m[i];
	return NULL;
}

static uint64_t total_inval(const struct core_mirror *m)
{
	uint64_t t = 0;
	int i;

	for (i = 0; i <= HMM_CORE_EVENT_OTHER; i++)
		t += m->inval[i];
	return t;
}

/* Drop to uid and gid 65534 for good (no groups, no capabilities). */
static int become_nobody(void)
{
	return setgroups(0, NULL) || setresgid(65534, 65534, 65534) ||
	       setresuid(65534, 65534, 65534) ? -1 : 0;
}

FIXTURE(core) {
	int s;
};

FIXTURE_SETUP(core)
{
	self->s = setup();
	ASSERT_LE(0, self->s)
		TH_LOG("socket or family %s: %s", HMM_CORE_FAMILY_NAME,
		       strerror(errno));
}

FIXTURE_TEARDOWN(core)
{
	if (self->s >= 0)
		close(self->s);
}

/*
 * Check one of our mirrors (label, our tgid) in the dump and the do, then
 * fault 4 pages of a fresh mapping through populate() and unmap them: its
 * UNMAP count, its callback count and time must move.
 */
static void check_mirror(struct __test_metadata *_metadata, int s,
			 const char *driver, const char *label,
			 int (*populate)(void *addr, void *arg), void *arg)
{
	static struct core_seen seen, again;
	const struct core_mirror *m, *m2;
	uint32_t id;
	void *p;

	ASSERT_EQ(mirror_get(s, 0, &seen), 0);
	m = find(&seen, label, (uint32_t)getpid());
	ASSERT_NE(NULL, m) TH_LOG("no mirror '%s' of tgid %d in %d", label,
				  getpid(), seen.n);
	id = m->id;
	EXPECT_STREQ(driver, m->driver);
	EXPECT_EQ(0, m->start);
	EXPECT_LT(0x7f0000000000ULL, m->end);
	EXPECT_FALSE(m->two_phase);
	EXPECT_LE(m->callback_max_ns, m->callback_ns);

	ASSERT_EQ(mirror_get(s, id, &again), 0);
	ASSERT_EQ(1, again.n);
	EXPECT_EQ(id, again.m[0].id);
	EXPECT_STREQ(label, again.m[0].label);
	EXPECT_EQ((uint32_t)getpid(), again.m[0].tgid);

	ASSERT_NE(NULL, (p = anon_map(4)));
	memset(p, 1, 4 * PAGE);
	ASSERT_EQ(0, populate(p, arg));
	ASSERT_EQ(0, munmap(p, 4 * PAGE));

	ASSERT_EQ(mirror_get(s, id, &again), 0);
	ASSERT_EQ(1, again.n);
	m2 = &again.m[0];
	EXPECT_LT(m->inval[HMM_CORE_EVENT_UNMAP], m2->inval[HMM_CORE_EVENT_UNMAP]);
	EXPECT_LT(total_inval(m), total_inval(m2));
	EXPECT_LT(m->callbacks, m2->callbacks);
	EXPECT_LT(m->callback_ns, m2->callback_ns);
	EXPECT_LE(m2->callback_max_ns, m2->callback_ns);
	EXPECT_LT(0, m2->callback_max_ns);
	hmm_diag("%s '%s' id %u: %llu invalidations, %llu callbacks, %llu ns (max %llu)",
		 driver, label, id, (unsigned long long)total_inval(m2),
		 (unsigned long long)m2->callbacks,
		 (unsigned long long)m2->callback_ns,
		 (unsigned long long)m2->callback_max_ns);
}

static int dummy_populate(void *addr, void *arg)
{
	return dummy_fault(*(int *)arg, addr, 4, 0, NULL);
}

static int dmirror_populate(void *addr, void *arg)
{
	static char buf[4 * 4096];
	uint64_t cpages = 0;

	return dmirror_cmd(*(int *)arg, HMM_DMIRROR_READ, addr, buf, 4,
			   &cpages);
}

/* hmm_dummy's native ABI: driver, label, owner, range; counters move. */
TEST_F_TIMEOUT(core, dummy_native, 60)
{
	int fd = dummy_open(0);

	ASSERT_LE(0, fd);
	check_mirror(_metadata, self->s, "hmm_dummy", "hmm_dummy0",
		     dummy_populate, &fd);
	close(fd);
}

/* hmm_dummy's test_hmm ABI: the same, labelled with its device. */
TEST_F_TIMEOUT(core, dummy_dmirror, 60)
{
	int fd = dmirror_open(1);

	ASSERT_LE(0, fd);
	check_mirror(_metadata, self->s, "hmm_dummy", "hmm_dmirror1",
		     dmirror_populate, &fd);
	close(fd);
}

/* SET_RANGE registers again: a new id, the new range; two-pass shows. */
TEST_F_TIMEOUT(core, range_and_passes, 60)
{
	static struct core_seen seen;
	struct hmm_dummy_tlb_ctl c = {
		.flags = HMM_DUMMY_TLB_SET | HMM_DUMMY_TLB_TWO_PHASE,
	};
	const struct core_mirror *m;
	int fd = dummy_open(1);
	uint32_t id;
	void *p;

	ASSERT_LE(0, fd);
	ASSERT_EQ(mirror_get(self->s, 0, &seen), 0);
	ASSERT_NE(NULL, (m = find(&seen, "hmm_dummy1", (uint32_t)getpid())));
	id = m->id;
	ASSERT_NE(NULL, (p = anon_map(8)));
	ASSERT_EQ(0, dummy_set_range(fd, p, 8));
	ASSERT_EQ(mirror_get(self->s, 0, &seen), 0);
	EXPECT_EQ(NULL, find_id(&seen, id));
	ASSERT_NE(NULL, (m = find(&seen, "hmm_dummy1", (uint32_t)getpid())));
	EXPECT_NE(id, m->id);
	EXPECT_EQ((uintptr_t)p, m->start);
	EXPECT_EQ((uintptr_t)p + 8 * PAGE, m->end);
	EXPECT_FALSE(m->two_phase);
	if (ioctl(fd, HMM_DUMMY_IOC_TLB, &c) == 0) {
		ASSERT_EQ(mirror_get(self->s, 0, &seen), 0);
		ASSERT_NE(NULL, (m = find(&seen, "hmm_dummy1", (uint32_t)getpid())));
		EXPECT_TRUE(m->two_phase);
		EXPECT_EQ((uintptr_t)p, m->start);
	}
	close(fd);
	/* Closed: unregistered, gone from the list. */
	ASSERT_EQ(mirror_get(self->s, 0, &seen), 0);
	EXPECT_EQ(NULL, find(&seen, "hmm_dummy1", (uint32_t)getpid()));
	munmap(p, 8 * PAGE);
}

/* What hmm_dummy's PTE_GET dump gave: entries, and the ids they named. */
struct pte_seen {
	int n;
	uint32_t id;		/* the last MIRROR_ID seen */
	bool other_id;		/* a reply named another mirror */
};

static void pte_attr(int type, const void *v, int len, void *arg)
{
	struct pte_seen *ps = arg;

	if (type != HMM_DUMMY_A_PTE_MIRROR_ID)
		return;
	if (ps->n && ps->id != (uint32_t)get_u64(v, len))
		ps->other_id = true;
	ps->id = (uint32_t)get_u64(v, len);
	ps->n++;
}

/* hmm_dummy's PTE_GET of the mirror hmm_core calls id, over s. */
static int dummy_pte_get(int s, int dummy_family, uint32_t id,
			 struct pte_seen *ps)
{
	struct nl_attr_walk w = { .fn = pte_attr, .arg = ps };
	struct nl_msg m;

	memset(ps, 0, sizeof(*ps));
	nl_msg_init(&m, dummy_family, HMM_DUMMY_CMD_PTE_GET, NLM_F_DUMP);
	nl_put_u32(&m, HMM_DUMMY_A_PTE_MIRROR_ID, id);
	return nl_xfer(s, &m, NULL, nl_attrs_cb, &w);
}

/*
 * hmm_dummy's family names a mirror by hmm_core's id: PTE_GET of the id
 * MIRROR_GET lists dumps that file's entries, and after SET_RANGE (a new
 * registration, a new id) the new id does and the old one is ENOENT.
 */
TEST_F_TIMEOUT(core, dummy_family_core_id, 60)
{
	static struct core_seen seen;
	const struct core_mirror *m;
	struct pte_seen ps;
	struct nl_family f;
	int fd = dummy_open(0);
	uint32_t id;
	char *p;

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, nl_resolve(self->s, HMM_DUMMY_FAMILY_NAME, NULL, &f));
	ASSERT_LT(0, f.id);
	ASSERT_NE(NULL, (p = anon_map(8)));
	memset(p, 1, 8 * PAGE);
	ASSERT_EQ(0, dummy_set_range(fd, p, 8));
	ASSERT_EQ(0, dummy_fault(fd, p, 3, 0, NULL));
	ASSERT_EQ(mirror_get(self->s, 0, &seen), 0);
	ASSERT_NE(NULL, (m = find(&seen, "hmm_dummy0", (uint32_t)getpid())));
	id = m->id;
	ASSERT_EQ(0, dummy_pte_get(self->s, f.id, id, &ps));
	EXPECT_EQ(3, ps.n);
	EXPECT_EQ(id, ps.id);
	EXPECT_FALSE(ps.other_id);

	ASSERT_EQ(0, dummy_set_range(fd, p, 8));
	ASSERT_EQ(0, dummy_fault(fd, p, 5, 0, NULL));
	ASSERT_EQ(mirror_get(self->s, 0, &seen), 0);
	ASSERT_NE(NULL, (m = find(&seen, "hmm_dummy0", (uint32_t)getpid())));
	ASSERT_NE(id, m->id);
	EXPECT_EQ(-ENOENT, dummy_pte_get(self->s, f.id, id, &ps));
	ASSERT_EQ(0, dummy_pte_get(self->s, f.id, m->id, &ps));
	EXPECT_EQ(5, ps.n);
	EXPECT_EQ(m->id, ps.id);
	EXPECT_FALSE(ps.other_id);
	close(fd);
	munmap(p, 8 * PAGE);
}

/*
 * PAGES_INVALIDATED: absent until the driver reports (a fresh hmm_dummy
 * file has cleared nothing), then what hmm_dummy says it cleared (its own
 * COUNTERS ioctl) after an munmap of populated pages. Needs hmm_dummy.c's
 * hmm_mirror_report_invalidated() call.
 */
TEST_F_TIMEOUT(core, pages_invalidated, 60)
{
	static struct core_seen seen;
	struct hmm_dummy_counters c;
	const struct core_mirror *m;
	int fd = dummy_open(0);
	char *p;

	ASSERT_LE(0, fd);
	ASSERT_EQ(mirror_get(self->s, 0, &seen), 0);
	ASSERT_NE(NULL, (m = find(&seen, "hmm_dummy0", (uint32_t)getpid())));
	EXPECT_FALSE(m->has_pages);
	ASSERT_NE(NULL, (p = anon_map(8)));
	memset(p, 1, 8 * PAGE);
	ASSERT_EQ(0, dummy_fault(fd, p, 6, 0, NULL));
	ASSERT_EQ(0, munmap(p, 8 * PAGE));
	ASSERT_EQ(0, dummy_counters(fd, &c));
	EXPECT_LE(6, c.pages_invalidated);
	ASSERT_EQ(mirror_get(self->s, 0, &seen), 0);
	ASSERT_NE(NULL, (m = find(&seen, "hmm_dummy0", (uint32_t)getpid())));
	EXPECT_TRUE(m->has_pages);
	EXPECT_EQ(c.pages_invalidated, m->pages);
	close(fd);
}

/*
 * examples/hmm_example, a driver with no netlink code: its mirror shows,
 * driver "hmm_example", no label, and its invalidations count.
 */
TEST_F_TIMEOUT(core, example_driver, 90)
{
	static struct core_seen seen, again;
	const struct core_mirror *m;
	char line[128];
	int fd, st;
	uint64_t before;
	void *p;

	if (access("/tests/hmm_example.ko", R_OK))
		SKIP(return, "no /tests/hmm_example.ko (scripts/vm-run --add it)");
	st = system("grep -q '^hmm_example ' /proc/modules || insmod /tests/hmm_example.ko");
	ASSERT_EQ(0, st);
	fd = open("/dev/hmm_example", O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd);
	ASSERT_LT(0, read(fd, line, sizeof(line)));
	ASSERT_EQ(mirror_get(self->s, 0, &seen), 0);
	m = find(&seen, "", (uint32_t)getpid());
	ASSERT_NE(NULL, m);
	EXPECT_STREQ("hmm_example", m->driver);
	EXPECT_EQ(0, m->start);
	before = total_inval(m);
	ASSERT_NE(NULL, (p = anon_map(4)));
	memset(p, 1, 4 * PAGE);
	ASSERT_EQ(0, munmap(p, 4 * PAGE));
	ASSERT_EQ(mirror_get(self->s, m->id, &again), 0);
	ASSERT_EQ(1, again.n);
	EXPECT_LT(before, total_inval(&again.m[0]));
	EXPECT_LT(0, again.m[0].callbacks);
	/* Its one valid entry, cleared once (it reports what it clears). */
	EXPECT_TRUE(again.m[0].has_pages);
	EXPECT_EQ(1, again.m[0].pages);
	close(fd);
	EXPECT_EQ(0, system("rmmod hmm_example"));
}

/*
 * uid 65534 sees neither root's mirror in the dump nor it by id (ENOENT),
 * and sees its own (opened before it dropped to 65534).
 */
TEST_F_TIMEOUT(core, other_user, 60)
{
	static struct core_seen seen;
	const struct core_mirror *m;
	int fd = dummy_open(0), st;
	uint32_t id;
	pid_t pid;

	ASSERT_LE(0, fd);
	ASSERT_EQ(mirror_get(self->s, 0, &seen), 0);
	ASSERT_NE(NULL, (m = find(&seen, "hmm_dummy0", (uint32_t)getpid())));
	id = m->id;
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		int own = dummy_open(1), s;

		if (own < 0 || become_nobody())
			_exit(10);
		s = setup();
		if (s < 0 || mirror_get(s, 0, &seen))
			_exit(11);
		if (find_id(&seen, id))
			_exit(12);
		if (!find(&seen, "hmm_dummy1", (uint32_t)getpid()))
			_exit(13);
		if (mirror_get(s, id, &seen) != -ENOENT)
			_exit(14);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	ASSERT_TRUE(WIFEXITED(st));
	EXPECT_EQ(0, WEXITSTATUS(st));
	/* Root still sees it. */
	ASSERT_EQ(mirror_get(self->s, id, &seen), 0);
	close(fd);
}

/* Joining the events group takes CAP_NET_ADMIN: uid 65534 gets EPERM. */
TEST_F_TIMEOUT(core, events_unprivileged, 60)
{
	int st;
	pid_t pid = fork();

	ASSERT_LE(0, pid);
	if (pid == 0) {
		int s, grp = events_grp;

		if (become_nobody())
			_exit(10);
		s = nl_socket();
		if (s < 0)
			_exit(11);
		if (setsockopt(s, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &grp,
			       sizeof(grp)) != -1)
			_exit(12);
		_exit(errno == EPERM ? 0 : 13);
	}
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	ASSERT_TRUE(WIFEXITED(st));
	EXPECT_EQ(0, WEXITSTATUS(st));
}

/* What a listener gets, one event at a time. */
struct core_event {
	uint8_t cmd;
	uint32_t id, tgid, reason;
	uint64_t seq, start, end, ns;
	bool blockable, has_ns, has_reason;
	char driver[64], label[HMM_CORE_LABEL_LEN];
};

static int next_event(int s, struct core_event *e)
{
	static char buf[8192];
	const struct nlattr *a, *next;
	struct nlmsghdr *nlh = (void *)buf;
	ssize_t r = recv(s, buf, sizeof(buf), 0);
	int len;

	if (r < 0 || !NLMSG_OK(nlh, (size_t)r))
		return -1;
	memset(e, 0, sizeof(*e));
	e->cmd = ((struct genlmsghdr *)NLMSG_DATA(nlh))->cmd;
	for (a = nl_msg_attrs(nlh, &len); (next = nl_attr_next(a, &len));
	     a = next) {
		const void *v = nl_attr_data(a);
		int l = nl_attr_len(a);

		switch (a->nla_type & NLA_TYPE_MASK) {
		case HMM_CORE_A_EVENT_SEQ:
			e->seq = get_u64(v, l);
			break;
		case HMM_CORE_A_EVENT_MIRROR_ID:
			e->id = (uint32_t)get_u64(v, l);
			break;
		case HMM_CORE_A_EVENT_TGID:
			e->tgid = (uint32_t)get_u64(v, l);
			break;
		case HMM_CORE_A_EVENT_DRIVER:
			copy_str(e->driver, sizeof(e->driver), v, l);
			break;
		case HMM_CORE_A_EVENT_LABEL:
			copy_str(e->label, sizeof(e->label), v, l);
			break;
		case HMM_CORE_A_EVENT_START:
			e->start = get_u64(v, l);
			break;
		case HMM_CORE_A_EVENT_END:
			e->end = get_u64(v, l);
			break;
		case HMM_CORE_A_EVENT_REASON:
			e->reason = (uint32_t)get_u64(v, l);
			e->has_reason = true;
			break;
		case HMM_CORE_A_EVENT_BLOCKABLE:
			e->blockable = true;
			break;
		case HMM_CORE_A_EVENT_DURATION_NS:
			e->ns = get_u64(v, l);
			e->has_ns = true;
			break;
		}
	}
	return 0;
}

/*
 * A listener of the events group hears a mirror registered (driver, label,
 * tgid), an munmap of a mapping it populated as an UNMAP invalidation of
 * that range (blockable, with a duration), and the unregister; the
 * sequence numbers grow; stats-get counts what was sent.
 */
TEST_F_TIMEOUT(core, events, 60)
{
	struct core_event e;
	bool reg = false, inval = false, unreg = false;
	uint64_t last_seq = 0;
	uint32_t id = 0;
	int l, fd, n;
	void *p;

	ASSERT_LE(0, (l = nl_listen(events_grp, 2)));
	ASSERT_LE(0, (fd = dummy_open(1)));
	ASSERT_NE(NULL, (p = anon_map(4)));
	memset(p, 1, 4 * PAGE);
	ASSERT_EQ(0, dummy_fault(fd, p, 4, 0, NULL));
	ASSERT_EQ(0, munmap(p, 4 * PAGE));
	close(fd);
	for (n = 0; n < 10000 && !unreg && next_event(l, &e) == 0; n++) {
		EXPECT_LT(last_seq, e.seq);
		last_seq = e.seq;
		if (e.cmd == HMM_CORE_CMD_REGISTER_NTF &&
		    e.tgid == (uint32_t)getpid() &&
		    !strcmp(e.label, "hmm_dummy1")) {
			EXPECT_STREQ("hmm_dummy", e.driver);
			EXPECT_EQ(0, e.start);
			id = e.id;
			reg = true;
		} else if (e.cmd == HMM_CORE_CMD_INVALIDATE_NTF && id &&
			   e.id == id && e.start == (uintptr_t)p) {
			EXPECT_EQ((uintptr_t)p + 4 * PAGE, e.end);
			EXPECT_TRUE(e.has_reason);
			EXPECT_EQ(HMM_CORE_EVENT_UNMAP, e.reason);
			EXPECT_TRUE(e.blockable);
			EXPECT_TRUE(e.has_ns);
			inval = true;
		} else if (e.cmd == HMM_CORE_CMD_UNREGISTER_NTF && id &&
			   e.id == id) {
			unreg = true;
		}
	}
	EXPECT_TRUE(reg);
	EXPECT_TRUE(inval);
	EXPECT_TRUE(unreg);
	close(l);
}

/* STATS_GET's attributes, by type (all u64 but the nest, left at 0). */
static void stats_fn(int type, const void *val, int len, void *arg)
{
	uint64_t *v = arg;

	if (type > 0 && type <= HMM_CORE_A_STATS_MAX &&
	    type != HMM_CORE_A_STATS_INVALIDATIONS)
		v[type] = get_u64(val, len);
}

/*
 * STATS_GET answers: the mirrors registered now (one of ours at least),
 * and the event counters, which a listener's events move.
 */
TEST_F_TIMEOUT(core, stats, 60)
{
	uint64_t v[HMM_CORE_A_STATS_MAX + 1] = {};
	uint64_t w[HMM_CORE_A_STATS_MAX + 1] = {};
	struct nl_attr_walk walk = { stats_fn, v };
	struct nl_msg m;
	int n = -1, fd, l;

	ASSERT_LE(0, (l = nl_listen(events_grp, 2)));
	REQ(&m, HMM_CORE_CMD_STATS_GET, 0);
	ASSERT_EQ(0, nl_xfer(self->s, &m, &n, nl_attrs_cb, &walk));
	ASSERT_EQ(1, n);
	ASSERT_LE(0, (fd = dummy_open(0)));
	close(fd);
	walk.arg = w;
	REQ(&m, HMM_CORE_CMD_STATS_GET, 0);
	ASSERT_EQ(0, nl_xfer(self->s, &m, &n, nl_attrs_cb, &walk));
	/* A register and an unregister event were sent, or dropped. */
	EXPECT_LE(v[HMM_CORE_A_STATS_EVENTS_SENT] +
		  v[HMM_CORE_A_STATS_EVENTS_DROPPED] + 2,
		  w[HMM_CORE_A_STATS_EVENTS_SENT] +
		  w[HMM_CORE_A_STATS_EVENTS_DROPPED]);
	ASSERT_LE(0, (fd = dummy_open(0)));
	REQ(&m, HMM_CORE_CMD_STATS_GET, 0);
	ASSERT_EQ(0, nl_xfer(self->s, &m, &n, nl_attrs_cb, &walk));
	EXPECT_LE(1, w[HMM_CORE_A_STATS_MIRRORS]);
	EXPECT_LE(1, w[HMM_CORE_A_STATS_MMS]);
	close(fd);
	close(l);
}

/* What MM_GET says of one mm. */
struct core_mm {
	uint32_t id, mirrors, ntgids, tgid[8];
	uint64_t inval, retries, nonblock;
};

struct core_mms {
	int n;
	struct core_mm m[MAX_MIRRORS];
};

static void mm_cb(const struct nlmsghdr *nlh, void *arg)
{
	struct core_mms *mms = arg;
	const struct nlattr *a, *next;
	struct core_mm *mm;
	int len;

	if (mms->n >= MAX_MIRRORS)
		return;
	mm = &mms->m[mms->n++];
	memset(mm, 0, sizeof(*mm));
	for (a = nl_msg_attrs(nlh, &len); (next = nl_attr_next(a, &len));
	     a = next) {
		const void *v = nl_attr_data(a);
		int l = nl_attr_len(a);

		switch (a->nla_type & NLA_TYPE_MASK) {
		case HMM_CORE_A_MM_ID:
			mm->id = (uint32_t)get_u64(v, l);
			break;
		case HMM_CORE_A_MM_MIRRORS:
			mm->mirrors = (uint32_t)get_u64(v, l);
			break;
		case HMM_CORE_A_MM_TGID:
			if (mm->ntgids < 8)
				mm->tgid[mm->ntgids++] = (uint32_t)get_u64(v, l);
			break;
		case HMM_CORE_A_MM_RETRIES:
			mm->retries = get_u64(v, l);
			break;
		case HMM_CORE_A_MM_NONBLOCK_FAILURES:
			mm->nonblock = get_u64(v, l);
			break;
		case HMM_CORE_A_MM_INVALIDATIONS: {
			const struct nlattr *c, *cnext;
			int nest_len = l;

			for (c = v; (cnext = nl_attr_next(c, &nest_len)); c = cnext)
				if ((c->nla_type & NLA_TYPE_MASK) <= HMM_CORE_EVENT_OTHER + 1)
					mm->inval += get_u64(nl_attr_data(c),
							     nl_attr_len(c));
			break;
		}
		}
	}
}

static int mm_get(int s, struct core_mms *mms)
{
	struct nl_msg m;

	mms->n = 0;
	REQ(&m, HMM_CORE_CMD_MM_GET, NLM_F_DUMP);
	return nl_xfer(s, &m, NULL, mm_cb, mms);
}

/* The mm whose only owner is tgid, or NULL. */
static const struct core_mm *find_mm(const struct core_mms *mms, uint32_t tgid)
{
	int i;

	for (i = 0; i < mms->n; i++)
		if (mms->m[i].ntgids == 1 && mms->m[i].tgid[0] == tgid)
			return &mms->m[i];
	return NULL;
}

/*
 * MM_GET: our mm, owner our tgid, with as many mirrors as we have open;
 * its invalidations grow with an munmap of faulted pages and do not drop
 * when a mirror goes (an unregistered mirror's counts stay the mm's); it
 * is gone once the last mirror is closed.
 */
TEST_F_TIMEOUT(core, mm_counters, 60)
{
	static struct core_mms mms;
	const struct core_mm *mm;
	uint64_t before;
	uint32_t id;
	int fd = dummy_open(0), fd2 = dmirror_open(1);
	char *p;

	ASSERT_LE(0, fd);
	ASSERT_LE(0, fd2);
	ASSERT_EQ(0, mm_get(self->s, &mms));
	ASSERT_NE(NULL, (mm = find_mm(&mms, (uint32_t)getpid())));
	EXPECT_EQ(2, mm->mirrors);
	EXPECT_LT(0, mm->id);
	id = mm->id;
	before = mm->inval;
	ASSERT_NE(NULL, (p = anon_map(4)));
	memset(p, 1, 4 * PAGE);
	ASSERT_EQ(0, dummy_fault(fd, p, 4, 0, NULL));
	ASSERT_EQ(0, munmap(p, 4 * PAGE));
	ASSERT_EQ(0, mm_get(self->s, &mms));
	ASSERT_NE(NULL, (mm = find_mm(&mms, (uint32_t)getpid())));
	EXPECT_EQ(id, mm->id);
	/* Both whole-address-space mirrors heard the munmap at least. */
	EXPECT_LE(before + 2, mm->inval);
	before = mm->inval;
	close(fd2);
	ASSERT_EQ(0, mm_get(self->s, &mms));
	ASSERT_NE(NULL, (mm = find_mm(&mms, (uint32_t)getpid())));
	EXPECT_EQ(1, mm->mirrors);
	EXPECT_LE(before, mm->inval);
	close(fd);
	ASSERT_EQ(0, mm_get(self->s, &mms));
	EXPECT_EQ(NULL, find_mm(&mms, (uint32_t)getpid()));
}

/*
 * MM_GET's privacy: uid 65534 sees no mm of root's (nor root's mm with
 * its owner hidden), only its own (a mirror it opened, as root, before it
 * dropped to 65534: still its own thread group).
 */
TEST_F_TIMEOUT(core, mm_other_user, 60)
{
	static struct core_mms mms;
	int fd = dummy_open(0), st;
	pid_t pid;

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, mm_get(self->s, &mms));
	ASSERT_NE(NULL, find_mm(&mms, (uint32_t)getpid()));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		int own = dummy_open(1), s;

		if (own < 0 || become_nobody())
			_exit(10);
		s = setup();
		if (s < 0 || mm_get(s, &mms))
			_exit(11);
		/* Only its own: no other mm has a mirror of uid 65534's. */
		if (mms.n != 1 || !find_mm(&mms, (uint32_t)getpid()))
			_exit(12);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	ASSERT_TRUE(WIFEXITED(st));
	EXPECT_EQ(0, WEXITSTATUS(st));
	close(fd);
}

/* hmm_core's verify_violations parameter, or -1 without one. */
static int64_t verify_param(void)
{
	FILE *f = fopen("/sys/module/hmm_core/parameters/verify_violations", "r");
	long long n = -1;

	if (f) {
		if (fscanf(f, "%lld", &n) != 1)
			n = -1;
		fclose(f);
	}
	return n;
}

/*
 * STATS_GET carries the coherence verifier's count, the one its module
 * parameter shows (a correct driver leaves it where it is; the verifier's
 * own findings are checked by tests/verifier and mutation-check).
 */
TEST_F_TIMEOUT(core, verify_violations, 60)
{
	uint64_t v[HMM_CORE_A_STATS_MAX + 1];
	struct nl_attr_walk walk = { stats_fn, v };
	int64_t before, after;
	struct nl_msg m;
	int n = -1;

	memset(v, 0xff, sizeof(v));
	before = verify_param();
	if (before < 0)
		SKIP(return, "no /sys/module/hmm_core/parameters/verify_violations");
	REQ(&m, HMM_CORE_CMD_STATS_GET, 0);
	ASSERT_EQ(0, nl_xfer(self->s, &m, &n, nl_attrs_cb, &walk));
	after = verify_param();
	ASSERT_NE(UINT64_MAX, v[HMM_CORE_A_STATS_VERIFY_VIOLATIONS])
		TH_LOG("stats-get has no verify-violations");
	EXPECT_LE((uint64_t)before, v[HMM_CORE_A_STATS_VERIFY_VIOLATIONS]);
	EXPECT_GE((uint64_t)after, v[HMM_CORE_A_STATS_VERIFY_VIOLATIONS]);
}

/* Attributes an operation does not take are rejected, not ignored. */
TEST_F_TIMEOUT(core, strict_attributes, 60)
{
	static const uint16_t types[] = {
		HMM_CORE_A_MIRROR_DRIVER, HMM_CORE_A_MIRROR_TGID,
		HMM_CORE_A_MIRROR_MAX, HMM_CORE_A_MIRROR_MAX + 1, 50, 0x7fff,
	};
	struct nl_msg m;
	unsigned int i;
	int s = self->s, r;

	for (i = 0; i < ARRAY_SIZE(types); i++) {
		REQ(&m, HMM_CORE_CMD_STATS_GET, 0);
		nl_put_u32(&m, types[i], 1);
		EXPECT_EQ(-EINVAL, nl_xfer(s, &m, NULL, NULL, NULL))
			TH_LOG("stats-get with attribute %u", types[i]);
		REQ(&m, HMM_CORE_CMD_MIRROR_GET, NLM_F_DUMP);
		nl_put_u32(&m, types[i], 1);
		EXPECT_EQ(-EINVAL, nl_xfer(s, &m, NULL, NULL, NULL))
			TH_LOG("mirror-get dump with attribute %u", types[i]);
		REQ(&m, HMM_CORE_CMD_MIRROR_GET, 0);
		nl_put_u32(&m, HMM_CORE_A_MIRROR_ID, 1);
		nl_put_u32(&m, types[i], 1);
		EXPECT_EQ(-EINVAL, nl_xfer(s, &m, NULL, NULL, NULL))
			TH_LOG("mirror-get do with attribute %u", types[i]);
		REQ(&m, HMM_CORE_CMD_MM_GET, NLM_F_DUMP);
		nl_put_u32(&m, types[i], 1);
		EXPECT_EQ(-EINVAL, nl_xfer(s, &m, NULL, NULL, NULL))
			TH_LOG("mm-get dump with attribute %u", types[i]);
	}
	/* The dump takes no id; the do needs one, from 1. */
	REQ(&m, HMM_CORE_CMD_MIRROR_GET, NLM_F_DUMP);
	nl_put_u32(&m, HMM_CORE_A_MIRROR_ID, 1);
	EXPECT_EQ(-EINVAL, nl_xfer(s, &m, NULL, NULL, NULL));
	REQ(&m, HMM_CORE_CMD_MIRROR_GET, 0);
	EXPECT_EQ(-EINVAL, nl_xfer(s, &m, NULL, NULL, NULL));
	REQ(&m, HMM_CORE_CMD_MIRROR_GET, 0);
	nl_put_u32(&m, HMM_CORE_A_MIRROR_ID, 0);
	r = nl_xfer(s, &m, NULL, NULL, NULL);
	EXPECT_TRUE(r == -EINVAL || r == -ERANGE) TH_LOG("id 0: %d", r);
	REQ(&m, HMM_CORE_CMD_MIRROR_GET, 0);
	nl_put_u64(&m, HMM_CORE_A_MIRROR_ID, 1);
	EXPECT_EQ(-EINVAL, nl_xfer(s, &m, NULL, NULL, NULL));
	/* MM_GET has no do; it takes not even an id. */
	REQ(&m, HMM_CORE_CMD_MM_GET, NLM_F_DUMP);
	nl_put_u32(&m, HMM_CORE_A_MM_ID, 1);
	EXPECT_EQ(-EINVAL, nl_xfer(s, &m, NULL, NULL, NULL));
	REQ(&m, HMM_CORE_CMD_MM_GET, 0);
	EXPECT_EQ(-EOPNOTSUPP, nl_xfer(s, &m, NULL, NULL, NULL));
	/* Notifications are not requests. */
	REQ(&m, HMM_CORE_CMD_INVALIDATE_NTF, 0);
	EXPECT_EQ(-EOPNOTSUPP, nl_xfer(s, &m, NULL, NULL, NULL));
}

TEST_HARNESS_MAIN
