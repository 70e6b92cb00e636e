#!/usr/bin/env bash
# Train the deep JSCC checkpoints shipped in semcodec/weights/, all runs in parallel on one device.
#   tools/train_checkpoints.sh DEVICE EPOCHS OUTDIR
# Shipped: cuda, 2600 epochs (one epoch = one 128x128 crop of each of 285 images, batch 32),
# about 8.5 minutes for all eight runs together on one H100. The exact command of each run is
# in its JSON card.
set -euo pipefail
device=${1:-cuda}; epochs=${2:-2600}; outdir=${3:-semcodec/weights}
data="--data ../shared/datasets/bsds500/train --data ../shared/datasets/bsds500/val"
mkdir -p "$outdir"
for r in 1/12 1/6; do for s in 0 5 10 15; do
  name="deep_jscc_k$(echo "$r" | tr / _)_snr$s"
  python3 -m semcodec.cli train deep-jscc $data --snr "$s" --bandwidth "$r" --batch 32 \
    --epochs "$epochs" --seed 0 --device "$device" --force --out "$outdir/$name.safetensors" \
    > "$outdir/$name.log" 2>&1 &
done; done; wait
grep -H val_psnr_db "$outdir"/*.json
