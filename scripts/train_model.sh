#!/usr/bin/env bash
# Train one size of the built-in model family (xxs, xs, s, ms, m, l) on the default corpus with
# its compute-matched schedule (vlm_rewards.family: samples grow as sqrt(parameters) from s's
# 2,000 steps of 128; learning rate 1e-3 * 128 / width). Size s is the shipped builtin:default.
# Usage: scripts/train_model.sh SIZE [WORK_DIR]
# WORK_DIR keeps the corpus (shared by all sizes) and WORK_DIR/family/SIZE the model and its
# checkpoints: re-running resumes an interrupted run. Measured on this project's 2-core CPU
# (AVX-512 BF16, no AMX): the corpus 1.3 minutes; training 1 (xxs), 2 (xs), 18 (s) and about
# 50 (ms) minutes. DEVICE=cuda trains on a GPU instead (not byte-identical to CPU).
set -euo pipefail
SIZE="${1:?usage: scripts/train_model.sh SIZE [WORK_DIR]  (SIZE: xxs, xs, s, ms, m or l)}"
WORK="${2:-/tmp/vlm_rewards_family}"
BIN="${BIN:-.venv/bin}"
if [ ! -f "$WORK/corpus/manifest.json" ]; then
    "$BIN/vlm-rewards" corpus "$WORK/corpus" --domains phone,babyai,house --frames-per-domain phone=24576,babyai=24576,house=49152 \
        --seed 0 --image-size 64 --workers 2  # the domains side by side: the same bytes as one process
fi
"$BIN/vlm-rewards" family "$WORK/corpus" "$WORK/family" --sizes "$SIZE" --base s --base-steps 2000 --batch-size 128 \
    --base-lr 1e-3 --exponent 0.5 --seed 0 --checkpoint-every 100 --threads 2 ${DEVICE:+--device "$DEVICE"}
echo "trained model: $WORK/family/$SIZE"
