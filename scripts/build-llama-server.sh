#!/usr/bin/env bash
# build-llama-server.sh - build llama.cpp's `llama-server` (an OpenAI-compatible HTTP server) into
# target/llama-server/bin/llama-server, for the tests and benchmarks that measure a real server with
# `tokenmeter load --endpoint` (tests/http_server.rs).
#
# Usage: scripts/build-llama-server.sh [--print-path]
#   --print-path   print the binary's path when it is built, and stop (exit 2 when it is not)
#
# The llama.cpp tree that llama-cpp-2 vendors leaves out tools/; the llama-cpp-python source distribution on PyPI
# carries a whole llama.cpp, tools/server included. This script downloads that sdist (pip, PyPI only), unpacks its
# vendor/llama.cpp and builds the llama-server target alone (CPU backend, this CPU's vector extensions, no web UI,
# no network at build time). The build is cached: a second run with the same version does nothing.
#
# The server reports its build in /props (`build_info`): since the sdist has no git history, the build is named
# after the sdist (`pypi-llama-cpp-python-VERSION`), so a result file records which llama.cpp served it.
#
# Environment:
#   LLAMA_CPP_PYTHON_VERSION   the sdist version to build (default below)
#   LLAMA_SERVER_SDIST         a local llama_cpp_python-*.tar.gz to use instead of downloading it
#
# Needs: python3 with pip (or LLAMA_SERVER_SDIST), cmake, a C/C++ compiler.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
die() { echo "build-llama-server.sh: error: $*" >&2; exit 2; }

version=${LLAMA_CPP_PYTHON_VERSION:-0.3.36}
out=$root/target/llama-server
bin=$out/bin/llama-server
stamp=$out/VERSION
build_name=pypi-llama-cpp-python-$version
# ggml's AMX tile kernels, which this CPU's native flags would build in on a Xeon with AMX, crash in prompt
# batches on some hosts (docs/hardware.md): the server is built without them, where the compiler knows the flags.
amx_off=""
if echo 'int main(void){return 0;}' | ${CC:-cc} -mno-amx-tile -mno-amx-int8 -mno-amx-bf16 -x c - -o /dev/null 2>/dev/null; then
  amx_off="-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"
fi
want="$build_name${amx_off:+ (AMX off)}"

if [ "${1:-}" = "--print-path" ]; then
  [ -x "$bin" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ] || die "$bin: not built (run scripts/build-llama-server.sh)"
  echo "$bin"
  exit 0
fi
if [ -x "$bin" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
  echo "build-llama-server.sh: $bin ($want) is built" >&2
  exit 0
fi

mkdir -p "$out/src"
sdist=${LLAMA_SERVER_SDIST:-$out/src/llama_cpp_python-$version.tar.gz}
if [ ! -f "$sdist" ]; then
  command -v python3 >/dev/null 2>&1 || die "python3: not found (needed to download the llama-cpp-python sdist)"
  python3 -m pip --version >/dev/null 2>&1 || die "pip: not found (apt-get install python3-pip)"
  echo "build-llama-server.sh: downloading llama-cpp-python $version (sdist) from PyPI" >&2
  python3 -m pip download --quiet --no-deps --no-binary :all: --dest "$out/src" "llama-cpp-python==$version" \
    || die "pip download llama-cpp-python==$version failed"
fi
[ -f "$sdist" ] || die "$sdist: not found"

tree=$out/src/llama_cpp_python-$version
rm -rf "$tree"
tar -xzf "$sdist" -C "$out/src" "llama_cpp_python-$version/vendor/llama.cpp" \
  || die "$sdist: cannot unpack vendor/llama.cpp"
llama=$tree/vendor/llama.cpp
[ -f "$llama/tools/server/CMakeLists.txt" ] || die "$sdist: has no tools/server"

# build-info.cmake asks git for the commit; outside a git checkout it would find the enclosing repository's. A
# stand-in names the build after the sdist instead.
fake_git=$out/src/git
printf '#!/bin/sh\ncase "$*" in *rev-parse*) echo %s;; *rev-list*) echo 0;; *) exit 1;; esac\n' "$build_name" > "$fake_git"
chmod +x "$fake_git"

jobs=$(nproc 2>/dev/null || echo 2)
cmake -S "$llama" -B "$out/build" \
  -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_C_FLAGS="$amx_off" -DCMAKE_CXX_FLAGS="$amx_off" \
  -DGIT_EXECUTABLE="$fake_git" \
  -DGGML_NATIVE=ON \
  -DBUILD_SHARED_LIBS=OFF \
  -DLLAMA_BUILD_SERVER=ON -DLLAMA_BUILD_TOOLS=ON \
  -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
  -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_BUILD_UI=OFF \
  -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF \
  >"$out/cmake.log" 2>&1 || { tail -n 20 "$out/cmake.log" >&2; die "cmake configure failed (log: $out/cmake.log)"; }
cmake --build "$out/build" --target llama-server -j "$jobs" >"$out/build.log" 2>&1 \
  || { tail -n 30 "$out/build.log" >&2; die "build failed (log: $out/build.log)"; }
mkdir -p "$out/bin"
cp "$out/build/bin/llama-server" "$bin"
echo "$want" > "$stamp"
rm -rf "$tree"
echo "build-llama-server.sh: built $bin ($want)" >&2
