#!/usr/bin/env bash
# Reproduce the shipped built-in model (src/vlm_rewards/assets/models/default) on CPU.
# Usage: scripts/train_default_model.sh [WORK_DIR]   (WORK_DIR keeps the corpus and checkpoints;
# re-running resumes an interrupted training run). Takes ~25 minutes on 2 AMX CPU cores.
set -euo pipefail
WORK="${1:-/tmp/vlm_rewards_default}"
PY="${PYTHON:-python}"
"$PY" - "$WORK" <<'PYEOF'
import sys
from pathlib import Path

from vlm_rewards.data import collect_corpus, read_manifest
from vlm_rewards.pretrain import pretrain

work = Path(sys.argv[1])
corpus = work / "corpus"
try:
    read_manifest(corpus)
except ValueError:
    collect_corpus(corpus, domains=("phone", "babyai"), frames_per_domain=8192, seed=0, image_size=64, progress=True)
pretrain(corpus, work / "model", size="s", steps=1200, batch_size=128, seed=0, lr=1e-3,
         checkpoint_every=100, threads=2, progress=True, resume=True)
PYEOF
echo "trained model: $WORK/model (copy its files into src/vlm_rewards/assets/models/default)"
