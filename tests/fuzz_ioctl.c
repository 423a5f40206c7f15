// SPDX-License-Identifier: GPL-2.0
/*
 * fuzz_ioctl [--seed N] [--seconds S] - random ioctls against
 * /dev/hmm_dummy0 (native ABI) and /dev/hmm_dmirror0 (test_hmm ABI)
 *
 * For S seconds per device (default 5): random command numbers (mostly the
 * device's own, some unknown ones), random struct contents (addresses in and
 * around a small arena of mappings whose protections keep changing, bad
 * pointers, bad sizes, flags and reserved fields) and bad argument
 * pointers. Every call must return 0 or -1 with a documented errno, and the
 * process must survive. Afterwards the native device's page table must still
 * be coherent with the CPU's over the arena. The seed is printed: rerun with
 * --seed to reproduce.
 *
 * Safety of the process itself: device writes go only to the arena and the
 * buffer area (both end in a PROT_NONE guard page); random user addresses
 * are never handed to a command that writes.
 */
#include "tap.h"
#include "dummy_util.h"
#include "hmm_dmirror.h"

#include <stdint.h>
#include <time.h>

#define ARENA_PAGES	66	/* page 0 and 65 stay PROT_NONE */
#define BUF_PAGES	64	/* plus one PROT_NONE guard */
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

static uint64_t seed, rng;
static unsigned int seconds = 5;
static uint8_t *arena, *bufarea, *argarea;

static uint64_t rnd(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 2685821657736338717ULL;
}

static int chance(unsigned int percent)
{
	return rnd() % 100 < percent;
}

static uint64_t r_addr(int for_write)
{
	unsigned int c = rnd() % 100;

	if (c < 60)
		return (uintptr_t)arena + (rnd() % ARENA_PAGES) * PAGE;
	if (c < 70)
		return (uintptr_t)arena + rnd() % (ARENA_PAGES * PAGE);
	if (c < 75)
		return 0;
	if (c < 80)
		/* near the stack with ASLR off: never for a write */
		return 0x7ffffffff000ULL - (rnd() % 4) * PAGE + for_write;
	if (c < 85)
		return rnd() | (1ULL << 63);
	if (c < 90)	/* random user address: never for a writing command */
		return (rnd() & 0x7ffffffff000ULL) | (for_write ? 1 : 0);
	if (c < 95)
		return (uintptr_t)bufarea + (rnd() % BUF_PAGES) * PAGE;
	return rnd() | 1;
}

static uint64_t r_npages(void)
{
	unsigned int c = rnd() % 100;

	if (c < 50)
		return 1 + rnd() % 16;
	if (c < 60)
		return 0;
	if (c < 75)
		return 1 + rnd() % 80;
	if (c < 80)
		return HMM_DUMMY_MAX_PAGES;
	if (c < 85)
		return HMM_DUMMY_MAX_PAGES + 1;
	if (c < 90)
		return rnd();
	return rnd() % 1024;
}

static uint64_t r_ptr(void)
{
	unsigned int c = rnd() % 100;

	if (c < 60)
		return (uintptr_t)bufarea + (rnd() % BUF_PAGES) * PAGE +
		       (chance(20) ? rnd() % 64 : 0);
	if (c < 70)
		return 0;
	if (c < 75)
		return 1;
	if (c < 80)
		return 0xffff888000000000ULL + (rnd() % 1024) * PAGE;
	if (c < 90)
		return (uintptr_t)arena + (rnd() % ARENA_PAGES) * PAGE;
	return rnd() | (1ULL << 63);
}

static uint32_t r_flags(uint32_t valid)
{
	if (chance(80))
		return 0;
	if (chance(50))
		return valid;
	return (uint32_t)rnd();
}

static uint64_t r_reserved(void)
{
	return chance(90) ? 0 : rnd();
}

static unsigned long r_unknown_cmd(unsigned int magic)
{
	unsigned int m = chance(50) ? magic : 0xA0 + rnd() % 0x60;

	return _IOC(rnd() % 4, m, rnd() % 256, rnd() % 16384);
}

static void mutate_arena(void)
{
	static const int prots[] = {
		PROT_NONE, PROT_READ, PROT_READ | PROT_WRITE,
		PROT_READ | PROT_WRITE,
	};
	uint64_t first = 1 + rnd() % (ARENA_PAGES - 2);
	uint64_t n = 1 + rnd() % (ARENA_PAGES - 1 - first);
	uint8_t *p = arena + first * PAGE;

	switch (rnd() % 4) {
	case 0:
	case 1:
		mprotect(p, n * PAGE, prots[rnd() % 4]);
		break;
	case 2:
		madvise(p, n * PAGE, MADV_DONTNEED);
		break;
	default:
		/* touch whatever is writable now */
		if (!mprotect(p, n * PAGE, PROT_READ | PROT_WRITE))
			memset(p, (int)(rnd() & 0xff), n * PAGE);
		break;
	}
}

/* Fill the argument page: random bytes, then the struct for cmd. */
static void *build_arg(unsigned long cmd, int native)
{
	uint64_t *w = (uint64_t *)argarea;
	size_t i;

	for (i = 0; i < PAGE / 8; i++)
		w[i] = rnd();
	if (native && cmd == HMM_DUMMY_IOC_FAULT) {
		struct hmm_dummy_fault *f = (void *)argarea;

		*f = (struct hmm_dummy_fault){
			.addr = r_addr(0), .npages = r_npages(),
			.flags = r_flags(HMM_DUMMY_FAULT_WRITE),
			.reserved0 = (uint32_t)r_reserved(),
			.done = rnd(),
			.reserved = { r_reserved(), r_reserved() },
		};
	} else if (native && (cmd == HMM_DUMMY_IOC_READ ||
			      cmd == HMM_DUMMY_IOC_WRITE)) {
		struct hmm_dummy_rw *rw = (void *)argarea;

		*rw = (struct hmm_dummy_rw){
			.addr = r_addr(cmd == HMM_DUMMY_IOC_WRITE),
			.ptr = r_ptr(), .npages = r_npages(),
			.flags = r_flags(0), .reserved0 = (uint32_t)r_reserved(),
			.done = rnd(), .faults = rnd(),
			.reserved = { r_reserved(), r_reserved() },
		};
	} else if (native && cmd == HMM_DUMMY_IOC_SNAPSHOT) {
		struct hmm_dummy_snapshot *s = (void *)argarea;

		*s = (struct hmm_dummy_snapshot){
			.addr = r_addr(0), .ptr = r_ptr(), .npages = r_npages(),
			.flags = r_flags(0), .reserved0 = (uint32_t)r_reserved(),
			.reserved = { r_reserved(), r_reserved() },
		};
	} else if (native && cmd == HMM_DUMMY_IOC_DUMP) {
		struct hmm_dummy_dump *d = (void *)argarea;

		*d = (struct hmm_dummy_dump){
			.addr = r_addr(0), .npages = r_npages(), .ptr = r_ptr(),
			.max_entries = chance(80) ? rnd() % 64 : rnd(),
			.nr_entries = rnd(), .flags = r_flags(0),
			.reserved0 = (uint32_t)r_reserved(),
			.reserved = { r_reserved(), r_reserved() },
		};
	} else if (native && cmd == HMM_DUMMY_IOC_SET_RANGE) {
		struct hmm_dummy_range *r = (void *)argarea;

		*r = (struct hmm_dummy_range){
			.addr = r_addr(0),
			.npages = chance(80) ? r_npages() : rnd(),
			.flags = r_flags(0), .reserved0 = (uint32_t)r_reserved(),
			.reserved = { r_reserved(), r_reserved() },
		};
	} else if (!native && _IOC_TYPE(cmd) == 'H' &&
		   _IOC_SIZE(cmd) == sizeof(struct hmm_dmirror_cmd)) {
		struct hmm_dmirror_cmd *c = (void *)argarea;

		*c = (struct hmm_dmirror_cmd){
			.addr = r_addr(cmd == HMM_DMIRROR_WRITE ||
				       cmd == HMM_DMIRROR_MIGRATE_TO_DEV ||
				       cmd == HMM_DMIRROR_MIGRATE_TO_SYS ||
				       _IOC_NR(cmd) > 0x07),
			.ptr = r_ptr(), .npages = r_npages(),
			.cpages = rnd(), .faults = rnd(),
		};
	}
	/* COUNTERS and unknown commands: the random bytes */
	switch (rnd() % 20) {
	case 0:
		return NULL;
	case 1:
		return (void *)0xffff888000000000ULL;
	case 2:
		return argarea + PAGE - 8;	/* runs into the guard */
	default:
		return argarea;
	}
}

static int errno_ok(int e)
{
	return e == EINVAL || e == EFAULT || e == EPERM || e == ENOTTY ||
	       e == EOPNOTSUPP || e == ENOMEM || e == EINTR || e == EBUSY ||
	       e == ENOENT;
}

struct stats {
	unsigned long calls, ok, bad, by_errno[256];
};

/* Whether the range a successful SET_RANGE was given holds the arena. */
static int range_covers_arena(const struct hmm_dummy_range *r)
{
	uintptr_t a = (uintptr_t)arena;

	return r->addr <= a && r->addr + r->npages * PAGE >= a + ARENA_PAGES * PAGE;
}

static int fuzz_device(const char *path, int native, struct stats *st)
{
	static const unsigned long ncmds[] = {
		HMM_DUMMY_IOC_FAULT, HMM_DUMMY_IOC_READ, HMM_DUMMY_IOC_WRITE,
		HMM_DUMMY_IOC_SNAPSHOT, HMM_DUMMY_IOC_DUMP,
		HMM_DUMMY_IOC_COUNTERS, HMM_DUMMY_IOC_SET_RANGE,
	};
	static const unsigned long dcmds[] = {
		HMM_DMIRROR_READ, HMM_DMIRROR_WRITE, HMM_DMIRROR_MIGRATE_TO_DEV,
		HMM_DMIRROR_MIGRATE_TO_SYS, HMM_DMIRROR_SNAPSHOT,
		HMM_DMIRROR_EXCLUSIVE, HMM_DMIRROR_CHECK_EXCLUSIVE,
		HMM_DMIRROR_RELEASE,
	};
	time_t end = time(NULL) + seconds;
	int fd = open(path, O_RDWR | O_CLOEXEC);
	int covered = 1;

	CHECK(fd >= 0);
	while (time(NULL) < end) {
		int i;

		if (chance(3))
			mutate_arena();
		for (i = 0; i < 32; i++) {
			unsigned long cmd;
			void *arg;
			int r, e;

			if (native)
				cmd = chance(75) ? ncmds[rnd() % ARRAY_SIZE(ncmds)] :
				      r_unknown_cmd(HMM_DUMMY_IOC_MAGIC);
			else
				cmd = chance(75) ? dcmds[rnd() % ARRAY_SIZE(dcmds)] :
				      r_unknown_cmd('H');
			arg = build_arg(cmd, native);
			errno = 0;
			r = ioctl(fd, cmd, arg);
			e = errno;
			st->calls++;
			if (r == 0) {
				st->ok++;
				if (native && cmd == HMM_DUMMY_IOC_SET_RANGE)
					covered = range_covers_arena(arg);
				continue;
			}
			st->by_errno[e & 0xff]++;
			if (r != -1 || !errno_ok(e)) {
				if (st->bad++ < 10)
					diag("%s: ioctl(0x%lx, %p) = %d, errno %d (%s)",
					     path, cmd, arg, r, e, strerror(e));
			}
		}
	}
	if (native) {
		long bad;

		/* A SET_RANGE may have left the arena out: mirror it again. */
		if (!covered && dummy_set_range(fd, arena, ARENA_PAGES)) {
			diag("%s: SET_RANGE over the arena: %s", path,
			     strerror(errno));
			st->bad++;
		}
		bad = check_coherent(fd, arena, ARENA_PAGES);

		if (bad) {
			diag("%s: %ld coherence violations after fuzzing",
			     path, bad);
			st->bad++;
		}
	}
	close(fd);
	return st->bad ? TAP_FAIL : TAP_PASS;
}

static int fuzz(const char *path, int native)
{
	struct stats *st = mmap(NULL, sizeof(*st), PROT_READ | PROT_WRITE,
				MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	char line[512] = "";
	int r, e, len = 0;
	pid_t pid;

	CHECK(st != MAP_FAILED);
	diag("reproduce: fuzz_ioctl --seed %llu --seconds %u",
	     (unsigned long long)seed, seconds);
	rng = seed ^ (native ? 0x9e3779b97f4a7c15ULL : 0xc2b2ae3d27d4eb4fULL);
	if (!rng)
		rng = 1;
	/* The fuzzing runs in a child: the parent sees whether it survived. */
	fflush(stdout);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0)
		_exit(fuzz_device(path, native, st));
	CHECK(waitpid(pid, &r, 0) == pid);
	for (e = 1; e < 256 && len < 400; e++)
		if (st->by_errno[e])
			len += snprintf(line + len, sizeof(line) - len, " %s:%lu",
					strerrorname_np(e) ? strerrorname_np(e) : "?",
					st->by_errno[e]);
	diag("%s: %lu calls, %lu succeeded, %lu bad; errors:%s", path,
	     st->calls, st->ok, st->bad, line);
	if (!WIFEXITED(r)) {
		diag("%s: fuzzing process killed by signal %d", path,
		     WTERMSIG(r));
		return TAP_FAIL;
	}
	CHECK_EQ(WEXITSTATUS(r), TAP_PASS);
	CHECK(st->calls > 100);
	CHECK(st->ok > 0);	/* the valid mappings made some calls work */
	return TAP_PASS;
}

static int t_native(void)
{
	return fuzz("/dev/hmm_dummy0", 1);
}

static int t_dmirror(void)
{
	return fuzz("/dev/hmm_dmirror0", 0);
}

static void *guarded(size_t pages)
{
	uint8_t *p = mmap(NULL, (pages + 1) * PAGE, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	mprotect(p + pages * PAGE, PAGE, PROT_NONE);
	return p;
}

int main(int argc, char **argv)
{
	struct tap_case cases[] = {
		{ "fuzz_hmm_dummy0", t_native, 0 },
		{ "fuzz_hmm_dmirror0", t_dmirror, 0 },
	};
	int i;

	seed = (uint64_t)time(NULL) * 1000003ULL ^ (uint64_t)getpid();
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--seed") && i + 1 < argc)
			seed = strtoull(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
			seconds = (unsigned int)strtoul(argv[++i], NULL, 0);
		else {
			fprintf(stderr, "usage: %s [--seed N] [--seconds S]\n",
				argv[0]);
			return 2;
		}
	}
	cases[0].timeout = cases[1].timeout = seconds + 60;
	arena = guarded(ARENA_PAGES);
	bufarea = guarded(BUF_PAGES);
	argarea = guarded(1);
	if (!arena || !bufarea || !argarea) {
		perror("mmap");
		return 1;
	}
	mprotect(arena, PAGE, PROT_NONE);
	mprotect(arena + (ARENA_PAGES - 1) * PAGE, PAGE, PROT_NONE);
	memset(arena + PAGE, 1, (ARENA_PAGES - 2) * PAGE);
	return TAP_MAIN(cases);
}
