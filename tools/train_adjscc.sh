#!/usr/bin/env bash
# Continue (or start) the adjscc training run whose state is kept in tools/adjscc-run/, then
# ship its EMA weights and card as semcodec/weights/adjscc.{safetensors,json}.
#   tools/train_adjscc.sh [DEVICE] [EXTRA FLAGS...]
# On 2 CPU cores it runs in the background for hours (bf16 autocast where the CPU has
# AVX512-BF16); on a GPU, pass cuda. The run resumes bit for bit from the last checkpoint
# (written every 500 steps); stop it with SIGTERM or Ctrl-C at any time.
set -euo pipefail
cd "$(dirname "$0")/.."
device=${1:-cpu}; shift || true
run=tools/adjscc-run
mkdir -p "$run"
resume=(); [ -f "$run/adjscc.state.pt" ] && resume=(--resume)
bf16=(); [ "$device" = cpu ] && grep -q avx512_bf16 /proc/cpuinfo && bf16=(--bf16)
semcodec train adjscc --data ../shared/datasets/bsds500/train --data ../shared/datasets/bsds500/val \
  --eval ../shared/datasets/kodak24 --steps 100000 --eval-every 2500 --device "$device" \
  "${bf16[@]}" "${resume[@]}" "$@" --out "$run/adjscc.safetensors"
cp "$run/adjscc.safetensors" semcodec/weights/adjscc.safetensors
cp "$run/adjscc.json" semcodec/weights/adjscc.json
