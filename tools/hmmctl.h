/* SPDX-License-Identifier: GPL-2.0 */
/*
 * hmmctl.h - what the parts of hmmctl share
 *
 * hmmctl.c parses the command line and prints; nl.c talks to the generic
 * netlink families (libnl-genl-3): hmm_core's for mirrors, counters and
 * events, hmm_dummy's for its devices and page tables; show.c has the
 * one-shot commands, monitor.c the event stream, top.c the live view.
 */
#ifndef HMMCTL_H
#define HMMCTL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <netlink/attr.h>
#include <netlink/genl/genl.h>
#include <netlink/handlers.h>
#include <netlink/msg.h>

#include "hmm_core_nl.h"
#include "hmm_dummy_nl.h"

/* Invalidation reasons: enum hmm_core_event. */
#define HMMCTL_NR_EVENTS	(HMM_CORE_EVENT_OTHER + 1)

/*
 * The core's pages-invalidated attribute of a mirror, or NULL: absent until
 * its driver reports some.
 */
static inline struct nlattr *hmmctl_pages_attr(struct nlattr **tb)
{
	return tb[HMM_CORE_A_MIRROR_PAGES_INVALIDATED];
}

/* Exit codes, as hmmctl(8) documents them. */
enum {
	HMMCTL_EXIT_OK = 0,
	HMMCTL_EXIT_USAGE = 1,		/* bad command line */
	HMMCTL_EXIT_NOFAMILY = 2,	/* the family's module is not loaded */
	HMMCTL_EXIT_PERM = 3,		/* permission denied */
	HMMCTL_EXIT_NOENT = 4,		/* no such mirror */
	HMMCTL_EXIT_ERROR = 5,		/* any other failure */
};

/**
 * struct hmmctl - one connection to a family
 * @sk: the generic netlink socket
 * @name: the family's name (HMM_CORE_FAMILY_NAME or HMM_DUMMY_FAMILY_NAME)
 * @family: the family's id
 * @json: print JSON instead of text
 * @err: the kernel's errno of the last request (negative), 0 if none
 * @errmsg: its extended-ack message, "" if none
 * @done: the last request's reply is complete
 * @interrupted: the last dump was marked inconsistent (NLM_F_DUMP_INTR)
 */
struct hmmctl {
	struct nl_sock *sk;
	const char *name;
	int family;
	bool json;
	int err;
	char errmsg[256];
	bool done;
	bool interrupted;
};

/* nl.c */
int hmmctl_connect(struct hmmctl *h, const char *family);
void hmmctl_close(struct hmmctl *h);
struct nl_msg *hmmctl_msg(struct hmmctl *h, uint8_t cmd, bool dump);
int hmmctl_run(struct hmmctl *h, struct nl_msg *msg,
	       int (*valid)(struct nl_msg *msg, void *arg), void *arg);
int hmmctl_fail(struct hmmctl *h, int ret, const char *what,
		const char *perm);
struct nlattr **hmmctl_parse(struct nl_msg *msg, struct nlattr **tb, int max);
int hmmctl_join_events(struct hmmctl *h);

/* hmmctl.c */
extern const char *const hmmctl_event_names[HMMCTL_NR_EVENTS];
void hmmctl_json_fstr(FILE *f, const char *s);
void hmmctl_json_str(const char *s);
int hmmctl_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int hmmctl_parse_u64(const char *s, uint64_t *v);

/* show.c */
int hmmctl_devices(struct hmmctl *h, int argc, char **argv);
int hmmctl_mirrors(struct hmmctl *h, int argc, char **argv);
int hmmctl_mms(struct hmmctl *h, int argc, char **argv);
int hmmctl_pt(struct hmmctl *h, int argc, char **argv);
int hmmctl_stats(struct hmmctl *h, int argc, char **argv);
int hmmctl_read_stats(struct hmmctl *h, uint64_t *sent, uint64_t *dropped);

/* monitor.c */
int hmmctl_monitor(struct hmmctl *h, int argc, char **argv);

/* top.c */
int hmmctl_top(struct hmmctl *h, int argc, char **argv);

#endif /* HMMCTL_H */
