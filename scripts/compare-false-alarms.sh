#!/usr/bin/env bash
# compare-false-alarms.sh - measure how often `tokenmeter compare` calls a change that is not there (A/A) and
# whether it finds one that is (A/B), on this machine, with separate runs and with --interleave.
#
# Usage:
#   scripts/compare-false-alarms.sh OUT_DIR [PAIRS]     (PAIRS: comparisons per scenario, default 20)
#
# Scenarios, each PAIRS times:
#   aa-separate     RUNS separate bench runs of A, then RUNS more of A; compare the two directories (each run one
#                   sample: compare's unit of replication for separate runs)
#   aa-interleave   compare --interleave (ROUNDS rounds) of A against A
#   ab-separate     RUNS runs of A, then RUNS runs of B; compare --ignore-model
#   ab-interleave   compare --interleave of A against B, --ignore-model
# A is the `small` shape with LAYERS layers, B the same shape with 10% more layers (q4_0, seed 1), both
# benchmarked with the same flags (BENCH_ARGS).
#
# Environment:
#   TOKENMETER   binary (default target/release/tokenmeter)
#   LAYERS       layers of A (default 10; B has LAYERS + LAYERS/10)
#   ROUNDS       rounds per interleaved comparison (default 20, compare's default)
#   RUNS         separate runs per side in the separate scenarios (default 3)
#   BENCH_ARGS   default "-p 128 -n 32 -r 5 -t 2 --idle 0"
#   MAX_ROUNDS   compare's --max-rounds for the interleaved scenarios (default: compare's own, 3 × ROUNDS)
#   SCENARIOS    the scenarios to run (default "aa-separate ab-separate aa-interleave ab-interleave")
#
# OUT_DIR gets each comparison as .md and .json, commands.txt, summary.md and raw-results.tar.gz: every result
# file the comparisons read (`tar -xzf raw-results.tar.gz` in OUT_DIR restores the paths they name).
set -euo pipefail
cd "$(dirname "$0")/.."

[ $# -ge 1 ] || { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 2; }
out=$1
pairs=${2:-20}
runs=${RUNS:-3}
tm=${TOKENMETER:-target/release/tokenmeter}
layers=${LAYERS:-10}
rounds=${ROUNDS:-20}
read -r -a scenarios <<< "${SCENARIOS:-aa-separate ab-separate aa-interleave ab-interleave}"
round_args=(--rounds "$rounds")
[ -n "${MAX_ROUNDS:-}" ] && round_args+=(--max-rounds "$MAX_ROUNDS")
runs_scenario() { [[ " ${scenarios[*]} " == *" $1 "* ]]; }
read -r -a bench_args <<< "${BENCH_ARGS:--p 128 -n 32 -r 5 -t 2 --idle 0}"
layers_b=$((layers + layers / 10))

mkdir -p "$out/models"
model_a=$out/models/small-l$layers.gguf
model_b=$out/models/small-l$layers_b.gguf
"$tm" synth --shape small --layers "$layers" --type q4_0 --seed 1 -o "$model_a" >&2
"$tm" synth --shape small --layers "$layers_b" --type q4_0 --seed 1 -o "$model_b" >&2

{
  echo "# scripts/compare-false-alarms.sh $out $pairs"
  echo "# host: $(uname -n), $(nproc) CPUs; $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "# A: $tm synth --shape small --layers $layers --type q4_0 --seed 1 -o $model_a"
  echo "# B: $tm synth --shape small --layers $layers_b --type q4_0 --seed 1 -o $model_b"
  echo "# aa-separate, pair N: $runs runs a side (K = 1..$runs), the base side's runs first"
  echo "$tm bench -m $model_a ${bench_args[*]} --out $out/aa-separate/N-base/run-K.json"
  echo "$tm bench -m $model_a ${bench_args[*]} --out $out/aa-separate/N-new/run-K.json"
  echo "$tm compare $out/aa-separate/N-base $out/aa-separate/N-new -o md|json"
  echo "# ab-separate: the same with -m $model_b for N-new/, and compare --ignore-model"
  echo "# aa-interleave, comparison N:"
  echo "# scenarios run: ${scenarios[*]}"
  echo "$tm compare --interleave ${round_args[*]} --keep $out/aa-interleave/N -o md|json -- bench -m $model_a ${bench_args[*]}"
  echo "# ab-interleave, comparison N:"
  echo "$tm compare --interleave ${round_args[*]} --ignore-model --keep $out/ab-interleave/N --base-args '-m $model_a' --new-args '-m $model_b' -o md|json -- bench ${bench_args[*]}"
} > "$out/commands.txt"

verdicts() { # a comparison's JSON -> "slower/faster/unchanged" counts of its joined cases
  python3 -c 'import json,sys; c=json.load(open(sys.argv[1]))["counts"]; print(c["slower"], c["faster"], c["unchanged"])' "$1"
}

run_compare() { # NAME DIR ARGS...: writes DIR/NAME.json and DIR/NAME.md
  local name=$1 dir=$2
  shift 2
  "$tm" compare "$@" -o json --out "$dir/$name.json" 2>/dev/null || true
  "$tm" compare "$@" -o md --out "$dir/$name.md" 2>/dev/null || true
}

declare -A slower_pairs
for scenario in "${scenarios[@]}"; do
  mkdir -p "$out/$scenario"
  slower_pairs[$scenario]=0
done

for i in $(seq -w 1 "$pairs"); do
  for scenario in aa-separate ab-separate; do
    runs_scenario "$scenario" || continue
    d=$out/$scenario
    new_model=$model_a
    extra=()
    if [ "$scenario" = ab-separate ]; then new_model=$model_b; extra=(--ignore-model); fi
    mkdir -p "$d/$i-base" "$d/$i-new"
    for k in $(seq 1 "$runs"); do
      "$tm" bench -m "$model_a" "${bench_args[@]}" --out "$d/$i-base/run-$k.json" > /dev/null 2>&1
    done
    for k in $(seq 1 "$runs"); do
      "$tm" bench -m "$new_model" "${bench_args[@]}" --out "$d/$i-new/run-$k.json" > /dev/null 2>&1
    done
    run_compare "$i" "$d" "${extra[@]}" "$d/$i-base" "$d/$i-new"
  done
  if runs_scenario aa-interleave; then
    "$tm" compare --interleave "${round_args[@]}" --keep "$out/aa-interleave/$i" -o json \
      --out "$out/aa-interleave/$i.json" -- bench -m "$model_a" "${bench_args[@]}" 2>/dev/null || true
    "$tm" compare --paired "$out/aa-interleave/$i/base" "$out/aa-interleave/$i/new" -o md \
      --out "$out/aa-interleave/$i.md" 2>/dev/null || true
  fi
  if runs_scenario ab-interleave; then
    "$tm" compare --interleave "${round_args[@]}" --ignore-model --keep "$out/ab-interleave/$i" \
      --base-args "-m $model_a" --new-args "-m $model_b" -o json \
      --out "$out/ab-interleave/$i.json" -- bench "${bench_args[@]}" 2>/dev/null || true
    "$tm" compare --paired --ignore-model "$out/ab-interleave/$i/base" "$out/ab-interleave/$i/new" -o md \
      --out "$out/ab-interleave/$i.md" 2>/dev/null || true
  fi
  line="pair $i:"
  for scenario in "${scenarios[@]}"; do
    read -r s f u < <(verdicts "$out/$scenario/$i.json")
    [ "$s" -gt 0 ] && slower_pairs[$scenario]=$((slower_pairs[$scenario] + 1))
    line="$line $scenario ${s}s/${f}f/${u}u"
  done
  echo "$line" >&2
done

rm -rf "$out/models"
(
  cd "$out"
  shopt -s nullglob
  raw=(aa-separate/*-base aa-separate/*-new ab-separate/*-base ab-separate/*-new
       aa-interleave/[0-9][0-9] ab-interleave/[0-9][0-9])
  tar -czf raw-results.tar.gz "${raw[@]}"
  rm -rf "${raw[@]}"
)
{
  echo "# compare: false alarms and a real slowdown on $(uname -n) ($(nproc) CPUs)"
  echo
  echo "Comparisons per scenario: $pairs. Bench flags: \`${bench_args[*]}\`. Separate: $runs runs a side. Interleaved: \`${round_args[*]}\` (rounds run, per comparison, below)."
  echo "Host: $(lscpu | sed -n 's/^Model name: *//p' | head -n 1), $(nproc) CPUs."
  echo "A: small shape, $layers layers; B: $layers_b layers (q4_0, seed 1). Defaults: --alpha 0.05, --noise 2%."
  echo
  echo "| scenario | comparisons with a case called slower | what it should be |"
  echo "|---|---:|---|"
  row() { runs_scenario "$1" && echo "| $2 | ${slower_pairs[$1]} / $pairs | $3 |"; true; }
  row aa-separate "A/A, separate runs ($runs a side)" "0 (at most 1)"
  row aa-interleave "A/A, --interleave" "0 (at most 1)"
  row ab-separate "A/B (+10% layers), separate runs ($runs a side)" "$pairs"
  row ab-interleave "A/B (+10% layers), --interleave" "$pairs"
  echo
  echo "The result files are in raw-results.tar.gz (extract it here to restore the paths the comparisons name)."
  echo
  echo "Per comparison, each case's t/s ratio (new/base), its 95% interval and the verdict:"
  echo
  for scenario in aa-separate aa-interleave ab-separate ab-interleave; do
    runs_scenario "$scenario" || continue
    for f in "$out/$scenario"/[0-9][0-9].json; do
      python3 - "$f" "$scenario" <<'EOF'
import json, sys, os
c = json.load(open(sys.argv[1]))
cells = []
for j in c["joined"]:
    m = next(m for m in j["metrics"] if m["gating"] or m["metric"] == "t/s")
    r = m["ratio"] or {}
    lo, hi = r.get("lower"), r.get("upper")
    ci = f"[{lo:.3f}, {hi:.3f}]" if lo is not None else "[—]"
    cells.append(f'{j["label"]} {r.get("ratio", float("nan")):.3f} {ci} {m["verdict"]}, n = {r.get("n_base")}')
print(f'- {sys.argv[2]} {os.path.basename(sys.argv[1])}: ' + "; ".join(cells))
EOF
    done
  done
} > "$out/summary.md"
cat "$out/summary.md"
