#!/bin/bash
# bench/exporter: spans per second encoded and POSTed by the exporter thread, and its CPU time
# per span, against a local OTLP sink that discards (bench/lib/sink.c).
#
# Usage (from the repository root): bench/exporter/run.sh [BUILD_DIR]
#   BUILD_DIR: a CMake build directory (default $WIRETRACE_BUILD or build); exporter_bench.c is
#   linked with its exporter and agent/base object files (the code its libwiretrace.so
#   contains).
#   REPS (env, default 3), RUN_SECONDS (env, default 3): repetitions and length of each run
#
# Variants, interleaved over the repetitions: http/protobuf (the target: >= 500k spans/s on one
# core, <= 2 us per span all in), http/protobuf with gzip, http/json. Reported: the median over
# the repetitions of the exporter thread's CPU ns per span, the spans/s one core sustains at
# that cost, the spans/s of wall time seen here (shared cores: for information), and the share
# of the thread's CPU time spent in the kernel.
source "$(dirname "$0")/../lib/common.sh"

REPS=${REPS:-3}
SECONDS_PER_RUN=${RUN_SECONDS:-3}
bench_cc_exporter exporter_bench "$ROOT/bench/exporter/exporter_bench.c"
sink_start
URL=http://127.0.0.1:$SINK_PORT/v1/traces

for r in $(seq "$REPS"); do
	"$TMP/exporter_bench" "$URL" http/protobuf "$SECONDS_PER_RUN" >>"$TMP/res"
	"$TMP/exporter_bench" "$URL" http/protobuf "$SECONDS_PER_RUN" gzip >>"$TMP/res"
	"$TMP/exporter_bench" "$URL" http/json "$SECONDS_PER_RUN" >>"$TMP/res"
done
echo "== exporter thread, $REPS runs of ${SECONDS_PER_RUN} s per variant (medians)"
printf '%-20s %12s %14s %14s %10s %10s\n' variant cpu-ns/span spans/s-1-core spans/s-wall \
	spans/run kernel
for v in http/protobuf http/protobuf+gzip http/json; do
	ns=$(awk -v v="$v" '$1 == v { print $9 }' "$TMP/res" | median)
	sw=$(awk -v v="$v" '$1 == v { print $13 }' "$TMP/res" | median)
	n=$(awk -v v="$v" '$1 == v { print $3 }' "$TMP/res" | median)
	k=$(awk -v v="$v" '$1 == v { print $15 }' "$TMP/res" | median)
	awk -v v="$v" -v ns="$ns" -v sw="$sw" -v n="$n" -v k="$k" \
		'BEGIN { printf "%-20s %12.1f %14.0f %14.0f %10d %9.0f%%\n", v, ns, 1e9 / ns, sw, n,
			100 * k }'
done
bench_kill sink
awk '/^sink:/ { printf "sink: %d requests, %.0f MB of bodies received and discarded\n", $3,
	$5 / 1e6 }' "$TMP/sink.out"
