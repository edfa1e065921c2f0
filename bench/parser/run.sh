#!/bin/bash
# bench/parser: instructions per message head of the HTTP/1.x parser, counted by callgrind.
#
# Usage (from anywhere): bench/parser/run.sh [SRC_DIR]
#   SRC_DIR: where the parser's sources (http_parser.{c,h}, http_head*.c, http_head.h,
#   http_scan.h) are taken from (default: the repository's agent/); pass a directory holding
#   an older copy of those files to measure it with the same driver.
#   N1, N2 (env, default 2000 and 22000): the two iteration counts of each scenario.
#
# parser_cost.c is compiled with the library's code-generation flags (-O2 -g -fPIC
# -fvisibility=hidden -fno-strict-aliasing, gcc by default: $CC) together with the parser's
# sources, then each scenario runs under `valgrind --tool=callgrind` twice, N1 and N2 times;
# the instructions per head are the difference of the two runs' totals divided by N2 - N1, so
# process start-up and the driver's set-up cancel out. Beside the total, the same difference
# of the inclusive counts of http_parser_feed, http_parser_skip_body and http_head_parse
# (callgrind_annotate --inclusive=yes) says where the instructions go.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SRC=$(cd "${1:-$ROOT/agent}" && pwd)
N1=${N1:-2000}
N2=${N2:-22000}
CC=${CC:-cc}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/wt-parser.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

command -v valgrind >/dev/null || { echo "bench: valgrind not installed" >&2; exit 1; }
$CC -std=gnu11 -O2 -g -fPIC -fvisibility=hidden -fno-strict-aliasing -D_GNU_SOURCE \
	-Wall -Wextra -Wshadow -Wstrict-prototypes -I"$SRC" \
	"$ROOT/bench/parser/parser_cost.c" "$SRC/http_parser.c" "$SRC"/http_head*.c \
	-o "$TMP/parser_cost"

FUNCS="http_parser_feed http_parser_skip_body http_head_parse"

# cg SCENARIO N: callgrind output file of one run
cg() {
	local out="$TMP/cg.$1.$2"
	valgrind --tool=callgrind --callgrind-out-file="$out" "$TMP/parser_cost" "$1" "$2" \
		2>/dev/null
	echo "$out"
}

# count FILE FUNC: inclusive instructions of FUNC in FILE ("total" for the whole program)
count() {
	if [ "$2" = total ]; then
		sed -n 's/^summary: *//p' "$1"
		return
	fi
	callgrind_annotate --inclusive=yes --threshold=100 "$1" 2>/dev/null |
		awk -v f="$2" '{ for (i = 2; i <= NF; i++) if ($i ~ "^[^ ]*:" f "( |$)" ||
		    $i ~ ":" f "$") { gsub(",", "", $1); print $1; exit } }' | head -1
}

printf '%-14s %6s %10s' scenario bytes total
for f in $FUNCS; do printf ' %22s' "$f"; done
printf '\n'
for s in req40-feed req40-parse req326-feed req326-parse rsp238-feed rsp238-cap; do
	case $s in
	req40-*) bytes=40 ;;
	req326-*) bytes=326 ;;
	rsp238-*) bytes=238 ;;
	esac
	a=$(cg "$s" "$N1")
	b=$(cg "$s" "$N2")
	per() { # per-head difference of one count, "-" when absent
		local x y
		x=$(count "$a" "$1")
		y=$(count "$b" "$1")
		if [ -z "$y" ]; then echo "-"; return; fi
		awk -v x="${x:-0}" -v y="$y" -v n=$((N2 - N1)) 'BEGIN { printf "%.1f", (y - x) / n }'
	}
	printf '%-14s %6s %10s' "$s" "$bytes" "$(per total)"
	for f in $FUNCS; do printf ' %22s' "$(per "$f")"; done
	printf '\n'
done
