#!/usr/bin/env bash
# Runs `tokenmeter load` (closed loop, exactly c requests per level, all starting together) and llama.cpp's
# `llama-batched-bench` at the same parallel sequence counts and lengths, interleaved per level, and prints the
# ratio of aggregate tokens/s. Both then do the same work: c prompts of PP tokens prefilled in one batch, then TG
# decode steps of c tokens each. tokenmeter's output count includes the token the prefill produces, so it is
# asked for TG+1 output tokens and its rate is taken as c*(PP+TG)/duration, batched-bench's `speed`.
#
# usage: scripts/compare-batched-bench.sh OUT_DIR MODEL.gguf [PP] [TG] [LEVELS] [THREADS]
#   defaults: PP=128 TG=128 LEVELS=1,2,4,8 THREADS=<physical cores>
set -euo pipefail
cd "$(dirname "$0")/.."

out=${1:?usage: compare-batched-bench.sh OUT_DIR MODEL.gguf [PP] [TG] [LEVELS] [THREADS]}
model=${2:?usage: compare-batched-bench.sh OUT_DIR MODEL.gguf [PP] [TG] [LEVELS] [THREADS]}
pp=${3:-128}
tg=${4:-128}
levels=${5:-1,2,4,8}
threads=${6:-$(lscpu -p=core | grep -v '^#' | sort -u | wc -l)}

tm=target/release/tokenmeter
bb=$(scripts/llama-bench.sh --print-paths | grep -m1 'llama-batched-bench$')
[ -x "$tm" ] || { echo "error: $tm missing: run cargo build --release" >&2; exit 2; }
[ -x "$bb" ] || { echo "error: llama-batched-bench missing: run scripts/llama-bench.sh" >&2; exit 2; }
mkdir -p "$out"

{
  echo "# model: $model ($(sha256sum "$model" | cut -d' ' -f1))"
  echo "# host: $(hostname), $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) CPUs"
  echo "# per level c, alternating tokenmeter then llama-batched-bench:"
  echo "$tm load -m $model -c <c> --requests <c> --burst --input-tokens $pp --output-tokens $((tg + 1)) -t $threads -o json --out $out/tokenmeter-c<c>.result.json > $out/tokenmeter-c<c>.json"
  echo "$bb -m $model -c <c*(pp+tg)> -b 2048 -ub 512 -npp $pp -ntg $tg -npl <c> -t $threads -tb $threads --output-format jsonl > $out/batched-bench-c<c>.jsonl"
} > "$out/commands.txt"

for c in ${levels//,/ }; do
  echo "level c=$c: tokenmeter" >&2
  "$tm" load -m "$model" -c "$c" --requests "$c" --burst --input-tokens "$pp" --output-tokens $((tg + 1)) -t "$threads" \
    -o json --out "$out/tokenmeter-c$c.result.json" > "$out/tokenmeter-c$c.json" 2>/dev/null
  echo "level c=$c: llama-batched-bench" >&2
  "$bb" -m "$model" -c $((c * (pp + tg))) -b 2048 -ub 512 -npp "$pp" -ntg "$tg" -npl "$c" -t "$threads" -tb "$threads" \
    --output-format jsonl > "$out/batched-bench-c$c.jsonl" 2>/dev/null
done

python3 - "$out" "$levels" "$pp" "$tg" <<'PY' | tee "$out/summary.md"
import json, sys
out, levels, pp, tg = sys.argv[1], [int(x) for x in sys.argv[2].split(",")], int(sys.argv[3]), int(sys.argv[4])
print("| c | tokenmeter t/s (c*(pp+tg)/duration) | llama-batched-bench speed t/s | ratio |")
print("|---|---|---|---|")
for c in levels:
    lvl = json.load(open(f"{out}/tokenmeter-c{c}.json"))[0]
    ours = c * (pp + tg) / lvl["duration_s"]
    theirs = [json.loads(l) for l in open(f"{out}/batched-bench-c{c}.jsonl") if l.startswith("{")][0]["speed"]
    print(f"| {c} | {ours:.2f} | {theirs:.2f} | {ours / theirs:.3f} |")
PY
