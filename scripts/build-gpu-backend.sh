#!/usr/bin/env bash
# build-gpu-backend.sh - build one GPU backend of the llama.cpp tree that the crate
# llama-cpp-sys-2 vendors as a loadable ggml module (libggml-cuda.so,
# libggml-vulkan.so), so that a tokenmeter binary built with
# `--features dynamic-backends` on a machine without the GPU toolkit can use the GPU
# of a machine that has one.
#
# Usage:
#   scripts/build-gpu-backend.sh cuda|vulkan [DEST]
#   scripts/build-gpu-backend.sh --source-only DIR   copy the vendored tree to DIR and
#                                                    stop (to carry it to the GPU machine)
#   scripts/build-gpu-backend.sh -h | --help
#
# DEST is where the module goes; default: the directory of target/release/tokenmeter.
# tokenmeter loads every libggml-*.so module from TOKENMETER_BACKEND_DIR, else from the
# directory of its own executable, at start-up.
#
# Steps:
#   1. The vendored tree: `cargo metadata` gives llama-cpp-sys-2's directory (its
#      llama.cpp/ subfolder), or TOKENMETER_LLAMA_SRC names a copy of it (on a machine
#      without cargo, e.g. the tree carried there with --source-only).
#   2. cmake configures it with GGML_BACKEND_DL=ON and BUILD_SHARED_LIBS=ON (the layout
#      the dynamic-backends feature builds) plus the backend, and builds only the
#      module's target (ggml-cuda or ggml-vulkan).
#   3. The module is copied to DEST.
#
# Environment:
#   TOKENMETER_LLAMA_SRC       llama.cpp source tree (default: found with cargo metadata)
#   TOKENMETER_GPU_BUILD_DIR   cmake build directory (default: <repo>/vendor-build/gpu-<backend>)
#   CMAKE_CUDA_ARCHITECTURES   CUDA architectures to compile for (default: native, i.e. the
#                              GPUs of this machine; e.g. 90 for H100, 89 for RTX 4090)
#   CMAKE_ARGS_EXTRA           extra cmake configure arguments, given last
#   JOBS                       parallel build jobs (default: nproc)
#
# Needs: cmake >= 3.18, a C/C++ compiler, and the backend's toolkit (CUDA: nvcc and the
# CUDA runtime; Vulkan: the Vulkan headers, loader and glslc).

set -euo pipefail

die() { echo "build-gpu-backend.sh: error: $*" >&2; exit 2; }
log() { echo "build-gpu-backend.sh: $*" >&2; }
usage() { sed -n '2,/^$/{s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; }

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

vendored_tree() {
    if [[ -n "${TOKENMETER_LLAMA_SRC:-}" ]]; then
        [[ -f "$TOKENMETER_LLAMA_SRC/CMakeLists.txt" ]] \
            || die "TOKENMETER_LLAMA_SRC=$TOKENMETER_LLAMA_SRC holds no CMakeLists.txt"
        realpath "$TOKENMETER_LLAMA_SRC"
        return
    fi
    command -v cargo >/dev/null 2>&1 \
        || die "cargo not found: set TOKENMETER_LLAMA_SRC to a copy of the vendored llama.cpp tree"
    command -v python3 >/dev/null 2>&1 || die "python3 is needed to read cargo metadata"
    local manifest
    manifest="$(cd "$REPO_ROOT" && cargo metadata --format-version 1 | python3 -c '
import json, sys
pkgs = [p for p in json.load(sys.stdin)["packages"] if p["name"] == "llama-cpp-sys-2"]
print(pkgs[0]["manifest_path"] if pkgs else "")
')"
    [[ -n "$manifest" ]] || die "package llama-cpp-sys-2 not found in cargo metadata"
    local tree
    tree="$(dirname "$manifest")/llama.cpp"
    [[ -f "$tree/CMakeLists.txt" ]] || die "no llama.cpp tree at $tree"
    echo "$tree"
}

case "${1:-}" in
    -h|--help|"") usage; [[ -n "${1:-}" ]]; exit $? ;;
    --source-only)
        [[ $# -eq 2 ]] || die "--source-only needs a destination directory"
        src="$(vendored_tree)"
        mkdir -p "$2"
        cp -a "$src/." "$2/"
        chmod -R u+w "$2"
        log "copied $src to $2"
        exit 0 ;;
    cuda) target=ggml-cuda; backend_args=(-DGGML_CUDA=ON -DGGML_CUDA_NCCL=OFF
              -DCMAKE_CUDA_ARCHITECTURES="${CMAKE_CUDA_ARCHITECTURES:-native}") ;;
    vulkan) target=ggml-vulkan; backend_args=(-DGGML_VULKAN=ON) ;;
    *) die "unknown backend '$1': expected cuda or vulkan (see --help)" ;;
esac
backend="$1"
[[ $# -le 2 ]] || die "expected a backend and at most one destination"
command -v cmake >/dev/null 2>&1 || die "cmake not found"

src="$(vendored_tree)"
build="${TOKENMETER_GPU_BUILD_DIR:-$REPO_ROOT/vendor-build/gpu-$backend}"
dest="${2:-$REPO_ROOT/target/release}"
log "llama.cpp source: $src"
log "build directory:  $build"

cmake_args=(
    -DCMAKE_BUILD_TYPE=Release
    -DBUILD_SHARED_LIBS=ON
    -DGGML_BACKEND_DL=ON
    -DGGML_NATIVE=OFF
    -DLLAMA_BUILD_COMMON=OFF
    -DLLAMA_BUILD_TOOLS=OFF
    -DLLAMA_BUILD_TESTS=OFF
    -DLLAMA_BUILD_EXAMPLES=OFF
    -DLLAMA_BUILD_SERVER=OFF
    -DLLAMA_BUILD_APP=OFF
    -DLLAMA_CURL=OFF
    "${backend_args[@]}"
)
if [[ -n "${CMAKE_ARGS_EXTRA:-}" ]]; then
    read -r -a extra <<<"$CMAKE_ARGS_EXTRA"
    cmake_args+=("${extra[@]}")
fi

mkdir -p "$build"
GIT_CEILING_DIRECTORIES="$(dirname "$src")" cmake -S "$src" -B "$build" "${cmake_args[@]}" >&2 \
    || die "cmake could not configure the $backend backend (is its toolkit installed?)"
cmake --build "$build" --target "$target" -j"${JOBS:-$(nproc 2>/dev/null || echo 2)}" >&2 \
    || die "building $target failed"

module="$(find "$build" -name "lib$target.so" -print -quit)"
[[ -n "$module" ]] || die "the build finished but lib$target.so is missing under $build"
mkdir -p "$dest"
cp "$module" "$dest/"
log "installed $dest/lib$target.so"
echo "$dest/lib$target.so"
