#!/usr/bin/env bash
# ci-regression.sh - a CI performance check: benchmark a fixed synthesized model with fixed parameters and compare
# the result with a committed baseline; the exit status is `tokenmeter compare`'s.
#
# Usage:
#   scripts/ci-regression.sh            bench, then compare with the baseline; exit 0 no regression, 1 slower,
#                                       2 bad input (e.g. no baseline yet)
#   scripts/ci-regression.sh --update   bench and save the result as the baseline instead (commit it afterwards)
#   BASE_EXE=old/tokenmeter scripts/ci-regression.sh
#                                       no baseline: run the old and the new binary alternately (compare
#                                       --interleave, ROUNDS rounds) on this machine and judge them round by round;
#                                       what a shared CI runner needs, since its speed drifts between runs
#   scripts/ci-regression.sh -h | --help
#
# Environment:
#   TOKENMETER  the binary to run; default: `cargo build --release`, then <target dir>/release/tokenmeter
#   BASELINE    the baseline's name (results/baselines/<BASELINE>/, one result file per run); default: ci-small
#   RUNS        separate bench runs per side (the unit compare tests separate runs on); default: 5
#   BASE_EXE    the tokenmeter to compare with, interleaved (e.g. a build of the main branch); no baseline used
#   ROUNDS      rounds of the interleaved comparison; default: 20
#   WORK_DIR    where the model and the new result file go; default: target/ci-regression
#   GITHUB_STEP_SUMMARY  when set, the comparison's markdown is appended to it as well
#
# Steps:
#   1. `tokenmeter synth --shape small --type q4_0 --seed 1`: the same arguments give a byte-identical model, so a
#      baseline made on another day is of the same file (same sha256).
#   2. `tokenmeter bench` on it RUNS times: 2 threads, pp128 and tg32, 4 repetitions each, no idle-power
#      measurement. compare treats each run as one sample (repetitions within a run do not see the machine's
#      speed change between runs), so a side needs two or more runs to gate. The machine must be the baseline's
#      kind of machine: compare a runner's numbers with a baseline from that runner.
#   3. `tokenmeter compare --baseline <BASELINE> <runs dir> -o md`, printed on stdout (and to the step summary).
#   With BASE_EXE, steps 2 and 3 are one `tokenmeter compare --interleave --base-exe BASE_EXE -- bench … -r 20`.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; }

update=0
case "${1:-}" in
  "") ;;
  --update) update=1 ;;
  -h|--help) usage; exit 0 ;;
  *) echo "error: unknown argument '$1' (expected --update or --help)" >&2; exit 2 ;;
esac
[ $# -le 1 ] || { echo "error: one argument at most (--update)" >&2; exit 2; }

name=${BASELINE:-ci-small}
work=${WORK_DIR:-target/ci-regression}
baseline_dir=results/baselines

if [ -n "${TOKENMETER:-}" ]; then
  tm=$TOKENMETER
else
  cargo build --release --quiet
  tm=${CARGO_TARGET_DIR:-target}/release/tokenmeter
fi
[ -x "$tm" ] || { echo "error: $tm is not an executable tokenmeter" >&2; exit 2; }

mkdir -p "$work"
model=$work/ci-small-q4_0.gguf
runs=${RUNS:-5}
[[ "$runs" =~ ^[0-9]+$ && "$runs" -ge 2 ]] || { echo "error: RUNS=$runs: two or more runs are needed" >&2; exit 2; }
"$tm" synth --shape small --type q4_0 --seed 1 -o "$model" >&2

bench_args=(-m "$model" -t 2 -p 128 -n 32 --idle 0)
bench_runs() { # DIR: RUNS separate bench runs, one result file each (tables on stderr: stdout is the comparison's)
  rm -rf "$1"
  mkdir -p "$1"
  for i in $(seq 1 "$runs"); do
    "$tm" bench "${bench_args[@]}" -r 4 --out "$1/run-$i.json" >&2
  done
}
if [ "$update" = 1 ]; then
  saved=$baseline_dir/$name
  bench_runs "$saved"
  echo "baseline $name: $saved/ ($runs runs); commit it to compare later runs with it" >&2
  exit 0
fi

summarize() { # the comparison's markdown on stdout and in the step summary
  printf '%s\n' "$1"
  if [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then
    {
      echo "### tokenmeter: $2"
      echo
      printf '%s\n' "$1"
    } >> "$GITHUB_STEP_SUMMARY"
  fi
}

if [ -n "${BASE_EXE:-}" ]; then
  [ -x "$BASE_EXE" ] || { echo "error: BASE_EXE=$BASE_EXE is not an executable tokenmeter" >&2; exit 2; }
  status=0
  md=$("$tm" compare --interleave --rounds "${ROUNDS:-20}" --base-exe "$BASE_EXE" --new-exe "$tm" \
    --keep "$work/interleave" -o md -- bench "${bench_args[@]}" -r 20) || status=$?
  summarize "$md" "$BASE_EXE vs $tm, interleaved"
  exit "$status"
fi

if [ ! -d "$baseline_dir/$name" ]; then
  echo "error: no baseline $baseline_dir/$name/: run scripts/ci-regression.sh --update on this kind of machine and commit it" >&2
  exit 2
fi
bench_runs "$work/runs"

status=0
md=$("$tm" compare --baseline "$name" "$work/runs" -o md) || status=$?
summarize "$md" "$name vs this run"
exit "$status"
