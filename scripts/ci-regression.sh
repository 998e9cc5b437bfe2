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
#   BASELINE    the baseline's name (results/baselines/<BASELINE>.json); default: ci-small
#   BASE_EXE    the tokenmeter to compare with, interleaved (e.g. a build of the main branch); no baseline used
#   ROUNDS      rounds of the interleaved comparison; default: 20
#   WORK_DIR    where the model and the new result file go; default: target/ci-regression
#   GITHUB_STEP_SUMMARY  when set, the comparison's markdown is appended to it as well
#
# Steps:
#   1. `tokenmeter synth --shape small --type q4_0 --seed 1`: the same arguments give a byte-identical model, so a
#      baseline made on another day is of the same file (same sha256).
#   2. `tokenmeter bench` on it: 2 threads, pp128 and tg32, 20 repetitions, no idle-power measurement. The
#      machine must be the baseline's kind of machine: compare a runner's numbers with a baseline from that runner.
#   3. `tokenmeter compare --baseline <BASELINE> <result> -o md`, printed on stdout (and to the step summary).
#   With BASE_EXE, steps 2 and 3 are one `tokenmeter compare --interleave --base-exe BASE_EXE -- bench …`.
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
result=$work/result.json
"$tm" synth --shape small --type q4_0 --seed 1 -o "$model" >&2

bench_args=(-m "$model" -t 2 -p 128 -n 32 -r 20 --idle 0)
bench=("$tm" bench "${bench_args[@]}" --out "$result")
if [ "$update" = 1 ]; then
  # the table goes to stderr: stdout is kept for the comparison
  "${bench[@]}" --save-baseline "$name" >&2
  saved=$baseline_dir/$name.json
  [ -f "$saved" ] || { echo "error: $saved was not written" >&2; exit 2; }
  echo "baseline $name: $saved ($(wc -c < "$saved") bytes); commit it to compare later runs with it" >&2
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
    --keep "$work/interleave" -o md -- bench "${bench_args[@]}") || status=$?
  summarize "$md" "$BASE_EXE vs $tm, interleaved"
  exit "$status"
fi

if [ ! -f "$baseline_dir/$name.json" ]; then
  echo "error: no baseline $baseline_dir/$name.json: run scripts/ci-regression.sh --update on this kind of machine and commit it" >&2
  exit 2
fi
"${bench[@]}" >&2

status=0
md=$("$tm" compare --baseline "$name" "$result" -o md) || status=$?
summarize "$md" "$name vs this run"
exit "$status"
