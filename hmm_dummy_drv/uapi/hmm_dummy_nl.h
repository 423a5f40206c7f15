/* SPDX-License-Identifier: ((GPL-2.0 WITH Linux-syscall-note) OR BSD-3-Clause) */
/* Do not edit directly, auto-generated from: */
/*	hmm_dummy_drv/netlink/hmm_dummy.yaml */
/* YNL-GEN uapi header */

#ifndef _UAPI_LINUX_HMM_DUMMY_H
#define _UAPI_LINUX_HMM_DUMMY_H

#define HMM_DUMMY_FAMILY_NAME		"hmm_dummy"
#define HMM_DUMMY_FAMILY_VERSION	1

/**
 * enum hmm_dummy_dev_abi - Which ioctl set a device answers.
 * @HMM_DUMMY_DEV_ABI_NATIVE: /dev/hmm_dummyN, the ioctls of hmm_dummy.h.
 * @HMM_DUMMY_DEV_ABI_DMIRROR: /dev/hmm_dmirrorN, the ioctls of lib/test_hmm.c.
 */
enum hmm_dummy_dev_abi {
	HMM_DUMMY_DEV_ABI_NATIVE,
	HMM_DUMMY_DEV_ABI_DMIRROR,
};

enum {
	HMM_DUMMY_A_DEV_INDEX = 1,
	HMM_DUMMY_A_DEV_NAME,
	HMM_DUMMY_A_DEV_ABI,
	HMM_DUMMY_A_DEV_MIRRORS,

	__HMM_DUMMY_A_DEV_MAX,
	HMM_DUMMY_A_DEV_MAX = (__HMM_DUMMY_A_DEV_MAX - 1)
};

enum {
	HMM_DUMMY_A_PTE_MIRROR_ID = 1,
	HMM_DUMMY_A_PTE_START,
	HMM_DUMMY_A_PTE_END,
	HMM_DUMMY_A_PTE_ADDR,
	HMM_DUMMY_A_PTE_PFN,
	HMM_DUMMY_A_PTE_WRITE,
	HMM_DUMMY_A_PTE_ORDER,
	HMM_DUMMY_A_PTE_PAD,

	__HMM_DUMMY_A_PTE_MAX,
	HMM_DUMMY_A_PTE_MAX = (__HMM_DUMMY_A_PTE_MAX - 1)
};

enum {
	HMM_DUMMY_CMD_DEV_GET = 1,
	HMM_DUMMY_CMD_PTE_GET = 3,

	__HMM_DUMMY_CMD_MAX,
	HMM_DUMMY_CMD_MAX = (__HMM_DUMMY_CMD_MAX - 1)
};

#endif /* _UAPI_LINUX_HMM_DUMMY_H */
