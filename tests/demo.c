// SPDX-License-Identifier: GPL-2.0
/*
 * demo - a narrated tour of a device mirroring a process, for `make demo`.
 *
 * A process maps memory; a simulated device (/dev/hmm_dummy0) mirrors it;
 * the process unmaps, write-protects and forks, and after each step the demo
 * prints the device's page table next to the CPU's (from /proc/self/pagemap)
 * and the invalidations the device received.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hmm_dummy.h"

#define NPAGES	6

static long page;
static int dev;

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

int main(void)
{
	char *buf;
	pid_t child;
	int status;

	page = sysconf(_SC_PAGESIZE);
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
	show_invalidations("munmap");
	show(buf);

	say("The process makes pages 0-3 read-only, then the device faults them for reading");
	if (mprotect(buf, 4 * page, PROT_READ))
		die("mprotect");
	show_invalidations("mprotect");
	device_fault(buf, 4, 0);
	show(buf);

	say("The process makes them writable again and forks");
	if (mprotect(buf, 4 * page, PROT_READ | PROT_WRITE))
		die("mprotect");
	device_fault(buf, 4, 1);
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
	show_invalidations("fork");
	show(buf);

	say("The device writes page 0 in the parent: a private copy is made");
	device_write(buf, "page 0, written by the DEVICE after fork");
	show(buf);
	printf("   parent reads: \"%s\"\n", buf);
	waitpid(child, &status, 0);

	say("The device closes: the mirror is unregistered");
	close(dev);
	printf("\nEvery device entry pointed at the page the CPU maps, with no more access.\n");
	return 0;
}
