/* SPDX-License-Identifier: ((GPL-2.0 WITH Linux-syscall-note) OR BSD-3-Clause) */
/* Do not edit directly, auto-generated from: */
/*	hmm_core/netlink/hmm_core.yaml */
/* YNL-GEN kernel header */

#ifndef _LINUX_HMM_CORE_GEN_H
#define _LINUX_HMM_CORE_GEN_H

#include <net/netlink.h>
#include <net/genetlink.h>

#include <uapi/hmm_core_nl.h>

/* Ops table for hmm_core */
extern const struct genl_split_ops hmm_core_nl_ops[4];

int hmm_core_nl_mirror_get_start(struct netlink_callback *cb);

int hmm_core_nl_mirror_get_doit(struct sk_buff *skb, struct genl_info *info);
int hmm_core_nl_mirror_get_dumpit(struct sk_buff *skb,
				  struct netlink_callback *cb);
int hmm_core_nl_stats_get_doit(struct sk_buff *skb, struct genl_info *info);
int hmm_core_nl_mm_get_dumpit(struct sk_buff *skb, struct netlink_callback *cb);

enum {
	HMM_CORE_NLGRP_EVENTS,
};

#endif /* _LINUX_HMM_CORE_GEN_H */
