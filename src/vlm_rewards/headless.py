"""Environment settings that let the simulators render without a display.

MiniWorld draws with pyglet/OpenGL; with ``PYGLET_HEADLESS=True`` pyglet uses an EGL
context (Mesa's software rasteriser on CPU machines) instead of an X window. The variable
must be set before pyglet is first imported, so every module that may import pyglet calls
:func:`configure_headless` first.
"""

from __future__ import annotations

import os


def configure_headless() -> None:
    """Set rendering variables the user has not set (never overrides an explicit choice)."""
    if not os.environ.get("DISPLAY"):
        os.environ.setdefault("PYGLET_HEADLESS", "True")
    # SDL (pygame, used by some MiniGrid/Android helpers) must not look for a window either.
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
