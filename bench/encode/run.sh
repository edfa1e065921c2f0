#!/bin/sh
# Build and run the OTLP encoding benchmark (bench/encode/bench_encode.c).
#
# Usage: bench/encode/run.sh [BUILD_DIR]
#   BUILD_DIR: a configured CMake build directory of this repository (default: ./build at the
#   repository root). The benchmark is compiled directly with the C compiler ($CC, default cc)
#   against that directory's protoc-c output (target wt_proto, built here if missing) and the
#   exporter's encoder sources, with the project's optimisation level (-O2), so CMake files do
#   not change. The binary lives in a temporary directory and is removed afterwards.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
gen=$build/proto/opentelemetry/proto
if [ ! -f "$gen/collector/trace/v1/trace_service.pb-c.c" ]; then
	cmake --build "$build" --target wt_proto
fi
version=$(sed -n 's/^project(wiretrace VERSION \([0-9.]*\).*/\1/p' "$root/CMakeLists.txt")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
set -x
${CC:-cc} -std=gnu11 -O2 -g -D_GNU_SOURCE -DWIRETRACE_VERSION="\"$version\"" \
	-I"$root/exporter" -I"$root/exporter/api" -I"$root/agent/base" -I"$build/proto" \
	$(pkg-config --cflags libprotobuf-c) \
	"$root/bench/encode/bench_encode.c" "$root/exporter/encode_pb.c" \
	"$root/exporter/encode_json.c" "$root/exporter/encbuf.c" "$root/exporter/exp_span.c" \
	"$gen/common/v1/common.pb-c.c" "$gen/resource/v1/resource.pb-c.c" \
	"$gen/trace/v1/trace.pb-c.c" "$gen/collector/trace/v1/trace_service.pb-c.c" \
	$(pkg-config --libs libprotobuf-c) -lm -o "$tmp/bench_encode"
"$tmp/bench_encode"
