#!/usr/bin/env bash
# The numerics gate's calibration: every case of a grid of legitimate engine variations (thread counts, repack on
# and off, flash attention, batch sizes, a quantized KV cache) gated against the CPU reference, on each model given;
# prints the largest NMSE and KL divergence seen per variation, which the gate's thresholds must clear.
#
# usage: scripts/numerics-calibration.sh OUT_DIR [MODEL ...]   (default: the embedded default model)
# needs: target/release/tokenmeter (cargo build --release), python3
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:?usage: numerics-calibration.sh OUT_DIR [MODEL ...]}
shift
models=("$@")
[ ${#models[@]} -gt 0 ] || models=("")
tm=target/release/tokenmeter
mkdir -p "$out"
{
  echo "# host: $(hostname), $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) CPUs"
  echo "# build: $($tm --version 2>/dev/null || echo tokenmeter)"
} > "$out/commands.txt"
i=0
for m in "${models[@]}"; do
  i=$((i + 1))
  margs=()
  [ -n "$m" ] && margs=(-m "$m")
  args=(bench "${margs[@]}" -p 64 -n 0 -r 1 --no-warmup -t 1,2 --repack 0,1 --fa 0,1 --ub 16,512 --ctk f16,q8_0 --ctv f16
        --telemetry off --recheck -o json --out "$out/model$i.result.json")
  echo "$tm ${args[*]}" >> "$out/commands.txt"
  "$tm" "${args[@]}" > /dev/null
done
python3 - "$out" <<'PY' | tee "$out/summary.md"
import glob, json, sys
out = sys.argv[1]
rows = []
for f in sorted(glob.glob(f"{out}/model*.result.json")):
    r = json.load(open(f))
    for c in r["cases"]:
        n = c.get("numerics") or {}
        d = n.get("distance") or {}
        rows.append((c["model_type"], c["n_threads"], int(c["repack"]), c["flash_attn"], c["n_ubatch"], c["type_k"],
                     n.get("verdict"), d.get("nmse"), d.get("kl_divergence"), d.get("top1_agreement"), d.get("max_abs_err")))
print("| model | t | repack | fa | ub | ctk | verdict | NMSE | KL nats | top-1 | max abs |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
for r in rows:
    print("| " + " | ".join(f"{x:.2e}" if isinstance(x, float) else str(x) for x in r) + " |")
f16 = [r for r in rows if r[5] == "f16"]
q8 = [r for r in rows if r[5] == "q8_0"]
for name, sel in (("f16 KV", f16), ("q8_0 KV", q8)):
    if sel:
        print(f"\n{name}: largest NMSE {max(r[7] for r in sel):.2e}, largest KL {max(r[8] for r in sel):.2e} nats, "
              f"lowest top-1 {min(r[9] for r in sel):.2f} over {len(sel)} cases")
PY
