#!/usr/bin/env bash
# Here, once, before a GPU machine's run (it has CUDA torch but no simulators, and no network):
# fills .whl/ with the Python packages and .gl/ with the OpenGL/font libraries to carry, both
# ignored by git. Then on the GPU machine, carrying .whl and .gl:
#   source scripts/gpu/setup.sh; OUT=$OUT bash scripts/gpu_pretrain.sh
# PY_VERSION is the GPU machine's Python (3.12 on the H200 machines of 2026-12).
set -euo pipefail
PY_VERSION="${PY_VERSION:-3.12}"
BIN="${BIN:-.venv/bin}"
for d in .whl .gl; do grep -qx "/$d/" .git/info/exclude 2>/dev/null || echo "/$d/" >> .git/info/exclude; done
mkdir -p .whl .gl/extra
tmp="$(mktemp -d)"
"$BIN/pip" download -q --no-deps --only-binary=:all: --python-version "$PY_VERSION" -d "$tmp" \
    gymnasium==1.4.0 farama-notifications==0.0.6 typer==0.29.2 pydantic==2.14.4 pydantic-core==2.50.5 \
    annotated-types==0.8.0 annotated-doc==0.0.7 typing-inspection==0.4.5 \
    miniworld==2.1.0 pyglet==1.5.31 minigrid==3.2.0 pygame-ce==2.5.8
for w in "$tmp"/*.whl; do
    case "$(basename "$w")" in
        miniworld-*) "$BIN/python" scripts/gpu/strip_miniworld.py "$w" ".whl/$(basename "$w")" ;;
        *) cp "$w" .whl/ ;;
    esac
done
# GL loaders (unpacked into / there, as the machine's notes advise) and, apart, the font
# libraries pyglet loads (unpacked into /tmp/glx there, used only where the machine lacks them).
o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64'
mkdir -p /tmp/amd64/partial
apt-get $o update -qq
(cd .gl && apt-get $o download -qq libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2 libglu1-mesa)
(cd .gl/extra && apt-get $o download -qq libfreetype6 libfontconfig1 libpng16-16 libbrotli1 libexpat1 fontconfig-config fonts-dejavu-core)
du -sh .whl .gl
