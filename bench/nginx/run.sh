#!/bin/bash
# bench/nginx: the reference workload. nginx (Debian's binary, its own config: one worker, a
# small static file, keep-alive, access_log off) served to `wrk -t1 -c32`, every request
# traced and exported over OTLP/HTTP protobuf to a local sink that discards (bench/lib/sink.c).
#
# Usage (from the repository root): bench/nginx/run.sh [BUILD_DIR]
#   BUILD_DIR: a CMake build directory with libwiretrace.so (default $WIRETRACE_BUILD or build)
#   PARTS (env, default "callgrind cpu strace"): which measurements to run
#   REPS (env, default 5), DURATION (env, default 5): interleaved repetitions and wrk seconds of
#   the CPU-time measurement
#   VARIANTS (env, default "bare agent agent-none"): which variants to run
#   CG_KEEP (env): a directory to copy the agent's callgrind files of the longer run into (with
#   its request count in CG_KEEP/requests), for callgrind_annotate
#
# Variants: bare (no preload); agent (LD_PRELOAD, OTLP export to the sink: the target);
# agent-none (LD_PRELOAD with OTEL_TRACES_EXPORTER=none: spans made and queued, not exported).
#
# callgrind (a, b): instructions per request of the worker, under callgrind with
#   --separate-threads=yes: the request thread (the worker's main thread) alone (a) and all its
#   threads including the exporter (b). Each variant runs twice, with wrk for CG_SHORT and
#   CG_LONG seconds, from a fresh start to a graceful stop (the exporter's exit flush
#   included); the instructions per request are the difference of the two runs divided by the
#   difference of their request counts, so start-up and shut-down cancel out. Requests are
#   counted by nginx itself (stub_status).
# cpu (c): CPU time (utime + stime from /proc, per thread) per request of the worker, without
#   valgrind, the three variants running side by side and loaded in turn (bare, agent,
#   agent-none, bare, ...) REPS times for DURATION seconds; medians and ratios to bare, with
#   requests/s beside them.
# strace (d): system calls per request of the worker's request thread and of its other threads
#   (the exporter), strace -f -ff attached to the worker during a wrk run, bare and agent.
source "$(dirname "$0")/../lib/common.sh"
bench_need_lib

PARTS=${PARTS:-callgrind cpu strace}
REPS=${REPS:-5}
DURATION=${DURATION:-5}
CG_SHORT=${CG_SHORT:-2}
CG_LONG=${CG_LONG:-8}
STRACE_SECONDS=3
VARIANTS=${VARIANTS:-bare agent agent-none}
TICK=$(getconf CLK_TCK)

command -v nginx >/dev/null || { echo "bench: nginx not installed (nginx-light)" >&2; exit 1; }
command -v wrk >/dev/null || { echo "bench: wrk not installed" >&2; exit 1; }
sink_start

# site DIR PORT: an nginx prefix with its config and a 612-byte static page.
site() {
	local d=$1 port=$2 user=""
	mkdir -p "$d/www"
	[ "$(id -u)" = 0 ] && user="user root;"
	awk 'BEGIN { while (length(s) < 612) s = s "wiretrace benchmark page\n"
		printf "%s", substr(s, 1, 612) }' >"$d/www/index.html"
	cat >"$d/nginx.conf" <<-EOF
	daemon off;
	master_process on;
	worker_processes 1;
	$user
	pid $d/nginx.pid;
	error_log $d/error.log warn;
	events { worker_connections 1024; }
	http {
	    access_log off;
	    sendfile on;
	    client_body_temp_path $d/client_body;
	    proxy_temp_path $d/proxy;
	    fastcgi_temp_path $d/fastcgi;
	    uwsgi_temp_path $d/uwsgi;
	    scgi_temp_path $d/scgi;
	    server {
	        listen 127.0.0.1:$port;
	        root $d/www;
	        location = /nginx_status { stub_status; }
	    }
	}
	EOF
}

# variant_env VARIANT: the environment of that variant, as arguments for env(1).
variant_env() {
	case $1 in
	bare) echo "-u LD_PRELOAD" ;;
	agent) echo "LD_PRELOAD=$LIB OTEL_SERVICE_NAME=nginx-bench OTEL_TRACES_EXPORTER=otlp" \
		"OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:$SINK_PORT" ;;
	agent-none) echo "LD_PRELOAD=$LIB OTEL_SERVICE_NAME=nginx-bench" \
		"OTEL_TRACES_EXPORTER=none" ;;
	esac
}

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# status PORT: nginx's request counter (stub_status; this request included).
status() {
	curl -s "http://127.0.0.1:$1/nginx_status" | awk 'NR == 3 { print $3 }'
}

# nginx_start NAME VARIANT PORT [WRAPPER...]: start nginx; sets WORKER[NAME].
declare -A WORKER=() PORT=()
nginx_start() {
	local name=$1 variant=$2 port=$3 d=$TMP/nginx.$1 m w=""
	shift 3
	site "$d" "$port"
	# shellcheck disable=SC2046
	bench_spawn "$name" env $(variant_env "$variant") "$@" nginx -p "$d" -e "$d/error.log" \
		-c "$d/nginx.conf" >"$d/stderr" 2>&1
	m=${BENCH_PIDS[$name]}
	for _ in $(seq 150); do
		w=$(awk '{ print $1 }' "/proc/$m/task/$m/children" 2>/dev/null || true)
		[ -n "$w" ] && [ -n "$(status "$port")" ] && break
		w=""
		sleep 0.1
	done
	if [ -z "$w" ]; then
		echo "bench: nginx ($name) did not start:" >&2
		cat "$d/stderr" "$d/error.log" >&2 2>/dev/null || true
		exit 1
	fi
	WORKER[$name]=$w
	PORT[$name]=$port
}

# nginx_stop NAME: graceful stop (SIGQUIT to the master, by PID), waited for.
nginx_stop() {
	bench_kill "$1" QUIT
}

# wrk_run PORT SECONDS: wrk's request count and requests/s.
wrk_run() {
	wrk -t1 -c32 -d"$2"s "http://127.0.0.1:$1/index.html" |
		awk '/requests in/ { n = $1 } /Requests\/sec/ { r = $2 } END { print n, r }'
}

# ticks PID [TID]: utime + stime of the process (all threads), or of one thread, in ticks.
ticks() {
	local f=/proc/$1/stat
	[ -n "${2:-}" ] && f=/proc/$1/task/$2/stat
	sed 's/.*) //' "$f" | awk '{ print $12 + $13 }'
}

# breakdown FILE REQUESTS: where the agent's instructions go on the request thread, per request
# (the agent's functions, inclusive, then the heaviest functions of the thread, exclusive).
breakdown() {
	local fmt='{ x = $1; gsub(",", "", x); f = $0; sub(/^[^)]*\) +/, "", f); sub(/ \[.*/, "", f)
		printf "%8.0f  %s\n", x / n, f }'
	callgrind_annotate --inclusive=yes "$1" 2>/dev/null |
		awk -v n="$2" "/libwiretrace/ && c++ < 25 $fmt" >"$TMP/breakdown.incl"
	callgrind_annotate --inclusive=no "$1" 2>/dev/null |
		awk -v n="$2" "/file:function/ { on = 1; getline; next }
			on && NF >= 3 && c++ < 25 $fmt" >"$TMP/breakdown.excl"
}

part_callgrind() {
	local v len port n w base files main all reqs
	echo "== (a, b) instructions per request under callgrind (wrk ${CG_SHORT}s and" \
		"${CG_LONG}s, difference of the two runs)"
	for v in $VARIANTS; do
		for len in "$CG_SHORT" "$CG_LONG"; do
			port=$(free_port)
			n=cg-$v-$len
			nginx_start "$n" "$v" "$port" valgrind --tool=callgrind \
				--separate-threads=yes --callgrind-out-file="$TMP/nginx.$n/cg.%p"
			w=${WORKER[$n]}
			read -r wreq _ < <(wrk_run "$port" "$len")
			reqs=$(($(status "$port") - 2)) # minus the start-up check and this query
			nginx_stop "$n"
			base=$TMP/nginx.$n/cg.$w
			files=("$base"-*)
			main=$(awk '/^totals:/ { print $2 }' "$base-01")
			all=$(cat "${files[@]}" | awk '/^totals:/ { s += $2 } END { print s }')
			echo "$v $len $reqs $wreq $main $all ${#files[@]}" >>"$TMP/cg.res"
			if [ "$v" = agent ] && [ "$len" = "$CG_LONG" ]; then
				breakdown "$base-01" "$reqs"
				[ -n "${CG_KEEP:-}" ] && mkdir -p "$CG_KEEP" && cp "${files[@]}" "$CG_KEEP/" &&
					echo "$reqs" >"$CG_KEEP/requests"
			fi
		done
	done
	printf '%-11s %10s %14s %8s %14s %8s %9s\n' variant requests request-thread ratio \
		all-threads ratio threads
	awk -v short="$CG_SHORT" -v long="$CG_LONG" '
		$2 == short { r1[$1] = $3; m1[$1] = $5; a1[$1] = $6 }
		$2 == long { r2[$1] = $3; m2[$1] = $5; a2[$1] = $6; t[$1] = $7; order[++k] = $1 }
		END {
			for (i = 1; i <= k; i++) {
				v = order[i]; dr = r2[v] - r1[v]
				m[v] = (m2[v] - m1[v]) / dr; a[v] = (a2[v] - a1[v]) / dr
				mb = m["bare"] ? m["bare"] : m[v]; ab = a["bare"] ? a["bare"] : a[v]
				printf "%-11s %10d %14.0f %7.3fx %14.0f %7.3fx %9d\n", v, dr, m[v],
					m[v] / mb, a[v], a[v] / ab, t[v]
			}
			printf "(instructions per request; requests: difference of the two runs)\n"
			printf "(added by the agent: request thread %+.0f, all threads %+.0f)\n",
				m["agent"] - m["bare"], a["agent"] - a["bare"]
		}' "$TMP/cg.res"
	echo "(raw: variant wrk-seconds requests wrk-requests request-thread all-threads files)"
	cat "$TMP/cg.res"
	echo
	echo "-- agent, request thread, instructions per request in the agent's functions" \
		"(inclusive, ${CG_LONG}s run)"
	cat "$TMP/breakdown.incl"
	echo
	echo "-- agent, request thread, heaviest functions (exclusive, nginx's and libc's included)"
	cat "$TMP/breakdown.excl"
}

part_cpu() {
	local v r port w t0 m0 t1 m1 s0 s1 out spans0 spans1 served
	echo "== (c) CPU time per request, no valgrind, $REPS interleaved rounds of ${DURATION}s"
	spans0=$(sink_spans)
	for v in $VARIANTS; do
		nginx_start "cpu-$v" "$v" "$(free_port)"
		wrk_run "${PORT[cpu-$v]}" 1 >/dev/null # warm-up: first span, exporter thread
	done
	for r in $(seq "$REPS"); do
		for v in $VARIANTS; do
			port=${PORT[cpu-$v]}
			w=${WORKER[cpu-$v]}
			s0=$(status "$port")
			t0=$(ticks "$w")
			m0=$(ticks "$w" "$w")
			out=$(wrk_run "$port" "$DURATION")
			t1=$(ticks "$w")
			m1=$(ticks "$w" "$w")
			s1=$(status "$port")
			echo "$v $((s1 - s0 - 1)) $((m1 - m0)) $((t1 - t0)) $out" >>"$TMP/cpu.res"
		done
	done
	printf '%-11s %16s %8s %14s %8s %12s\n' variant request-thread ratio all-threads ratio \
		requests/s
	local per='$1 == v { print 1e6 * $c / tick / $2 }' mb ab m a q
	mb=$(awk -v v=bare -v c=3 -v tick="$TICK" "$per" "$TMP/cpu.res" | median)
	ab=$(awk -v v=bare -v c=4 -v tick="$TICK" "$per" "$TMP/cpu.res" | median)
	for v in $VARIANTS; do
		m=$(awk -v v="$v" -v c=3 -v tick="$TICK" "$per" "$TMP/cpu.res" | median)
		a=$(awk -v v="$v" -v c=4 -v tick="$TICK" "$per" "$TMP/cpu.res" | median)
		q=$(awk -v v="$v" '$1 == v { print $6 }' "$TMP/cpu.res" | median)
		awk -v v="$v" -v m="$m" -v a="$a" -v q="$q" -v mb="$mb" -v ab="$ab" 'BEGIN {
			printf "%-11s %16.3f %7.3fx %14.3f %7.3fx %12.0f\n", v, m, m / mb, a,
				a / ab, q }'
	done
	echo "(CPU microseconds per request, medians over the rounds; requests/s: wrk, median)"
	echo "(raw: variant requests request-thread-ticks all-threads-ticks wrk-requests wrk-req/s)"
	cat "$TMP/cpu.res"
	served=$(status "${PORT[cpu-agent]}")
	for v in $VARIANTS; do
		nginx_stop "cpu-$v"
	done
	spans1=$(sink_spans)
	echo "spans: the agent's nginx served $served requests (status queries included)," \
		"the sink received $((spans1 - spans0)) spans from it"
	if grep -qs "queue full" "$TMP/nginx.cpu-agent/stderr" "$TMP/nginx.cpu-agent/error.log"
	then
		echo "(the exporter reported a full queue: the difference was dropped, not waited" \
			"for)"
	fi
}

part_strace() {
	local v port w s0 s1 d f tid reqs role
	echo "== (d) system calls per request of the worker's threads (strace -f, wrk" \
		"${STRACE_SECONDS}s)"
	for v in bare agent; do
		port=$(free_port)
		nginx_start "st-$v" "$v" "$port"
		w=${WORKER[st-$v]}
		wrk_run "$port" 1 >/dev/null # warm-up: first span, exporter thread started
		d=$TMP/strace.$v
		mkdir -p "$d"
		s0=$(status "$port")
		bench_spawn "strace-$v" strace -f -ff -o "$d/t" -p "$w" 2>/dev/null
		for _ in $(seq 50); do
			[ -e "$d/t.$w" ] && break
			sleep 0.1
		done
		sleep 0.5
		wrk_run "$port" "$STRACE_SECONDS" >/dev/null
		sleep 0.5
		bench_kill "strace-$v" INT
		s1=$(status "$port")
		nginx_stop "st-$v"
		reqs=$((s1 - s0 - 1))
		for f in "$d"/t.*; do
			tid=${f##*.}
			[ "$tid" = "$w" ] && role=request-thread || role=other-thread
			sed -nE 's/^([a-z_0-9]+)\(.*/\1/p' "$f" | sort | uniq -c |
				awk -v v="$v" -v r="$role" -v n="$reqs" '{ print v, r, $2, $1, n }'
		done >>"$TMP/strace.res"
	done
	awk '{ k = $1 " " $2 " " $3; c[k] += $4; n[$1] = $5; vr[$1 " " $2] = 1 }
		END {
			for (k in c) { split(k, p, " "); printf "%-6s %-14s %-16s %10.4f\n", p[1],
				p[2], p[3], c[k] / n[p[1]] }
			for (v in n) printf "%-6s requests %d\n", v, n[v]
		}' "$TMP/strace.res" | sort
	echo "(system calls per request, by variant, thread and name; requests by stub_status)"
}

for p in $PARTS; do
	"part_$p"
	echo
done
