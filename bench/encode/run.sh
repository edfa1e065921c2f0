#!/bin/sh
# Build and run the OTLP encoding benchmarks (bench/encode/bench_encode.c, bench_post.c).
#
# Usage: bench/encode/run.sh [BUILD_DIR [URL]]
#   BUILD_DIR: a configured CMake build directory of this repository (default: ./build at the
#   repository root). The benchmarks are compiled directly with the C compiler ($CC, default cc)
#   against that directory's protoc-c output (target wt_proto, built here if missing) and the
#   exporter's sources, with the project's optimisation level (-O2), so no CMake file changes.
#   Binaries live in a temporary directory that is removed afterwards.
#   URL: if given, also run bench_post: encode + POST to that URL (a local sink answering 200),
#   with http/protobuf, http/json and http/protobuf+gzip, 3 s each.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
url=${2:-}
gen=$build/proto/opentelemetry/proto
if [ ! -f "$gen/collector/trace/v1/trace_service.pb-c.c" ]; then
	cmake --build "$build" --target wt_proto
fi
version=$(sed -n 's/^project(wiretrace VERSION \([0-9.]*\).*/\1/p' "$root/CMakeLists.txt")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
cc=${CC:-cc}
flags="-std=gnu11 -O2 -g -D_GNU_SOURCE -DWIRETRACE_VERSION=\"$version\""
inc="-I$root/exporter -I$root/exporter/api -I$root/agent/base -I$build/proto"
set -x
$cc $flags $inc $(pkg-config --cflags libprotobuf-c) \
	"$root/bench/encode/bench_encode.c" "$root/exporter/encode_pb.c" \
	"$root/exporter/encode_json.c" "$root/exporter/encbuf.c" "$root/exporter/exp_span.c" \
	"$gen/common/v1/common.pb-c.c" "$gen/resource/v1/resource.pb-c.c" \
	"$gen/trace/v1/trace.pb-c.c" "$gen/collector/trace/v1/trace_service.pb-c.c" \
	$(pkg-config --libs libprotobuf-c) -lm -o "$tmp/bench_encode"
"$tmp/bench_encode"
if [ -n "$url" ]; then
	$cc $flags $inc $(pkg-config --cflags libcurl zlib) "$root/bench/encode/bench_post.c" \
		"$root"/exporter/*.c "$root"/agent/base/*.c -ldl -pthread -lm -o "$tmp/bench_post"
	"$tmp/bench_post" "$url" http/protobuf 3
	"$tmp/bench_post" "$url" http/json 3
	"$tmp/bench_post" "$url" http/protobuf 3 gzip
fi
