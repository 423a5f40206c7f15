// SPDX-License-Identifier: GPL-2.0
/*
 * nl.c - hmmctl's side of the generic netlink families it talks to
 *
 * hmm_core's family (every driver's mirrors, the counters, the events) and
 * hmm_dummy's (its devices and their page tables): one socket per family,
 * struct hmmctl names which. One request at a time: hmmctl_msg() starts it, hmmctl_run() sends it and
 * reads replies until the dump's NLMSG_DONE, the ACK, or an error, keeping
 * the kernel's errno and extended-ack message in struct hmmctl.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <linux/netlink.h>
#include <netlink/errno.h>
#include <netlink/genl/ctrl.h>
#include <netlink/socket.h>

#include "hmmctl.h"

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif

/*
 * Open a socket to @family (HMM_CORE_FAMILY_NAME or HMM_DUMMY_FAMILY_NAME);
 * an exit code, HMMCTL_EXIT_NOFAMILY with the message if it is not there.
 */
int hmmctl_connect(struct hmmctl *h, const char *family)
{
	int one = 1, ret;

	h->sk = nl_socket_alloc();
	if (!h->sk) {
		fprintf(stderr, "hmmctl: out of memory\n");
		return HMMCTL_EXIT_ERROR;
	}
	ret = genl_connect(h->sk);
	if (ret < 0) {
		fprintf(stderr, "hmmctl: cannot open a generic netlink socket: %s\n",
			nl_geterror(ret));
		return HMMCTL_EXIT_ERROR;
	}
	/* Error messages from the kernel; errors without the request echoed. */
	setsockopt(nl_socket_get_fd(h->sk), SOL_NETLINK, NETLINK_EXT_ACK,
		   &one, sizeof(one));
	setsockopt(nl_socket_get_fd(h->sk), SOL_NETLINK, NETLINK_CAP_ACK,
		   &one, sizeof(one));
	h->name = family;
	h->family = genl_ctrl_resolve(h->sk, family);
	if (h->family < 0) {
		/* Each family is named after the module that registers it. */
		fprintf(stderr,
			"hmmctl: the %s netlink family is not available: is %s loaded?\n",
			family, family);
		return HMMCTL_EXIT_NOFAMILY;
	}
	return HMMCTL_EXIT_OK;
}

void hmmctl_close(struct hmmctl *h)
{
	nl_socket_free(h->sk);
	h->sk = NULL;
}

struct nl_msg *hmmctl_msg(struct hmmctl *h, uint8_t cmd, bool dump)
{
	struct nl_msg *msg = nlmsg_alloc();

	if (msg && !genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, h->family, 0,
				dump ? NLM_F_DUMP : 0, cmd,
				!strcmp(h->name, HMM_CORE_FAMILY_NAME) ?
				HMM_CORE_FAMILY_VERSION :
				HMM_DUMMY_FAMILY_VERSION)) {
		nlmsg_free(msg);
		msg = NULL;
	}
	return msg;
}

struct nlattr **hmmctl_parse(struct nl_msg *msg, struct nlattr **tb, int max)
{
	if (genlmsg_parse(nlmsg_hdr(msg), 0, tb, max, NULL) < 0)
		return NULL;
	return tb;
}

/* NLMSG_ERROR with an errno: keep it and the extended-ack message. */
static int hmmctl_err_cb(struct sockaddr_nl *nla, struct nlmsgerr *e, void *arg)
{
	struct nlmsghdr *nlh = (struct nlmsghdr *)e - 1;
	struct nlattr *tb[NLMSGERR_ATTR_MAX + 1];
	struct hmmctl *h = arg;
	int off = sizeof(*e);

	(void)nla;
	h->err = e->error;
	h->done = true;
	if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS))
		return NL_STOP;
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
		off += e->msg.nlmsg_len - NLMSG_HDRLEN;
	if ((int)(nlh->nlmsg_len - NLMSG_HDRLEN) <= off)
		return NL_STOP;
	if (nla_parse(tb, NLMSGERR_ATTR_MAX, (struct nlattr *)((char *)e + off),
		      nlh->nlmsg_len - NLMSG_HDRLEN - off, NULL) == 0 &&
	    tb[NLMSGERR_ATTR_MSG])
		nla_strlcpy(h->errmsg, tb[NLMSGERR_ATTR_MSG], sizeof(h->errmsg));
	return NL_STOP;
}

static int hmmctl_ack_cb(struct nl_msg *msg, void *arg)
{
	struct hmmctl *h = arg;

	(void)msg;
	h->done = true;
	return NL_STOP;
}

/* NLMSG_DONE carries the dump's error, if it failed part way. */
static int hmmctl_finish_cb(struct nl_msg *msg, void *arg)
{
	struct nlmsghdr *nlh = nlmsg_hdr(msg);
	struct hmmctl *h = arg;

	if (nlh->nlmsg_len >= NLMSG_LENGTH(sizeof(int)) &&
	    *(int *)nlmsg_data(nlh) < 0)
		h->err = *(int *)nlmsg_data(nlh);
	h->done = true;
	return NL_STOP;
}

static int hmmctl_intr_cb(struct nl_msg *msg, void *arg)
{
	struct hmmctl *h = arg;

	(void)msg;
	h->interrupted = true;
	return NL_OK;
}

/*
 * Send @msg (freed) and call @valid on each reply until the end. Returns 0,
 * the kernel's negative errno (h->err, h->errmsg), or -EIO.
 */
int hmmctl_run(struct hmmctl *h, struct nl_msg *msg,
	       int (*valid)(struct nl_msg *msg, void *arg), void *arg)
{
	struct nl_cb *cb;
	int ret;

	h->err = 0;
	h->errmsg[0] = '\0';
	h->done = false;
	h->interrupted = false;
	if (!msg)
		return -ENOMEM;
	cb = nl_cb_alloc(NL_CB_DEFAULT);
	if (!cb) {
		nlmsg_free(msg);
		return -ENOMEM;
	}
	nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, valid, arg);
	nl_cb_set(cb, NL_CB_ACK, NL_CB_CUSTOM, hmmctl_ack_cb, h);
	nl_cb_set(cb, NL_CB_FINISH, NL_CB_CUSTOM, hmmctl_finish_cb, h);
	nl_cb_set(cb, NL_CB_DUMP_INTR, NL_CB_CUSTOM, hmmctl_intr_cb, h);
	nl_cb_err(cb, NL_CB_CUSTOM, hmmctl_err_cb, h);

	ret = nl_send_auto(h->sk, msg);
	nlmsg_free(msg);
	while (ret >= 0 && !h->done)
		ret = nl_recvmsgs(h->sk, cb);
	nl_cb_put(cb);
	if (h->err)
		return h->err;
	if (ret < 0) {
		snprintf(h->errmsg, sizeof(h->errmsg), "%s", nl_geterror(ret));
		return -EIO;
	}
	return 0;
}

/*
 * Say why @what failed on stderr, @perm if it was a permission; return the
 * exit code for it.
 */
int hmmctl_fail(struct hmmctl *h, int ret, const char *what,
		const char *perm)
{
	const char *msg = h->errmsg[0] ? h->errmsg : strerror(-ret);

	switch (ret) {
	case -EPERM:
	case -EACCES:
		fprintf(stderr, "hmmctl: permission denied: %s\n",
			perm ? perm : msg);
		return HMMCTL_EXIT_PERM;
	case -ENOENT:
		fprintf(stderr, "hmmctl: %s\n", msg);
		return HMMCTL_EXIT_NOENT;
	}
	fprintf(stderr, "hmmctl: %s: %s\n", what, msg);
	return HMMCTL_EXIT_ERROR;
}

/* Join the family's events group: CAP_NET_ADMIN. */
int hmmctl_join_events(struct hmmctl *h)
{
	int grp = genl_ctrl_resolve_grp(h->sk, h->name, HMM_CORE_MCGRP_EVENTS);
	int ret;

	if (grp < 0) {
		fprintf(stderr, "hmmctl: the %s family has no %s group: %s\n",
			h->name, HMM_CORE_MCGRP_EVENTS, nl_geterror(grp));
		return HMMCTL_EXIT_ERROR;
	}
	ret = nl_socket_add_membership(h->sk, grp);
	if (ret == -NLE_PERM) {
		fprintf(stderr,
			"hmmctl: permission denied: watching events needs CAP_NET_ADMIN\n");
		return HMMCTL_EXIT_PERM;
	}
	if (ret < 0) {
		fprintf(stderr, "hmmctl: cannot join the %s group: %s\n",
			HMM_CORE_MCGRP_EVENTS, nl_geterror(ret));
		return HMMCTL_EXIT_ERROR;
	}
	return HMMCTL_EXIT_OK;
}
