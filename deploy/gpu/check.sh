#!/bin/bash
# The GPU checks of cis490 as one script, for a machine with a GPU:
#
#   1. builds the binary with the GPU feature;
#   2. `cis490 check-device`: the five networks on the same weights, CPU
#      against the device (logits within 1e-4, one step's loss within 1e-3);
#   3. the parity test (`gpu_backends_match_the_cpu`) on the device;
#   4. `cis490 bench neural`: ms per training step, CPU vs device, f32 /
#      f16 / bf16, batch 64 and 512;
#   5. with FEATURES and SPLIT set: the twelve models trained on the
#      device, wall time and validation macro F1 (and in bf16).
#
#   DEVICE=cuda:0 deploy/gpu/check.sh                  # NVIDIA (gpu-cuda)
#   DEVICE=vulkan FEATURE=gpu-vulkan deploy/gpu/check.sh
#
# burn's CUDA build downloads an LLVM bundle (tracel-llvm-bundler): the
# machine needs network access while building, not a CUDA toolkit.
# Figures go to $OUT (default gpu-check-out/); docs/cluster.md, "GPUs".
set -euo pipefail
cd "$(dirname "$0")/../.."
DEVICE="${DEVICE:-cuda:0}"
FEATURE="${FEATURE:-gpu-cuda}"
OUT="${OUT:-gpu-check-out}"
STEPS="${STEPS:-20}"
mkdir -p "$OUT"
target="${CARGO_TARGET_DIR:-target}"

cargo build --release -p cis490-backend --features "$FEATURE" 2>&1 | tail -3
bin="$target/release/cis490"
"$bin" check-device --device "$DEVICE" | tee "$OUT/check-device.txt"
CIS490_TEST_DEVICES="$DEVICE" cargo test --release -p cis490-models --features "$FEATURE" --lib -- probe \
    --nocapture 2>&1 | tee "$OUT/parity-test.txt" | tail -5
"$bin" bench neural --steps "$STEPS" --device "cpu,$DEVICE" --precision f32,f16,bf16 --batch 64,512 \
    | tee "$OUT/bench-neural.txt"
if [[ -n "${FEATURES:-}" && -n "${SPLIT:-}" ]]; then
    for precision in f32 bf16; do
        start=$(date +%s)
        "$bin" train --features "$FEATURES" --split "$SPLIT" --out "$OUT/run-$precision" \
            --device "$DEVICE" --precision "$precision" 2>&1 | tail -16 | tee "$OUT/train-$precision.txt"
        echo "wall: $(( $(date +%s) - start )) s" | tee -a "$OUT/train-$precision.txt"
    done
fi
echo "figures in $OUT/"
