#!/bin/bash
# bench/enqueue: the producer's cost of exp_enqueue(), with two threads, and its system calls.
#
# Usage (from the repository root): bench/enqueue/run.sh [BUILD_DIR]
#   BUILD_DIR: a CMake build directory (default $WIRETRACE_BUILD or build); enqueue.c is linked
#   with its exporter and agent/base object files (the code its libwiretrace.so contains).
#   REPS (env, default 5): repetitions of each timed configuration
#
# 1. ns per enqueue (enqueue.c: bursts of 128 spans timed, 1 ms pause between bursts so that
#    the exporter thread, configured like OTEL_TRACES_EXPORTER=none, keeps up), 1 and 2
#    producer threads, REPS repetitions interleaved; the median over the repetitions of each
#    run's median burst.
# 2. System calls of each producer thread (strace -f -ff: one file per thread), 2 producers:
#    the only ones expected are the benchmark's own pauses (clock_nanosleep) and the exporter's
#    futex wake, at most one per full batch (OTEL_BSP_MAX_EXPORT_BATCH_SIZE, 512).
# 3. Instructions per exp_enqueue() call under callgrind (--toggle-collect=exp_enqueue), 1
#    producer.
source "$(dirname "$0")/../lib/common.sh"

REPS=${REPS:-5}
bench_cc_exporter enqueue "$ROOT/bench/enqueue/enqueue.c"

ROUNDS=2000
BURST=128
echo "== ns per exp_enqueue(), bursts of $BURST, $ROUNDS bursts per thread, $REPS repetitions"
for r in $(seq "$REPS"); do
	for t in 1 2; do
		"$TMP/enqueue" "$t" "$ROUNDS" "$BURST" 2>/dev/null >>"$TMP/ns.$t"
	done
done
printf '%-8s %14s %14s %8s %9s %14s\n' threads median-ns mean-ns dropped wakeups spans/wakeup
for t in 1 2; do
	med=$(awk '{ print $6 }' "$TMP/ns.$t" | median)
	mean=$(awk '{ print $8 }' "$TMP/ns.$t" | median)
	awk -v t="$t" -v m="$med" -v a="$mean" '{ d += $10; w += $12; s += $4 }
		END { printf "%-8s %14.1f %14.1f %8d %9d %14.1f\n", t, m, a, d, w, s / w }' \
		"$TMP/ns.$t"
done
echo "(median-ns: median over the repetitions of each run's median burst; mean-ns likewise of"
echo " each run's mean; dropped, wakeups and spans/wakeup: totals over the repetitions)"

echo
echo "== system calls of the producer threads (strace -f -ff, 2 producers, 300 bursts each)"
mkdir -p "$TMP/strace"
strace -f -ff -o "$TMP/strace/t" "$TMP/enqueue" 2 300 "$BURST" >"$TMP/strace.out" \
	2>"$TMP/strace.tids"
cat "$TMP/strace.out"
for tid in $(awk '$1 == "producer" { print $2 }' "$TMP/strace.tids"); do
	printf 'producer thread: '
	sed -nE 's/^([a-z_0-9]+)\(.*/\1/p' "$TMP/strace/t.$tid" | sort | uniq -c |
		awk '{ printf "%s %s, ", $2, $1 } END { print "" }'
done

echo
echo "== instructions per exp_enqueue() (callgrind, 1 producer, 200 bursts of $BURST)"
valgrind --tool=callgrind --callgrind-out-file="$TMP/cg.enqueue" --toggle-collect=exp_enqueue \
	"$TMP/enqueue" 1 200 "$BURST" >/dev/null 2>&1
awk -v n=$((200 * BURST)) '/^totals:/ { printf "%.1f instructions per enqueue (%d calls)\n",
	$2 / n, n }' "$TMP/cg.enqueue"
callgrind_annotate --inclusive=no "$TMP/cg.enqueue" 2>/dev/null |
	awk '/file:function/ { on = 1; getline; next } on && NF == 0 { on = 0 } on'
