#!/usr/bin/env bash
# The project's prepared GPU check: one command, at most 8 minutes on one H100/H200 GPU (each part
# has its own time limit; together 480 s).
# It writes to $OUT (default /tmp/gpu_check), one small text file per part:
#   gpu.txt      the GPU and its driver
#   pretrain.txt family pre-training throughput, pairs/s per size in fp32 and bf16 (batch 256)
#   scorer.txt   scorer frames/s for ViT-B/32- and ViT-L/14-shaped CLIPs (224 px, random
#                weights) as a fraction of the measured bf16 matrix-product roof
#   family.json  the family (xxs, xs, s, ms) trained there with its compute-matched schedules
#   scaling.md   held-out AP of each trained size on the carried evaluation set
# Skip the family with TRAIN_FAMILY=0. Nothing is fetched: the GPU machine needs PyTorch,
# transformers, tokenizers, safetensors, gymnasium, typer (recent typer imports pydantic), rich,
# scikit-learn and matplotlib, and no simulator: corpus and evaluation set are built here first
# and carried (the first H200 run carried gymnasium, typer and pydantic as wheels; see
# docs/results/gpu_check_h200):
#   scripts/gpu_check.sh --prepare     # here, once: writes .gpu/corpus and .gpu/eval (~35 MB)
#   then on the GPU machine, carrying .gpu:  OUT=$OUT bash scripts/gpu_check.sh
# A CPU dry run of the whole script (tiny sizes, seconds per part): DEVICE=cpu QUICK=1 bash scripts/gpu_check.sh
set -euo pipefail
GPU_DIR="${GPU_DIR:-.gpu}"
OUT="${OUT:-/tmp/gpu_check}"
DEVICE="${DEVICE:-cuda}"
PY="${PY:-python3}"
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1

if [ "${1:-}" = "--prepare" ]; then
    BIN="${BIN:-.venv/bin}"
    grep -qx '/.gpu/' .git/info/exclude 2>/dev/null || echo '/.gpu/' >> .git/info/exclude
    "$BIN/vlm-rewards" corpus "$GPU_DIR/corpus" --domains phone,babyai,house --frames-per-domain 3072 --seed 0
    "$BIN/vlm-rewards" collect "$GPU_DIR/eval" --sections house:find,house:lift,phone:diverse,babyai --frames 768 \
        --heldout-frames 384 --seed 2029
    du -sh "$GPU_DIR"
    exit 0
fi

[ -f "$GPU_DIR/corpus/manifest.json" ] || { echo "no $GPU_DIR/corpus: run 'scripts/gpu_check.sh --prepare' first" >&2; exit 2; }
mkdir -p "$OUT"
# A part that fails or runs out of its time limit is reported and the next one still runs.
set +e
if [ "${QUICK:-0}" = 1 ]; then
    SIZES=xxs,xs BENCH_STEPS=3 BATCH=32 FRAMES=64 BASE_STEPS=6 ARCH=none
else
    SIZES=xxs,xs,s,ms,m,l BENCH_STEPS=30 BATCH=256 FRAMES=2048 BASE_STEPS=2000 ARCH=b32,l14
fi

{ command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv; \
  $PY -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"; } | tee "$OUT/gpu.txt"

timeout 120 $PY benchmarks/bench_pretrain.py --device "$DEVICE" --sizes "$SIZES" --batch-size "$BATCH" \
    --steps "$BENCH_STEPS" --threads 4 --corpus "$GPU_DIR/corpus" | tee "$OUT/pretrain.txt"

if [ "$ARCH" != none ]; then
    timeout 120 $PY benchmarks/bench_scorer.py --device "$DEVICE" --arch "$ARCH" --batch 256 --threads 0 --no-default \
        --frames "$FRAMES" --rounds 2 --stream-domains phone | tee "$OUT/scorer.txt"
fi

if [ "${TRAIN_FAMILY:-1}" = 1 ]; then
    WORK="$(mktemp -d)"
    timeout 180 $PY -m vlm_rewards.cli family "$GPU_DIR/corpus" "$WORK/family" --sizes "${SIZES%,m,l}" --base s \
        --base-steps "$BASE_STEPS" --batch-size 128 --seed 0 --checkpoint-every 500 --device "$DEVICE" | tee "$OUT/family.txt"
    cp "$WORK/family/family.json" "$OUT/family.json" || echo "family: no family.json (see family.txt)"
    if [ -f "$GPU_DIR/eval/manifest.json" ] && [ -f "$OUT/family.json" ]; then
        models=()
        for size in $(echo "${SIZES%,m,l}" | tr , ' '); do models+=(--model "$WORK/family/$size"); done
        timeout 60 $PY -m vlm_rewards.cli scaling "${models[@]}" --dataset "$GPU_DIR/eval" --out "$WORK/scaling" \
            | tee "$OUT/scaling.txt"
        cp "$WORK/scaling/scaling.md" "$OUT/scaling.md" || echo "scaling: no scaling.md (see scaling.txt)"
    fi
fi
echo "gpu check written to $OUT"
