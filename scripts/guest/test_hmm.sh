#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# test_hmm.sh INIT_TEXT_SIZE - the debug lane's run of the kernel's own
# test_hmm.ko, in the guest (busybox sh; scripts/check-debug test_hmm, which
# adds test_hmm.ko to /tests and boots without our modules).
#
# Loads test_hmm.ko and records its ranges (core, and init text of
# INIT_TEXT_SIZE bytes, which the host reads from the module file) in
# /tmp/hmm-vm-modranges, where the debug hook reports them: kmemleak's
# reports of test_hmm, which leaks by design, are told apart by them. Then
# runs, through the suite runner, upstream-hmm-tests (which counts every
# case for real when test_hmm is loaded) and coherence_dmirror (our
# coherence invariant through test_hmm's ABI only), as the suite runs them
# against hmm_dummy, and unloads test_hmm.

insmod /tests/test_hmm.ko || {
	echo "not ok 1 insmod test_hmm.ko"
	exit 1
}
grep "^test_hmm " /proc/modules | {
	read -r n size _ _ _ base _
	echo "$n $base $size"
} >/tmp/hmm-vm-modranges
echo "test_hmm $(cat /sys/module/test_hmm/sections/.init.text) ${1:-0}" >>/tmp/hmm-vm-modranges
/tests/run-suite upstream-hmm-tests coherence_dmirror
rc=$?
rmmod test_hmm
exit $rc
