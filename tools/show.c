// SPDX-License-Identifier: GPL-2.0
/*
 * show.c - hmmctl's one-shot commands: mirrors, stats (hmm_core's family),
 * devices, pt (hmm_dummy's)
 *
 * Text is for people, one record per line; --json prints one JSON array
 * (stats: one object) with one element per line.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hmmctl.h"

/* Elements printed so far in the JSON array being printed. */
static unsigned long json_items;

static void json_begin_item(void)
{
	fputs(json_items++ ? ",\n" : "[\n", stdout);
}

static void json_end_array(void)
{
	fputs(json_items ? "\n]\n" : "[]\n", stdout);
}

static uint64_t get_u64(struct nlattr **tb, int attr)
{
	return tb[attr] ? nla_get_u64(tb[attr]) : 0;
}

static uint32_t get_u32(struct nlattr **tb, int attr)
{
	return tb[attr] ? nla_get_u32(tb[attr]) : 0;
}

static const char *get_str(struct nlattr **tb, int attr)
{
	return tb[attr] ? nla_get_string(tb[attr]) : "?";
}

/* A COUNTS nest, as text (" unmap N ...") or JSON ({"unmap":N,...}). */
static void print_counts(struct nlattr *nest, bool json)
{
	struct nlattr *tb[HMM_CORE_A_COUNTS_MAX + 1] = { 0 };
	int ev;

	if (nest)
		nla_parse_nested(tb, HMM_CORE_A_COUNTS_MAX, nest, NULL);
	if (json)
		putchar('{');
	for (ev = 0; ev < HMMCTL_NR_EVENTS; ev++) {
		uint64_t n = get_u64(tb, ev + 1);

		if (json)
			printf("%s\"%s\":%" PRIu64, ev ? "," : "",
			       hmmctl_event_names[ev], n);
		else
			printf(" %s %" PRIu64, hmmctl_event_names[ev], n);
	}
	if (json)
		putchar('}');
}

static int no_args(struct hmmctl *h, int argc, char **argv, const char *cmd,
		   const char *family)
{
	if (argc)
		return hmmctl_usage("%s takes no argument, not '%s'", cmd, argv[0]);
	return hmmctl_connect(h, family);
}

static int device_cb(struct nl_msg *msg, void *arg)
{
	struct nlattr *tb[HMM_DUMMY_A_DEV_MAX + 1];
	struct hmmctl *h = arg;
	const char *abi;

	if (!hmmctl_parse(msg, tb, HMM_DUMMY_A_DEV_MAX))
		return NL_SKIP;
	abi = get_u32(tb, HMM_DUMMY_A_DEV_ABI) == HMM_DUMMY_DEV_ABI_DMIRROR ?
	      "dmirror" : "native";
	if (h->json) {
		json_begin_item();
		printf("{\"index\":%u,\"name\":", get_u32(tb, HMM_DUMMY_A_DEV_INDEX));
		hmmctl_json_str(get_str(tb, HMM_DUMMY_A_DEV_NAME));
		printf(",\"abi\":\"%s\",\"mirrors\":%u}", abi,
		       get_u32(tb, HMM_DUMMY_A_DEV_MIRRORS));
		return NL_OK;
	}
	printf("%-5u  %-14s %-8s %u\n", get_u32(tb, HMM_DUMMY_A_DEV_INDEX),
	       get_str(tb, HMM_DUMMY_A_DEV_NAME), abi,
	       get_u32(tb, HMM_DUMMY_A_DEV_MIRRORS));
	return NL_OK;
}

int hmmctl_devices(struct hmmctl *h, int argc, char **argv)
{
	int ret = no_args(h, argc, argv, "devices", HMM_DUMMY_FAMILY_NAME);

	if (ret)
		return ret;
	if (!h->json)
		printf("INDEX  NAME           ABI      MIRRORS\n");
	json_items = 0;
	ret = hmmctl_run(h, hmmctl_msg(h, HMM_DUMMY_CMD_DEV_GET, true),
			 device_cb, h);
	if (ret)
		return hmmctl_fail(h, ret, "listing the devices", NULL);
	if (h->json)
		json_end_array();
	return HMMCTL_EXIT_OK;
}

/* Nanoseconds as microseconds, to a tenth. */
static void print_us(uint64_t ns)
{
	printf(" %9.1f", ns / 1000.0);
}

static int mirror_cb(struct nl_msg *msg, void *arg)
{
	struct nlattr *tb[HMM_CORE_A_MIRROR_MAX + 1];
	struct nlattr *pages;
	struct hmmctl *h = arg;
	const char *label;
	uint64_t calls, inval = 0;
	char range[48];
	int ev;

	if (!hmmctl_parse(msg, tb, HMM_CORE_A_MIRROR_MAX))
		return NL_SKIP;
	pages = hmmctl_pages_attr(tb);
	label = get_str(tb, HMM_CORE_A_MIRROR_LABEL);
	calls = get_u64(tb, HMM_CORE_A_MIRROR_CALLBACKS);
	if (h->json) {
		json_begin_item();
		printf("{\"id\":%u,\"driver\":", get_u32(tb, HMM_CORE_A_MIRROR_ID));
		hmmctl_json_str(get_str(tb, HMM_CORE_A_MIRROR_DRIVER));
		printf(",\"label\":");
		hmmctl_json_str(tb[HMM_CORE_A_MIRROR_LABEL] ? label : "");
		printf(",\"tgid\":%u,\"start\":%" PRIu64 ",\"end\":%" PRIu64
		       ",\"two_phase\":%s,\"retries\":%" PRIu64
		       ",\"nonblock_failures\":%" PRIu64 ",\"callbacks\":%"
		       PRIu64 ",\"callback_ns\":%" PRIu64
		       ",\"callback_max_ns\":%" PRIu64 ",\"pages_invalidated\":",
		       get_u32(tb, HMM_CORE_A_MIRROR_TGID),
		       get_u64(tb, HMM_CORE_A_MIRROR_START),
		       get_u64(tb, HMM_CORE_A_MIRROR_END),
		       tb[HMM_CORE_A_MIRROR_TWO_PHASE] ? "true" : "false",
		       get_u64(tb, HMM_CORE_A_MIRROR_RETRIES),
		       get_u64(tb, HMM_CORE_A_MIRROR_NONBLOCK_FAILURES), calls,
		       get_u64(tb, HMM_CORE_A_MIRROR_CALLBACK_NS),
		       get_u64(tb, HMM_CORE_A_MIRROR_CALLBACK_MAX_NS));
		if (pages)
			printf("%" PRIu64, nla_get_u64(pages));
		else
			printf("null");
		printf(",\"invalidations\":");
		print_counts(tb[HMM_CORE_A_MIRROR_INVALIDATIONS], true);
		putchar('}');
		return NL_OK;
	}
	if (tb[HMM_CORE_A_MIRROR_INVALIDATIONS]) {
		struct nlattr *c[HMM_CORE_A_COUNTS_MAX + 1] = { 0 };

		nla_parse_nested(c, HMM_CORE_A_COUNTS_MAX,
				 tb[HMM_CORE_A_MIRROR_INVALIDATIONS], NULL);
		for (ev = 0; ev < HMMCTL_NR_EVENTS; ev++)
			inval += get_u64(c, ev + 1);
	}
	snprintf(range, sizeof(range), "0x%" PRIx64 "-0x%" PRIx64,
		 get_u64(tb, HMM_CORE_A_MIRROR_START),
		 get_u64(tb, HMM_CORE_A_MIRROR_END));
	printf("%-6u %-14s %-14s %-7u %-31s %4d %9" PRIu64,
	       get_u32(tb, HMM_CORE_A_MIRROR_ID),
	       get_str(tb, HMM_CORE_A_MIRROR_DRIVER), *label ? label : "-",
	       get_u32(tb, HMM_CORE_A_MIRROR_TGID), range,
	       tb[HMM_CORE_A_MIRROR_TWO_PHASE] ? 2 : 1, inval);
	if (pages)
		printf(" %9" PRIu64, nla_get_u64(pages));
	else
		printf(" %9s", "-");
	printf(" %8" PRIu64 " %7" PRIu64, get_u64(tb, HMM_CORE_A_MIRROR_RETRIES),
	       get_u64(tb, HMM_CORE_A_MIRROR_NONBLOCK_FAILURES));
	print_us(calls ? get_u64(tb, HMM_CORE_A_MIRROR_CALLBACK_NS) / calls : 0);
	print_us(get_u64(tb, HMM_CORE_A_MIRROR_CALLBACK_MAX_NS));
	putchar('\n');
	return NL_OK;
}

int hmmctl_mirrors(struct hmmctl *h, int argc, char **argv)
{
	int ret = no_args(h, argc, argv, "mirrors", HMM_CORE_FAMILY_NAME);

	if (ret)
		return ret;
	if (!h->json)
		printf("%-6s %-14s %-14s %-7s %-31s %4s %9s %9s %8s %7s %9s %9s\n",
		       "ID", "DRIVER", "LABEL", "TGID", "RANGE", "PASS",
		       "INVAL", "PAGES", "RETRIES", "NBFAIL", "AVG_US",
		       "MAX_US");
	json_items = 0;
	ret = hmmctl_run(h, hmmctl_msg(h, HMM_CORE_CMD_MIRROR_GET, true),
			 mirror_cb, h);
	if (ret)
		return hmmctl_fail(h, ret, "listing the mirrors", NULL);
	if (h->json)
		json_end_array();
	return HMMCTL_EXIT_OK;
}

/* One mm of MM_GET: its id, mirrors, owners (one TGID attribute each). */
static int mm_cb(struct nl_msg *msg, void *arg)
{
	struct nlattr *tb[HMM_CORE_A_MM_MAX + 1];
	struct nlmsghdr *nlh = nlmsg_hdr(msg);
	struct hmmctl *h = arg;
	struct nlattr *a, *c[HMM_CORE_A_COUNTS_MAX + 1] = { 0 };
	uint64_t inval = 0;
	int rem, n = 0, ev;

	if (!hmmctl_parse(msg, tb, HMM_CORE_A_MM_MAX))
		return NL_SKIP;
	if (h->json) {
		json_begin_item();
		printf("{\"id\":%u,\"mirrors\":%u,\"tgids\":[",
		       get_u32(tb, HMM_CORE_A_MM_ID),
		       get_u32(tb, HMM_CORE_A_MM_MIRRORS));
	} else {
		printf("%-6u %7u ", get_u32(tb, HMM_CORE_A_MM_ID),
		       get_u32(tb, HMM_CORE_A_MM_MIRRORS));
	}
	nla_for_each_attr(a, genlmsg_attrdata(nlmsg_data(nlh), 0),
			  genlmsg_attrlen(nlmsg_data(nlh), 0), rem) {
		if (nla_type(a) != HMM_CORE_A_MM_TGID ||
		    nla_len(a) != sizeof(uint32_t))
			continue;
		printf("%s%u", n++ ? "," : "", nla_get_u32(a));
	}
	if (h->json) {
		printf("],\"retries\":%" PRIu64 ",\"nonblock_failures\":%"
		       PRIu64 ",\"invalidations\":",
		       get_u64(tb, HMM_CORE_A_MM_RETRIES),
		       get_u64(tb, HMM_CORE_A_MM_NONBLOCK_FAILURES));
		print_counts(tb[HMM_CORE_A_MM_INVALIDATIONS], true);
		putchar('}');
		return NL_OK;
	}
	if (tb[HMM_CORE_A_MM_INVALIDATIONS])
		nla_parse_nested(c, HMM_CORE_A_COUNTS_MAX,
				 tb[HMM_CORE_A_MM_INVALIDATIONS], NULL);
	for (ev = 0; ev < HMMCTL_NR_EVENTS; ev++)
		inval += get_u64(c, ev + 1);
	printf("%s %9" PRIu64 " %8" PRIu64 " %7" PRIu64 "\n", n ? "" : "-",
	       inval, get_u64(tb, HMM_CORE_A_MM_RETRIES),
	       get_u64(tb, HMM_CORE_A_MM_NONBLOCK_FAILURES));
	return NL_OK;
}

int hmmctl_mms(struct hmmctl *h, int argc, char **argv)
{
	int ret = no_args(h, argc, argv, "mms", HMM_CORE_FAMILY_NAME);

	if (ret)
		return ret;
	if (!h->json)
		printf("%-6s %7s %s %9s %8s %7s\n", "MM", "MIRRORS", "TGIDS",
		       "INVAL", "RETRIES", "NBFAIL");
	json_items = 0;
	ret = hmmctl_run(h, hmmctl_msg(h, HMM_CORE_CMD_MM_GET, true), mm_cb, h);
	if (ret)
		return hmmctl_fail(h, ret, "listing the address spaces", NULL);
	if (h->json)
		json_end_array();
	return HMMCTL_EXIT_OK;
}

struct pte {
	uint64_t addr, pfn;
	uint32_t order;
	bool write;
};

/* The entries of one PTE_GET dump: printed once it completed unchanged. */
struct pte_list {
	struct pte *v;
	size_t n, cap;
};

static int pte_cb(struct nl_msg *msg, void *arg)
{
	struct nlattr *tb[HMM_DUMMY_A_PTE_MAX + 1];
	struct pte_list *l = arg;

	if (!hmmctl_parse(msg, tb, HMM_DUMMY_A_PTE_MAX))
		return NL_SKIP;
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 1024;
		struct pte *v = realloc(l->v, cap * sizeof(*v));

		if (!v)
			return NL_STOP;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = (struct pte){
		.addr = get_u64(tb, HMM_DUMMY_A_PTE_ADDR),
		.pfn = get_u64(tb, HMM_DUMMY_A_PTE_PFN),
		.order = get_u32(tb, HMM_DUMMY_A_PTE_ORDER),
		.write = tb[HMM_DUMMY_A_PTE_WRITE],
	};
	return NL_OK;
}

static void pte_print(struct hmmctl *h, uint32_t id, const struct pte_list *l)
{
	size_t i;

	if (!h->json)
		printf("ADDRESS             PFN            PERM  ORDER\n");
	json_items = 0;
	for (i = 0; i < l->n; i++) {
		const struct pte *p = &l->v[i];

		if (h->json) {
			json_begin_item();
			printf("{\"mirror\":%u,\"addr\":%" PRIu64 ",\"pfn\":%"
			       PRIu64 ",\"write\":%s,\"order\":%u}", id,
			       p->addr, p->pfn, p->write ? "true" : "false",
			       p->order);
		} else {
			printf("0x%-16" PRIx64 "  0x%-12" PRIx64 " %-5s %u\n",
			       p->addr, p->pfn, p->write ? "rw" : "r",
			       p->order);
		}
	}
	if (h->json)
		json_end_array();
}

int hmmctl_pt(struct hmmctl *h, int argc, char **argv)
{
	struct pte_list l = { 0 };
	uint64_t id, start = 0, end = 0;
	int ret, tries;

	if (argc < 1 || argc > 3)
		return hmmctl_usage("pt takes MIRROR [START [END]]");
	if (hmmctl_parse_u64(argv[0], &id) || !id || id > UINT32_MAX)
		return hmmctl_usage("bad mirror id '%s'", argv[0]);
	if (argc > 1 && hmmctl_parse_u64(argv[1], &start))
		return hmmctl_usage("bad start address '%s'", argv[1]);
	if (argc > 2 && hmmctl_parse_u64(argv[2], &end))
		return hmmctl_usage("bad end address '%s'", argv[2]);
	/* The kernel checks too; 6.1 cannot say why in a dump's error. */
	if ((start | end) & (sysconf(_SC_PAGESIZE) - 1))
		return hmmctl_usage("START and END must be page aligned");
	if (argc > 2 && start >= end)
		return hmmctl_usage("START must be below END");
	ret = hmmctl_connect(h, HMM_DUMMY_FAMILY_NAME);
	if (ret)
		return ret;

	/* A dump the page table changed under is taken again. */
	for (tries = 0; tries < 5; tries++) {
		struct nl_msg *msg = hmmctl_msg(h, HMM_DUMMY_CMD_PTE_GET, true);

		if (msg && (nla_put_u32(msg, HMM_DUMMY_A_PTE_MIRROR_ID, id) ||
			    (argc > 1 &&
			     nla_put_u64(msg, HMM_DUMMY_A_PTE_START, start)) ||
			    (argc > 2 &&
			     nla_put_u64(msg, HMM_DUMMY_A_PTE_END, end)))) {
			nlmsg_free(msg);
			msg = NULL;
		}
		l.n = 0;
		ret = hmmctl_run(h, msg, pte_cb, &l);
		if (ret || !h->interrupted)
			break;
	}
	if (ret) {
		free(l.v);
		if (ret == -ENOENT && !h->errmsg[0])
			snprintf(h->errmsg, sizeof(h->errmsg),
				 "no such mirror (pt shows hmm_dummy's only)");
		return hmmctl_fail(h, ret, "dumping the page table",
				   "dumping pfns needs CAP_SYS_ADMIN");
	}
	if (h->interrupted)
		fprintf(stderr, "hmmctl: the page table kept changing during the dump: it may be inconsistent\n");
	pte_print(h, id, &l);
	free(l.v);
	return HMMCTL_EXIT_OK;
}

struct stats {
	uint64_t sent, dropped;
	int print;	/* 0: no, 1: text, 2: JSON */
};

static int stats_cb(struct nl_msg *msg, void *arg)
{
	struct nlattr *tb[HMM_CORE_A_STATS_MAX + 1];
	struct stats *s = arg;
	static const struct {
		const char *name;
		int attr;
	} fields[] = {
		{ "mms", HMM_CORE_A_STATS_MMS },
		{ "mirrors", HMM_CORE_A_STATS_MIRRORS },
		{ "nonblock_failures", HMM_CORE_A_STATS_NONBLOCK_FAILURES },
		{ "retries", HMM_CORE_A_STATS_RETRIES },
		{ "events_sent", HMM_CORE_A_STATS_EVENTS_SENT },
		{ "events_dropped", HMM_CORE_A_STATS_EVENTS_DROPPED },
		{ "verify_violations", HMM_CORE_A_STATS_VERIFY_VIOLATIONS },
	};
	bool json = s->print == 2;
	size_t i;

	if (!hmmctl_parse(msg, tb, HMM_CORE_A_STATS_MAX))
		return NL_SKIP;
	s->sent = get_u64(tb, HMM_CORE_A_STATS_EVENTS_SENT);
	s->dropped = get_u64(tb, HMM_CORE_A_STATS_EVENTS_DROPPED);
	if (!s->print)
		return NL_OK;
	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		printf(json ? "%s\"%s\":%" PRIu64 : "%s%-18s %" PRIu64 "\n",
		       json ? (i ? "," : "{") : "", fields[i].name,
		       get_u64(tb, fields[i].attr));
	printf(json ? ",\"invalidations\":" : "invalidations     ");
	print_counts(tb[HMM_CORE_A_STATS_INVALIDATIONS], json);
	printf(json ? "}\n" : "\n");
	return NL_OK;
}

int hmmctl_read_stats(struct hmmctl *h, uint64_t *sent, uint64_t *dropped)
{
	struct stats s = { 0 };
	int ret;

	ret = hmmctl_run(h, hmmctl_msg(h, HMM_CORE_CMD_STATS_GET, false),
			 stats_cb, &s);
	*sent = s.sent;
	*dropped = s.dropped;
	return ret;
}

int hmmctl_stats(struct hmmctl *h, int argc, char **argv)
{
	struct stats s = { 0 };
	int ret = no_args(h, argc, argv, "stats", HMM_CORE_FAMILY_NAME);

	if (ret)
		return ret;
	s.print = h->json ? 2 : 1;
	ret = hmmctl_run(h, hmmctl_msg(h, HMM_CORE_CMD_STATS_GET, false),
			 stats_cb, &s);
	if (ret)
		return hmmctl_fail(h, ret, "reading the counters", NULL);
	return HMMCTL_EXIT_OK;
}
