/* SPDX-License-Identifier: ((GPL-2.0 WITH Linux-syscall-note) OR BSD-3-Clause) */
/* Do not edit directly, auto-generated from: */
/*	hmm_dummy_drv/netlink/hmm_dummy.yaml */
/* YNL-GEN kernel header */

#ifndef _LINUX_HMM_DUMMY_GEN_H
#define _LINUX_HMM_DUMMY_GEN_H

#include <net/netlink.h>
#include <net/genetlink.h>

#include <uapi/hmm_dummy_nl.h>

/* Ops table for hmm_dummy */
extern const struct genl_split_ops hmm_dummy_nl_ops[2];

int hmm_dummy_nl_pte_get_start(struct netlink_callback *cb);

int hmm_dummy_nl_dev_get_dumpit(struct sk_buff *skb,
				struct netlink_callback *cb);
int hmm_dummy_nl_pte_get_dumpit(struct sk_buff *skb,
				struct netlink_callback *cb);

#endif /* _LINUX_HMM_DUMMY_GEN_H */
