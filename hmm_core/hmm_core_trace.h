/* SPDX-License-Identifier: GPL-2.0 */
/*
 * hmm_core's trace events, /sys/kernel/tracing/events/hmm_core/: what
 * happens to every driver's mirrors, for trace-cmd, perf and bpftrace.
 *
 * Every event names its mirror (a pointer, hashed in the text output: the
 * same mirror gives the same value) and its driver: the name of the module
 * the mirror's ->sync_cpu_device_pagetables() is in, "vmlinux" for code built
 * into the kernel. Each tracepoint is a static key: disabled, it costs a
 * patched-out jump. The durations are only measured when the event is on
 * (trace_*_enabled()); the driver's name is looked up once, at register.
 *
 * Defined (CREATE_TRACE_POINTS) in hmm_core.c; found by define_trace.h
 * through TRACE_INCLUDE_PATH below and Kbuild's -I of this directory.
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM hmm_core

#if !defined(_HMM_CORE_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define _HMM_CORE_TRACE_H

#include <linux/mmu_notifier.h>
#include <linux/module.h>
#include <linux/tracepoint.h>

#include <hmm_mirror.h>
#include "hmm_core_internal.h"

TRACE_DEFINE_ENUM(MMU_NOTIFY_UNMAP);
TRACE_DEFINE_ENUM(MMU_NOTIFY_CLEAR);
TRACE_DEFINE_ENUM(MMU_NOTIFY_PROTECTION_VMA);
TRACE_DEFINE_ENUM(MMU_NOTIFY_PROTECTION_PAGE);
TRACE_DEFINE_ENUM(MMU_NOTIFY_SOFT_DIRTY);
TRACE_DEFINE_ENUM(MMU_NOTIFY_RELEASE);
TRACE_DEFINE_ENUM(MMU_NOTIFY_MIGRATE);
TRACE_DEFINE_ENUM(MMU_NOTIFY_EXCLUSIVE);
TRACE_DEFINE_ENUM(HMM_CORE_VERIFY_LEFT);
TRACE_DEFINE_ENUM(HMM_CORE_VERIFY_PFN);
TRACE_DEFINE_ENUM(HMM_CORE_VERIFY_WRITE);
TRACE_DEFINE_ENUM(HMM_CORE_VERIFY_ORDER);

#define hmm_core_show_event(event)					\
	__print_symbolic(event,						\
			 { MMU_NOTIFY_UNMAP, "unmap" },			\
			 { MMU_NOTIFY_CLEAR, "clear" },			\
			 { MMU_NOTIFY_PROTECTION_VMA, "protection_vma" },	\
			 { MMU_NOTIFY_PROTECTION_PAGE, "protection_page" },	\
			 { MMU_NOTIFY_SOFT_DIRTY, "soft_dirty" },	\
			 { MMU_NOTIFY_RELEASE, "release" },		\
			 { MMU_NOTIFY_MIGRATE, "migrate" },		\
			 { MMU_NOTIFY_EXCLUSIVE, "exclusive" })

/* hmm_mirror_register_range() returned @ret for [@start, @end). */
TRACE_EVENT(hmm_core_register,
	    TP_PROTO(const struct hmm_mirror *mirror, unsigned long start,
		     unsigned long end, int ret),
	    TP_ARGS(mirror, start, end, ret),
	    TP_STRUCT__entry(__field(const void *, mirror)
			     __array(char, driver, MODULE_NAME_LEN)
			     __field(unsigned long, start)
			     __field(unsigned long, end)
			     __field(int, ret)
	    ),
	    TP_fast_assign(__entry->mirror = mirror;
			   memcpy(__entry->driver, mirror->driver, MODULE_NAME_LEN);
			   __entry->start = start;
			   __entry->end = end;
			   __entry->ret = ret;
	    ),
	    TP_printk("mirror=%p driver=%s start=0x%lx end=0x%lx ret=%d",
		      __entry->mirror, __entry->driver, __entry->start,
		      __entry->end, __entry->ret)
);

/* hmm_mirror_unregister() is done: no callback runs on @mirror any more. */
TRACE_EVENT(hmm_core_unregister,
	    TP_PROTO(const struct hmm_mirror *mirror, unsigned long start,
		     unsigned long end),
	    TP_ARGS(mirror, start, end),
	    TP_STRUCT__entry(__field(const void *, mirror)
			     __array(char, driver, MODULE_NAME_LEN)
			     __field(unsigned long, start)
			     __field(unsigned long, end)
	    ),
	    TP_fast_assign(__entry->mirror = mirror;
			   memcpy(__entry->driver, mirror->driver, MODULE_NAME_LEN);
			   __entry->start = start;
			   __entry->end = end;
	    ),
	    TP_printk("mirror=%p driver=%s start=0x%lx end=0x%lx",
		      __entry->mirror, __entry->driver, __entry->start,
		      __entry->end)
);

/*
 * The mm went away: @mirror's ->release() ran (0 ns if it has none). The
 * callback may have unregistered and freed @mirror: only its address is kept,
 * and the rest was read before.
 */
TRACE_EVENT(hmm_core_release,
	    TP_PROTO(const struct hmm_mirror *mirror, const char *driver,
		     unsigned long start, unsigned long end, u64 ns),
	    TP_ARGS(mirror, driver, start, end, ns),
	    TP_STRUCT__entry(__field(const void *, mirror)
			     __array(char, driver, MODULE_NAME_LEN)
			     __field(unsigned long, start)
			     __field(unsigned long, end)
			     __field(u64, ns)
	    ),
	    TP_fast_assign(__entry->mirror = mirror;
			   memcpy(__entry->driver, driver, MODULE_NAME_LEN);
			   __entry->start = start;
			   __entry->end = end;
			   __entry->ns = ns;
	    ),
	    TP_printk("mirror=%p driver=%s start=0x%lx end=0x%lx ns=%llu",
		      __entry->mirror, __entry->driver, __entry->start,
		      __entry->end, __entry->ns)
);

/*
 * One invalidation delivered to @mirror: the part of the mmu notifier's
 * range inside the mirror, the notifier's event, whether the callback could
 * block, how long ->sync_cpu_device_pagetables() took and what it returned.
 */
TRACE_EVENT(hmm_core_invalidate,
	    TP_PROTO(const struct hmm_mirror *mirror,
		     const struct hmm_update *update, u64 ns, int ret),
	    TP_ARGS(mirror, update, ns, ret),
	    TP_STRUCT__entry(__field(const void *, mirror)
			     __array(char, driver, MODULE_NAME_LEN)
			     __field(unsigned long, start)
			     __field(unsigned long, end)
			     __field(unsigned int, event)
			     __field(bool, blockable)
			     __field(u64, ns)
			     __field(int, ret)
	    ),
	    TP_fast_assign(__entry->mirror = mirror;
			   memcpy(__entry->driver, mirror->driver, MODULE_NAME_LEN);
			   __entry->start = update->start;
			   __entry->end = update->end;
			   __entry->event = update->event;
			   __entry->blockable = update->blockable;
			   __entry->ns = ns;
			   __entry->ret = ret;
	    ),
	    TP_printk("mirror=%p driver=%s start=0x%lx end=0x%lx event=%s blockable=%d ns=%llu ret=%d",
		      __entry->mirror, __entry->driver, __entry->start,
		      __entry->end, hmm_core_show_event(__entry->event),
		      __entry->blockable, __entry->ns, __entry->ret)
);

DECLARE_EVENT_CLASS(hmm_core_range,
		    TP_PROTO(const struct hmm_mirror *mirror,
			     const struct hmm_mirror_range *range, int ret),
		    TP_ARGS(mirror, range, ret),
		    TP_STRUCT__entry(__field(const void *, mirror)
				     __array(char, driver, MODULE_NAME_LEN)
				     __field(unsigned long, start)
				     __field(unsigned long, pages)
				     __field(bool, write)
				     __field(int, ret)
		    ),
		    TP_fast_assign(__entry->mirror = mirror;
				   memcpy(__entry->driver, mirror->driver, MODULE_NAME_LEN);
				   __entry->start = range->start;
				   __entry->pages = (range->end - range->start) >> PAGE_SHIFT;
				   __entry->write = range->write;
				   __entry->ret = ret;
		    ),
		    TP_printk("mirror=%p driver=%s start=0x%lx pages=%lu write=%d ret=%d",
			      __entry->mirror, __entry->driver, __entry->start,
			      __entry->pages, __entry->write, __entry->ret)
);

/* hmm_mirror_range_fault() returned @ret. */
DEFINE_EVENT(hmm_core_range, hmm_core_range_fault,
	     TP_PROTO(const struct hmm_mirror *mirror,
		      const struct hmm_mirror_range *range, int ret),
	     TP_ARGS(mirror, range, ret)
);

/* hmm_mirror_range_snapshot() returned @ret (@write is not used). */
DEFINE_EVENT(hmm_core_range, hmm_core_range_snapshot,
	     TP_PROTO(const struct hmm_mirror *mirror,
		      const struct hmm_mirror_range *range, int ret),
	     TP_ARGS(mirror, range, ret)
);

/*
 * An invalidation sent a read of @range back: at @commit, the driver's
 * hmm_mirror_range_retry() said so; otherwise the kernel's page-table walk
 * inside hmm_mirror_range_fault() or _snapshot() was, and hmm_core walked
 * again by itself.
 */
TRACE_EVENT(hmm_core_retry,
	    TP_PROTO(const struct hmm_mirror *mirror,
		     const struct hmm_mirror_range *range, bool commit),
	    TP_ARGS(mirror, range, commit),
	    TP_STRUCT__entry(__field(const void *, mirror)
			     __array(char, driver, MODULE_NAME_LEN)
			     __field(unsigned long, start)
			     __field(unsigned long, pages)
			     __field(bool, commit)
	    ),
	    TP_fast_assign(__entry->mirror = mirror;
			   memcpy(__entry->driver, mirror->driver, MODULE_NAME_LEN);
			   __entry->start = range->start;
			   __entry->pages = (range->end - range->start) >> PAGE_SHIFT;
			   __entry->commit = commit;
	    ),
	    TP_printk("mirror=%p driver=%s start=0x%lx pages=%lu stage=%s",
		      __entry->mirror, __entry->driver, __entry->start,
		      __entry->pages, __entry->commit ? "commit" : "walk")
);

#define hmm_core_show_verify(kind)					\
	__print_symbolic(kind,						\
			 { HMM_CORE_VERIFY_LEFT, "left_after_invalidation" },	\
			 { HMM_CORE_VERIFY_PFN, "pfn_mismatch" },	\
			 { HMM_CORE_VERIFY_WRITE, "write_not_granted" },	\
			 { HMM_CORE_VERIFY_ORDER, "order_too_large" })

/*
 * The coherence verifier (verify.c) found the device of @mirror holding
 * @dev (an entry of ->report_entries(), HMM_MIRROR_ENTRY_* encoding) at
 * @addr where the CPU holds @cpu (its page table, read without faulting;
 * 0 for nothing), checking [@start, @end) for the reason @kind. Every
 * violation found is an event; only a mirror's first is a warning.
 */
TRACE_EVENT(hmm_core_verify_violation,
	    TP_PROTO(const struct hmm_mirror *mirror, unsigned int kind,
		     unsigned long start, unsigned long end,
		     unsigned long addr, unsigned long dev, unsigned long cpu),
	    TP_ARGS(mirror, kind, start, end, addr, dev, cpu),
	    TP_STRUCT__entry(__field(const void *, mirror)
			     __array(char, driver, MODULE_NAME_LEN)
			     __field(unsigned int, kind)
			     __field(unsigned long, start)
			     __field(unsigned long, end)
			     __field(unsigned long, addr)
			     __field(unsigned long, dev)
			     __field(unsigned long, cpu)
	    ),
	    TP_fast_assign(__entry->mirror = mirror;
			   memcpy(__entry->driver, mirror->driver, MODULE_NAME_LEN);
			   __entry->kind = kind;
			   __entry->start = start;
			   __entry->end = end;
			   __entry->addr = addr;
			   __entry->dev = dev;
			   __entry->cpu = cpu;
	    ),
	    TP_printk("mirror=%p driver=%s kind=%s start=0x%lx end=0x%lx addr=0x%lx dev=0x%lx cpu=0x%lx",
		      __entry->mirror, __entry->driver,
		      hmm_core_show_verify(__entry->kind), __entry->start,
		      __entry->end, __entry->addr, __entry->dev, __entry->cpu)
);

#endif /* _HMM_CORE_TRACE_H */

/* Out of the kernel's include/trace/events/: found through Kbuild's -I. */
#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE hmm_core_trace
#include <trace/define_trace.h>
