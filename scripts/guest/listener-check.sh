#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# listener-check.sh - the last program of listener.sh's suite: stops the
# listener and judges it. It must still be running (a listener that died
# part way through proves nothing of the runs after), must exit 0 on
# SIGTERM with its summary line, and must have received invalidations:
# every program before it changes mirrored memory.

pid=$(cat /tmp/listener.pid 2>/dev/null)
# Running: its parent (run-suite's shell) never waits for it, so once it
# exits it stays a zombie, which kill -0 would still find.
running() {
	[ -r "/proc/$pid/stat" ] && [ "$(cut -d' ' -f3 "/proc/$pid/stat")" != Z ]
}
if [ -z "$pid" ] || ! running; then
	echo "# the listener is not running: $(cat /tmp/listener.err 2>/dev/null)"
	exit 1
fi
kill -TERM "$pid"
i=0
while running && [ $i -lt 100 ]; do
	i=$((i + 1))
	sleep 0.1
done
if running; then
	echo "# the listener did not stop within 10 s of SIGTERM"
	kill -KILL "$pid"
	exit 1
fi
tail -n 3 /tmp/listener.out | sed 's/^/# /'
summary=$(grep '^summary: ' /tmp/listener.out | tail -n 1)
if [ -z "$summary" ]; then
	echo "# no summary line: the listener did not end through its SIGTERM path"
	exit 1
fi
n=$(grep -c ' invalidate ' /tmp/listener.out)
echo "# $n invalidate events"
if [ "$n" -eq 0 ]; then
	echo "# the listener saw no invalidation"
	exit 1
fi
exit 0
