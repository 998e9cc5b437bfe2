#!/usr/bin/env bash
# Runs `tokenmeter bench` and llama.cpp's `llama-bench` interleaved (A B B A …) on the same model with the same
# parameters, keeps every output, and prints the per-round ratios of pp and tg t/s.
#
# usage: scripts/compare-llama-bench.sh OUT_DIR MODEL.gguf [ROUNDS] [-- extra bench args]
#   default bench args: -p 512 -n 128 -r 5 -t <physical cores>
# needs: target/release/tokenmeter (cargo build --release) and llama-bench (scripts/llama-bench.sh)
# environment: TOKENMETER=PATH and LLAMA_BENCH=PATH choose other binaries (e.g. a llama-bench built with AMX out,
#   for prompt processing on a host whose AMX tile kernels crash)
set -euo pipefail
cd "$(dirname "$0")/.."

out=${1:?usage: compare-llama-bench.sh OUT_DIR MODEL.gguf [ROUNDS] [-- bench args]}
model=${2:?usage: compare-llama-bench.sh OUT_DIR MODEL.gguf [ROUNDS] [-- bench args]}
rounds=${3:-3}
shift $(( $# < 3 ? $# : 3 ))
[ "${1:-}" = "--" ] && shift
threads=$(lscpu -p=core | grep -v '^#' | sort -u | wc -l)
args=("$@")
[ ${#args[@]} -gt 0 ] || args=(-p 512 -n 128 -r 5 -t "$threads")

tm=${TOKENMETER:-target/release/tokenmeter}
lb=${LLAMA_BENCH:-$(scripts/llama-bench.sh --print-paths | grep -m1 'llama-bench$')}
[ -x "$tm" ] || { echo "error: $tm missing: run cargo build --release" >&2; exit 2; }
[ -x "$lb" ] || { echo "error: llama-bench missing: run scripts/llama-bench.sh" >&2; exit 2; }
mkdir -p "$out"

{
  echo "# model: $model ($(sha256sum "$model" | cut -d' ' -f1))"
  echo "# host: $(hostname), $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) CPUs"
  echo "# rounds: $rounds, ABBA (odd rounds tokenmeter first, even rounds llama-bench first)"
  echo "$tm bench -m $model ${args[*]} -o json --out $out/tokenmeter-round<N>.result.json > $out/tokenmeter-round<N>.json"
  echo "$lb -m $model ${args[*]} -o json > $out/llama-bench-round<N>.json"
} > "$out/commands.txt"

run_tm() {
  echo "round $1/$rounds: tokenmeter" >&2
  "$tm" bench -m "$model" "${args[@]}" -o json --out "$out/tokenmeter-round$1.result.json" > "$out/tokenmeter-round$1.json" 2>/dev/null
}
run_lb() {
  echo "round $1/$rounds: llama-bench" >&2
  "$lb" -m "$model" "${args[@]}" -o json > "$out/llama-bench-round$1.json" 2>/dev/null
}
# ABBA: odd rounds run tokenmeter first, even rounds llama-bench first, so a drift of the machine's speed within
# a pair does not favour one side.
for n in $(seq 1 "$rounds"); do
  if [ $((n % 2)) -eq 1 ]; then run_tm "$n"; run_lb "$n"; else run_lb "$n"; run_tm "$n"; fi
done

python3 - "$out" "$rounds" <<'PY' | tee "$out/summary.md"
import json, sys, statistics
out, rounds = sys.argv[1], int(sys.argv[2])
def rates(path):
    recs = json.load(open(path))
    return {(r["n_prompt"], r["n_gen"], r["n_depth"]): r["avg_ts"] for r in recs}
print("| round | test | tokenmeter t/s | llama-bench t/s | ratio |")
print("|---|---|---|---|---|")
ratios = {}
for n in range(1, rounds + 1):
    a, b = rates(f"{out}/tokenmeter-round{n}.json"), rates(f"{out}/llama-bench-round{n}.json")
    for key in a:
        p, g, d = key
        name = (f"pp{p}" if g == 0 else f"tg{g}" if p == 0 else f"pp{p}+tg{g}") + (f" @ d{d}" if d else "")
        r = a[key] / b[key]
        ratios.setdefault(name, []).append(r)
        print(f"| {n} | {name} | {a[key]:.2f} | {b[key]:.2f} | {r:.3f} |")
print()
for name, rs in ratios.items():
    print(f"{name}: median ratio tokenmeter/llama-bench {statistics.median(rs):.3f} (min {min(rs):.3f}, max {max(rs):.3f})")
PY
