"""Repack a MiniWorld wheel with only the textures and meshes the House uses (39 MB -> 13 MB),
so that it fits a GPU machine's 64 MiB carry limit beside the project.

    python scripts/gpu/strip_miniworld.py miniworld-2.1.0-py3-none-any.whl OUT.whl
"""

import re
import sys
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))
from vlm_rewards.envs.house.layout import CEILING_TEXTURES, FLOOR_TEXTURES, WALL_TEXTURES  # noqa: E402
from vlm_rewards.envs.house.vocabulary import OBJECTS  # noqa: E402


def main(src_path: str, dst_path: str) -> None:
    textures = set(WALL_TEXTURES) | set(FLOOR_TEXTURES) | set(CEILING_TEXTURES)
    meshes = {spec.shape for spec in OBJECTS.values() if spec.shape != "box"}
    with zipfile.ZipFile(src_path) as src, zipfile.ZipFile(dst_path, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            name = info.filename
            base = name.rsplit("/", 1)[-1]
            if name.startswith("miniworld/textures/") and re.sub(r"(_\d+)?\.png$", "", base) not in textures:
                continue
            stem = base.rsplit(".", 1)[0]
            if name.startswith("miniworld/meshes/") and not any(stem == m or stem.startswith(m + "_") for m in meshes):
                continue
            dst.writestr(info, src.read(name))


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(*sys.argv[1:])
