#!/bin/bash
# bench/startup: what the agent costs a process that never does HTTP (/bin/true, sh -c ls).
#
# Usage (from the repository root): bench/startup/run.sh [BUILD_DIR]
#   BUILD_DIR: a CMake build directory with libwiretrace.so (default $WIRETRACE_BUILD or build)
#   ROUNDS (env, default 300): interleaved rounds per command
#
# 1. Wall time, CPU time (user + system), peak RSS and minor page faults per run, from fork to
#    wait4 (spawn.c), ROUNDS interleaved rounds of: bare, an empty preloaded library (what any
#    LD_PRELOAD costs), the agent. Medians, and the ratios to bare.
# 2. Instructions per run under callgrind (deterministic), for the same three variants, with the
#    agent's constructor's own share; for sh -c ls both processes are counted
#    (--trace-children=yes).
source "$(dirname "$0")/../lib/common.sh"
bench_need_lib

ROUNDS=${ROUNDS:-300}
bench_cc spawn "$ROOT/bench/startup/spawn.c"
bench_cc empty.so -shared -fPIC "$ROOT/bench/startup/empty_preload.c"

# col FILE VARIANT N: median of column N for VARIANT
col() {
	awk -v v="$2" -v n="$3" '$1 == v { print $n }' "$1" | median
}

run_cmd() {
	local label=$1 out=$TMP/spawn.$2
	shift 2
	"$TMP/spawn" "$ROUNDS" "empty=$TMP/empty.so" "agent=$LIB" -- "$@" >"$out"
	if awk '$6 != 0 { bad = 1 } END { exit !bad }' "$out"; then
		echo "bench: $label exited with a non-zero status" >&2
		exit 1
	fi
	local bw bc br bf
	bw=$(col "$out" bare 2)
	bc=$(col "$out" bare 3)
	br=$(col "$out" bare 4)
	bf=$(col "$out" bare 5)
	for v in bare empty agent; do
		local w c r f
		w=$(col "$out" "$v" 2)
		c=$(col "$out" "$v" 3)
		r=$(col "$out" "$v" 4)
		f=$(col "$out" "$v" 5)
		awk -v l="$label" -v v="$v" -v w="$w" -v c="$c" -v r="$r" -v f="$f" -v bw="$bw" \
			-v bc="$bc" -v br="$br" -v bf="$bf" 'BEGIN {
			printf "%-10s %-6s %9.1f %6.3fx %9.1f %6.3fx %8d %+7d %6d %+5d\n", l, v,
				w / 1000, w / bw, c / 1000, c / bc, r, r - br, f, f - bf }'
	done
}

echo "== $ROUNDS interleaved rounds (bare, empty preload, agent), medians"
printf '%-10s %-6s %9s %7s %9s %7s %8s %7s %6s %5s\n' command variant wall-us ratio cpu-us \
	ratio rss-KiB +KiB minflt +flt
run_cmd /bin/true true /bin/true
run_cmd "sh -c ls" shls sh -c ls

echo
echo "== instructions per run (callgrind, user space, all processes of the command)"
printf '%-10s %12s %12s %12s %10s %12s\n' command bare empty agent ratio constructor
cg_total() { # cg_total PREFIX: sum of the totals of every process's output file
	cat "$1".* | awk '/^totals:/ { s += $2 } END { print s }'
}
for c in true shls; do
	cmd=(/bin/true)
	label=/bin/true
	if [ $c = shls ]; then
		cmd=(sh -c ls)
		label="sh -c ls"
	fi
	for v in bare empty agent; do
		pre=(env -u LD_PRELOAD)
		[ $v = empty ] && pre=(env "LD_PRELOAD=$TMP/empty.so")
		[ $v = agent ] && pre=(env "LD_PRELOAD=$LIB")
		"${pre[@]}" valgrind --tool=callgrind --trace-children=yes \
			--callgrind-out-file="$TMP/cg.$c.$v.%p" "${cmd[@]}" >/dev/null 2>&1
	done
	ctor=0
	for f in "$TMP"/cg.$c.agent.*; do
		n=$(callgrind_annotate --inclusive=yes "$f" 2>/dev/null |
			awk '/lifecycle.c:wt_constructor / && !n { gsub(",", "", $1); n = $1 }
				END { print n + 0 }')
		ctor=$((ctor + ${n:-0}))
	done
	b=$(cg_total "$TMP/cg.$c.bare")
	e=$(cg_total "$TMP/cg.$c.empty")
	a=$(cg_total "$TMP/cg.$c.agent")
	awk -v l="$label" -v b="$b" -v e="$e" -v a="$a" -v k="$ctor" \
		'BEGIN { printf "%-10s %12d %12d %12d %9.3fx %12d\n", l, b, e, a, a / b, k }'
done
echo "(constructor: instructions inside the agent's constructor, included in 'agent')"
