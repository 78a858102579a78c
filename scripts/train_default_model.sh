#!/usr/bin/env bash
# Reproduce the shipped built-in model (src/vlm_rewards/assets/models/default, builtin:default) on CPU.
# Usage: scripts/train_default_model.sh [WORK_DIR]
# WORK_DIR keeps the corpus and the checkpoints: re-running resumes an interrupted run.
# Corpus v3 (98,304 frames) and 4,000 steps of 128 at lr 1e-3 (size s): on an AVX2-only 2-core
# CPU (fp32) about 20 minutes for the corpus and 80 minutes of training (2026-12-02). This is how
# the shipped model was made, from the same command, so a retrained model equals it up to float
# rounding of the machine. builtin:v3, the default before, is the same with --steps 2000 on a
# corpus assembled from two runs (see its model card).
set -euo pipefail
WORK="${1:-/tmp/vlm_rewards_default}"
BIN="${BIN:-.venv/bin}"
if [ ! -f "$WORK/corpus/manifest.json" ]; then
    "$BIN/vlm-rewards" corpus "$WORK/corpus" --domains phone,babyai,house --frames-per-domain phone=24576,babyai=24576,house=49152 \
        --seed 0 --image-size 64
fi
"$BIN/vlm-rewards" pretrain "$WORK/corpus" "$WORK/model" --size s --steps 4000 --batch-size 128 --seed 0 \
    --lr 1e-3 --checkpoint-every 200 --threads 2
echo "trained model: $WORK/model (copy it into the package with vlm_rewards.pretrain.copy_model_files)"
