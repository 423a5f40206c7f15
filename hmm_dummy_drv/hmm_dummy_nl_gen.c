// SPDX-License-Identifier: ((GPL-2.0 WITH Linux-syscall-note) OR BSD-3-Clause)
/* Do not edit directly, auto-generated from: */
/*	hmm_dummy_drv/netlink/hmm_dummy.yaml */
/* YNL-GEN kernel source */

#include <net/netlink.h>
#include <net/genetlink.h>

#include "hmm_dummy_nl_gen.h"

#include <uapi/hmm_dummy_nl.h>

/* HMM_DUMMY_CMD_PTE_GET - dump */
static const struct nla_policy hmm_dummy_pte_get_nl_policy[HMM_DUMMY_A_PTE_END + 1] = {
	[HMM_DUMMY_A_PTE_MIRROR_ID] = NLA_POLICY_MIN(NLA_U32, 1),
	[HMM_DUMMY_A_PTE_START] = { .type = NLA_U64, },
	[HMM_DUMMY_A_PTE_END] = { .type = NLA_U64, },
};

/* Ops table for hmm_dummy */
const struct genl_split_ops hmm_dummy_nl_ops[2] = {
	{
		.cmd	= HMM_DUMMY_CMD_DEV_GET,
		.dumpit	= hmm_dummy_nl_dev_get_dumpit,
		.flags	= GENL_CMD_CAP_DUMP,
	},
	{
		.cmd		= HMM_DUMMY_CMD_PTE_GET,
		.start		= hmm_dummy_nl_pte_get_start,
		.dumpit		= hmm_dummy_nl_pte_get_dumpit,
		.policy		= hmm_dummy_pte_get_nl_policy,
		.maxattr	= HMM_DUMMY_A_PTE_END,
		.flags		= GENL_ADMIN_PERM | GENL_CMD_CAP_DUMP,
	},
};
