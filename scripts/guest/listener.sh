#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# listener.sh PROGRAM... - run-suite's PROGRAMs with a listener attached to
# hmm_core's events group all along (scripts/check-debug's "verify" run).
#
# An event is built only when the group has a listener, so without one the
# suite never runs that code. "hmmctl monitor" joins the group (root has
# CAP_NET_ADMIN) and prints every event to a file; listener-check.sh, run
# as the suite's last program, stops it and judges what it saw. The output
# is run-suite's: nested KTAP, one result per program.

cd /tests || exit 1
./hmmctl monitor --rcvbuf 4194304 >/tmp/listener.out 2>/tmp/listener.err &
echo $! >/tmp/listener.pid
# If the first program's first events come before hmmctl has joined, they
# are not seen: the run is about the kernel building and sending events
# all along, not about every one of them.
exec ./run-suite "$@" listener-check.sh
