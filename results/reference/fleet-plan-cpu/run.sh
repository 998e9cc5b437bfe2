#!/usr/bin/env bash
# Plan's wall-time estimate against measured shard times: prints `plan`, runs every shard one after the other
# (timing each with `date`), and writes estimate.json, the shards' result files (shards/) and times.md.
#   results/reference/fleet-plan-cpu/run.sh [TOKENMETER]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
tm=${1:-$here/../../../target/release/tokenmeter}
cd "$here"
rm -rf shards
"$tm" plan fleet-plan-cpu --config models.toml
"$tm" plan fleet-plan-cpu --config models.toml -o json > estimate.json
n=$(python3 -c 'import json; print(len(json.load(open("estimate.json"))["shards"]))')
{
  echo "| shard | cases | estimate (s) | measured (s) | measured / estimate |"
  echo "|---:|---|---:|---:|---:|"
  for i in $(seq 0 $((n - 1))); do
    t0=$(date +%s.%N)
    "$tm" bench --config models.toml --sweep fleet-plan-cpu --shard "$i/$n" --run-id shards --results-dir . \
      --telemetry off -o json > /dev/null 2>&1
    t1=$(date +%s.%N)
    python3 - "$i" "$t0" "$t1" <<'PY'
import json, sys
i, t0, t1 = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
s = json.load(open("estimate.json"))["shards"][i]
cases = ", ".join(f'{c["model"]} {c["label"]}' for c in s["cases"])
m = t1 - t0
print(f'| {i} | {cases} | {s["estimate_s"]:.3f} | {m:.3f} | {m / s["estimate_s"]:.2f} |')
PY
  done
} | tee times.md
