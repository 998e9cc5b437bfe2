#!/usr/bin/env bash
# Runs in-process `tokenmeter load` and `tokenmeter load --endpoint` against llama.cpp's llama-server on the same
# model, lengths, slots and threads, interleaved (A B B A …), keeps every result file, and prints per level the
# per-round ratios (HTTP ÷ in-process) of output t/s and TTFT p50 with their medians: the HTTP path's overhead.
#
# usage: scripts/compare-llama-server.sh OUT_DIR MODEL.gguf [ROUNDS] [-- extra load args]
#   default load args: -c 1,4 --requests 16 --input-tokens 128 --output-tokens 64
# Both sides get -t <physical cores>; the server runs with -np = the largest -c, -c = slots x 1024 context, on
# 127.0.0.1, and is stopped at the end. The HTTP side sends the completions API with --prompt token-ids, so both
# sides process exactly the same prompt lengths (the server's usage counts are in the result files). Round N runs
# both sides with --seed 1000·N (a level adds its index to the seed): prompts differ from round to round, so the server's prompt cache cannot serve a
# round from an earlier one (the HTTP side's cached prompt tokens, as the server reports them, are printed).
# needs: target/release/tokenmeter (cargo build --release) and llama-server (scripts/build-llama-server.sh)
# environment: TOKENMETER=PATH and LLAMA_SERVER=PATH choose other binaries; THREADS sets -t on both sides (default:
#   physical cores); LLAMA_SERVER_ARGS adds server flags
#   (e.g. "--temp 0 --top-k 1": greedy sampling, the least per-token work a server can do beside decoding)
set -euo pipefail
cd "$(dirname "$0")/.."

usage="usage: compare-llama-server.sh OUT_DIR MODEL.gguf [ROUNDS] [-- load args]"
out=${1:?$usage}
model=${2:?$usage}
rounds=${3:-3}
shift $(( $# < 3 ? $# : 3 ))
[ "${1:-}" = "--" ] && shift
args=("$@")
[ ${#args[@]} -gt 0 ] || args=(-c 1,4 --requests 16 --input-tokens 128 --output-tokens 64)
threads=${THREADS:-$(lscpu -p=core | grep -v "^#" | sort -u | wc -l)}
slots=4
for ((i = 0; i < ${#args[@]}; i++)); do
  if [ "${args[$i]}" = "-c" ]; then slots=$(tr ',' '\n' <<<"${args[$((i + 1))]}" | sort -n | tail -n1); fi
done

tm=${TOKENMETER:-target/release/tokenmeter}
srv=${LLAMA_SERVER:-target/llama-server/bin/llama-server}
[ -x "$tm" ] || { echo "error: $tm missing: run cargo build --release" >&2; exit 2; }
[ -x "$srv" ] || { echo "error: $srv missing: run scripts/build-llama-server.sh" >&2; exit 2; }
[ -f "$model" ] || { echo "error: $model: not found" >&2; exit 2; }
mkdir -p "$out"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
read -r -a server_extra <<<"${LLAMA_SERVER_ARGS:-}"
server_cmd=("$srv" --host 127.0.0.1 --port "$port" -m "$model" -np "$slots" -c $((slots * 1024)) -t "$threads" --no-webui "${server_extra[@]}")
"${server_cmd[@]}" > "$out/llama-server.log" 2>&1 &
server_pid=$!
trap 'kill $server_pid 2>/dev/null; wait $server_pid 2>/dev/null || true' EXIT
for _ in $(seq 1 600); do
  curl -fs "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break
  kill -0 $server_pid 2>/dev/null || { tail -n 5 "$out/llama-server.log" >&2; echo "error: llama-server exited" >&2; exit 2; }
  sleep 0.2
done
curl -fs "http://127.0.0.1:$port/health" >/dev/null || { echo "error: llama-server not healthy after 120 s" >&2; exit 2; }

common=(-t "$threads" --idle 0s --telemetry off "${args[@]}")
http=(--endpoint "http://127.0.0.1:$port/v1" --api completions --prompt token-ids --request-timeout 120s --idle 0s "${args[@]}")
{
  echo "# model: $model ($(sha256sum "$model" | cut -d' ' -f1))"
  echo "# host: $(hostname), $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) CPUs, AMX: $(grep -c amx_tile /proc/cpuinfo | awk '{print ($1 > 0) ? "yes" : "no"}')"
  echo "# llama-server: $srv ($(cat "$(dirname "$srv")/../VERSION" 2>/dev/null || echo unknown build))"
  echo "# rounds: $rounds, ABBA (odd rounds in-process first, even rounds HTTP first)"
  echo "${server_cmd[*]}"
  echo "$tm load -m $model ${common[*]} --seed <N×1000> --out $out/in-process-round<N>.json"
  echo "$tm load ${http[*]} --seed <N×1000> --out $out/http-round<N>.json"
} > "$out/commands.txt"

run_local() {
  echo "round $1/$rounds: in-process" >&2
  "$tm" load -m "$model" "${common[@]}" --seed "$(( $1 * 1000 ))" --out "$out/in-process-round$1.json" > /dev/null 2>"$out/in-process-round$1.log"
}
run_http() {
  echo "round $1/$rounds: HTTP" >&2
  "$tm" load "${http[@]}" --seed "$(( $1 * 1000 ))" --out "$out/http-round$1.json" > /dev/null 2>"$out/http-round$1.log"
}
for n in $(seq 1 "$rounds"); do
  if [ $((n % 2)) -eq 1 ]; then run_local "$n"; run_http "$n"; else run_http "$n"; run_local "$n"; fi
done

python3 - "$out" "$rounds" <<'PY' | tee "$out/summary.md"
import json, statistics, sys
out, rounds = sys.argv[1], int(sys.argv[2])
med = statistics.median
def levels(path):
    with open(path) as f:
        return {l["concurrency"]: l for l in json.load(f)["load"]["levels"]}
def decode_rates(level):
    """Each completed request's decode rate as the client saw it, tokens after the first per second."""
    out = []
    for r in level["requests"]:
        t = r["token_ns"]
        if r["completed"] and len(t) > 1 and t[-1] > t[0]:
            out.append((len(t) - 1) / ((t[-1] - t[0]) / 1e9))
    return out
def server_rates(level):
    """Each request's decode rate as the server timed it (llama-server's timings.predicted_ms)."""
    out = []
    for r in level["requests"]:
        s = r.get("stream") or {}
        if r["completed"] and s.get("server_decode_ms") and len(r["token_ns"]) > 1:
            out.append((len(r["token_ns"]) - 1) / (s["server_decode_ms"] / 1e3))
    return out
def overhead_ms(level):
    """Each request's time from sending to its last token less the server's own prompt and decode time."""
    out = []
    for r in level["requests"]:
        s = r.get("stream") or {}
        if r["completed"] and s.get("server_decode_ms") is not None and s.get("server_prompt_ms") is not None:
            seen = (r["token_ns"][-1] - r["admitted_ns"]) / 1e6
            out.append(seen - s["server_prompt_ms"] - s["server_decode_ms"])
    return out
rows = {}
for n in range(1, rounds + 1):
    a, b = levels(f"{out}/in-process-round{n}.json"), levels(f"{out}/http-round{n}.json")
    for c in sorted(set(a) & set(b)):
        r = rows.setdefault(c, {"tps": [], "ttft": [], "a": [], "b": [], "cached": 0,
                                "dec_a": [], "dec_b": [], "dec_srv": [], "over": []})
        r["cached"] += b[c]["http"].get("cached_prompt_tokens") or 0
        r["a"].append((a[c]["output_tokens_per_s"], a[c]["ttft_ms"]["p50"]))
        r["b"].append((b[c]["output_tokens_per_s"], b[c]["ttft_ms"]["p50"]))
        r["tps"].append(b[c]["output_tokens_per_s"] / a[c]["output_tokens_per_s"])
        r["ttft"].append(b[c]["ttft_ms"]["p50"] / a[c]["ttft_ms"]["p50"])
        r["dec_a"] += decode_rates(a[c])
        r["dec_b"] += decode_rates(b[c])
        r["dec_srv"] += server_rates(b[c])
        r["over"] += overhead_ms(b[c])
print(f"HTTP (llama-server) ÷ in-process, {rounds} interleaved rounds, per level:\n")
print("| c | in-process output t/s (median) | HTTP output t/s (median) | ratio per round | median ratio | in-process TTFT p50 ms | HTTP TTFT p50 ms | ratio per round | median ratio | prompt tokens the server took from its cache |")
print("|---|---|---|---|---|---|---|---|---|---|")
for c, r in sorted(rows.items()):
    print(f"| {c} | {med(x[0] for x in r['a']):.1f} | {med(x[0] for x in r['b']):.1f} | "
          f"{', '.join(f'{x:.3f}' for x in r['tps'])} | {med(r['tps']):.3f} | "
          f"{med(x[1] for x in r['a']):.1f} | {med(x[1] for x in r['b']):.1f} | "
          f"{', '.join(f'{x:.3f}' for x in r['ttft'])} | {med(r['ttft']):.3f} | {r['cached']} |")
print("\nPer request, median over every round's completed requests: its decode rate (tokens after the first per second)"
      " in-process, over HTTP as the client saw it and as the server timed it, and the time from sending it to its"
      " last token less the server's own prompt and decode time (queueing, HTTP and the client):\n")
print("| c | in-process decode t/s | HTTP decode t/s (client) | HTTP decode t/s (server's timings) | not the server's compute, ms |")
print("|---|---|---|---|---|")
for c, r in sorted(rows.items()):
    f = lambda v, d=1: f"{med(v):.{d}f}" if v else "—"
    print(f"| {c} | {f(r['dec_a'])} | {f(r['dec_b'])} | {f(r['dec_srv'])} | {f(r['over'], 2)} |")
PY
