#!/usr/bin/env bash
# Train one size of the built-in model family (xs, s, m, l) on the default corpus, with the
# recipe of the shipped builtin:default (which is size s).
# Usage: scripts/train_model.sh SIZE [WORK_DIR]
# WORK_DIR keeps the corpus (shared by all sizes) and WORK_DIR/SIZE the model and its
# checkpoints: re-running resumes an interrupted run. On 2 idle AMX CPU cores the corpus
# takes about 1 minute; training about 2 (xs), 8 (s), 22 (m) and 50 (l) minutes
# (from benchmarks/bench_pretrain.py's bf16 pairs/s).
set -euo pipefail
SIZE="${1:?usage: scripts/train_model.sh SIZE [WORK_DIR]  (SIZE: xs, s, m or l)}"
WORK="${2:-/tmp/vlm_rewards_family}"
BIN="${BIN:-.venv/bin}"
if [ ! -f "$WORK/corpus/manifest.json" ]; then
    "$BIN/vlm-rewards" corpus "$WORK/corpus" --domains phone,babyai,house --frames-per-domain 8192 --seed 0 --image-size 64
fi
"$BIN/vlm-rewards" pretrain "$WORK/corpus" "$WORK/$SIZE" --size "$SIZE" --steps 1200 --batch-size 128 --seed 0 \
    --lr 1e-3 --checkpoint-every 100 --threads 2
echo "trained model: $WORK/$SIZE"
