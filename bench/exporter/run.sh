#!/bin/bash
# bench/exporter: spans per second encoded and POSTed by the exporter thread, and its CPU time
# per span, against a local OTLP sink that discards (bench/lib/sink.c).
#
# Usage (from the repository root): bench/exporter/run.sh [BUILD_DIR]
#   BUILD_DIR: a configured CMake build directory (default $WIRETRACE_BUILD or build); only its
#   existence is checked: exporter_bench.c is compiled here against the exporter's sources
#   (exporter/*.c, agent/base/*.c) with the project's flags, as bench/encode/run.sh does.
#   REPS (env, default 3), RUN_SECONDS (env, default 3): repetitions and length of each run
#
# Variants, interleaved over the repetitions: http/protobuf (the target: >= 500k spans/s on one
# core, <= 2 us per span all in), http/protobuf with gzip, http/json. Reported: the median over
# the repetitions of the exporter thread's CPU ns per span, the spans/s one core sustains at
# that cost, and the spans/s of wall time seen here (shared cores: for information).
source "$(dirname "$0")/../lib/common.sh"

REPS=${REPS:-3}
SECONDS_PER_RUN=${RUN_SECONDS:-3}
version=$(sed -n 's/^project(wiretrace VERSION \([0-9.]*\).*/\1/p' "$ROOT/CMakeLists.txt")
bench_cc exporter_bench -ftls-model=initial-exec -DWIRETRACE_VERSION="\"$version\"" \
	-I"$ROOT/exporter" -I"$ROOT/exporter/api" -I"$ROOT/agent/base" \
	$(pkg-config --cflags libcurl zlib) "$ROOT/bench/exporter/exporter_bench.c" \
	"$ROOT"/exporter/*.c "$ROOT"/agent/base/*.c -ldl -pthread -lm
sink_start
URL=http://127.0.0.1:$SINK_PORT/v1/traces

for r in $(seq "$REPS"); do
	"$TMP/exporter_bench" "$URL" http/protobuf "$SECONDS_PER_RUN" >>"$TMP/res"
	"$TMP/exporter_bench" "$URL" http/protobuf "$SECONDS_PER_RUN" gzip >>"$TMP/res"
	"$TMP/exporter_bench" "$URL" http/json "$SECONDS_PER_RUN" >>"$TMP/res"
done
echo "== exporter thread, $REPS runs of ${SECONDS_PER_RUN} s per variant (medians)"
printf '%-20s %14s %16s %16s %12s\n' variant cpu-ns/span spans/s-1-core spans/s-wall \
	spans/run
for v in http/protobuf http/protobuf+gzip http/json; do
	ns=$(awk -v v="$v" '$1 == v { print $9 }' "$TMP/res" | median)
	sw=$(awk -v v="$v" '$1 == v { print $13 }' "$TMP/res" | median)
	n=$(awk -v v="$v" '$1 == v { print $3 }' "$TMP/res" | median)
	awk -v v="$v" -v ns="$ns" -v sw="$sw" -v n="$n" \
		'BEGIN { printf "%-20s %14.1f %16.0f %16.0f %12d\n", v, ns, 1e9 / ns, sw, n }'
done
bench_kill sink
awk '/^sink:/ { printf "sink: %d requests, %.0f MB of bodies received and discarded\n", $3,
	$5 / 1e6 }' "$TMP/sink.out"
