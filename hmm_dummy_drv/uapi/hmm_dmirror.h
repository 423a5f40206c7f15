/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * hmm_dmirror.h - the ioctl ABI of the kernel's lib/test_hmm.c, as answered
 * by hmm_dummy on /dev/hmm_dmirror0 and /dev/hmm_dmirror1
 *
 * Written from the ABI (numbers and layout), so that the kernel's own
 * tools/testing/selftests/mm/hmm-tests runs against hmm_dummy on kernels that
 * do not ship test_hmm.ko. The device-memory commands (migration, release
 * of device pages) need a kernel with device-private memory, exclusive
 * access one with make_device_exclusive*(); elsewhere they fail with
 * EOPNOTSUPP. /sys/module/hmm_dummy/parameters/device_memory says which.
 *
 * Where hmm_dummy differs from test_hmm: RELEASE evicts every process's
 * pages from the device and needs CAP_SYS_ADMIN (EPERM); mmap() of the
 * device gives at most 512 pages (EINVAL past that), charged to the
 * caller's memory cgroup; MIGRATE_TO_DEV moves what fits and fails with
 * ENOMEM once the device's memory (devmem_max_mb) is in use; EBUSY and
 * ENOSPC as in hmm_dummy.h.
 */
#ifndef _UAPI_HMM_DMIRROR_H
#define _UAPI_HMM_DMIRROR_H

#include <linux/ioctl.h>
#include <linux/types.h>

/**
 * struct hmm_dmirror_cmd - argument of every HMM_DMIRROR_* ioctl
 * @addr: first virtual address of the process memory, page aligned
 * @ptr: user buffer: @npages pages (READ, WRITE) or bytes (SNAPSHOT)
 * @npages: number of pages
 * @cpages: out: pages done
 * @faults: out: device faults taken
 */
struct hmm_dmirror_cmd {
	__u64 addr;
	__u64 ptr;
	__u64 npages;
	__u64 cpages;
	__u64 faults;
};

#define HMM_DMIRROR_READ		_IOWR('H', 0x00, struct hmm_dmirror_cmd)
#define HMM_DMIRROR_WRITE		_IOWR('H', 0x01, struct hmm_dmirror_cmd)
#define HMM_DMIRROR_MIGRATE_TO_DEV	_IOWR('H', 0x02, struct hmm_dmirror_cmd)
#define HMM_DMIRROR_MIGRATE_TO_SYS	_IOWR('H', 0x03, struct hmm_dmirror_cmd)
#define HMM_DMIRROR_SNAPSHOT		_IOWR('H', 0x04, struct hmm_dmirror_cmd)
#define HMM_DMIRROR_EXCLUSIVE		_IOWR('H', 0x05, struct hmm_dmirror_cmd)
#define HMM_DMIRROR_CHECK_EXCLUSIVE	_IOWR('H', 0x06, struct hmm_dmirror_cmd)
#define HMM_DMIRROR_RELEASE		_IOWR('H', 0x07, struct hmm_dmirror_cmd)

/* SNAPSHOT: one byte per page. */
#define HMM_DMIRROR_PROT_ERROR		0xFF
#define HMM_DMIRROR_PROT_NONE		0x00
#define HMM_DMIRROR_PROT_READ		0x01
#define HMM_DMIRROR_PROT_WRITE		0x02
#define HMM_DMIRROR_PROT_PMD		0x04
#define HMM_DMIRROR_PROT_PUD		0x08
#define HMM_DMIRROR_PROT_ZERO		0x10
/* ... or a page of this device's memory (only where it has some) */
#define HMM_DMIRROR_PROT_DEV_PRIVATE_LOCAL	0x20

#endif /* _UAPI_HMM_DMIRROR_H */
