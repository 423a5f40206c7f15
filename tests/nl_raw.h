/* SPDX-License-Identifier: GPL-2.0 */
/*
 * nl_raw.h - a raw generic-netlink client of the hmm_dummy family, no library
 *
 * For the tests that must see the wire: a NETLINK_GENERIC socket
 * (nl_socket()), requests built by hand (nl_msg_init(), nl_put_attr(),
 * nl_put_u32(), nl_put_u64(); nl_put_attr_len() lies about nla_len on
 * purpose), sent and answered by nl_xfer() / nl_xfer_raw() with a callback
 * per reply message (nl_attrs_cb() turns it into one per attribute), and
 * the family resolved by name through the controller (nl_resolve()).
 *
 * nl_xfer*() return 0 (the ACK, or the end of a dump), the kernel's
 * negative errno (its NLMSG_ERROR, or a dump's NLMSG_DONE status), -errno
 * of a failed send/recv, or NL_NO_REPLY when nothing came back before the
 * socket's receive timeout.
 */
#ifndef HMM_TESTS_NL_RAW_H
#define HMM_TESTS_NL_RAW_H

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <linux/genetlink.h>
#include <linux/netlink.h>

#include "hmm_dummy_nl.h"

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif

#define NL_NO_REPLY	1	/* nl_xfer(): nothing came back in time */

/* A request: headers and up to 1 KiB of attributes. */
struct nl_msg {
	struct nlmsghdr nlh;
	struct genlmsghdr gh;
	char attrs[1024];
};

/*
 * A NETLINK_GENERIC socket, bound (its own port id, as a listener of a
 * multicast group needs), receiving with a timeout of timeout_s seconds
 * (0: none); -1 on failure.
 */
static inline int nl_socket_timeout(unsigned int timeout_s)
{
	struct timeval tv = { .tv_sec = timeout_s };
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	int s = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);

	if (s < 0)
		return -1;
	if (bind(s, (struct sockaddr *)&sa, sizeof(sa)) ||
	    (timeout_s && setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv,
				     sizeof(tv)))) {
		close(s);
		return -1;
	}
	return s;
}

/* nl_socket_timeout() of 2 s: a request the kernel drops is NL_NO_REPLY. */
static inline int nl_socket(void)
{
	return nl_socket_timeout(2);
}

/*
 * A request of cmd to family, NLM_F_REQUEST | NLM_F_ACK | flags, the next
 * sequence number, the family's version (the controller's, 1, for
 * GENL_ID_CTRL).
 */
static inline void nl_msg_init(struct nl_msg *m, int family, uint8_t cmd,
			       uint16_t flags)
{
	static uint32_t seq;

	memset(m, 0, sizeof(*m));
	m->nlh.nlmsg_len = NLMSG_LENGTH(GENL_HDRLEN);
	m->nlh.nlmsg_type = family;
	m->nlh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
	m->nlh.nlmsg_seq = __atomic_add_fetch(&seq, 1, __ATOMIC_RELAXED);
	m->gh.cmd = cmd;
	m->gh.version = family == GENL_ID_CTRL ? 1 : HMM_DUMMY_FAMILY_VERSION;
}

/*
 * Append an attribute of len bytes whose nla_len says nla_len (normally
 * NLA_HDRLEN + len: see nl_put_attr()). The caller keeps it within attrs[].
 */
static inline void nl_put_attr_len(struct nl_msg *m, uint16_t type,
				   const void *data, size_t len,
				   uint16_t nla_len)
{
	struct nlattr *a = (struct nlattr *)((char *)m +
					     NLMSG_ALIGN(m->nlh.nlmsg_len));

	a->nla_type = type;
	a->nla_len = nla_len;
	memcpy(a + 1, data, len);
	m->nlh.nlmsg_len = NLMSG_ALIGN(m->nlh.nlmsg_len) +
			   NLA_ALIGN(NLA_HDRLEN + len);
}

static inline void nl_put_attr(struct nl_msg *m, uint16_t type,
			       const void *data, size_t len)
{
	nl_put_attr_len(m, type, data, len, NLA_HDRLEN + len);
}

static inline void nl_put_u32(struct nl_msg *m, uint16_t type, uint32_t v)
{
	nl_put_attr(m, type, &v, sizeof(v));
}

static inline void nl_put_u64(struct nl_msg *m, uint16_t type, uint64_t v)
{
	nl_put_attr(m, type, &v, sizeof(v));
}

/* A callback per reply message: its header (payload from NLMSG_DATA). */
typedef void (*nl_msg_fn)(const struct nlmsghdr *nlh, void *arg);

/*
 * Send len bytes from m (a request, well-formed or not: its nlmsg_flags
 * say whether it is a dump); read until the ACK, an error or NLMSG_DONE.
 * *n (if set) counts the other messages, each given to fn (if set).
 */
static inline int nl_xfer_raw(int s, const void *m, size_t len, int *n,
			      nl_msg_fn fn, void *arg)
{
	static __thread char buf[1 << 16];
	const struct nlmsghdr *req = m;
	int count = 0;

	if (send(s, m, len, 0) != (ssize_t)len)
		return -errno;
	for (;;) {
		ssize_t r = recv(s, buf, sizeof(buf), 0);
		struct nlmsghdr *nlh;

		if (r < 0)
			return errno == EAGAIN ? NL_NO_REPLY : -errno;
		for (nlh = (void *)buf; NLMSG_OK(nlh, (size_t)r);
		     nlh = NLMSG_NEXT(nlh, r)) {
			if (nlh->nlmsg_type == NLMSG_ERROR) {
				struct nlmsgerr *e = NLMSG_DATA(nlh);

				/* A dump's error, or the ACK of a do. */
				if (e->error ||
				    !(req->nlmsg_flags & NLM_F_DUMP)) {
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

/* nl_xfer_raw() of the whole of m. */
static inline int nl_xfer(int s, struct nl_msg *m, int *n, nl_msg_fn fn,
			  void *arg)
{
	return nl_xfer_raw(s, m, m->nlh.nlmsg_len, n, fn, arg);
}

/* The next attribute of a stream of them, or NULL past its end. */
static inline const struct nlattr *nl_attr_next(const struct nlattr *a,
						int *len)
{
	if (*len < NLA_HDRLEN || a->nla_len < NLA_HDRLEN || a->nla_len > *len)
		return NULL;
	*len -= NLA_ALIGN(a->nla_len);
	return (const void *)((const char *)a + NLA_ALIGN(a->nla_len));
}

/* The payload of an attribute, and its length. */
static inline const void *nl_attr_data(const struct nlattr *a)
{
	return (const char *)a + NLA_HDRLEN;
}

static inline int nl_attr_len(const struct nlattr *a)
{
	return a->nla_len - NLA_HDRLEN;
}

/* The attributes of a generic-netlink message, and their length. */
static inline const struct nlattr *nl_msg_attrs(const struct nlmsghdr *nlh,
						int *len)
{
	*len = (int)nlh->nlmsg_len - NLMSG_LENGTH(GENL_HDRLEN);
	return (const void *)((const char *)NLMSG_DATA(nlh) + GENL_HDRLEN);
}

/*
 * For nl_xfer(..., nl_attrs_cb, &walk): fn sees each top-level attribute
 * of each reply (its type without the flag bits, its payload and length).
 */
struct nl_attr_walk {
	void (*fn)(int type, const void *val, int len, void *arg);
	void *arg;
};

static inline void nl_attrs_cb(const struct nlmsghdr *nlh, void *arg)
{
	const struct nl_attr_walk *w = arg;
	const struct nlattr *a, *next;
	int len;

	for (a = nl_msg_attrs(nlh, &len); (next = nl_attr_next(a, &len));
	     a = next)
		w->fn(a->nla_type & NLA_TYPE_MASK, nl_attr_data(a),
		      nl_attr_len(a), w->arg);
}

/* What nl_resolve() finds. */
struct nl_family {
	int id;			/* 0: not found */
	int grp;		/* the multicast group asked for, 0: none */
	const char *grp_name;
};

static inline void nl_family_cb(const struct nlmsghdr *nlh, void *arg)
{
	struct nl_family *f = arg;
	const struct nlattr *a, *next;
	int len;

	for (a = nl_msg_attrs(nlh, &len); (next = nl_attr_next(a, &len));
	     a = next) {
		const struct nlattr *g, *gnext;
		int glen = nl_attr_len(a);

		if (a->nla_type == CTRL_ATTR_FAMILY_ID)
			f->id = *(const uint16_t *)nl_attr_data(a);
		if ((a->nla_type & NLA_TYPE_MASK) != CTRL_ATTR_MCAST_GROUPS ||
		    !f->grp_name)
			continue;
		for (g = nl_attr_data(a); (gnext = nl_attr_next(g, &glen));
		     g = gnext) {
			const struct nlattr *x, *xnext;
			int xlen = nl_attr_len(g), id = 0, match = 0;

			for (x = nl_attr_data(g);
			     (xnext = nl_attr_next(x, &xlen)); x = xnext) {
				const char *v = nl_attr_data(x);

				if (x->nla_type == CTRL_ATTR_MCAST_GRP_ID)
					id = *(const uint32_t *)v;
				if (x->nla_type == CTRL_ATTR_MCAST_GRP_NAME)
					match = !strcmp(v, f->grp_name);
			}
			if (match)
				f->grp = id;
		}
	}
}

/*
 * The id of the family called name and, if grp_name is set, the id of its
 * multicast group of that name, from the controller over s. Returns
 * nl_xfer()'s answer (0: asked; the family was found if f->id > 0).
 */
static inline int nl_resolve(int s, const char *name, const char *grp_name,
			     struct nl_family *f)
{
	struct nl_msg m;

	f->id = 0;
	f->grp = 0;
	f->grp_name = grp_name;
	nl_msg_init(&m, GENL_ID_CTRL, CTRL_CMD_GETFAMILY, 0);
	nl_put_attr(&m, CTRL_ATTR_FAMILY_NAME, name, strlen(name) + 1);
	return nl_xfer(s, &m, NULL, nl_family_cb, f);
}

/*
 * A socket, with the family called name and its multicast group grp_name
 * resolved through it into *f; -1 unless all three were had.
 */
static inline int nl_open_family(const char *name, const char *grp_name,
				 struct nl_family *f)
{
	int s = nl_socket();

	if (s < 0)
		return -1;
	if (nl_resolve(s, name, grp_name, f) || f->id <= 0 || f->grp <= 0) {
		close(s);
		return -1;
	}
	return s;
}

/*
 * A socket in the multicast group grp (bound first: an unbound socket's
 * port id is 0, the sender's of an event, which the kernel does not send
 * to), with the receive timeout of timeout_s; -1 on failure.
 */
static inline int nl_listen(int grp, unsigned int timeout_s)
{
	int s = nl_socket_timeout(timeout_s);

	if (s >= 0 && setsockopt(s, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP,
				 &grp, sizeof(grp))) {
		close(s);
		return -1;
	}
	return s;
}

#endif /* HMM_TESTS_NL_RAW_H */
