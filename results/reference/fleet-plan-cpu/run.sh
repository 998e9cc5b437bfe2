#!/usr/bin/env bash
# Plan's wall-time estimate against measured shard times, for a bench sweep and a load sweep: prints `plan`, runs
# every shard RUNS times (default 3) one after the other, timing each with `date`, and writes estimate-*.json, the
# shards' last result files (shards-bench/, shards-load/) and times.md. The fastest run is the one compared: on a
# shared machine the others include other programs' work (a shard re-run replaces its own file).
#   results/reference/fleet-plan-cpu/run.sh [TOKENMETER] [RUNS]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
tm=${1:-$here/../../../target/release/tokenmeter}
runs=${2:-3}
cd "$here"
rm -rf shards-bench shards-load
{
for sweep in fleet-plan-cpu fleet-plan-cpu-load; do
  command=bench
  [ "$sweep" = fleet-plan-cpu-load ] && command=load
  "$tm" plan "$sweep" --config models.toml >&2
  "$tm" plan "$sweep" --config models.toml -o json > "estimate-$command.json"
  n=$(python3 -c 'import json, sys; print(len(json.load(open(sys.argv[1]))["shards"]))' "estimate-$command.json")
  echo
  echo "$sweep ($command):"
  echo
  echo "| shard | cases | estimate (s) | measured, fastest of $runs (s) | all runs (s) | fastest / estimate |"
  echo "|---:|---|---:|---:|---|---:|"
  for i in $(seq 0 $((n - 1))); do
    times=()
    for _ in $(seq "$runs"); do
      t0=$(date +%s.%N)
      "$tm" "$command" --config models.toml --sweep "$sweep" --shard "$i/$n" --run-id "shards-$command" \
        --results-dir . --telemetry off -o json > /dev/null 2>&1
      t1=$(date +%s.%N)
      times+=("$(echo "$t1 - $t0" | bc)")
    done
    python3 - "$i" "estimate-$command.json" "${times[@]}" <<'PY'
import json, sys
i, path, times = int(sys.argv[1]), sys.argv[2], [float(t) for t in sys.argv[3:]]
s = json.load(open(path))["shards"][i]
cases = ", ".join(f'{c["model"]} {c["label"]}' for c in s["cases"])
m = min(times)
runs = ", ".join(f"{t:.3f}" for t in times)
print(f'| {i} | {cases} | {s["estimate_s"]:.3f} | {m:.3f} | {runs} | {m / s["estimate_s"]:.2f} |')
PY
  done
done
} | tee times.md
