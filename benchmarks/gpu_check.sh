#!/usr/bin/env bash
# One GPU session: every core recipe trains in bf16 on the GPU, then MAE ViT-B/16 throughput/MFU.
# Usage on a GPU machine from the repo root: bash benchmarks/gpu_check.sh OUTPUT_DIR
set -uo pipefail
out=${1:-runs/gpu_check}
mkdir -p "$out"
export PYTHONPATH="$PWD:${PYTHONPATH:-}" PYTHONUNBUFFERED=1 FOUNDATIONS_CACHE=/tmp/foundations_cache
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$out/gpu.txt"
for recipe in recipes/core/*.yaml; do
  name=$(basename "$recipe" .yaml)
  start=$(date +%s%N)
  python3 -m foundations.cli.main fit -c "$recipe" --trainer.accelerator gpu \
    --trainer.precision bf16-mixed --trainer.max_steps 40 --trainer.logger false \
    --trainer.enable_progress_bar false --trainer.default_root_dir "/tmp/gpu_runs/$name" \
    > "/tmp/$name.log" 2>&1
  rc=$?
  end=$(date +%s%N)
  echo "$name rc=$rc ms=$(( (end - start) / 1000000 ))" | tee -a "$out/recipes.txt"
  [ $rc -eq 0 ] || tail -20 "/tmp/$name.log" | tee -a "$out/recipes.txt"
done
for flag in "" "--compile"; do
  python3 benchmarks/mae_gpu.py --batch-size 256 --steps 30 $flag | tee -a "$out/mae_gpu.jsonl"
done
