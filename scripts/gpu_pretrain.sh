#!/usr/bin/env bash
# Pre-training runs side by side on one GPU machine: builds the default model's corpus there
# (the same recipe as scripts/train_default_model.sh, with one random stream per shard so that
# all CPU cores render it; House needs OpenGL through EGL), then trains every run of $RUNS
# at once on the GPU (small models leave most of an H200 idle, so several share it), and packs
# the trained models into $OUT/models.tar.* (pieces of 15 MiB; join with cat).
#
# A run is name:size:seed:batch:steps:lr, all with the convolutional stem. Default: the
# default model's recipe at seeds 0-2, the same with twice the batch and steps, and ms and m
# with the family's compute-matched schedules (steps ∝ √parameters, lr ∝ 1/width).
#
#   bash scripts/gpu/prepare.sh                      # here, once: packages and GL libraries to carry
#   source scripts/gpu/setup.sh; OUT=$OUT bash scripts/gpu_pretrain.sh   # there, carrying .whl and .gl
#   DEVICE=cpu QUICK=1 bash scripts/gpu_pretrain.sh  # a CPU dry run with a tiny corpus and tiny runs
# On one H200 the corpus took 72 s on 16 cores and four of the six default runs finished in the
# 530 s deadline (docs/results/gpu_pretrain_h200).
set -uo pipefail
OUT="${OUT:-/tmp/gpu_pretrain}"
WORK="${WORK:-$(mktemp -d)}"
DEVICE="${DEVICE:-cuda}"
PY="${PY:-python3}"
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 PYGLET_HEADLESS=True
LOGS="$WORK/logs"  # logs travel in the tar: the machine returns at most 8 files
mkdir -p "$OUT" "$LOGS"
if [ "${QUICK:-0}" = 1 ]; then
    FRAMES="phone=64,babyai=64,house=64" SHARD=32
    RUNS="${RUNS:-a:xxs:0:16:4:1e-3 b:xxs:1:16:4:1e-3}"
else
    FRAMES="phone=24576,babyai=24576,house=49152" SHARD=2048
    RUNS="${RUNS:-s0:s:0:128:4000:1e-3 s1:s:1:128:4000:1e-3 s2:s:2:128:4000:1e-3 s0b256:s:0:256:8000:1e-3 ms0:ms:0:128:6256:6.67e-4 m0:m:0:128:9182:5e-4}"
fi
t0=$(date +%s)
stamp() { echo "[$(( $(date +%s) - t0 )) s] $*" | tee -a "$OUT/timeline.txt"; }

# OpenGL first: without it there is no House corpus, and nothing else is worth the machine's time.
$PY - <<'EOF' 2>&1 | tee "$LOGS/gl.txt" || { stamp "no OpenGL: stopped"; exit 3; }
from vlm_rewards.envs import house
env = house.HouseEnv(render_mode="rgb_array", render_size=64)
env.reset(seed=0)
import pyglet.gl as gl
print("renderer:", gl.gl_info.get_renderer(), "| frame:", env.render().shape)
EOF
stamp "OpenGL ok"

OMP_NUM_THREADS=1 timeout "${CORPUS_TIMEOUT:-300}" $PY -m vlm_rewards.cli corpus "$WORK/corpus" --domains phone,babyai,house \
    --frames-per-domain "$FRAMES" --seed 0 --streams shard --workers "${CORPUS_WORKERS:-$(nproc)}" > "$LOGS/corpus.txt" 2>&1
[ -f "$WORK/corpus/manifest.json" ] || { tail -5 "$LOGS/corpus.txt"; stamp "corpus failed"; exit 4; }
stamp "corpus: $(du -sh "$WORK/corpus" | cut -f1)"

# Runs that outlast the deadline (seconds from the start; it leaves time to pack) are cut off.
train_timeout=$(( ${DEADLINE:-540} - ($(date +%s) - t0) - 30 ))
[ "$train_timeout" -gt 30 ] || { stamp "no time left to train"; exit 5; }
names=()
for run in $RUNS; do
    IFS=: read -r name size seed batch steps lr <<< "$run"
    names+=("$name")
    OMP_NUM_THREADS=2 timeout "$train_timeout" $PY -m vlm_rewards.cli pretrain "$WORK/corpus" "$WORK/$name" --size "$size" \
        --seed "$seed" --batch-size "$batch" --steps "$steps" --lr "$lr" --stem conv --device "$DEVICE" \
        --checkpoint-every "${CHECKPOINT_EVERY:-500}" --threads 2 > "$LOGS/$name.log" 2>&1 &
done
wait
for name in "${names[@]}"; do
    if [ -f "$WORK/$name/model.safetensors" ]; then stamp "$name: trained"; else stamp "$name: not finished"; fi
done

# Weights travel as bf16 where fp32 would not fit the machine's return limits (16 MiB a file).
$PY - "$WORK" "${names[@]}" <<'EOF'
import sys, pathlib, torch
from safetensors.torch import load_file, save_file
for name in sys.argv[2:]:
    path = pathlib.Path(sys.argv[1]) / name / "model.safetensors"
    if path.is_file() and path.stat().st_size > 20e6:
        save_file({k: v.to(torch.bfloat16) for k, v in load_file(path).items()}, path, metadata={"format": "pt"})
        print(f"{name}: weights stored as bf16")
EOF
cp "$WORK/corpus/manifest.json" "$LOGS/corpus_manifest.json"
tar -C "$WORK" --exclude checkpoint.pt -cf - logs "${names[@]}" | split -b 15m - "$OUT/models.tar."
stamp "packed: $(ls "$OUT" | tr '\n' ' ')"
