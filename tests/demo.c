// SPDX-License-Identifier: GPL-2.0
/*
 * demo - a narrated tour of a device mirroring a process, for `make demo`.
 *
 * A process maps memory; a simulated device (/dev/hmm_dummy0) mirrors it;
 * the process unmaps, write-protects and forks, and after each step the demo
 * prints the device's page table next to the CPU's (from /proc/self/pagemap)
 * and the invalidations the device received. `hmmctl monitor` runs in the
 * background all along: the events it prints, as they come from hmm_core's
 * netlink family, are shown after each step ("monitor |"). At the end,
 * `hmmctl mirrors` lists the mirror as hmm_core sees it, and one frame of
 * `hmmctl top -b` shows its rates while the process keeps changing the
 * protection of a page ("hmmctl |").
 *
 * demo --broken: the same steps against a deliberately broken hmm_dummy
 * (scripts/demo builds tests/mutants/skip-clear.patch into a copy), with
 * hmm_core's coherence verifier on: it shows the verifier's report.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/klog.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hmm_dummy.h"

#define NPAGES	6

static long page;
static int dev;

extern char **environ;

/* The background `hmmctl monitor`: its pid and the pipe of its output. */
static pid_t mon_pid = -1;
static int mon_fd = -1;

/* Print what the monitor said, until it has been quiet for quiet_ms. */
static int monitor_show(int quiet_ms)
{
	static char buf[8192];
	static size_t len;
	struct pollfd pfd = { .fd = mon_fd, .events = POLLIN };
	int lines = 0;
	ssize_t n;
	char *nl;

	while (mon_fd >= 0 && poll(&pfd, 1, quiet_ms) > 0) {
		n = read(mon_fd, buf + len, sizeof(buf) - 1 - len);
		if (n <= 0)
			break;
		len += n;
		while ((nl = memchr(buf, '\n', len))) {
			*nl = '\0';
			printf("   monitor | %s\n", buf);
			lines++;
			len -= nl + 1 - buf;
			memmove(buf, nl + 1, len);
		}
		if (len == sizeof(buf) - 1)
			len = 0;
	}
	fflush(stdout);
	return lines;
}

/* hmmctl's path: next to this program. */
static void hmmctl_path(char *path, size_t size)
{
	char *slash;
	ssize_t n;

	n = readlink("/proc/self/exe", path, size - 8);
	path[n > 0 ? n : 0] = '\0';
	slash = strrchr(path, '/');
	strcpy(slash ? slash + 1 : path, "hmmctl");
}

/* Start `hmmctl monitor` (next to this program) and wait until it listens. */
static void monitor_start(void)
{
	char path[4096];
	char *argv[] = { "hmmctl", "monitor", NULL };
	posix_spawn_file_actions_t fa;
	int p[2], i, fd;

	hmmctl_path(path, sizeof(path));
	if (access(path, X_OK) || pipe(p)) {
		printf("   (no hmmctl next to the demo: no live events)\n");
		return;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, p[1], 1);
	posix_spawn_file_actions_addclose(&fa, p[0]);
	if (posix_spawn(&mon_pid, path, &fa, NULL, argv, environ)) {
		printf("   (cannot start hmmctl: no live events)\n");
		mon_pid = -1;
		return;
	}
	posix_spawn_file_actions_destroy(&fa);
	close(p[1]);
	mon_fd = p[0];
	/* Listening once it reports a device opened and closed: not shown. */
	for (i = 0; i < 50; i++) {
		fd = open("/dev/hmm_dummy1", O_RDWR);
		if (fd >= 0)
			close(fd);
		if (poll(&(struct pollfd){ .fd = mon_fd, .events = POLLIN }, 1, 200) > 0)
			break;
	}
	usleep(300000);
	while (poll(&(struct pollfd){ .fd = mon_fd, .events = POLLIN }, 1, 0) > 0 &&
	       read(mon_fd, path, sizeof(path)) > 0)
		;
}

static void monitor_stop(void)
{
	if (mon_pid < 0)
		return;
	kill(mon_pid, SIGTERM);
	monitor_show(1000);
	waitpid(mon_pid, NULL, 0);
}

static void say(const char *text)
{
	printf("\n== %s\n", text);
	fflush(stdout);
}

static void die(const char *what)
{
	fprintf(stderr, "demo: %s: %s\n", what, strerror(errno));
	exit(1);
}

static uint64_t cpu_pfn(void *addr)
{
	uint64_t e = 0;
	int fd = open("/proc/self/pagemap", O_RDONLY);

	if (fd < 0)
		die("open /proc/self/pagemap");
	if (pread(fd, &e, sizeof(e), (uintptr_t)addr / page * sizeof(e)) !=
	    sizeof(e))
		die("read /proc/self/pagemap");
	close(fd);
	return e >> 63 ? e & ((1ULL << 55) - 1) : 0;
}

/* The device page table beside the CPU's, one line per page. */
static void show(char *buf)
{
	struct hmm_dummy_pte pte[NPAGES];
	struct hmm_dummy_dump d = {
		.addr = (uintptr_t)buf, .npages = NPAGES,
		.ptr = (uintptr_t)pte, .max_entries = NPAGES,
	};
	unsigned int i, j;

	if (ioctl(dev, HMM_DUMMY_IOC_DUMP, &d))
		die("HMM_DUMMY_IOC_DUMP");
	printf("   page  CPU pfn    device pfn  device access\n");
	for (i = 0; i < NPAGES; i++) {
		char *va = buf + i * page;
		uint64_t pfn = cpu_pfn(va);

		char cpu[24] = "-";

		for (j = 0; j < d.nr_entries && pte[j].va != (uintptr_t)va; j++)
			;
		if (pfn)
			snprintf(cpu, sizeof(cpu), "%llx", (unsigned long long)pfn);
		printf("   %4u  %-9s  ", i, cpu);
		if (j == d.nr_entries)
			printf("%-10s  %s\n", "-", "none");
		else
			printf("%-10llx  %s%s\n", (unsigned long long)pte[j].pfn,
			       pte[j].perm & HMM_DUMMY_PERM_WRITE ?
			       "read/write" : "read-only",
			       pte[j].pfn == pfn ? "" : "  <-- MISMATCH");
	}
}

static void show_invalidations(const char *what)
{
	static const char *const names[HMM_DUMMY_NR_EVENTS] = {
		"unmap", "clear", "protection (vma)", "protection (page)",
		"soft-dirty", "release", "migrate", "exclusive", "other",
	};
	static struct hmm_dummy_counters last;
	struct hmm_dummy_counters c;
	unsigned int i;

	if (ioctl(dev, HMM_DUMMY_IOC_COUNTERS, &c))
		die("HMM_DUMMY_IOC_COUNTERS");
	printf("   invalidations the device received for %s:", what);
	for (i = 0; i < HMM_DUMMY_NR_EVENTS; i++)
		if (c.invalidations[i] != last.invalidations[i])
			printf(" %s x%llu", names[i], (unsigned long long)
			       (c.invalidations[i] - last.invalidations[i]));
	printf("; device entries dropped: %llu\n", (unsigned long long)
	       (c.pages_invalidated - last.pages_invalidated));
	last = c;
}

static void device_fault(char *buf, unsigned int npages, int write)
{
	struct hmm_dummy_fault f = {
		.addr = (uintptr_t)buf, .npages = npages,
		.flags = write ? HMM_DUMMY_FAULT_WRITE : 0,
	};

	if (ioctl(dev, HMM_DUMMY_IOC_FAULT, &f))
		die("HMM_DUMMY_IOC_FAULT");
}

static void device_write(char *buf, const char *text)
{
	char data[4096] = "";
	struct hmm_dummy_rw rw = {
		.addr = (uintptr_t)buf, .ptr = (uintptr_t)data, .npages = 1,
	};

	snprintf(data, sizeof(data), "%s", text);
	if (ioctl(dev, HMM_DUMMY_IOC_WRITE, &rw))
		die("HMM_DUMMY_IOC_WRITE");
}

/*
 * Run hmmctl ARGV and print what it said from its line holding @from (the
 * last one; NULL: all of it), marked "hmmctl |". With @toggle, change the
 * protection of that page back and forth, and fault it into the device
 * again, until hmmctl exits.
 */
static void hmmctl_show(char *const argv[], const char *from, char *toggle)
{
	static char out[16384];
	char path[4096], *start = out, *line, *nl, *s;
	posix_spawn_file_actions_t fa;
	size_t len = 0;
	unsigned long i = 0;
	int p[2], st;
	ssize_t n;
	pid_t pid;

	hmmctl_path(path, sizeof(path));
	if (access(path, X_OK) || pipe(p)) {
		printf("   (no hmmctl next to the demo)\n");
		return;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, p[1], 1);
	posix_spawn_file_actions_addclose(&fa, p[0]);
	st = posix_spawn(&pid, path, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(p[1]);
	if (st) {
		printf("   (cannot start hmmctl)\n");
		close(p[0]);
		return;
	}
	/* Its output is a few lines: the pipe holds it until it exits. */
	/* The device faults the page in again after each pair. */
	while (toggle && waitpid(pid, &st, WNOHANG) == 0)
		for (int j = 0; j < 256; j++, i++) {
			mprotect(toggle, page, i & 1 ? PROT_READ | PROT_WRITE :
				 PROT_READ);
			if (i & 1)
				device_fault(toggle, 1, 1);
		}
	if (toggle) {
		mprotect(toggle, page, PROT_READ | PROT_WRITE);
		printf("   (%lu protection changes while it ran)\n", i);
	}
	while (len < sizeof(out) - 1 &&
	       (n = read(p[0], out + len, sizeof(out) - 1 - len)) > 0)
		len += n;
	out[len] = '\0';
	close(p[0]);
	if (!toggle)
		waitpid(pid, &st, 0);
	for (s = out; from && (s = strstr(s, from)); s++)
		start = s;
	for (line = start; *line; line = nl + 1) {
		nl = strchr(line, '\n');
		if (!nl)
			nl = line + strlen(line);
		printf("   hmmctl | %.*s\n", (int)(nl - line), line);
		if (!*nl)
			break;
	}
}

/* The kernel log's lines holding @what, indented. */
static void show_kernel_log(const char *what)
{
	int len = klogctl(10 /* SYSLOG_ACTION_SIZE_BUFFER */, NULL, 0);
	char *log, *line, *next;

	if (len <= 0 || !(log = calloc(1, len + 1)))
		die("klogctl");
	len = klogctl(3 /* SYSLOG_ACTION_READ_ALL */, log, len);
	if (len < 0)
		die("klogctl");
	for (line = log; line < log + len; line = next + 1) {
		next = memchr(line, '\n', log + len - line);
		if (!next)
			next = log + len;
		*next = '\0';
		if (strstr(line, what))
			printf("   kernel | %s\n", line);
	}
	free(log);
}

static long long read_param(const char *name)
{
	char path[128], val[32] = "";
	FILE *f;

	snprintf(path, sizeof(path), "/sys/module/hmm_core/parameters/%s",
		 name);
	f = fopen(path, "r");
	if (!f || !fgets(val, sizeof(val), f))
		die(path);
	fclose(f);
	return atoll(val);
}

/* demo --broken: a driver that skips the clear, and the verifier's report. */
static int broken(void)
{
	char *buf;

	page = sysconf(_SC_PAGESIZE);
	setvbuf(stdout, NULL, _IOLBF, 0);
	say("A deliberately broken hmm_dummy: its invalidation leaves the device entries in place");
	printf("   hmm_core's coherence verifier is on: verify=%lld (hmm_core.verify=1)\n",
	       read_param("verify"));
	buf = mmap(NULL, NPAGES * page, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED)
		die("mmap");
	memset(buf, 1, NPAGES * page);
	dev = open("/dev/hmm_dummy0", O_RDWR);
	if (dev < 0)
		die("open /dev/hmm_dummy0");
	say("The device faults 6 pages in for writing");
	device_fault(buf, NPAGES, 1);
	show(buf);

	say("The process unmaps pages 2 and 3: the driver is told, and keeps them");
	if (munmap(buf + 2 * page, 2 * page))
		die("munmap");
	show(buf);

	say("hmm_core asked the driver what it still maps in the unmapped range: its report");
	show_kernel_log("hmm_core: verify:");
	printf("   verify_violations = %lld\n", read_param("verify_violations"));
	close(dev);
	printf("\nThe verifier named the driver, the mirror, the range, the page the device\n"
	       "still maps and what the CPU was doing: no test of the driver's own needed.\n");
	return 0;
}

int main(int argc, char **argv)
{
	char *buf;
	pid_t child;
	int status;

	if (argc > 1 && !strcmp(argv[1], "--broken"))
		return broken();
	page = sysconf(_SC_PAGESIZE);
	setvbuf(stdout, NULL, _IOLBF, 0);
	say("`hmmctl monitor` starts in the background: it prints each event of hmm_core's netlink family");
	monitor_start();
	printf("   (its lines follow each step below, marked \"monitor |\")\n");

	say("A process maps 6 pages of memory and writes to each");
	buf = mmap(NULL, NPAGES * page, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED)
		die("mmap");
	for (int i = 0; i < NPAGES; i++)
		sprintf(buf + i * page, "page %d, written by the CPU", i);

	say("It opens /dev/hmm_dummy0: the device now mirrors its address space");
	dev = open("/dev/hmm_dummy0", O_RDWR);
	if (dev < 0)
		die("open /dev/hmm_dummy0");
	monitor_show(500);
	printf("   (nothing is in the device page table until the device faults)\n");
	show(buf);

	say("The device faults all 6 pages in for writing");
	device_fault(buf, NPAGES, 1);
	show(buf);

	say("The device writes page 0; the CPU reads it");
	device_write(buf, "page 0, written by the DEVICE");
	printf("   CPU reads: \"%s\"\n", buf);

	say("The process unmaps pages 4 and 5");
	if (munmap(buf + 4 * page, 2 * page))
		die("munmap");
	monitor_show(500);
	show_invalidations("munmap");
	show(buf);

	say("The process makes pages 0-3 read-only, then the device faults them for reading");
	if (mprotect(buf, 4 * page, PROT_READ))
		die("mprotect");
	monitor_show(500);
	show_invalidations("mprotect");
	device_fault(buf, 4, 0);
	show(buf);

	say("The process makes them writable again and forks");
	if (mprotect(buf, 4 * page, PROT_READ | PROT_WRITE))
		die("mprotect");
	device_fault(buf, 4, 1);
	monitor_show(500);
	show_invalidations("mprotect and the device's write fault");
	child = fork();
	if (child < 0)
		die("fork");
	if (child == 0) {
		sleep(1);
		printf("   child still reads: \"%s\"\n", buf);
		_exit(0);
	}
	printf("   fork write-protects the parent's pages (copy-on-write):\n");
	monitor_show(500);
	show_invalidations("fork");
	show(buf);

	say("The device writes page 0 in the parent: a private copy is made");
	device_write(buf, "page 0, written by the DEVICE after fork");
	monitor_show(500);
	show(buf);
	printf("   parent reads: \"%s\"\n", buf);
	waitpid(child, &status, 0);

	say("`hmmctl mirrors`: every driver's mirrors, as hmm_core's netlink family lists them");
	hmmctl_show((char *[]){ "hmmctl", "mirrors", NULL }, NULL, NULL);
	monitor_show(500);

	say("hmmctl monitor stops: its summary");
	monitor_stop();

	say("`hmmctl top -b -n 2`: the mirror's rates while the process keeps write-protecting page 3 and back, the device faulting it in again (its last frame)");
	hmmctl_show((char *[]){ "hmmctl", "top", "-b", "-n", "2", NULL },
		    "hmmctl top - ", buf + 3 * page);

	say("The device closes: the mirror is unregistered");
	close(dev);
	printf("\nEvery device entry pointed at the page the CPU maps, with no more access.\n");
	return 0;
}
