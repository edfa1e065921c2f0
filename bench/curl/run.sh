#!/bin/bash
# bench/curl: the time the agent adds to one curl_easy_perform on a local plaintext endpoint.
#
# Usage (from the repository root): bench/curl/run.sh [BUILD_DIR]
#   BUILD_DIR: a CMake build directory with libwiretrace.so (default $WIRETRACE_BUILD or build)
#   REPS (env, default 7): interleaved rounds; N (env, default 3000): timed transfers per run
#   CG (env, default 1): also count instructions per transfer under callgrind
#
# Endpoint: nginx (Debian's binary, not traced), one worker, a 612-byte static file,
# keep-alive. Client: bench_curl.c, one easy handle reused (the connection is kept alive),
# 200 warm-up transfers then N timed ones.
# Variants: bare (no preload); bare-hdr (no preload, the program itself sets one traceparent
# header line: what libcurl alone charges for the line the agent adds); agent (LD_PRELOAD,
# every transfer a span, OTLP/HTTP protobuf to bench/lib/sink every 200 ms); agent-none
# (LD_PRELOAD, OTEL_TRACES_EXPORTER=none: spans made, not exported). The variants run in turn
# (bare, bare-hdr, agent, agent-none, bare, ...) REPS times; reported: the median over runs of
# each run's median wall time per transfer, of the calling thread's CPU time per transfer, of
# the whole process's CPU time per transfer (exporter included), and the differences to bare.
# Callgrind: instructions per transfer of the calling thread inside the timed loop
# (--toggle-collect=timed_loop), from two runs of N1 and N2 transfers (start-up cancels out).
source "$(dirname "$0")/../lib/common.sh"
bench_need_lib

REPS=${REPS:-7}
N=${N:-3000}
CG=${CG:-1}
CG_N1=${CG_N1:-300}
CG_N2=${CG_N2:-1300}
PY=/usr/bin/python3

command -v nginx >/dev/null || { echo "bench: nginx not installed (nginx-light)" >&2; exit 1; }
bench_cc bench_curl "$ROOT/bench/curl/bench_curl.c" $(pkg-config --cflags --libs libcurl)
sink_start

# The endpoint.
port=$($PY -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])')
mkdir -p "$TMP/www"
awk 'BEGIN { while (length(s) < 612) s = s "wiretrace benchmark page\n"
	printf "%s", substr(s, 1, 612) }' >"$TMP/www/index.html"
user=""
[ "$(id -u)" = 0 ] && user="user root;"
cat >"$TMP/nginx.conf" <<EOF
daemon off;
worker_processes 1;
$user
pid $TMP/nginx.pid;
error_log $TMP/error.log warn;
events { worker_connections 256; }
http {
    access_log off;
    keepalive_requests 10000000;
    client_body_temp_path $TMP/cb; proxy_temp_path $TMP/px; fastcgi_temp_path $TMP/fc;
    uwsgi_temp_path $TMP/uw; scgi_temp_path $TMP/sc;
    server { listen 127.0.0.1:$port; root $TMP/www; }
}
EOF
bench_spawn nginx env -u LD_PRELOAD nginx -p "$TMP" -e "$TMP/error.log" -c "$TMP/nginx.conf"
for _ in $(seq 50); do
	curl -s -o /dev/null "http://127.0.0.1:$port/" && break
	sleep 0.1
done
URL="http://127.0.0.1:$port/index.html"

agent_env=(LD_PRELOAD="$LIB" OTEL_TRACES_EXPORTER=otlp OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf
	OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$SINK_PORT" OTEL_BSP_SCHEDULE_DELAY=200
	OTEL_BSP_MAX_QUEUE_SIZE=65536 OTEL_SERVICE_NAME=bench-curl)
HDR="traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
run_variant() { # VARIANT BENCH_CURL URL N [WARMUP]
	local v=$1
	shift
	case $v in
	bare) env -u LD_PRELOAD "$@" ;;
	bare-hdr) env -u LD_PRELOAD "$@" "$HDR" ;;
	agent) env "${agent_env[@]}" "$@" ;;
	agent-none) env LD_PRELOAD="$LIB" OTEL_TRACES_EXPORTER=none "$@" ;;
	esac
}

echo "== curl_easy_perform on $URL: $REPS interleaved rounds of $N transfers"
spans0=$(sink_spans)
for r in $(seq "$REPS"); do
	for v in bare bare-hdr agent agent-none; do
		run_variant "$v" "$TMP/bench_curl" "$URL" "$N" 200 >>"$TMP/$v.jsonl"
	done
done
sleep 1
spans1=$(sink_spans)
echo "spans received by the sink: $((spans1 - spans0)) (expected $((REPS * (N + 200))))"

$PY - "$TMP" <<'EOF'
import json, statistics, sys
tmp = sys.argv[1]
rows = {}
for v in ("bare", "bare-hdr", "agent", "agent-none"):
    runs = [json.loads(l) for l in open("%s/%s.jsonl" % (tmp, v))]
    assert all(r["failed"] == 0 for r in runs), v
    rows[v] = {k: statistics.median(r[k] for r in runs)
               for k in ("median_ns", "p90_ns", "thread_cpu_ns", "process_cpu_ns")}
b = rows["bare"]
print("%-11s %12s %12s %16s %17s" % ("variant", "wall/xfer", "p90", "thread CPU/xfer",
                                     "process CPU/xfer"))
for v, r in rows.items():
    d = lambda k: "" if v == "bare" else " (%+.0f)" % (r[k] - b[k])
    print("%-11s %9.0f ns%s %9.0f ns %9.0f ns%s %9.0f ns%s" % (
        v, r["median_ns"], d("median_ns"), r["p90_ns"], r["thread_cpu_ns"], d("thread_cpu_ns"),
        r["process_cpu_ns"], d("process_cpu_ns")))
EOF

if [ "$CG" = 1 ] && command -v valgrind >/dev/null; then
	echo "== instructions per transfer in the calling thread (callgrind, timed loop only)"
	for v in bare bare-hdr agent-none agent; do
		irs=()
		for n in "$CG_N1" "$CG_N2"; do
			out="$TMP/cg.$v.$n"
			run_variant "$v" valgrind --tool=callgrind --toggle-collect=timed_loop \
				--callgrind-out-file="$out" "$TMP/bench_curl" "$URL" "$n" 50 \
				>/dev/null 2>"$out.log"
			irs+=("$(awk '/^summary:|^totals:/ { print $2; exit }' "$out")")
		done
		# The warm-up loop is inside timed_loop too: it cancels out in the difference.
		echo "$v: $(( (irs[1] - irs[0]) / (CG_N2 - CG_N1) )) instructions per transfer"
	done
fi
