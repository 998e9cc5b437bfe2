#!/usr/bin/env bash
# llama-bench.sh - build llama.cpp's own benchmark front-ends (llama-bench and
# llama-batched-bench) from the llama.cpp tree that the crate llama-cpp-sys-2
# vendors, so that the C++ reference numbers come from the same kernels that
# tokenmeter links.
#
# Usage:
#   scripts/llama-bench.sh                 build (or incrementally rebuild) both tools
#   scripts/llama-bench.sh --print-paths   print where the binaries are; no build
#                                          (exit status 1 if they are not built yet)
#   scripts/llama-bench.sh -h | --help     show this help
#
# Steps:
#   1. `cargo metadata` (in the repo root) gives the directory of llama-cpp-sys-2;
#      the vendored tree is <that dir>/llama.cpp.
#   2. That tree ships tools/* without sources, so the sources of tools/llama-bench
#      and tools/batched-bench are taken from the source distribution of the PyPI
#      package llama-cpp-python (whose llama.cpp is a few commits away). It is
#      fetched once with `pip download` and kept in a cache directory.
#   3. The vendored tree is copied into an ignored build folder, the two tools are
#      dropped into the copy's tools/, and tools/CMakeLists.txt is replaced by one
#      that adds only these two.
#   4. cmake configures a Release build (GGML_NATIVE=ON, static libraries, no
#      tests/examples/server/app, no network features) and builds only the targets
#      llama-bench and llama-batched-bench.
#   5. Symlinks to the binaries are made in the bin directory and their paths are
#      printed.
# A rerun reuses the copy, the download and the cmake build directory, so it only
# does cmake's incremental work.
#
# Environment:
#   TOKENMETER_LLAMA_BUILD_DIR   copy of the vendored tree; the cmake build directory
#                                is its build/ subfolder  (default: <repo>/vendor-build/llama.cpp)
#   TOKENMETER_LLAMA_BIN_DIR     where the symlinks go    (default: <repo>/vendor-build/bin)
#   TOKENMETER_SDIST_CACHE       where the sdist is kept  (default: <repo>/vendor-build/sdist)
#   TOKENMETER_LLAMA_SDIST_VERSION  llama-cpp-python version to take the tools from
#                                (default: 0.3.36; patch_tools() targets it)
#   CMAKE_ARGS_EXTRA             extra cmake configure arguments, split on whitespace and
#                                given last so they override the defaults, e.g.
#                                CMAKE_ARGS_EXTRA="-DGGML_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90"
#   JOBS                         parallel build jobs      (default: nproc)
#   CFLAGS_x86_64_unknown_linux_gnu, CXXFLAGS_x86_64_unknown_linux_gnu
#                                C/C++ flags on x86-64 Linux, as the cc crate reads them for
#                                tokenmeter's build (default: none; "-mno-amx-tile -mno-amx-int8
#                                -mno-amx-bf16" builds AMX out)
#
# Needs: cargo, python3 (or jq), cmake >= 3.15, a C/C++ compiler, tar, and pip for the
# one-time download.

set -euo pipefail

die() { echo "llama-bench.sh: error: $*" >&2; exit 1; }
log() { echo "llama-bench.sh: $*" >&2; }

usage() { sed -n '2,/^$/{s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; }

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LLAMA_DIR="${TOKENMETER_LLAMA_BUILD_DIR:-$REPO_ROOT/vendor-build/llama.cpp}"
BIN_DIR="${TOKENMETER_LLAMA_BIN_DIR:-$REPO_ROOT/vendor-build/bin}"
SDIST_CACHE="${TOKENMETER_SDIST_CACHE:-$REPO_ROOT/vendor-build/sdist}"
SDIST_VERSION="${TOKENMETER_LLAMA_SDIST_VERSION:-0.3.36}"
LLAMA_DIR="$(realpath -m "$LLAMA_DIR")"
BIN_DIR="$(realpath -m "$BIN_DIR")"
SDIST_CACHE="$(realpath -m "$SDIST_CACHE")"
CMAKE_BUILD="$LLAMA_DIR/build"
TOOLS=(llama-bench llama-batched-bench)
# Bump when the preparation of the source copy changes, so that an existing copy is redone.
PREP_LEVEL=1

print_paths() {
    local t missing=0
    for t in "${TOOLS[@]}"; do
        echo "$BIN_DIR/$t"
        [[ -x "$BIN_DIR/$t" ]] || missing=1
    done
    return "$missing"
}

case "${1:-}" in
    "") ;;
    -h|--help) usage; exit 0 ;;
    --print-paths)
        print_paths || { log "not built yet; run scripts/llama-bench.sh without arguments"; exit 1; }
        exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
esac
[[ $# -le 1 ]] || die "expected at most one argument"

command -v cmake >/dev/null 2>&1 || die "cmake not found; install cmake (>= 3.15) and rerun"
command -v cargo >/dev/null 2>&1 || die "cargo not found; it is needed to locate llama-cpp-sys-2"

# --- 1. the vendored llama.cpp tree --------------------------------------------------------

metadata="$(cd "$REPO_ROOT" && cargo metadata --format-version 1)" \
    || die "cargo metadata failed in $REPO_ROOT"
if command -v python3 >/dev/null 2>&1; then
    sys_manifest="$(python3 -c '
import json, sys
pkgs = [p for p in json.load(sys.stdin)["packages"] if p["name"] == "llama-cpp-sys-2"]
if pkgs:
    print(pkgs[0]["manifest_path"])
' <<<"$metadata")"
elif command -v jq >/dev/null 2>&1; then
    sys_manifest="$(jq -r '[.packages[] | select(.name == "llama-cpp-sys-2")][0].manifest_path // empty' <<<"$metadata")"
else
    die "python3 or jq is needed to read cargo metadata"
fi
[[ -n "$sys_manifest" ]] || die "package llama-cpp-sys-2 not found in cargo metadata"
SYS_DIR="$(dirname "$sys_manifest")"
VENDORED="$SYS_DIR/llama.cpp"
[[ -f "$VENDORED/CMakeLists.txt" ]] || die "no llama.cpp tree at $VENDORED"
log "vendored llama.cpp: $VENDORED"

# --- 2. the llama-cpp-python sdist (tool sources) --------------------------------------------

find_sdist() {
    find "$SDIST_CACHE" -maxdepth 1 -type f \
        \( -name "llama_cpp_python-$SDIST_VERSION.tar.gz" -o -name "llama-cpp-python-$SDIST_VERSION.tar.gz" \) \
        -print -quit 2>/dev/null || true
}

mkdir -p "$SDIST_CACHE"
sdist="$(find_sdist)"
if [[ -z "$sdist" ]]; then
    if python3 -m pip --version >/dev/null 2>&1; then
        pip_cmd=(python3 -m pip)
    elif command -v pip >/dev/null 2>&1; then
        pip_cmd=(pip)
    else
        die "pip not found; it is needed once to download llama-cpp-python==$SDIST_VERSION"
    fi
    log "downloading the llama-cpp-python==$SDIST_VERSION sdist into $SDIST_CACHE"
    "${pip_cmd[@]}" download --no-binary :all: --no-deps "llama-cpp-python==$SDIST_VERSION" -d "$SDIST_CACHE" >&2 \
        || die "pip download of llama-cpp-python==$SDIST_VERSION failed"
    sdist="$(find_sdist)"
    [[ -n "$sdist" ]] || die "pip download left no llama-cpp-python-$SDIST_VERSION .tar.gz in $SDIST_CACHE"
fi

# Only the tools (and common/, as a fallback) are unpacked.
SDIST_TREE="$SDIST_CACHE/unpacked-$SDIST_VERSION"
if [[ ! -f "$SDIST_TREE/.complete" ]]; then
    rm -rf "$SDIST_TREE"
    mkdir -p "$SDIST_TREE"
    tar -xzf "$sdist" -C "$SDIST_TREE" --strip-components=1 --wildcards \
        '*/vendor/llama.cpp/tools/llama-bench/*' \
        '*/vendor/llama.cpp/tools/batched-bench/*' \
        '*/vendor/llama.cpp/common/*' \
        || die "could not unpack the tool sources from $sdist"
    touch "$SDIST_TREE/.complete"
fi
SDIST_LLAMA="$SDIST_TREE/vendor/llama.cpp"
for d in llama-bench batched-bench; do
    [[ -f "$SDIST_LLAMA/tools/$d/CMakeLists.txt" ]] || die "the sdist has no vendor/llama.cpp/tools/$d"
done

# --- 3. the source copy ------------------------------------------------------------------

# Adapts the sdist's tool sources to the vendored tree (API drift between the two
# llama.cpp versions). Keep it minimal; nothing here may touch what is measured.
patch_tools() {
    local tools="$1/tools"
    : "$tools"  # no changes are needed for llama-cpp-python 0.3.36 against llama-cpp-sys-2 0.1.161
}

stamp="vendored=$VENDORED sdist=$SDIST_VERSION prep=$PREP_LEVEL"
if [[ ! -f "$LLAMA_DIR/.tokenmeter-stamp" || "$(cat "$LLAMA_DIR/.tokenmeter-stamp")" != "$stamp" ]]; then
    if [[ -d "$LLAMA_DIR" && ! -f "$LLAMA_DIR/.tokenmeter-stamp" && -n "$(ls -A "$LLAMA_DIR")" ]]; then
        die "$LLAMA_DIR exists and was not made by this script; refusing to replace it"
    fi
    log "preparing the source copy in $LLAMA_DIR"
    rm -rf "$LLAMA_DIR"
    mkdir -p "$LLAMA_DIR"
    echo incomplete >"$LLAMA_DIR/.tokenmeter-stamp"
    cp -a "$VENDORED/." "$LLAMA_DIR/"
    chmod -R u+w "$LLAMA_DIR"

    if [[ ! -f "$LLAMA_DIR/common/CMakeLists.txt" || ! -f "$LLAMA_DIR/common/common.cpp" ]]; then
        log "note: the vendored tree lacks common/ sources; taking common/ from the sdist"
        rm -rf "$LLAMA_DIR/common"
        cp -a "$SDIST_LLAMA/common" "$LLAMA_DIR/common"
    fi

    for d in llama-bench batched-bench; do
        rm -rf "$LLAMA_DIR/tools/$d"
        cp -a "$SDIST_LLAMA/tools/$d" "$LLAMA_DIR/tools/$d"
    done
    # The vendored tools/CMakeLists.txt adds directories that have no sources here.
    cat >"$LLAMA_DIR/tools/CMakeLists.txt" <<'EOF'
# Written by tokenmeter's scripts/llama-bench.sh: only the benchmark front-ends.
find_package(Threads REQUIRED)

llama_add_compile_flags()

add_subdirectory(llama-bench)
add_subdirectory(batched-bench)
EOF
    patch_tools "$LLAMA_DIR"
    echo "$stamp" >"$LLAMA_DIR/.tokenmeter-stamp"
fi

# --- 4. configure and build --------------------------------------------------------------

sys_version="${SYS_DIR##*/}"   # e.g. llama-cpp-sys-2-0.1.161
cmake_args=(
    -DCMAKE_BUILD_TYPE=Release
    -DBUILD_SHARED_LIBS=OFF
    -DGGML_NATIVE=ON
    -DLLAMA_BUILD_COMMON=ON
    -DLLAMA_BUILD_TOOLS=ON
    -DLLAMA_BUILD_TESTS=OFF
    -DLLAMA_BUILD_EXAMPLES=OFF
    -DLLAMA_BUILD_SERVER=OFF
    -DLLAMA_BUILD_APP=OFF
    -DLLAMA_BUILD_UI=OFF
    -DLLAMA_BUILD_MTMD=OFF
    -DLLAMA_CURL=OFF
    -DLLAMA_OPENSSL=OFF
    -DLLAMA_TOOLS_INSTALL=OFF
    # The copy has no git history of its own: name the build after the crate.
    -DLLAMA_BUILD_COMMIT="$sys_version"
    -DLLAMA_BUILD_NUMBER=0
)
# The same C/C++ flags as tokenmeter's build of ggml: the cc crate's target-specific variables, when set (e.g.
# "-mno-amx-tile -mno-amx-int8 -mno-amx-bf16" builds AMX out, as for tokenmeter), so that both sides run the
# same kernels.
if [[ "$(uname -m)" == x86_64 && "$(uname -s)" == Linux ]]; then
    cmake_args+=(
        "-DCMAKE_C_FLAGS=${CFLAGS_x86_64_unknown_linux_gnu-}"
        "-DCMAKE_CXX_FLAGS=${CXXFLAGS_x86_64_unknown_linux_gnu-}"
    )
fi
if [[ -n "${CMAKE_ARGS_EXTRA:-}" ]]; then
    read -r -a extra <<<"$CMAKE_ARGS_EXTRA"
    cmake_args+=("${extra[@]}")
fi

# A cache configured with other arguments is dropped, so that removed options do not linger.
args_file="$CMAKE_BUILD/.tokenmeter-cmake-args"
if [[ -f "$CMAKE_BUILD/CMakeCache.txt" && "$(cat "$args_file" 2>/dev/null)" != "${cmake_args[*]}" ]]; then
    log "configure arguments changed; starting from a fresh cmake cache"
    rm -f "$CMAKE_BUILD/CMakeCache.txt"
fi
mkdir -p "$CMAKE_BUILD"
# The ceiling keeps git (asked by llama.cpp and ggml for their commit) out of tokenmeter's repository.
GIT_CEILING_DIRECTORIES="$(dirname "$LLAMA_DIR")" \
    cmake -S "$LLAMA_DIR" -B "$CMAKE_BUILD" "${cmake_args[@]}" >&2
printf '%s' "${cmake_args[*]}" >"$args_file"

jobs="${JOBS:-$(nproc 2>/dev/null || echo 2)}"
cmake --build "$CMAKE_BUILD" --target "${TOOLS[@]}" -j"$jobs" >&2

# --- 5. results --------------------------------------------------------------------------

mkdir -p "$BIN_DIR"
for t in "${TOOLS[@]}"; do
    [[ -x "$CMAKE_BUILD/bin/$t" ]] || die "build finished but $CMAKE_BUILD/bin/$t is missing"
    ln -sfn "$CMAKE_BUILD/bin/$t" "$BIN_DIR/$t"
done
log "built:"
for t in "${TOOLS[@]}"; do log "  $CMAKE_BUILD/bin/$t"; done
log "linked from:"
print_paths
