# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash disable=SC2034,SC2004 # the counters are the caller's
#
# scripts/lib/tap.sh - the TAP counting of scripts/check and
# scripts/check-debug, sourced by both (bash).
#
# count_tap KERNEL LOG adds the TAP results in LOG to the caller's counters:
# passed, failed, skipped (totals), k_pass[KERNEL], k_fail[KERNEL],
# k_skip[KERNEL] (associative arrays), and appends one line per failed case
# to the failures array. Every "ok"/"not ok" line, indented or not, is one
# case (KTAP subtests included: the caller keeps a suite's own result line
# out); "# SKIP" is skipped, "not ok ... # TODO" an expected failure,
# counted as skipped; a "# program: NAME" line names the program of the
# cases after it. A failed case's entry is followed by the last
# TAP_DIAG_LINES (default 4) diagnostic lines ("# ...") printed since the
# result before it, indented: the summary then says why a case failed, in
# the few lines a CI log keeps.

# count_tap KERNEL LOG: see above.
count_tap() {
	local k=$1 log=$2 l prog="" desc d
	local p=0 f=0 s=0 keep=${TAP_DIAG_LINES:-4}
	local recent=()
	while IFS= read -r l; do
		case $l in
		"# program: "*)
			prog=${l#\# program: }
			prog=${prog%%:*}
			recent=()
			continue
			;;
		esac
		if [[ $l =~ ^[[:space:]]*# ]]; then
			if [ "$keep" -gt 0 ]; then
				recent+=("${l:0:200}")
				[ ${#recent[@]} -le "$keep" ] || recent=("${recent[@]:1}")
			fi
			continue
		fi
		[[ $l =~ ^[[:space:]]*(not\ )?ok([[:space:]]|$) ]] || continue
		desc=$(sed -E 's/^[[:space:]]*//' <<<"$l")
		if [[ $l =~ \#[[:space:]]*[Ss][Kk][Ii][Pp] ]]; then
			s=$((s + 1))
		elif [[ $l =~ ^[[:space:]]*not\ ok ]]; then
			if [[ $l =~ \#[[:space:]]*[Tt][Oo][Dd][Oo] ]]; then
				s=$((s + 1))
			else
				f=$((f + 1))
				failures+=("$k: ${prog:+$prog: }$desc")
				for d in "${recent[@]+"${recent[@]}"}"; do
					failures+=("    ${d#"${d%%[![:space:]]*}"}")
				done
			fi
		else
			p=$((p + 1))
		fi
		recent=()
	done <"$log"
	k_pass[$k]=$p
	k_fail[$k]=$f
	k_skip[$k]=$s
	passed=$((passed + p))
	failed=$((failed + f))
	skipped=$((skipped + s))
}
