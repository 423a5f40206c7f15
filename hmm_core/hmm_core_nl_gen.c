// SPDX-License-Identifier: ((GPL-2.0 WITH Linux-syscall-note) OR BSD-3-Clause)
/* Do not edit directly, auto-generated from: */
/*	hmm_core/netlink/hmm_core.yaml */
/* YNL-GEN kernel source */

#include <net/netlink.h>
#include <net/genetlink.h>

#include "hmm_core_nl_gen.h"

#include <uapi/hmm_core_nl.h>

/* HMM_CORE_CMD_MIRROR_GET - do */
static const struct nla_policy hmm_core_mirror_get_nl_policy[HMM_CORE_A_MIRROR_ID + 1] = {
	[HMM_CORE_A_MIRROR_ID] = NLA_POLICY_MIN(NLA_U32, 1),
};

/* Ops table for hmm_core */
const struct genl_split_ops hmm_core_nl_ops[4] = {
	{
		.cmd		= HMM_CORE_CMD_MIRROR_GET,
		.doit		= hmm_core_nl_mirror_get_doit,
		.policy		= hmm_core_mirror_get_nl_policy,
		.maxattr	= HMM_CORE_A_MIRROR_ID,
		.flags		= GENL_CMD_CAP_DO,
	},
	{
		.cmd	= HMM_CORE_CMD_MIRROR_GET,
		.start	= hmm_core_nl_mirror_get_start,
		.dumpit	= hmm_core_nl_mirror_get_dumpit,
		.flags	= GENL_CMD_CAP_DUMP,
	},
	{
		.cmd	= HMM_CORE_CMD_STATS_GET,
		.doit	= hmm_core_nl_stats_get_doit,
		.flags	= GENL_CMD_CAP_DO,
	},
	{
		.cmd	= HMM_CORE_CMD_MM_GET,
		.dumpit	= hmm_core_nl_mm_get_dumpit,
		.flags	= GENL_CMD_CAP_DUMP,
	},
};

static const struct genl_multicast_group hmm_core_nl_mcgrps[] = {
	[HMM_CORE_NLGRP_EVENTS] = { "events", },
};
