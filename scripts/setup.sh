#!/usr/bin/env bash
# Create .venv and install vlm-rewards with everything its tests need.
#
# CPU machines (default): torch 2.13.0 CPU first, then the rest under a constraints file
# that pins it, so no CUDA wheel is ever pulled in.
# GPU machines: TORCH_SPEC=gpu bash scripts/setup.sh installs the registry's CUDA build of
# torch and then the package without the CPU pin.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}
TORCH_SPEC=${TORCH_SPEC:-torch==2.13.0}

# MiniWorld (the House domain) renders headless through EGL with Mesa's software
# rasteriser; these are the system libraries it loads.
need_debs=()
for lib in libEGL.so.1 libGL.so.1 libGLU.so.1 libOpenGL.so.0; do
    ldconfig -p | grep -q "$lib" || need_debs+=("$lib")
done
if [ ${#need_debs[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "installing Mesa EGL/GL libraries for headless rendering (${need_debs[*]} missing)"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libegl1 libegl-mesa0 libgl1 libgl1-mesa-dri libglu1-mesa libopengl0 >/dev/null
    else
        echo "warning: ${need_debs[*]} missing; install libegl1 libegl-mesa0 libgl1 libgl1-mesa-dri libglu1-mesa libopengl0 for the House domain" >&2
    fi
fi

[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
PIP=("$VENV/bin/python" -m pip install -q --disable-pip-version-check)
"${PIP[@]}" --upgrade pip
if [ "$TORCH_SPEC" = gpu ]; then
    "${PIP[@]}" torch
    "${PIP[@]}" -e ".[dev]"
else
    "${PIP[@]}" "$TORCH_SPEC"
    "${PIP[@]}" -c constraints-cpu.txt -e ".[dev]"
fi
# android-env (AndroidEnv adapter, tested against its fake simulator) declares pygame,
# which would overwrite minigrid's pygame-ce; it never imports it, so skip its deps.
"${PIP[@]}" -c constraints-cpu.txt absl-py dm-env dm-tree "grpcio>=1.60" portpicker "protobuf>=5,<7" immutabledict
"${PIP[@]}" -c constraints-cpu.txt --no-deps android-env
"$VENV/bin/python" - <<'PY'
import torch
cuda = [d for d in __import__("importlib.metadata").metadata.distributions() if d.metadata["Name"].startswith("nvidia-")]
print(f"vlm-rewards installed: torch {torch.__version__}, CUDA available: {torch.cuda.is_available()}, nvidia wheels: {len(cuda)}")
PY
