/* SPDX-License-Identifier: GPL-2.0 */
/*
 * compat.h - what newer kernels have, for the older ones hmm-mirror builds on
 *
 * Kbuild force-includes this file (-include) into every source of both
 * modules, after the kernel's own forced headers. compat/conftest.sh has
 * probed the target kernel by then: one snippet compiled against its
 * headers, or a look at its Module.symvers, per API, never its version
 * number (distribution kernels backport), into generated/compat_probes.h,
 * a COMPAT_HAVE_* for each thing the kernel has (and generated/compat.mk,
 * the same for Kbuild, which builds a file only where its API exists).
 *
 * Here an older kernel gets, under the newer kernel's name, what it lacks,
 * so the sources are written against the newest API and carry no #ifdef of
 * their own. Where the newer API cannot be had on an older kernel, a
 * compat_*() or COMPAT_*() gives one name for all kernels.
 */
#ifndef _HMM_MIRROR_COMPAT_H
#define _HMM_MIRROR_COMPAT_H

#include "generated/compat_probes.h"

/* 6.5 dropped the vmas argument of get_user_pages_remote(). */
#ifdef COMPAT_GUP_REMOTE_HAS_VMAS
#include <linux/mm.h>
#define get_user_pages_remote(mm, start, nr_pages, gup_flags, pages, locked) \
	get_user_pages_remote(mm, start, nr_pages, gup_flags, pages, NULL, locked)
#endif

/*
 * 6.2: a dump reaches its parsed attributes through a struct genl_info.
 * Before, a struct genl_dumpit_info had them, under the same name.
 */
#ifndef COMPAT_HAVE_GENL_INFO_DUMP
#define genl_info_dump(cb) genl_dumpit_info(cb)
#endif

/*
 * 6.7 (and stable backports): GENL_MCAST_CAP_NET_ADMIN, a multicast group
 * only CAP_NET_ADMIN may join. Before it the family's bind callback
 * refuses the join (conftest.sh makes sure the kernel has one of the two):
 * a family whose every group has the flag ends its struct genl_family
 * with COMPAT_GENL_MCAST_CAP_BIND, which is nothing where the flag exists.
 */
#ifdef COMPAT_HAVE_GENL_MCAST_CAP
#define COMPAT_GENL_MCAST_CAP_BIND
#else
#include <linux/capability.h>
#include <linux/errno.h>
#define GENL_MCAST_CAP_NET_ADMIN 0
static inline int compat_genl_bind_cap_net_admin(int group)
{
	return capable(CAP_NET_ADMIN) ? 0 : -EPERM;
}

#define COMPAT_GENL_MCAST_CAP_BIND .bind = compat_genl_bind_cap_net_admin
#endif

/*
 * 6.2: split ops, a command's do and dump as two struct genl_split_ops
 * entries (GENL_CMD_CAP_DO, GENL_CMD_CAP_DUMP), each with its own policy:
 * the ops table scripts/ynl-gen generates. A family registers with them by
 * compat_genl_register_family() (which gives any of them past the family's
 * resv_start_op without a policy one rejecting every attribute, as the core
 * does for struct genl_ops), and unregisters with
 * compat_genl_unregister_family(). Before 6.2 a family has one struct
 * genl_ops per command: a command's entries are merged into one at
 * registration (a dump with no policy of its own takes the do's; a command
 * whose do and dump have two different policies cannot be had).
 */
#include <net/genetlink.h>
#ifdef COMPAT_HAVE_GENL_SPLIT_OPS
#include <linux/slab.h>

/*
 * The core rejects every attribute of a struct genl_ops command past
 * resv_start_op that has no policy, but parses nothing of a split op that
 * has none: an attribute would be ignored. Registered here, such a split
 * op gets the core's own reject-all policy instead (in a copy of the ops,
 * freed by compat_genl_unregister_family()), as the core's policy dump
 * already shows it.
 */
static inline int compat_genl_register_family(struct genl_family *family,
					      const struct genl_split_ops *sops,
					      unsigned int n)
{
	static const struct nla_policy reject_all[] = {
		{ .type = NLA_REJECT },
		{ .type = NLA_REJECT },
	};
	struct genl_split_ops *ops;
	unsigned int i;
	int ret;

	ops = kmemdup(sops, n * sizeof(*sops), GFP_KERNEL);
	if (!ops)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		if (ops[i].policy || ops[i].cmd < family->resv_start_op)
			continue;
		ops[i].policy = reject_all;
		ops[i].maxattr = ARRAY_SIZE(reject_all) - 1;
	}
	family->split_ops = ops;
	family->n_split_ops = n;
	ret = genl_register_family(family);
	if (!ret)
		return 0;
	family->split_ops = NULL;
	family->n_split_ops = 0;
	kfree(ops);
	return ret;
}

static inline int compat_genl_unregister_family(struct genl_family *family)
{
	int ret = genl_unregister_family(family);

	/* The family may be __ro_after_init by now: leave its pointer. */
	kfree(family->split_ops);
	return ret;
}
#else
#include <linux/slab.h>

/* GENL_CMD_CAP_DO and _DUMP are the uapi's, the flags of CTRL_ATTR_OPS. */
struct genl_split_ops {
	int (*doit)(struct sk_buff *skb, struct genl_info *info);
	int (*start)(struct netlink_callback *cb);
	int (*dumpit)(struct sk_buff *skb, struct netlink_callback *cb);
	int (*done)(struct netlink_callback *cb);
	const struct nla_policy *policy;
	unsigned int maxattr;
	u8 cmd;
	u8 internal_flags;
	u8 flags;
	u8 validate;
};

static inline int compat_genl_split_merge(struct genl_ops *op,
					  const struct genl_split_ops *sop)
{
	if (sop->policy && op->policy && op->policy != sop->policy)
		return -EINVAL;
	if (sop->policy) {
		op->policy = sop->policy;
		op->maxattr = sop->maxattr;
	}
	op->cmd = sop->cmd;
	op->internal_flags |= sop->internal_flags;
	op->flags |= sop->flags & ~(GENL_CMD_CAP_DO | GENL_CMD_CAP_DUMP |
				    GENL_CMD_CAP_HASPOL);
	op->validate |= sop->validate;
	if (sop->flags & GENL_CMD_CAP_DO) {
		op->doit = sop->doit;
	} else {
		op->start = sop->start;
		op->dumpit = sop->dumpit;
		op->done = sop->done;
	}
	return 0;
}

static inline int compat_genl_register_family(struct genl_family *family,
					      const struct genl_split_ops *sops,
					      unsigned int n)
{
	struct genl_ops *ops;
	unsigned int i, n_ops = 0;
	int ret;

	ops = kcalloc(n, sizeof(*ops), GFP_KERNEL);
	if (!ops)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		if (!n_ops || ops[n_ops - 1].cmd != sops[i].cmd)
			n_ops++;
		ret = compat_genl_split_merge(&ops[n_ops - 1], &sops[i]);
		if (ret)
			goto err;
	}
	family->ops = ops;
	family->n_ops = n_ops;
	ret = genl_register_family(family);
	if (!ret)
		return 0;
	family->ops = NULL;
	family->n_ops = 0;
err:
	kfree(ops);
	return ret;
}

static inline int compat_genl_unregister_family(struct genl_family *family)
{
	int ret = genl_unregister_family(family);

	/* The family may be __ro_after_init by now: leave its pointer. */
	kfree(family->ops);
	return ret;
}
#endif

/* 6.15: page_pgmap() instead of page->pgmap. */
#ifndef COMPAT_HAVE_PAGE_PGMAP
#include <linux/mm_types.h>
static inline struct dev_pagemap *page_pgmap(const struct page *page)
{
	return page->pgmap;
}
#endif

/*
 * 7.x: zone_device_page_init() takes the page's pgmap and an order. Before,
 * it took the page alone, of order 0 always.
 */
#if defined(COMPAT_HAVE_DEVICE_MEMORY) && \
	!defined(COMPAT_HAVE_ZONE_DEVICE_PAGE_INIT_PGMAP)
#include <linux/memremap.h>
static inline void compat_zone_device_page_init(struct page *page,
						struct dev_pagemap *pgmap,
						unsigned int order)
{
	zone_device_page_init(page);
}

#define zone_device_page_init compat_zone_device_page_init
#endif

/*
 * 7.x: struct dev_pagemap_ops' ->folio_free() replaced ->page_free(). A
 * driver writes its callback for a page, void fn(struct page *), follows it
 * with COMPAT_DEFINE_PGMAP_PAGE_FREE(fn); and names it in its ops with
 * COMPAT_PGMAP_PAGE_FREE(fn): ->page_free() itself, or a ->folio_free()
 * that calls it with the folio's page. (The static_assert() checks fn's
 * type where nothing else calls it, and takes the caller's semicolon.)
 */
#ifdef COMPAT_HAVE_PGMAP_FOLIO_FREE
#define COMPAT_DEFINE_PGMAP_PAGE_FREE(fn)				\
	static void fn##_folio(struct folio *folio)			\
	{								\
		fn(&folio->page);					\
	}								\
	static_assert(true)
#define COMPAT_PGMAP_PAGE_FREE(fn) .folio_free = fn##_folio
#else
#define COMPAT_DEFINE_PGMAP_PAGE_FREE(fn)				\
	static_assert(__same_type(&(fn), void (*)(struct page *)))
#define COMPAT_PGMAP_PAGE_FREE(fn) .page_free = fn
#endif

/*
 * 6.15: make_device_exclusive() of one page replaced
 * make_device_exclusive_range(). compat_make_device_exclusive() makes @n
 * pages from @addr exclusive to @owner's device on either: pages[i] is then
 * the page, locked and referenced, or NULL, for i below what it returns.
 * Return: how many of @pages it set, or a negative errno.
 */
#if defined(COMPAT_HAVE_MAKE_DEVICE_EXCLUSIVE)
#include <linux/err.h>
#include <linux/rmap.h>
static inline long compat_make_device_exclusive(struct mm_struct *mm,
						unsigned long addr,
						unsigned long n,
						struct page **pages,
						void *owner)
{
	unsigned long i;

	for (i = 0; i < n; i++) {
		struct folio *folio;
		struct page *page;

		page = make_device_exclusive(mm, addr + i * PAGE_SIZE, owner,
					     &folio);
		pages[i] = IS_ERR(page) ? NULL : page;
	}
	return n;
}
#elif defined(COMPAT_HAVE_MAKE_DEVICE_EXCLUSIVE_RANGE)
#include <linux/rmap.h>
static inline long compat_make_device_exclusive(struct mm_struct *mm,
						unsigned long addr,
						unsigned long n,
						struct page **pages,
						void *owner)
{
	return make_device_exclusive_range(mm, addr, addr + n * PAGE_SIZE,
					   pages, owner);
}
#endif

#endif /* _HMM_MIRROR_COMPAT_H */
