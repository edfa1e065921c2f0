# common.sh - shared helpers of the benchmark drivers (sourced by bench/*/run.sh, bash).
#
# Provides:
#   ROOT, BUILD, LIB     repository root, the CMake build directory (first argument of the
#                        driver, else $WIRETRACE_BUILD, else ROOT/build) and its libwiretrace.so
#   bench_need_lib       exit with a message if LIB has not been built
#   TMP                  a private temporary directory, removed at exit
#   bench_cc OUT SRC...  compile a helper with the project's flags (-O2, C11 with GNU
#                        extensions, the warnings of STYLE.md) into TMP
#   bench_cc_exporter OUT SRC...  compile a program against the exporter's public headers and
#                        link it with the exporter's and agent/base's object files of BUILD
#                        (the CMake OBJECT libraries wt_exporter and wt_base, built if
#                        missing): it measures exactly the code that BUILD's library contains
#   bench_spawn NAME CMD...   start CMD in the background, remember its PID under NAME; every
#                        process started this way is killed (by PID) at exit
#   bench_kill NAME [SIG]     stop one of them (default SIGTERM) and wait for it
#   median               median of the numbers on stdin, one per line
#   sink_start           start bench/lib/sink (the OTLP receiver that discards); sets SINK_PORT
#   sink_spans           print the number of spans the sink has received so far
#
# Nothing here is ever killed by name: only the PIDs this driver started.

set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=$(cd "${1:-${WIRETRACE_BUILD:-$ROOT/build}}" && pwd)
LIB=$BUILD/libwiretrace.so
bench_need_lib() {
	if [ ! -f "$LIB" ]; then
		echo "bench: $LIB not found: build the project first (cmake --build $BUILD)" >&2
		exit 1
	fi
}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/wt-bench.XXXXXX")
declare -A BENCH_PIDS=()

bench_cleanup() {
	local name pid
	for name in "${!BENCH_PIDS[@]}"; do
		pid=${BENCH_PIDS[$name]}
		kill -TERM "$pid" 2>/dev/null || true
	done
	for name in "${!BENCH_PIDS[@]}"; do
		pid=${BENCH_PIDS[$name]}
		for _ in 1 2 3 4 5 6 7 8 9 10; do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.2
		done
		kill -KILL "$pid" 2>/dev/null || true
	done
	rm -rf "$TMP"
}
trap bench_cleanup EXIT
trap 'exit 130' INT TERM

BENCH_CFLAGS=(-std=gnu11 -O2 -g -D_GNU_SOURCE -Wall -Wextra -Wshadow -Wstrict-prototypes)

bench_cc() {
	local out=$1
	shift
	cc "${BENCH_CFLAGS[@]}" "$@" -o "$TMP/$out"
}

bench_cc_exporter() {
	local out=$1 objs
	shift
	objs=("$BUILD"/CMakeFiles/wt_exporter.dir/exporter/*.c.o
		"$BUILD"/CMakeFiles/wt_base.dir/agent/base/*.c.o)
	if [ ! -f "${objs[0]}" ]; then
		cmake --build "$BUILD" --target wt_exporter wt_base >/dev/null
		objs=("$BUILD"/CMakeFiles/wt_exporter.dir/exporter/*.c.o
			"$BUILD"/CMakeFiles/wt_base.dir/agent/base/*.c.o)
	fi
	# An archive, so that only the objects the program needs are linked in.
	rm -f "$TMP/libwt_exporter.a"
	ar rcs "$TMP/libwt_exporter.a" "${objs[@]}"
	bench_cc "$out" -ftls-model=initial-exec -I"$ROOT/exporter/api" -I"$ROOT/agent/base" "$@" \
		"$TMP/libwt_exporter.a" -ldl -pthread -lm
}

bench_spawn() {
	local name=$1
	shift
	"$@" &
	BENCH_PIDS[$name]=$!
}

bench_kill() {
	local name=$1 sig=${2:-TERM} pid
	pid=${BENCH_PIDS[$name]:-}
	[ -n "$pid" ] || return 0
	kill -"$sig" "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	unset "BENCH_PIDS[$name]"
}

median() {
	sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) exit 1;
		if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

sink_start() {
	[ -x "$TMP/sink" ] || bench_cc sink "$ROOT/bench/lib/sink.c" -pthread
	bench_spawn sink "$TMP/sink" >"$TMP/sink.out"
	for _ in $(seq 50); do
		SINK_PORT=$(head -n1 "$TMP/sink.out" 2>/dev/null || true)
		[ -n "$SINK_PORT" ] && return 0
		sleep 0.1
	done
	echo "bench: the sink did not start" >&2
	exit 1
}

sink_spans() {
	local before after
	before=$(grep -c '^sink:' "$TMP/sink.out" || true)
	kill -USR1 "${BENCH_PIDS[sink]}"
	for _ in $(seq 50); do
		after=$(grep -c '^sink:' "$TMP/sink.out" || true)
		[ "$after" -gt "$before" ] && break
		sleep 0.05
	done
	awk '/^sink:/ { s = $7 } END { print s + 0 }' "$TMP/sink.out"
}
