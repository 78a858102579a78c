#!/usr/bin/env bash
# Train the built-in model family (sizes xxs, xs, s, ms: 85k to 3.8M parameters, 45x) with
# compute-matched schedules: each size's samples grow as sqrt(parameters) from s's 2,000 steps
# of 128, and its learning rate shrinks as 1/width (see vlm_rewards.family).
# Usage: scripts/train_family.sh [WORK_DIR]
# WORK_DIR/corpus is the corpus (shared by all sizes), WORK_DIR/family/<size> the models and
# WORK_DIR/family/family.json the plan and losses. Re-running resumes: a killed size continues
# from its last checkpoint (every 100 steps), finished sizes are skipped.
# DEVICE=cuda trains on a GPU (not byte-identical to CPU); THREADS sets CPU threads (default 2).
set -euo pipefail
WORK="${1:-/tmp/vlm_rewards_family}"
BIN="${BIN:-.venv/bin}"
if [ ! -f "$WORK/corpus/manifest.json" ]; then
    "$BIN/vlm-rewards" corpus "$WORK/corpus" --domains phone,babyai,house --frames-per-domain phone=24576,babyai=24576,house=49152 \
        --seed 0 --image-size 64 --workers 2  # the domains side by side: the same bytes as one process
fi
"$BIN/vlm-rewards" family "$WORK/corpus" "$WORK/family" --sizes xxs,xs,s,ms --base s --base-steps 2000 \
    --batch-size 128 --base-lr 1e-3 --exponent 0.5 --seed 0 --checkpoint-every 100 --threads "${THREADS:-2}" \
    ${DEVICE:+--device "$DEVICE"}
echo "trained family: $WORK/family"
