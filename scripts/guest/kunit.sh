#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# kunit.sh - the debug lane's KUnit run, in the guest (busybox sh;
# scripts/check-debug kunit, which adds hmm_core_kunit.ko to /tests).
#
# Loads hmm_core_kunit.ko, prints its suite's KTAP from debugfs as it is
# (the suite's own result line follows its cases, so the parser,
# scripts/lib/tap.sh, counts the cases only) and unloads it. Exits 1 when
# the module does not load, leaves no results, or the suite failed.

echo "# program: kunit"
if ! insmod /tests/hmm_core_kunit.ko; then
	echo "not ok 1 kunit: insmod hmm_core_kunit.ko failed"
	exit 1
fi
r=/sys/kernel/debug/kunit/hmm_core/results
if [ ! -r "$r" ]; then
	echo "not ok 1 kunit: no $r"
	exit 1
fi
cat "$r"
# (the results file goes away with the module: judge it first)
rc=0
grep -q "^ok 1 hmm_core" "$r" || rc=1
rmmod hmm_core_kunit
exit $rc
