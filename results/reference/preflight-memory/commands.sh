#!/bin/bash
# The measurements behind summary.md: each command runs once under /usr/bin/time -v; the estimate is the largest of
# the case estimates `-v` prints ("preflight: … [N bytes RAM]"), the measurement the "Maximum resident set size".
# Run from a directory holding the models, with a built tokenmeter as $T.
set -e
T=${T:-tokenmeter}
export TOKENMETER_CACHE_DIR=/tmp/pf-cache
$T synth --shape tiny -o tiny.gguf
$T synth --shape small -o small.gguf
$T synth --shape small --type f16 -o small-f16.gguf
$T synth --shape qwen2.5-0.5b -o qwen.gguf
$T synth --shape llama-3.2-1b -o l1b.gguf
# measure the memory bandwidth once, so that no case's peak includes the bandwidth probe's buffer
$T bench -m tiny.gguf -p 0 -n 16 -r 1 --idle 0 --results-dir /tmp/pf/res
row() {
  local cmd="$*"
  out=$( /usr/bin/time -v $T -v $cmd --idle 0 --results-dir /tmp/pf/res 2>&1 )
  est=$(echo "$out" | grep -o '\[[0-9]* bytes RAM\]' | tr -dc '0-9\n' | sort -n | tail -1)
  rss=$(echo "$out" | awk '/Maximum resident/{print $6}')
  st=$(echo "$out" | awk '/Exit status/{print $3}')
  python3 -c "e=$est/2**20; r=$rss/1024; print(f'| \`tokenmeter $cmd\` | {e:.1f} | {r:.1f} | {e/r:.3f} | {$st} |')"
}
echo "| command | estimate (MiB) | peak RSS (MiB) | estimate / RSS | exit |"
echo "|---|---:|---:|---:|---:|"
row bench -m tiny.gguf -p 512 -n 128 -r 1
row bench -m small.gguf -p 512 -n 128 -r 1
row bench -m small-f16.gguf -p 512 -n 128 -r 1
row bench -m qwen.gguf -p 512 -n 128 -r 1
row bench -m l1b.gguf -p 512 -n 128 -r 1
row bench -m small.gguf -p 512 -n 128 -d 3072 -r 1
row bench -m small.gguf -p 512 -n 128 -d 3072 --flash-attn off -r 1
row bench -m qwen.gguf -p 512 -n 128 -d 4096 -r 1
row bench -m qwen.gguf -p 512 -n 128 -d 4096 --flash-attn off -r 1
row load -m small.gguf -c 8 --requests 8 --input-tokens 256 --output-tokens 32
row load -m qwen.gguf -c 4 --requests 4 --input-tokens 512 --output-tokens 16
