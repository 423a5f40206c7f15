# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash disable=SC2034,SC2004 # the counters are the caller's
#
# scripts/lib/tap.sh - the one TAP/KTAP parser of the scripts, sourced
# (bash) by scripts/lib/lane.sh (scripts/check, scripts/check-debug),
# scripts/mutation-check, scripts/dkms-check and the self-check
# scripts/lib/tap-selftest.
#
# It reads, with one set of rules:
#   - the suite runner's nested KTAP (tests/run-suite): "KTAP version 1",
#     "1..P", each program's own output indented 4 spaces after a
#     "# Subtest: NAME" line, then the program's result "ok N NAME";
#   - the suite runner's older flat output: each program's TAP after a
#     "# program: NAME" line, no result line of the runner's own;
#   - the debug lane's KUnit KTAP and the kernel's hmm-tests (the harness).
# Only LEAF results count: a result line with no nested (more indented)
# result before it since the last result at its own depth. At any depth:
# "ok" passed; "# SKIP" skipped; "# XFAIL", and the legacy "not ok ...
# # TODO", an expected failure, counted as skipped; "# XPASS" and "not ok"
# failed. A parent "not ok" whose block holds no failed leaf (a program
# that crashed, timed out or was missing) is one failure. Lines of the
# kernel ("[   1.234] ...") are not TAP and are passed over.
#
# tap_cases LOG prints one line per counted result:
#   KIND US PROGRAM US CASE US LINE
# KIND is pass, fail, skip, xfail (XFAIL and TODO) or xpass; PROGRAM the
# enclosing subtest names joined by "/" (or the flat "# program:" name);
# CASE the result's description without its number and directive (the
# harness's "fixture[.variant].name", or an old program's "name"); LINE the
# result line, unindented. A fail or xpass is followed by the last
# TAP_DIAG_LINES (default 4) diagnostic lines ("# ...") printed since the
# result before it, each as "diag US TEXT" (US: the unit separator, \037, as no
# field holds it).
#
# count_tap KERNEL LOG adds LOG's results to the caller's counters: passed,
# failed, skipped (totals), k_pass[KERNEL], k_fail[KERNEL], k_skip[KERNEL]
# (associative arrays), and appends one line per failed case to the
# failures array ("KERNEL: PROGRAM: not ok ..."), each followed by its
# diagnostics, indented: the summary then says why a case failed, in the
# few lines a CI log keeps.
#
# tap_case_name CASE prints the case's old name: the last dot-separated
# part of "fixture[.variant].name" (a script that looks for a case by name
# accepts both forms through it).

# shellcheck disable=SC2016 # awk's own $
tap_awk='
function indent(s) {
	match(s, /^[ \t]*/)
	return RLENGTH
}
function progname(d,   e, n, p) {
	p = flat
	for (e = 0; e <= d; e++)
		if (e in subname)
			p = p (p == "" ? "" : "/") subname[e]
	return p
}
function emit(kind, d, line,   c, i) {
	c = line
	sub(/^[ \t]*(not )?ok[ \t]*/, "", c)
	sub(/^[0-9]+[ \t]*(-[ \t]+)?/, "", c)
	sub(/[ \t]*#.*$/, "", c)
	sub(/^[ \t]*/, "", line)
	printf "%s\037%s\037%s\037%s\n", kind, progname(d), c, line
	if (kind == "fail" || kind == "xpass")
		for (i = nrecent - keep + 1; i <= nrecent; i++)
			if (i >= 1)
				printf "diag\037%s\n", recent[i]
}
BEGIN {
	keep = ENVIRON["TAP_DIAG_LINES"] == "" ? 4 : ENVIRON["TAP_DIAG_LINES"] + 0
}
{
	sub(/\r$/, "")
	line = $0
}
line ~ /^[ \t]*# program: / {
	flat = line
	sub(/^[ \t]*# program: /, "", flat)
	sub(/:.*$/, "", flat)
	nrecent = 0
	next
}
line ~ /^[ \t]*# Subtest: / {
	d = indent(line)
	s = line
	sub(/^[ \t]*# Subtest: /, "", s)
	subname[d] = s
	nrecent = 0
	next
}
line ~ /^[ \t]*#/ {
	s = line
	sub(/^[ \t]*/, "", s)
	recent[++nrecent] = substr(s, 1, 200)
	next
}
line !~ /^[ \t]*(not )?ok([ \t]|$)/ { next }
{
	d = indent(line)
	bad = line ~ /^[ \t]*not ok/
	if (line ~ /#[ \t]*[Ss][Kk][Ii][Pp]/)
		kind = "skip"
	else if (line ~ /#[ \t]*XPASS/)
		kind = "xpass"
	else if (line ~ /#[ \t]*XFAIL/ || (bad && line ~ /#[ \t]*[Tt][Oo][Dd][Oo]/))
		kind = "xfail"
	else
		kind = bad ? "fail" : "pass"
	if (d in nested) {
		# A parent: its leaves counted; a failure of its own only
		# where none of them failed.
		if (kind == "fail" && !(d in failbelow))
			emit("fail", d, line)
	} else {
		emit(kind, d, line)
	}
	for (e = 0; e < d; e++) {
		nested[e] = 1
		if (kind == "fail" || kind == "xpass" || (d in failbelow))
			failbelow[e] = 1
	}
	if (d > maxd)
		maxd = d
	for (e = d; e <= maxd; e++) {
		delete nested[e]
		delete failbelow[e]
		if (e > d)
			delete subname[e]
	}
	nrecent = 0
}
'

# tap_cases LOG: see above.
tap_cases() {
	awk "$tap_awk" "$1"
}

# tap_case_name CASE: see above.
tap_case_name() {
	printf '%s\n' "${1##*.}"
}

# count_tap KERNEL LOG: see above.
count_tap() {
	local k=$1 log=$2 kind prog c line
	local p=0 f=0 s=0
	while IFS=$'\037' read -r kind prog c line; do
		case $kind in
		pass) p=$((p + 1)) ;;
		skip | xfail) s=$((s + 1)) ;;
		fail | xpass)
			f=$((f + 1))
			failures+=("$k: ${prog:+$prog: }$line")
			;;
		diag) failures+=("    $prog") ;;
		esac
	done < <(tap_cases "$log")
	k_pass[$k]=$p
	k_fail[$k]=$f
	k_skip[$k]=$s
	passed=$((passed + p))
	failed=$((failed + f))
	skipped=$((skipped + s))
}
