#!/bin/bash
# bench/callsite: what call-site capture (WIRETRACE_CAPTURE_CALLSITE) costs per client request.
#
# Usage (from the repository root): bench/callsite/run.sh [BUILD_DIR]
#   BUILD_DIR: a CMake build directory with libwiretrace.so and progs/callsite_client
#   (default $WIRETRACE_BUILD or build)
#   SMALL, LARGE (env, default 20 and 220): request counts of the two runs per mode
#
# 1. The unwinders alone (unwind_cost.c): ns per call of libunwind's unw_backtrace and glibc's
#    backtrace() (the fallback) at stack depths 4-32, room for 48 frames as the agent asks.
# 2. Instructions per request under callgrind (deterministic), per thread, with the agent
#    preloaded into progs/callsite_client making plain-socket requests (fetch_inventory) and
#    libcurl requests (fetch_with_curl) to progs/httpd (not traced), for WIRETRACE_CAPTURE_CALLSITE
#    unset (off), true and stack. Per request = (Ir(LARGE) - Ir(SMALL)) / (LARGE - SMALL), so
#    start-up, the one-time loading of libunwind and the first symbolisation of each address
#    cancel out. "request thread" is the client's main thread (where capture runs), "exporter"
#    the exporter thread (where symbolisation runs). Spans go to OTEL_TRACES_EXPORTER=none: the
#    exporter thread symbolises and drops them, so no network is counted.
#    "capture, run": instructions inside callsite_capture over the whole LARGE run, one-time
#    set-up included; with off it must be 0 (the function never runs).
source "$(dirname "$0")/../lib/common.sh"
bench_need_lib

SMALL=${SMALL:-20}
LARGE=${LARGE:-220}
CLIENT=$BUILD/progs/callsite_client
HTTPD=$BUILD/progs/httpd
for p in "$CLIENT" "$HTTPD"; do
	[ -x "$p" ] || { echo "bench: $p not built" >&2; exit 1; }
done
command -v valgrind >/dev/null || { echo "bench: valgrind not found" >&2; exit 1; }

echo "== 1. unwinders alone (ns per call, median of 7 runs)"
bench_cc unwind_cost "$ROOT/bench/callsite/unwind_cost.c" -ldl
"$TMP/unwind_cost" 20000

bench_spawn httpd "$HTTPD" --mode threads >"$TMP/httpd.out"
for _ in $(seq 50); do
	PORT=$(head -n1 "$TMP/httpd.out" 2>/dev/null || true)
	[ -n "$PORT" ] && break
	sleep 0.1
done
[ -n "$PORT" ] || { echo "bench: httpd did not start" >&2; exit 1; }

# thread_ir FILE: total instructions of one callgrind per-thread output file
thread_ir() {
	awk '/^(summary|totals):/ { print $2; exit }' "$1"
}

# run MODE WHICH COUNT: callgrind run; prints "main-Ir exporter-Ir capture-calls"
run() {
	local mode=$1 which=$2 count=$3 out=$TMP/cg.$1.$2.$3 env=()
	[ "$mode" = off ] || env=(WIRETRACE_CAPTURE_CALLSITE="$mode")
	rm -f "$out".*
	env OTEL_TRACES_EXPORTER=none OTEL_BSP_SCHEDULE_DELAY=50 "${env[@]}" LD_PRELOAD="$LIB" \
		valgrind --tool=callgrind --separate-threads=yes --callgrind-out-file="$out" \
		"$CLIENT" "$PORT" "$count" "$which" 2>"$out.log" >/dev/null
	local main exp calls
	main=$(thread_ir "$out-01")
	exp=$( [ -f "$out-02" ] && thread_ir "$out-02" || echo 0)
	calls=$(callgrind_annotate --inclusive=yes "$out-01" 2>/dev/null |
		awk '/callsite_capture/ { gsub(",", "", $1); s += $1 } END { print s + 0 }')
	echo "$main $exp $calls"
}

echo
echo "== 2. instructions per request (callgrind; ($LARGE - $SMALL) requests)"
printf '%-10s %-6s %14s %10s %14s %10s %16s\n' requests mode request-thread "+vs off" \
	exporter "+vs off" "capture, run"
for which in inventory curl; do
	base_main=
	base_exp=
	for mode in off true stack; do
		read -r m1 e1 _ < <(run "$mode" "$which" "$SMALL")
		read -r m2 e2 c2 < <(run "$mode" "$which" "$LARGE")
		pm=$(( (m2 - m1) / (LARGE - SMALL) ))
		pe=$(( (e2 - e1) / (LARGE - SMALL) ))
		[ -n "$base_main" ] || { base_main=$pm; base_exp=$pe; }
		printf '%-10s %-6s %14d %+10d %14d %+10d %16s\n' "$which" "$mode" "$pm" \
			$((pm - base_main)) "$pe" $((pe - base_exp)) "$c2"
	done
done
