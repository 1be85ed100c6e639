#!/usr/bin/env bash
# GPU check of issue 11 — at most 8 minutes on one GPU; never run in CI.
#
#   bash benchmarks/gpu_check.sh [OUT]          (from the repository root; OUT default /tmp/synthboost_gpu_check)
#
# 1. benchmarks/gpu_check.py: paper-size CLIPSeg (batch 128) and CRIS (batch 32) training steps in
#    16-mixed (samples/s, peak memory), Echo-from-noise SDM sampling at 256² (DDIM-50 and DDPM-1000,
#    images/s), inference throughput of both models;
# 2. a 2-step `synthboost train` through the CLI on the phantom with --devices 1 (paper-size CRIS,
#    random init: no weights needed), then `synthboost predict` of its test split on the GPU (timed).
# Every item has its own timeout so one slow item cannot eat the budget; the total stays under 8 min.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
SB=${SYNTHBOOST:-.venv/bin/synthboost}
OUT=${1:-/tmp/synthboost_gpu_check}
mkdir -p "$OUT"
export HF_HUB_OFFLINE=1
start=$(date +%s)
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true

echo "== 1. training steps, SDM sampling, inference (benchmarks/gpu_check.py)"
timeout 330 "$PY" benchmarks/gpu_check.py --device cuda --out "$OUT" || echo "gpu_check.py failed or timed out (rc $?)"

echo "== 2. 2-step train through the CLI on the phantom (--devices 1), then predict"
ms() { date +%s%3N; }
timeout 60 "$SB" phantom "$OUT/phantom_raw" --patients 20 --seed 0 --image-scale 0.5 --workers 4 --force >/dev/null
timeout 60 "$SB" prepare camus "$OUT/phantom_raw" "$OUT/camus" --force >/dev/null
t0=$(ms)
timeout 90 "$SB" train configs/experiment/cris_real.yaml --prompt p2 --out "$OUT/run_cris" --force --devices 1 \
  --set data.root="$OUT/camus" --set model.pretrained=null --set trainer.max_steps=2 --set trainer.max_epochs=1 \
  --set trainer.min_epochs=0 --set trainer.limit_val_batches=2 --set trainer.progress_bar=false
echo "train (2 steps + 2 val batches, CLI, incl. start-up): $(( $(ms) - t0 )) ms"
grep -h '"optimizer_steps"\|"wall_s"\|"epochs"' "$OUT/run_cris/result.json" || true
t0=$(ms)
timeout 60 "$SB" predict "$OUT/run_cris" "$OUT/camus" --split test --out "$OUT/pred" --batch-size 32 --device cuda --force
echo "predict (CLI, incl. start-up): $(grep -o '"mask"' "$OUT/pred/prediction.json" | wc -l) masks in $(( $(ms) - t0 )) ms"
echo "total: $(( $(date +%s) - start )) s; figures in $OUT/gpu_check.json"
