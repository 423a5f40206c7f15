// SPDX-License-Identifier: GPL-2.0
/*
 * hmmctl - see and watch every hmm_core mirror through the netlink families
 *
 *	hmmctl [--json] mirrors
 *	hmmctl [--json] mms
 *	hmmctl [--json] stats
 *	hmmctl [--json] monitor [--count N] [--rcvbuf BYTES]
 *	hmmctl [--json] top [-b] [-d SECS] [-n N]
 *	hmmctl [--json] devices
 *	hmmctl [--json] pt MIRROR [START [END]]
 *
 * See hmmctl(8) for the output and the exit codes.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hmmctl.h"

/* Indexed by enum hmm_core_event, as in the COUNTS nests and events. */
const char *const hmmctl_event_names[HMMCTL_NR_EVENTS] = {
	[HMM_CORE_EVENT_UNMAP] = "unmap",
	[HMM_CORE_EVENT_CLEAR] = "clear",
	[HMM_CORE_EVENT_PROTECTION_VMA] = "protection_vma",
	[HMM_CORE_EVENT_PROTECTION_PAGE] = "protection_page",
	[HMM_CORE_EVENT_SOFT_DIRTY] = "soft_dirty",
	[HMM_CORE_EVENT_RELEASE] = "release",
	[HMM_CORE_EVENT_MIGRATE] = "migrate",
	[HMM_CORE_EVENT_EXCLUSIVE] = "exclusive",
	[HMM_CORE_EVENT_OTHER] = "other",
};

static const char usage_text[] =
	"usage: hmmctl [--json] COMMAND [ARGS]\n"
	"  mirrors                      list every driver's mirrors\n"
	"  mms                          their address spaces' counters\n"
	"  stats                        hmm_core's counters and its family's\n"
	"  monitor [--count N] [--rcvbuf BYTES]\n"
	"                               print events as they come (CAP_NET_ADMIN)\n"
	"  top [-b] [-d SECS] [-n N]    live per-mirror rates ('q' quits)\n"
	"  devices                      list hmm_dummy's devices\n"
	"  pt MIRROR [START [END]]      dump an hmm_dummy mirror's device page\n"
	"                               table (CAP_SYS_ADMIN)\n";

int hmmctl_usage(const char *fmt, ...)
{
	va_list ap;

	if (fmt) {
		fputs("hmmctl: ", stderr);
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
		fputc('\n', stderr);
	}
	fputs(usage_text, stderr);
	return HMMCTL_EXIT_USAGE;
}

/* A number in C syntax (0x for hex), the whole string. */
int hmmctl_parse_u64(const char *s, uint64_t *v)
{
	char *end;

	if (!*s || *s == '-')
		return -1;
	errno = 0;
	*v = strtoull(s, &end, 0);
	return errno || *end ? -1 : 0;
}

/* A JSON string of @s on @f. */
void hmmctl_json_fstr(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = *s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

void hmmctl_json_str(const char *s)
{
	hmmctl_json_fstr(stdout, s);
}

static const struct {
	const char *name;
	int (*fn)(struct hmmctl *h, int argc, char **argv);
} commands[] = {
	{ "devices", hmmctl_devices },
	{ "mirrors", hmmctl_mirrors },
	{ "mms", hmmctl_mms },
	{ "pt", hmmctl_pt },
	{ "stats", hmmctl_stats },
	{ "monitor", hmmctl_monitor },
	{ "top", hmmctl_top },
};

int main(int argc, char **argv)
{
	struct hmmctl h = { 0 };
	unsigned int i;
	int ret;

	setvbuf(stdout, NULL, _IOLBF, 0);
	for (argc--, argv++; argc && argv[0][0] == '-'; argc--, argv++) {
		if (!strcmp(argv[0], "--json") || !strcmp(argv[0], "-j"))
			h.json = true;
		else if (!strcmp(argv[0], "--help") || !strcmp(argv[0], "-h"))
			return fputs(usage_text, stdout) < 0;
		else
			return hmmctl_usage("unknown option '%s'", argv[0]);
	}
	if (!argc)
		return hmmctl_usage("no command");
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[0], commands[i].name))
			break;
	if (i == sizeof(commands) / sizeof(commands[0]))
		return hmmctl_usage("unknown command '%s'", argv[0]);
	/* --json may also follow the command. */
	for (int j = 1; j < argc; j++) {
		if (!strcmp(argv[j], "--json") || !strcmp(argv[j], "-j")) {
			h.json = true;
			memmove(&argv[j], &argv[j + 1], (argc - j) * sizeof(*argv));
			argc--;
			j--;
		}
	}

	/* Each command checks its arguments, then connects. */
	ret = commands[i].fn(&h, argc - 1, argv + 1);
	if (h.sk)
		hmmctl_close(&h);
	return ret;
}
