#!/usr/bin/env bash
# check-cuda-build.sh - compile llama.cpp's CUDA backend from the llama.cpp source that llama-cpp-sys-2 vendors, for
# one GPU architecture, on a machine without a GPU or a system CUDA toolkit, and say how long it took. It proves that
# the CUDA build of what tokenmeter runs still compiles; it runs nothing on a GPU.
#
# Usage: scripts/check-cuda-build.sh [OUT]
#   OUT   working directory (default: target/cuda-check); it ends up holding
#           toolkit/            the CUDA toolkit from PyPI (pip install --target)
#           build/              the CMake build directory
#           module/             libggml-cuda.so, the loadable backend (the `dynamic-backends` layout)
#           build.log           the full compiler output
#           summary.txt         what was built, with which toolkit, for which architecture, and how long it took
#
# Steps:
#   1. The toolkit: NVIDIA's CUDA 13 wheels on PyPI, pinned through the `cuda-toolkit` meta-package
#      (cuda-toolkit[nvcc,crt,nvvm,cudart,cublas,cccl]==$CUDA_TOOLKIT_VERSION), installed with `pip install --target`
#      into OUT/toolkit; nothing is installed system-wide. (The CUDA 12 wheels, nvidia-cuda-nvcc-cu12, carry ptxas
#      but no nvcc, so they cannot compile.) The wheels lack the unversioned library names that CMake's
#      FindCUDAToolkit looks for, the lib64 directory nvcc links from, and the driver's link stub (libcuda.so, from the toolkit's lib64/stubs): the
#      script adds the symlinks and compiles an empty stub whose soname is libcuda.so.1, which is all that linking a
#      shared module against the driver needs (the driver resolves the symbols at load time on a GPU machine).
#   2. scripts/build-gpu-backend.sh cuda, with CMAKE_CUDA_ARCHITECTURES=$CUDA_ARCH, builds the ggml-cuda target.
#   3. Checks on the result: the module exports ggml_backend_init, and holds code for the architecture
#      (cuobjdump when the toolkit has it, else the module's compile flags).
#
# Environment:
#   CUDA_ARCH              architecture to compile for (default: 90, H100/H200)
#   CUDA_TOOLKIT_VERSION   version of the cuda-toolkit meta-package (default: 13.0.2)
#   JOBS                   parallel compile jobs (default: nproc)
#
# Needs: python3 with pip, network access to PyPI (first run only), cmake >= 3.18, gcc/g++, cargo (to find the
# vendored source; or TOKENMETER_LLAMA_SRC).
# Exit codes: 0 built and checked, 2 a step failed (one line on stderr names it).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
die() { echo "check-cuda-build.sh: error: $*" >&2; exit 2; }
log() { echo "check-cuda-build.sh: $*" >&2; }

out=$(realpath -m "${1:-target/cuda-check}")
arch=${CUDA_ARCH:-90}
version=${CUDA_TOOLKIT_VERSION:-13.0.2}
jobs=${JOBS:-$(nproc)}
mkdir -p "$out"

# 1. The toolkit.
tk=$out/toolkit
cuda=$tk/nvidia/cu${version%%.*}
if [ ! -x "$cuda/bin/nvcc" ]; then
  command -v python3 >/dev/null 2>&1 || die "python3 not found (pip installs the toolkit)"
  log "installing cuda-toolkit $version from PyPI into $tk"
  rm -rf "$tk"
  python3 -m pip install -q --disable-pip-version-check --no-warn-script-location --target "$tk" \
    "cuda-toolkit[nvcc,crt,nvvm,cudart,cublas,cccl]==$version" >&2 ||
    die "pip install cuda-toolkit[...]==$version failed (network, or no such version on PyPI?)"
  [ -x "$cuda/bin/nvcc" ] || die "$cuda/bin/nvcc missing after pip install: the wheels' layout changed"
fi
for lib in cudart cublas cublasLt; do
  so=$(ls "$cuda"/lib/lib$lib.so.* 2>/dev/null | head -n 1)
  [ -n "$so" ] || die "$cuda/lib has no lib$lib.so.*"
  ln -sf "$(basename "$so")" "$cuda/lib/lib$lib.so"
done
# nvcc links against <toolkit>/lib64 (and lib64/stubs); the wheels install lib.
[ -e "$cuda/lib64" ] || ln -s lib "$cuda/lib64"
mkdir -p "$cuda/lib/stubs"
if [ ! -e "$cuda/lib/stubs/libcuda.so" ]; then
  echo 'void tokenmeter_libcuda_link_stub(void) {}' > "$out/libcuda-stub.c"
  gcc -shared -fPIC -Wl,-soname,libcuda.so.1 -o "$cuda/lib/stubs/libcuda.so" "$out/libcuda-stub.c" ||
    die "compiling the libcuda.so link stub failed"
fi
nvcc_version=$("$cuda/bin/nvcc" --version | sed -n 's/.*release \([0-9.]*\).*/\1/p')
[ -n "$nvcc_version" ] || die "$cuda/bin/nvcc --version gave no release"

# 2. The build, from scratch each time (its duration is the figure this script exists for).
rm -rf "$out/build" "$out/module"
log "building ggml-cuda for sm_$arch with nvcc $nvcc_version, $jobs jobs (log: $out/build.log)"
start=$(date +%s.%N)
times_before=$(cat /proc/$$/stat | awk '{print $16, $17}')
if ! PATH="$cuda/bin:$PATH" CUDA_PATH="$cuda" CUDACXX="$cuda/bin/nvcc" JOBS=$jobs \
    TOKENMETER_GPU_BUILD_DIR="$out/build" CMAKE_CUDA_ARCHITECTURES="$arch" \
    CMAKE_ARGS_EXTRA="-DCUDAToolkit_ROOT=$cuda -DCMAKE_CUDA_COMPILER=$cuda/bin/nvcc" \
    scripts/build-gpu-backend.sh cuda "$out/module" > "$out/build.log" 2>&1; then
  tail -n 20 "$out/build.log" >&2
  die "the CUDA backend did not build (full log: $out/build.log)"
fi
end=$(date +%s.%N)
# The children's CPU time (user + system, clock ticks) spent by the build, waited for by this shell.
read -r cu cs < <(awk '{print $16, $17}' /proc/$$/stat)
read -r bu bs <<< "$times_before"
tick=$(getconf CLK_TCK)
wall=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.0f", b - a }')
cpu=$(awk -v u=$((cu - bu)) -v s=$((cs - bs)) -v t="$tick" 'BEGIN { printf "%.0f", (u + s) / t }')

# 3. Checks.
module=$out/module/libggml-cuda.so
[ -f "$module" ] || die "$module missing"
nm -D --defined-only "$module" | grep -qw ggml_backend_init || die "$module exports no ggml_backend_init"
archs="(cuobjdump not in the toolkit)"
if [ -x "$cuda/bin/cuobjdump" ]; then
  archs=$("$cuda/bin/cuobjdump" --list-elf "$module" 2>/dev/null | sed -n 's/.*\(sm_[0-9a-z]*\).*/\1/p' | sort | uniq -c |
    awk '{printf "%s%s x%s", sep, $2, $1; sep=", "}')
  echo "$archs" | grep -q "sm_$arch" || die "$module holds no sm_$arch code ($archs)"
else
  # The wheels carry no cuobjdump, and the fat binary is compressed: the compile flags say what it holds.
  flags=$(find "$out/build" -path '*ggml-cuda.dir/flags.make' -print -quit)
  grep -q "arch=compute_$arch,code=\[compute_$arch,sm_$arch\]" "$flags" 2>/dev/null ||
    die "$flags does not compile for sm_$arch"
  archs="sm_$arch and compute_$arch PTX (the module's compile flags, $flags; cuobjdump not in the toolkit)"
fi
objects=$(find "$out/build" -path '*ggml-cuda*' -name '*.cu.o' | wc -l)

{
  echo "check-cuda-build.sh: llama.cpp's CUDA backend (ggml-cuda) compiled for one architecture"
  echo "date:           $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "host:           $(lscpu | sed -n 's/^Model name: *//p' | head -n 1), $(nproc) CPUs, $jobs jobs"
  echo "source:         llama-cpp-sys-2 $(cd "$root" && cargo metadata --format-version 1 2>/dev/null |
    python3 -c 'import json,sys; print(next(p["version"] for p in json.load(sys.stdin)["packages"] if p["name"]=="llama-cpp-sys-2"))' 2>/dev/null || echo '?')"
  echo "toolkit:        cuda-toolkit $version from PyPI, nvcc $nvcc_version, $(gcc -dumpfullversion 2>/dev/null | sed 's/^/gcc /')"
  echo "architecture:   sm_$arch (CMAKE_CUDA_ARCHITECTURES=$arch)"
  echo "CUDA objects:   $objects"
  echo "wall time:      $wall s"
  echo "CPU time:       $cpu s (user + system of the build's processes)"
  echo "module:         $(basename "$module"), $(du -k "$module" | cut -f1) KiB, exports ggml_backend_init"
  echo "device code:    $archs"
} | tee "$out/summary.txt"
