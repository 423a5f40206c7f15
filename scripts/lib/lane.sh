# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash disable=SC2034,SC2004 # the counters are the caller's
#
# scripts/lib/lane.sh - boot, verdict and counting of a test lane, sourced
# (bash) by scripts/check (a row per kernel line) and scripts/check-debug (a
# row per debug-kernel run). The caller runs from the top of the tree.
#
# The counters: passed, failed, skipped (totals), the failures array (one
# line per failed case, then its diagnostics indented), and per row
# k_pass, k_fail, k_skip, k_state, k_release and k_time.
#
#   fail_case MESSAGE     one more failed case, outside any row
#   section TITLE         a "=== TITLE ===" header
#   lane_boot ROW LABEL BASE VM-RUN-ARGS... -- COMMAND...
#       one boot (scripts/vm-run): the console in BASE.log, the command's
#       output (the guest's own serial port for results) in BASE.tap,
#       vm-run's whole output in BASE.vm-run, shown on stdout through
#       the command named by LANE_SHOW (default cat). BASE.tap is counted
#       (scripts/lib/tap.sh) into ROW, then lane_verdict ROW LABEL with
#       vm-run's status and its last "vm-run: ..." line.
#   lane_verdict ROW LABEL STATUS [WHY]
#       the row's state: "ok" (STATUS 0 and at least one result), "no TAP"
#       (STATUS 0 and none: one failed case), "tests failed" (a non-zero
#       STATUS with failed cases to show for it), or "vm-run failed" (the
#       guest failed, STATUS 125, or a non-zero STATUS without a failed
#       case: one failed case, WHY). LABEL starts the failure's line.
#   lane_summary ROW...   the rows as a table, the failures, and as the
#       last line "N passed, N failed, N skipped"
#   lane_summary_file     (a variable) a file lane_summary also writes
#                         its last line to
#   lane_all_ran ROW...   whether every row ran to a verdict on its cases:
#                         state ok, "tests failed", or one of LANE_RAN
#                         ("STATE|STATE": states that are no failure)

# shellcheck source=scripts/lib/tap.sh
. "$(dirname "${BASH_SOURCE[0]}")/tap.sh"

# The programs a "verify" boot runs with hmm_core's coherence verifier on
# from the start (scripts/vm-run --param hmm_core.verify=1): every program
# that changes mirrored memory under a correct driver, then verifier, whose
# none_since_load case fails if the verifier reported anything. Not the
# whole suite: a check holds the mm's users while it reads the CPU page
# table, which moves the mm's teardown that trace_events times exactly.
LANE_VERIFY_PROGRAMS="core_semantics coherence_vm coherence_proc coherence_mm"
LANE_VERIFY_PROGRAMS+=" coherence_files coherence_dmirror stress twophase verifier"
# A verify boot's command: those programs with a listener on hmm_core's
# events group all along (scripts/guest/listener.sh), so that the events
# of every invalidation are built and sent, and then listener-check.sh,
# which fails if the listener died or saw no invalidation.
LANE_VERIFY_CMD="/tests/listener.sh $LANE_VERIFY_PROGRAMS"

passed=0
failed=0
skipped=0
failures=()
declare -A k_pass=() k_fail=() k_skip=() k_state=() k_release=() k_time=()

fail_case() {
	failed=$((failed + 1))
	failures+=("$1")
}

section() {
	printf '\n=== %s ===\n' "$*"
}

lane_verdict() {
	local k=$1 label=$2 rc=$3 why=${4:-}
	if [ "$rc" -eq 0 ]; then
		k_state[$k]=ok
		if [ $((k_pass[$k] + k_fail[$k] + k_skip[$k])) -eq 0 ]; then
			k_state[$k]="no TAP"
			k_fail[$k]=1
			fail_case "$label: the guest ran but printed no TAP line"
		fi
	elif [ "$rc" -eq 125 ] || [ "${k_fail[$k]}" -eq 0 ]; then
		# The guest itself failed, or the command failed without a
		# failed case to show for it: one more failed case.
		k_state[$k]="vm-run failed"
		k_fail[$k]=$((k_fail[$k] + 1))
		fail_case "$label: ${why:-vm-run exited with status $rc}"
	else
		k_state[$k]="tests failed"
	fi
}

lane_boot() {
	local k=$1 label=$2 base=$3 rc start msg
	shift 3
	k_pass[$k]=0
	k_fail[$k]=0
	k_skip[$k]=0
	start=$(date +%s)
	set +e
	scripts/vm-run --log "$base.log" --results "$base.tap" "$@" 2>&1 |
		tee "$base.vm-run" | "${LANE_SHOW:-cat}"
	rc=${PIPESTATUS[0]}
	set -e
	k_time[$k]="$(($(date +%s) - start))s"
	[ -f "$base.tap" ] || : >"$base.tap"
	count_tap "$k" "$base.tap"
	# "vm-run: KERNEL: why": the why.
	msg=$(grep "^vm-run: " "$base.vm-run" | tail -n1 || true)
	msg=${msg#vm-run: }
	[[ ! $msg =~ ^[^\ :]+:\ (.*)$ ]] || msg=${BASH_REMATCH[1]}
	lane_verdict "$k" "$label" "$rc" "$msg"
}

lane_summary() {
	local k w=11
	for k in "$@"; do
		[ "${#k}" -le "$w" ] || w=${#k}
	done
	printf '%-*s %-26s %7s %7s %8s %6s  %s\n' "$w" row release passed failed skipped time state
	for k in "$@"; do
		printf '%-*s %-26s %7s %7s %8s %6s  %s\n' "$w" "$k" "${k_release[$k]:--}" \
			"${k_pass[$k]:-0}" "${k_fail[$k]:-0}" "${k_skip[$k]:-0}" \
			"${k_time[$k]:--}" "${k_state[$k]:-not run}"
	done
	if [ ${#failures[@]} -gt 0 ]; then
		echo
		echo "failed:"
		printf '  %s\n' "${failures[@]}"
	fi
	echo
	echo "$passed passed, $failed failed, $skipped skipped" |
		tee ${lane_summary_file:+"$lane_summary_file"}
}

lane_all_ran() {
	local k
	for k in "$@"; do
		case ${k_state[$k]:-} in
		ok | "tests failed") ;;
		*) [[ "|${LANE_RAN:-}|" == *"|${k_state[$k]:-not run}|"* ]] || return 1 ;;
		esac
	done
}
