#!/usr/bin/env bash
# Continue (or start) the fading-trained adjscc run whose state is kept in tools/adjscc-fading-run/,
# then ship its EMA weights and card as semcodec/weights/adjscc_fading.{safetensors,json}.
#   tools/train_adjscc_fading.sh [DEVICE] [EXTRA FLAGS...]
# Fine-tunes the AWGN adjscc run (tools/adjscc-run/adjscc.safetensors) with the channel in the
# training loop: each sample over AWGN, Rayleigh block fading (1,024-symbol blocks) or fast
# Rayleigh fading (weights 1 : 2 : 1), SNR uniform in -5..20 dB per sample, the decoder fed the
# LMMSE symbols and each one's error variance exactly as the bench's receiver gives them.
# Resumes bit for bit from the last checkpoint (every 500 steps); stop it with SIGTERM at any time.
set -euo pipefail
cd "$(dirname "$0")/.."
device=${1:-cpu}; shift || true
run=tools/adjscc-fading-run
mkdir -p "$run"
resume=(); [ -f "$run/adjscc_fading.state.pt" ] && resume=(--resume)
bf16=(); [ "$device" = cpu ] && grep -q avx512_bf16 /proc/cpuinfo && bf16=(--bf16)
semcodec train adjscc --data ../shared/datasets/bsds500/train --data ../shared/datasets/bsds500/val \
  --eval ../shared/datasets/kodak24 --steps 30000 --lr 3e-4 --warmup 200 --eval-every 2500 --device "$device" \
  --channel awgn --channel rayleigh --channel rayleigh-fast --channel-weights 1,2,1 --csi \
  --init tools/adjscc-run/adjscc.safetensors "${bf16[@]}" "${resume[@]}" "$@" --out "$run/adjscc_fading.safetensors"
cp "$run/adjscc_fading.safetensors" semcodec/weights/adjscc_fading.safetensors
cp "$run/adjscc_fading.json" semcodec/weights/adjscc_fading.json
