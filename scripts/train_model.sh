#!/usr/bin/env bash
# Train one size of the built-in model family (xs, s, m, l) on the default corpus, with the
# recipe of the shipped builtin:default (which is size s).
# Usage: scripts/train_model.sh SIZE [WORK_DIR]
# WORK_DIR keeps the corpus (shared by all sizes) and WORK_DIR/SIZE the model and its
# checkpoints: re-running resumes an interrupted run. Measured on this project's 2-core CPU
# (AVX-512 BF16, no AMX): the corpus about 1 minute; training 2 (xs), 7 (s), 25 (m) and
# 50 (l) minutes. DEVICE=cuda trains on a GPU instead (not byte-identical to CPU).
set -euo pipefail
SIZE="${1:?usage: scripts/train_model.sh SIZE [WORK_DIR]  (SIZE: xs, s, m or l)}"
WORK="${2:-/tmp/vlm_rewards_family}"
BIN="${BIN:-.venv/bin}"
if [ ! -f "$WORK/corpus/manifest.json" ]; then
    "$BIN/vlm-rewards" corpus "$WORK/corpus" --domains phone,babyai,house --frames-per-domain 8192 --seed 0 --image-size 64
fi
"$BIN/vlm-rewards" pretrain "$WORK/corpus" "$WORK/$SIZE" --size "$SIZE" --steps 1200 --batch-size 128 --seed 0 \
    --lr 1e-3 --checkpoint-every 100 --threads 2 ${DEVICE:+--device "$DEVICE"}
echo "trained model: $WORK/$SIZE"
