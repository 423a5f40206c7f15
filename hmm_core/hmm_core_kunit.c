// SPDX-License-Identifier: GPL-2.0
/*
 * hmm_core_kunit - KUnit suite for hmm_core
 *
 * Built as hmm_core_kunit.ko only against a kernel with KUnit (see Kbuild);
 * the debug-kernel lane loads it in its guest (scripts/check-debug), where
 * lockdep, PROVE_RCU, DEBUG_ATOMIC_SLEEP and KASAN watch every case.
 *
 * The mm: a KUnit case runs in a kernel thread, which has none. The first
 * kunit_vm_mmap() of a case gives that thread a fresh mm of its own
 * (mm_alloc(), an mmap layout, kthread_use_mm()), so the case can register
 * mirrors on it, map and unmap with vm_mmap()/vm_munmap() (real
 * invalidations through the kernel's interval tree), fault pages in through
 * hmm_core, and tear the address space down as a process exit does: drop
 * the thread's use of the mm and its last user reference, and exit_mmap()
 * runs the mirrors' ->release() in the case's own thread.
 *
 * The non-blocking path: the kernel's only non-blocking invalidation is the
 * OOM reaper's, and mmu_notifier_invalidate_range_start_nonblock() is not
 * exported. For each overlapping interval it calls the interval's
 * ops->invalidate() with a range whose flags lack
 * MMU_NOTIFIER_RANGE_BLOCKABLE; the cases below make exactly that call on
 * the ops hmm_core registered, with a range built by mmu_notifier_range_init().
 */
#include <kunit/test.h>
#include <linux/atomic.h>
#include <linux/completion.h>
#include <linux/delay.h>
#include <linux/err.h>
#include <linux/kthread.h>
#include <linux/mm.h>
#include <linux/mman.h>
#include <linux/mmu_notifier.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/sched.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>

#include <hmm_mirror.h>

HMM_MIRROR_IMPORT_NS();

/* Pages of the mapping each case makes. */
#define HCT_PAGES	16
#define HCT_LEN		(HCT_PAGES * PAGE_SIZE)

/**
 * struct hct_mirror - a test driver's mirror
 * @mirror: the mirror registered with hmm_core
 * @lock: the "device page-table lock": protects @last and @nr_syncs, taken
 *	by the sync callback as a driver's would be
 * @last: the last update the sync callback saw
 * @nr_syncs: sync callbacks that got @lock
 * @attempts: sync callbacks entered, also those that returned -EAGAIN
 * @in_sync: sync callbacks running now
 * @releases: ->release() calls
 * @sleep_us: a blockable sync callback sleeps this long, then writes to the
 *	mirror: were the mirror freed under it, KASAN would report it
 * @released: set by the release callback of hct_release_sleeps_ops, after
 *	its sleep
 * @release_entered: completed when that release callback starts
 * @counter: where the self-unregistering release callback counts, as it
 *	frees its mirror
 */
struct hct_mirror {
	struct hmm_mirror mirror;
	struct mutex lock; /* protects @last and @nr_syncs */
	struct hmm_update last;
	unsigned int nr_syncs;
	atomic_t attempts;
	atomic_t in_sync;
	atomic_t releases;
	unsigned int sleep_us;
	bool released;
	struct completion release_entered;
	atomic_t *counter;
};

static struct hct_mirror *to_hct(struct hmm_mirror *mirror)
{
	return container_of(mirror, struct hct_mirror, mirror);
}

static int hct_sync(struct hmm_mirror *mirror, const struct hmm_update *update)
{
	struct hct_mirror *m = to_hct(mirror);

	atomic_inc(&m->attempts);
	if (update->blockable)
		mutex_lock(&m->lock);
	else if (!mutex_trylock(&m->lock))
		return -EAGAIN;
	atomic_inc(&m->in_sync);
	m->last = *update;
	m->nr_syncs++;
	if (update->blockable && m->sleep_us)
		usleep_range(m->sleep_us, 2 * m->sleep_us);
	/* Touches the mirror after the sleep: a use after free for KASAN. */
	atomic_dec(&m->in_sync);
	mutex_unlock(&m->lock);
	return 0;
}

static void hct_release(struct hmm_mirror *mirror)
{
	atomic_inc(&to_hct(mirror)->releases);
}

/* ->release() unregisters its own mirror and frees it. */
static void hct_release_unregister(struct hmm_mirror *mirror)
{
	struct hct_mirror *m = to_hct(mirror);
	atomic_t *counter = m->counter;

	hmm_mirror_unregister(mirror);
	kfree(m);
	atomic_inc(counter);
}

/* ->release() that takes its time, then writes to the mirror. */
static void hct_release_sleeps(struct hmm_mirror *mirror)
{
	struct hct_mirror *m = to_hct(mirror);

	complete(&m->release_entered);
	msleep(100);
	WRITE_ONCE(m->released, true);
	atomic_inc(&m->releases);
}

static const struct hmm_mirror_ops hct_ops = {
	.sync_cpu_device_pagetables = hct_sync,
	.release = hct_release,
};

static const struct hmm_mirror_ops hct_no_release_ops = {
	.sync_cpu_device_pagetables = hct_sync,
};

static const struct hmm_mirror_ops hct_release_unregister_ops = {
	.sync_cpu_device_pagetables = hct_sync,
	.release = hct_release_unregister,
};

static const struct hmm_mirror_ops hct_release_sleeps_ops = {
	.sync_cpu_device_pagetables = hct_sync,
	.release = hct_release_sleeps,
};

static struct hct_mirror *hct_alloc(struct kunit *test,
				    const struct hmm_mirror_ops *ops)
{
	struct hct_mirror *m = kzalloc(sizeof(*m), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, m);
	mutex_init(&m->lock);
	init_completion(&m->release_entered);
	m->mirror.ops = ops;
	return m;
}

/*
 * Give the case's thread an mm of its own with one anonymous read-write
 * mapping of HCT_LEN bytes, and return the mapping's address.
 */
static unsigned long hct_attach_mm(struct kunit *test)
{
	unsigned long addr;

	addr = kunit_vm_mmap(test, NULL, 0, HCT_LEN, PROT_READ | PROT_WRITE,
			     MAP_ANONYMOUS | MAP_PRIVATE, 0);
	KUNIT_ASSERT_FALSE_MSG(test, !addr || IS_ERR_VALUE(addr),
			       "kunit_vm_mmap() failed: %ld", (long)addr);
	KUNIT_ASSERT_NOT_NULL(test, current->mm);
	return addr;
}

/*
 * What a process exit does to its mm (exit_mm()): the thread stops using
 * it and drops its user reference; the last one runs exit_mmap(), which
 * calls every mirror's ->release(). The mm itself stays pinned: the caller
 * mmdrop()s it.
 */
static struct mm_struct *hct_exit_mm(void)
{
	struct mm_struct *mm = current->mm;

	mmgrab(mm);
	kthread_unuse_mm(mm);
	mmput(mm);
	return mm;
}

/*
 * hmm_core's counters once every per-mm object already put is freed: the
 * last mmu_notifier_put() frees it from an SRCU callback, which an earlier
 * case (the register race's short-lived mirrors) may have left pending, so
 * that nr_mms would drop in the middle of a later case.
 */
static void hct_stats(struct hmm_mirror_stats *stats)
{
	mmu_notifier_synchronize();
	hmm_mirror_read_stats(stats);
}

/* Bad arguments are refused before anything is registered. */
static void hct_register_errors(struct kunit *test)
{
	struct hct_mirror *m = hct_alloc(test, &hct_ops);
	unsigned long addr = hct_attach_mm(test);
	struct mm_struct *mm = current->mm;

	m->mirror.ops = NULL;
	KUNIT_EXPECT_EQ(test, hmm_mirror_register(&m->mirror, mm), -EINVAL);
	m->mirror.ops = &hct_ops;
	KUNIT_EXPECT_EQ(test, hmm_mirror_register_range(&m->mirror, mm, addr + 1,
							addr + HCT_LEN), -EINVAL);
	KUNIT_EXPECT_EQ(test, hmm_mirror_register_range(&m->mirror, mm, addr,
							addr), -EINVAL);
	KUNIT_EXPECT_EQ(test, hmm_mirror_register_range(&m->mirror, mm, addr,
							mm->task_size + PAGE_SIZE),
			-EINVAL);
	kfree(m);
}

/*
 * 64 mirrors on one mm, on single pages and on the whole mapping: one
 * munmap calls exactly the overlapping ones, once each, with the range
 * clamped to each mirror; hmm_core keeps one per-mm object for all of them.
 */
static void hct_many_mirrors(struct kunit *test)
{
	enum { NR = 64, FIRST = 8, NR_UNMAP = 4 };
	unsigned long addr = hct_attach_mm(test);
	struct hmm_mirror_stats before, during, after;
	struct mm_struct *mm = current->mm;
	struct hct_mirror **m;
	unsigned long ustart = addr + FIRST * PAGE_SIZE;
	unsigned long uend = ustart + NR_UNMAP * PAGE_SIZE;
	int i;

	m = kunit_kcalloc(test, NR, sizeof(*m), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, m);
	hct_stats(&before);
	for (i = 0; i < NR; i++) {
		unsigned long start = addr, end = addr + HCT_LEN;

		if (i < HCT_PAGES) {
			start = addr + i * PAGE_SIZE;
			end = start + PAGE_SIZE;
		}
		m[i] = hct_alloc(test, &hct_ops);
		KUNIT_ASSERT_EQ(test, hmm_mirror_register_range(&m[i]->mirror,
								mm, start, end),
				0);
	}
	hct_stats(&during);
	KUNIT_EXPECT_EQ(test, during.nr_mms - before.nr_mms, 1);
	KUNIT_EXPECT_EQ(test, during.nr_mirrors - before.nr_mirrors, NR);

	KUNIT_ASSERT_EQ(test, vm_munmap(ustart, uend - ustart), 0);

	for (i = 0; i < NR; i++) {
		bool page = i < HCT_PAGES;
		bool hit = !page || (i >= FIRST && i < FIRST + NR_UNMAP);

		mutex_lock(&m[i]->lock);
		KUNIT_EXPECT_EQ_MSG(test, m[i]->nr_syncs, hit ? 1 : 0,
				    "mirror %d", i);
		if (hit && m[i]->nr_syncs) {
			unsigned long s = page ? addr + i * PAGE_SIZE : ustart;
			unsigned long e = page ? s + PAGE_SIZE : uend;

			KUNIT_EXPECT_EQ(test, m[i]->last.start, s);
			KUNIT_EXPECT_EQ(test, m[i]->last.end, e);
			KUNIT_EXPECT_EQ(test, m[i]->last.event, MMU_NOTIFY_UNMAP);
			KUNIT_EXPECT_TRUE(test, m[i]->last.blockable);
		}
		mutex_unlock(&m[i]->lock);
	}

	for (i = 0; i < NR; i++) {
		hmm_mirror_unregister(&m[i]->mirror);
		kfree(m[i]);
	}
	hct_stats(&after);
	KUNIT_EXPECT_EQ(test, after.nr_mms, before.nr_mms);
	KUNIT_EXPECT_EQ(test, after.nr_mirrors, before.nr_mirrors);
}

/**
 * struct hct_race - the register/unregister thread of hct_register_race
 * @mm: the mm it registers on (a user reference held by the case)
 * @start: first address of its mirrors
 * @end: first address past them
 * @done: completed when the thread exits
 * @rounds: register/unregister rounds to do
 * @syncs: sync callbacks its mirrors saw
 * @busy: mirrors that still had a sync callback running when
 *	hmm_mirror_unregister() returned
 * @errors: registrations that failed
 */
struct hct_race {
	struct mm_struct *mm;
	unsigned long start;
	unsigned long end;
	struct completion done;
	unsigned int rounds;
	unsigned int syncs;
	unsigned int busy;
	unsigned int errors;
};

static int hct_race_thread(void *data)
{
	struct hct_race *r = data;
	unsigned int i;

	for (i = 0; i < r->rounds; i++) {
		struct hct_mirror *m = kzalloc(sizeof(*m), GFP_KERNEL);

		if (!m) {
			r->errors++;
			continue;
		}
		mutex_init(&m->lock);
		m->mirror.ops = &hct_no_release_ops;
		m->sleep_us = 500;
		if (hmm_mirror_register_range(&m->mirror, r->mm, r->start,
					      r->end)) {
			r->errors++;
			kfree(m);
			continue;
		}
		usleep_range(200, 1000);
		hmm_mirror_unregister(&m->mirror);
		/* No callback may still run: it is freed right away. */
		if (atomic_read(&m->in_sync))
			r->busy++;
		r->syncs += atomic_read(&m->attempts);
		kfree(m);
	}
	kthread_complete_and_exit(&r->done, 0);
}

/*
 * R10: mirrors registered and unregistered in one thread while this one
 * maps and unmaps their range; each sync callback sleeps and then writes to
 * its mirror, which the other thread frees as soon as
 * hmm_mirror_unregister() returns. A callback still running then would be
 * a use after free, which KASAN reports.
 */
static void hct_register_race(struct kunit *test)
{
	unsigned long addr = hct_attach_mm(test);
	struct hct_race *r;
	struct task_struct *t;
	unsigned int unmaps = 0;

	r = kunit_kzalloc(test, sizeof(*r), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, r);
	r->mm = current->mm;
	r->start = addr;
	r->end = addr + HCT_LEN;
	r->rounds = 100;
	init_completion(&r->done);
	mmget(r->mm);
	t = kthread_run(hct_race_thread, r, "hmm_core_kunit_race");
	if (IS_ERR(t)) {
		mmput(r->mm);
		KUNIT_FAIL(test, "kthread_run: %ld", PTR_ERR(t));
		return;
	}

	while (!completion_done(&r->done)) {
		unsigned long a = vm_mmap(NULL, addr, HCT_LEN,
					  PROT_READ | PROT_WRITE,
					  MAP_ANONYMOUS | MAP_PRIVATE |
					  MAP_FIXED, 0);

		KUNIT_EXPECT_EQ(test, a, addr);
		KUNIT_EXPECT_EQ(test, vm_munmap(addr, HCT_LEN), 0);
		unmaps++;
		cond_resched();
	}
	wait_for_completion(&r->done);
	mmput(r->mm);

	KUNIT_EXPECT_EQ(test, r->errors, 0);
	KUNIT_EXPECT_EQ(test, r->busy, 0);
	/* The race was run, not just the two loops one after the other. */
	KUNIT_EXPECT_GT(test, r->syncs, 0);
	kunit_info(test, "%u unmaps, %u callbacks on %u short-lived mirrors\n",
		   unmaps, r->syncs, r->rounds);
}

/*
 * The mm's last user goes away: ->release() is called once per mirror that
 * has one, before hmm_mirror_unregister(), which still works afterwards.
 */
static void hct_release_on_exit(struct kunit *test)
{
	unsigned long addr = hct_attach_mm(test);
	struct hct_mirror *a = hct_alloc(test, &hct_ops);
	struct hct_mirror *b = hct_alloc(test, &hct_ops);
	struct hct_mirror *c = hct_alloc(test, &hct_no_release_ops);
	struct hmm_mirror_stats before, after;
	struct mm_struct *mm = current->mm;

	hct_stats(&before);
	KUNIT_ASSERT_EQ(test, hmm_mirror_register(&a->mirror, mm), 0);
	KUNIT_ASSERT_EQ(test, hmm_mirror_register_range(&b->mirror, mm, addr,
							addr + PAGE_SIZE), 0);
	KUNIT_ASSERT_EQ(test, hmm_mirror_register(&c->mirror, mm), 0);

	mm = hct_exit_mm();
	KUNIT_EXPECT_EQ(test, atomic_read(&a->releases), 1);
	KUNIT_EXPECT_EQ(test, atomic_read(&b->releases), 1);
	KUNIT_EXPECT_EQ(test, atomic_read(&c->releases), 0);

	hmm_mirror_unregister(&a->mirror);
	hmm_mirror_unregister(&b->mirror);
	hmm_mirror_unregister(&c->mirror);
	KUNIT_EXPECT_EQ(test, atomic_read(&a->releases), 1);
	kfree(a);
	kfree(b);
	kfree(c);
	mmdrop(mm);
	hct_stats(&after);
	KUNIT_EXPECT_EQ(test, after.nr_mirrors, before.nr_mirrors);
	KUNIT_EXPECT_EQ(test, after.nr_mms, before.nr_mms);
}

/* A mirror may unregister itself, and be freed, from inside ->release(). */
static void hct_unregister_in_release(struct kunit *test)
{
	struct hct_mirror *self = hct_alloc(test, &hct_release_unregister_ops);
	struct hct_mirror *other = hct_alloc(test, &hct_ops);
	struct hmm_mirror_stats before, mid;
	struct mm_struct *mm;
	atomic_t *counter;

	hct_attach_mm(test);
	mm = current->mm;
	counter = kunit_kzalloc(test, sizeof(*counter), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, counter);
	self->counter = counter;
	hct_stats(&before);
	KUNIT_ASSERT_EQ(test, hmm_mirror_register(&self->mirror, mm), 0);
	KUNIT_ASSERT_EQ(test, hmm_mirror_register(&other->mirror, mm), 0);

	mm = hct_exit_mm();
	KUNIT_EXPECT_EQ(test, atomic_read(counter), 1);
	KUNIT_EXPECT_EQ(test, atomic_read(&other->releases), 1);
	hct_stats(&mid);
	KUNIT_EXPECT_EQ(test, mid.nr_mirrors, before.nr_mirrors + 1);

	hmm_mirror_unregister(&other->mirror);
	kfree(other);
	mmdrop(mm);
}

/**
 * struct hct_waiter - the thread of hct_unregister_waits_for_release
 * @m: the mirror it unregisters and frees
 * @done: completed when the thread exits
 * @released_at_return: whether ->release() had finished when
 *	hmm_mirror_unregister() returned
 */
struct hct_waiter {
	struct hct_mirror *m;
	struct completion done;
	bool released_at_return;
};

static int hct_waiter_thread(void *data)
{
	struct hct_waiter *w = data;

	wait_for_completion(&w->m->release_entered);
	hmm_mirror_unregister(&w->m->mirror);
	w->released_at_return = READ_ONCE(w->m->released);
	kfree(w->m);
	kthread_complete_and_exit(&w->done, 0);
}

/*
 * R10: hmm_mirror_unregister() in another thread, while ->release() runs
 * on the mirror, returns only once ->release() returned; the mirror is
 * freed right after (KASAN would see ->release()'s last write otherwise).
 */
static void hct_unregister_waits_for_release(struct kunit *test)
{
	struct hct_mirror *m = hct_alloc(test, &hct_release_sleeps_ops);
	struct hct_waiter *w;
	struct task_struct *t;
	struct mm_struct *mm;

	hct_attach_mm(test);
	w = kunit_kzalloc(test, sizeof(*w), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, w);
	w->m = m;
	init_completion(&w->done);
	KUNIT_ASSERT_EQ(test, hmm_mirror_register(&m->mirror, current->mm), 0);
	t = kthread_run(hct_waiter_thread, w, "hmm_core_kunit_wait");
	if (IS_ERR(t)) {
		hmm_mirror_unregister(&m->mirror);
		kfree(m);
		KUNIT_FAIL(test, "kthread_run: %ld", PTR_ERR(t));
		return;
	}

	mm = hct_exit_mm();
	wait_for_completion(&w->done);
	KUNIT_EXPECT_TRUE(test, w->released_at_return);
	mmdrop(mm);
}

/*
 * The non-blocking path (the OOM reaper's): a sync callback that cannot
 * take its lock without sleeping returns -EAGAIN and hmm_core fails the
 * invalidation (false) and counts it; the sequence is set all the same.
 * With the lock free, the same call succeeds and says it may not block.
 */
static void hct_nonblock_eagain(struct kunit *test)
{
	unsigned long addr = hct_attach_mm(test);
	struct hct_mirror *m = hct_alloc(test, &hct_ops);
	struct mmu_interval_notifier *in = &m->mirror.interval;
	struct hmm_mirror_stats before, after;
	struct mmu_notifier_range range;
	unsigned long saved;
	bool ok;

	KUNIT_ASSERT_EQ(test, hmm_mirror_register(&m->mirror, current->mm), 0);
	saved = READ_ONCE(in->invalidate_seq);
	mmu_notifier_range_init(&range, MMU_NOTIFY_CLEAR, 0, current->mm,
				addr, addr + PAGE_SIZE);
	KUNIT_EXPECT_FALSE(test, mmu_notifier_range_blockable(&range));

	hct_stats(&before);
	mutex_lock(&m->lock);
	ok = in->ops->invalidate(in, &range, saved + 2);
	mutex_unlock(&m->lock);
	hct_stats(&after);
	KUNIT_EXPECT_FALSE(test, ok);
	KUNIT_EXPECT_EQ(test, atomic_read(&m->attempts), 1);
	KUNIT_EXPECT_EQ(test, m->nr_syncs, 0);
	KUNIT_EXPECT_EQ(test, READ_ONCE(in->invalidate_seq), saved + 2);
	KUNIT_EXPECT_EQ(test, after.nonblock_failures - before.nonblock_failures, 1);

	/* The lock is free: the non-blocking call succeeds. */
	ok = in->ops->invalidate(in, &range, saved + 4);
	KUNIT_EXPECT_TRUE(test, ok);
	KUNIT_EXPECT_EQ(test, m->nr_syncs, 1);
	KUNIT_EXPECT_FALSE(test, m->last.blockable);
	KUNIT_EXPECT_EQ(test, m->last.start, addr);
	KUNIT_EXPECT_EQ(test, m->last.end, addr + PAGE_SIZE);
	KUNIT_EXPECT_EQ(test, m->last.event, MMU_NOTIFY_CLEAR);

	/* And a blockable one says so. */
	range.flags = MMU_NOTIFIER_RANGE_BLOCKABLE;
	ok = in->ops->invalidate(in, &range, saved + 6);
	KUNIT_EXPECT_TRUE(test, ok);
	KUNIT_EXPECT_TRUE(test, m->last.blockable);

	/* Leave the kernel's sequence as it was: nothing ran in between. */
	WRITE_ONCE(in->invalidate_seq, saved);
	hmm_mirror_unregister(&m->mirror);
	kfree(m);
}

/*
 * R8: the sequence is compared for equality only, so an invalidation whose
 * sequence wrapped past zero (numerically below the one read) still makes
 * hmm_mirror_range_retry() say retry; first with sequences given to the
 * interval ops, then with a populate and a real munmap.
 */
static void hct_seq_wrap(struct kunit *test)
{
	unsigned long addr = hct_attach_mm(test);
	struct hct_mirror *m = hct_alloc(test, &hct_ops);
	struct mmu_interval_notifier *in = &m->mirror.interval;
	unsigned long entries[4];
	struct hmm_mirror_range range = {
		.start = addr,
		.end = addr + ARRAY_SIZE(entries) * PAGE_SIZE,
		.entries = entries,
		.write = true,
	};
	struct hmm_mirror_stats before, after;
	struct mmu_notifier_range nr;
	unsigned long saved, i;

	KUNIT_ASSERT_EQ(test, hmm_mirror_register(&m->mirror, current->mm), 0);
	saved = READ_ONCE(in->invalidate_seq);
	hct_stats(&before);

	/* Read at ULONG_MAX; the next invalidation's sequence wrapped to 1. */
	WRITE_ONCE(in->invalidate_seq, ULONG_MAX);
	range.seq = ULONG_MAX;
	KUNIT_EXPECT_FALSE(test, hmm_mirror_range_retry(&m->mirror, &range));
	mmu_notifier_range_init(&nr, MMU_NOTIFY_CLEAR, MMU_NOTIFIER_RANGE_BLOCKABLE,
				current->mm, range.start, range.end);
	KUNIT_EXPECT_TRUE(test, in->ops->invalidate(in, &nr, ULONG_MAX + 2));
	KUNIT_EXPECT_EQ(test, READ_ONCE(in->invalidate_seq), 1UL);
	KUNIT_EXPECT_TRUE(test, hmm_mirror_range_retry(&m->mirror, &range));
	range.seq = 1;
	KUNIT_EXPECT_FALSE(test, hmm_mirror_range_retry(&m->mirror, &range));
	WRITE_ONCE(in->invalidate_seq, saved);

	/* A real populate reads ULONG_MAX; a real munmap moves it on. */
	WRITE_ONCE(in->invalidate_seq, ULONG_MAX);
	KUNIT_ASSERT_EQ(test, hmm_mirror_range_fault(&m->mirror, &range), 0);
	KUNIT_EXPECT_EQ(test, range.seq, ULONG_MAX);
	for (i = 0; i < ARRAY_SIZE(entries); i++)
		KUNIT_EXPECT_TRUE(test, (entries[i] & HMM_MIRROR_ENTRY_VALID) &&
				  (entries[i] & HMM_MIRROR_ENTRY_WRITE));
	KUNIT_EXPECT_FALSE(test, hmm_mirror_range_retry(&m->mirror, &range));
	KUNIT_ASSERT_EQ(test, vm_munmap(addr, PAGE_SIZE), 0);
	KUNIT_EXPECT_NE(test, READ_ONCE(in->invalidate_seq), ULONG_MAX);
	KUNIT_EXPECT_TRUE(test, READ_ONCE(in->invalidate_seq) & 1);
	KUNIT_EXPECT_TRUE(test, hmm_mirror_range_retry(&m->mirror, &range));

	hct_stats(&after);
	KUNIT_EXPECT_EQ(test, after.retries - before.retries, 2);
	hmm_mirror_unregister(&m->mirror);
	kfree(m);
}

static struct kunit_case hmm_core_test_cases[] = {
	KUNIT_CASE(hct_register_errors),
	KUNIT_CASE(hct_many_mirrors),
	KUNIT_CASE(hct_register_race),
	KUNIT_CASE(hct_release_on_exit),
	KUNIT_CASE(hct_unregister_in_release),
	KUNIT_CASE(hct_unregister_waits_for_release),
	KUNIT_CASE(hct_nonblock_eagain),
	KUNIT_CASE(hct_seq_wrap),
	{}
};

static struct kunit_suite hmm_core_test_suite = {
	.name = "hmm_core",
	.test_cases = hmm_core_test_cases,
};

kunit_test_suite(hmm_core_test_suite);

MODULE_DESCRIPTION("KUnit tests for hmm_core");
MODULE_LICENSE("GPL");
