#!/usr/bin/env bash
# vulkan-fake-nvml-chain.sh - the whole chain on a GPU configuration without a GPU: `bench` and `load` offloaded
# to a Vulkan device (llvmpipe, software), with NVML answered by the fake library of tests/fake_nvml/ from a
# synthetic power trace, then `cost` and `report` on those results. Nothing here is a hardware measurement: the
# speeds are a CPU's through a GPU API, and the power is the trace's, whose integral is known exactly.
#
# usage: scripts/vulkan-fake-nvml-chain.sh OUT_DIR [WATTS]
#   WATTS  the trace's constant board power (default 200); energy = WATTS × time, exactly
# needs: target/vulkan/release/tokenmeter (scripts/build-vulkan.sh), cc
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:?usage: vulkan-fake-nvml-chain.sh OUT_DIR [WATTS]}
watts=${2:-200}
vk=target/vulkan/release/tokenmeter
[ -x "$vk" ] || { echo "error: $vk missing: run scripts/build-vulkan.sh" >&2; exit 2; }
mkdir -p "$out"
out=$(cd "$out" && pwd)
lib=$(mktemp -d)
trap 'rm -rf "$lib"' EXIT
cc -O2 -shared -fPIC -o "$lib/libnvidia-ml.so.1" tests/fake_nvml/nvml.c -lm -lpthread
cat > "$out/fake-nvml-trace.txt" <<EOF
# A synthetic power trace for a software Vulkan device (llvmpipe): not a measurement.
driver_version 000.00.00-synthetic
nvml_version 00.000.00-synthetic
device Synthetic NVML trace on llvmpipe (software Vulkan)
uuid GPU-00000000-0000-0000-0000-000000000000
memory_mib 24576 0
power 0 $watts
counter_period_ms 100
EOF
export LD_LIBRARY_PATH="$lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" FAKE_NVML_TRACE="$out/fake-nvml-trace.txt"
export GGML_VK_VISIBLE_DEVICES=0
# The default model's shape, synthesized (seed 1, as `bench` without -m uses it) into the temporary directory.
model=$lib/small-q4_0-seed1.gguf
"$vk" synth --shape small --type q4_0 --seed 1 -o "$model" >/dev/null
run() {
  echo "+ $*" >> "$out/commands.txt"
  "$@"
}
: > "$out/commands.txt"
{
  echo "# scripts/vulkan-fake-nvml-chain.sh $out $watts"
  echo "# host: $(hostname), $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) CPUs; Vulkan device: llvmpipe (software)"
  echo "# power: the synthetic trace fake-nvml-trace.txt ($watts W constant), through tests/fake_nvml/nvml.c"
  echo "# env: LD_LIBRARY_PATH=<fake libnvidia-ml.so.1> FAKE_NVML_TRACE=fake-nvml-trace.txt GGML_VK_VISIBLE_DEVICES=0"
} >> "$out/commands.txt"
# llvmpipe runs compute shaders slowly (a few t/s), so the shapes are small and the SLO generous: the point is
# the chain (offload, energy per phase, operating point, cost, report), not the speed.
run "$vk" bench -m "$model" -p 64 -n 16 -r 3 -ngl 99 --out "$out/bench.json" > "$out/bench.md"
run "$vk" load -m "$model" -ngl 99 -c 1,2 --requests 4 --input-tokens 32 --output-tokens 16 \
  --slo ttft_p95=60s,itl_p95=2s --out "$out/load.json" > "$out/load.md"
run "$vk" cost --result "$out/load.json" --allow-shape-mismatch > "$out/cost.md"
run "$vk" report "$out/bench.json" "$out/load.json" --allow-shape-mismatch -o "$out/report.html"
echo "wrote $out" >&2
