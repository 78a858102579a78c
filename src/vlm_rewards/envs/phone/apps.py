"""App catalogue and Pillow drawing for the simulated phone (:mod:`vlm_rewards.envs.phone`).

Everything here is pure drawing on a native portrait screen of ``SCREEN_W x SCREEN_H``
pixels; the env composes, caches and resizes these pictures. Fonts come from Pillow's
bundled default font (``ImageFont.load_default(size=...)``), so no system font is needed.

App names are generic (no trademarks). ``COMMON_APPS`` are the 10 apps of the paper's
"common" app set; ``DIVERSE_APPS`` adds 50 more for the 60-app "diverse" set.

Example:
    >>> icon = app_icon("calculator")
    >>> icon.size == (ICON_SIZE, ICON_SIZE)
    True
    >>> app_screen_body("clock").size == (SCREEN_W, SCREEN_H)
    True
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass
from functools import cache

import numpy as np
from PIL import Image, ImageDraw, ImageFont

# --- Screen geometry (native pixels; the touch grid of the env is derived from it) -------
SCREEN_W, SCREEN_H = 216, 384
STATUS_H = 16
GRID_COLS, GRID_ROWS = 4, 5
GRID_TOP = 24
CELL_W, CELL_H = SCREEN_W // GRID_COLS, 56
GRID_BOTTOM = GRID_TOP + GRID_ROWS * CELL_H
DOTS_Y = GRID_BOTTOM + 7
DOCK_TOP, DOCK_H = GRID_BOTTOM + 14, 46
NAV_TOP = DOCK_TOP + DOCK_H + 2
NAV_H = SCREEN_H - NAV_TOP
TITLE_H = 36
ICON_SIZE = 34
ICON_TOP = 4  # icon offset inside a grid cell; its label sits below it
SLOTS_PER_PAGE = GRID_COLS * GRID_ROWS
DOCK_SLOTS = GRID_COLS

Color = tuple[int, int, int]


@dataclass(frozen=True)
class AppSpec:
    """One app: display name, theme colour, icon glyph, screen layout and glyph colour."""

    name: str
    color: str
    glyph: str
    screen: str
    fg: str = "#FFFFFF"

    @property
    def key(self) -> str:
        """The app's name as used in goals ("open the {key} app")."""
        return self.name.lower()


_CATALOGUE: tuple[AppSpec, ...] = (
    # The 10 common apps.
    AppSpec("Camera", "#37474F", "lens", "viewfinder"),
    AppSpec("Clock", "#1A237E", "clock", "dial"),
    AppSpec("Calculator", "#FF6F00", "calc", "keypad"),
    AppSpec("Calendar", "#1E88E5", "calendar", "calendar"),
    AppSpec("Contacts", "#00897B", "person", "list"),
    AppSpec("Messages", "#43A047", "bubble", "chat"),
    AppSpec("Phone", "#00ACC1", "dots9", "dialer"),
    AppSpec("Gallery", "#D81B60", "mountain", "grid"),
    AppSpec("Settings", "#546E7A", "gear", "toggles"),
    AppSpec("Maps", "#7CB342", "pin", "map"),
    # 50 more for the diverse set.
    AppSpec("Weather", "#29B6F6", "sun", "weather", "#FFEB3B"),
    AppSpec("Notes", "#FDD835", "lines", "reader", "#5D4037"),
    AppSpec("Compass", "#6D4C41", "compass", "dial"),
    AppSpec("Flashlight", "#212121", "bolt", "button", "#FFD600"),
    AppSpec("Recorder", "#ECEFF1", "dot", "button", "#D32F2F"),
    AppSpec("Music", "#8E24AA", "note", "player"),
    AppSpec("Podcasts", "#6A1B9A", "waves", "player"),
    AppSpec("Radio", "#EF6C00", "bars", "player"),
    AppSpec("Videos", "#E53935", "play", "grid"),
    AppSpec("Files", "#1565C0", "folder", "list"),
    AppSpec("Email", "#E64A19", "envelope", "list"),
    AppSpec("Browser", "#0277BD", "globe", "browser"),
    AppSpec("Store", "#00C853", "bag", "grid"),
    AppSpec("Wallet", "#263238", "card", "wallet"),
    AppSpec("Fitness", "#FF1744", "heart", "chart"),
    AppSpec("News", "#455A64", "letter:N", "reader"),
    AppSpec("Books", "#8D6E63", "book", "reader"),
    AppSpec("Translate", "#3949AB", "letter:Aa", "chat"),
    AppSpec("Dictionary", "#5D4037", "letter:D", "list"),
    AppSpec("Timer", "#00838F", "hourglass", "dial"),
    AppSpec("Stopwatch", "#004D40", "stopwatch", "dial"),
    AppSpec("Tasks", "#3F51B5", "check", "list"),
    AppSpec("Scanner", "#607D8B", "frame", "viewfinder"),
    AppSpec("Magnifier", "#78909C", "search", "viewfinder"),
    AppSpec("Chess", "#4E342E", "board", "board"),
    AppSpec("Sudoku", "#0D47A1", "grid3", "sudoku"),
    AppSpec("Solitaire", "#1B5E20", "cards", "cards"),
    AppSpec("Recipes", "#F4511E", "bowl", "list"),
    AppSpec("Shopping", "#FFB300", "tag", "grid"),
    AppSpec("Bank", "#2E7D32", "bank", "wallet"),
    AppSpec("Stocks", "#00695C", "chart", "chart"),
    AppSpec("Flights", "#0288D1", "plane", "list"),
    AppSpec("Taxi", "#FFD600", "car", "map", "#212121"),
    AppSpec("Paint", "#AB47BC", "palette", "canvas"),
    AppSpec("Piano", "#111111", "keys", "piano"),
    AppSpec("Tuner", "#4E342E", "wave", "gauge"),
    AppSpec("Metronome", "#795548", "triangle", "gauge"),
    AppSpec("Level", "#9E9D24", "level", "gauge"),
    AppSpec("Ruler", "#F9A825", "ruler", "gauge", "#3E2723"),
    AppSpec("Converter", "#5E35B1", "arrows", "keypad"),
    AppSpec("Stars", "#0D1B2A", "star", "sky", "#FFF59D"),
    AppSpec("Garden", "#558B2F", "leaf", "grid"),
    AppSpec("Journal", "#A1887F", "letter:J", "reader"),
    AppSpec("Meditation", "#26A69A", "ripple", "dial"),
    AppSpec("Sleep", "#283593", "moon", "chart", "#FFF59D"),
    AppSpec("Puzzle", "#F06292", "puzzle", "board"),
    AppSpec("Backup", "#42A5F5", "cloud", "list"),
    AppSpec("Dice", "#EC407A", "die", "board"),
    AppSpec("Trains", "#37474F", "train", "map"),
    AppSpec("Movies", "#B71C1C", "film", "grid"),
)

APPS: dict[str, AppSpec] = {app.key: app for app in _CATALOGUE}
COMMON_APPS: tuple[str, ...] = tuple(app.key for app in _CATALOGUE[:10])
DIVERSE_APPS: tuple[str, ...] = tuple(app.key for app in _CATALOGUE)
#: Fixed held-out apps; the common ones are held out of the diverse set too, so no
#: held-out common goal is ever a training goal of either set.
HELDOUT_COMMON: tuple[str, ...] = ("calendar", "gallery", "maps")
HELDOUT_DIVERSE: tuple[str, ...] = HELDOUT_COMMON + (
    "weather",
    "compass",
    "recorder",
    "podcasts",
    "browser",
    "books",
    "timer",
    "chess",
    "stocks",
    "taxi",
    "piano",
    "garden",
)


# --- Small helpers -----------------------------------------------------------------------


@cache
def font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """Pillow's bundled font at ``size`` px (no system fonts needed)."""
    return ImageFont.load_default(size=size)


def rgb(color: str | Color) -> Color:
    if isinstance(color, tuple):
        return color
    return tuple(int(color[i : i + 2], 16) for i in (1, 3, 5))  # type: ignore[return-value]


def mix(a: str | Color, b: str | Color, t: float) -> Color:
    """Blend ``a`` towards ``b`` by ``t`` in [0, 1]."""
    a, b = rgb(a), rgb(b)
    return tuple(int(round(x + (y - x) * t)) for x, y in zip(a, b, strict=True))  # type: ignore[return-value]


def _luma(color: str | Color) -> float:
    r, g, b = rgb(color)
    return 0.299 * r + 0.587 * g + 0.114 * b


def text_on(color: str | Color) -> Color:
    """Black or white, whichever reads better on ``color``."""
    return (20, 20, 20) if _luma(color) > 160 else (255, 255, 255)


def _app_rng(key: str) -> np.random.Generator:
    # crc32, unlike hash(), is stable across processes, so app screens never change.
    return np.random.default_rng(zlib.crc32(key.encode()))


def _text_center(draw: ImageDraw.ImageDraw, xy: tuple[float, float], text: str, size: int, fill) -> None:
    draw.text(xy, text, font=font(size), fill=fill, anchor="mm")


def fit_label(text: str, size: int, width: int) -> str:
    """``text`` shortened with an ellipsis so it fits ``width`` px at ``size``."""
    if font(size).getlength(text) <= width:
        return text
    while len(text) > 1 and font(size).getlength(text + "…") > width:
        text = text[:-1]
    return text + "…"


# --- Icons ---------------------------------------------------------------------------------

_ICON_SCALE = 4  # glyphs are drawn large and downsampled, which anti-aliases them


def _draw_glyph(d: ImageDraw.ImageDraw, glyph: str, s: int, fg: Color, bg: Color) -> None:
    """Draw ``glyph`` inside the icon square of side ``s`` (margins included)."""
    m = s * 0.22
    span = s - 2 * m

    def p(x: float, y: float) -> tuple[float, float]:
        return (m + x * span, m + y * span)

    def box(x0: float, y0: float, x1: float, y1: float) -> list[float]:
        return [*p(x0, y0), *p(x1, y1)]

    w = max(2, int(s * 0.06))
    if glyph.startswith("letter:"):
        text = glyph.split(":", 1)[1]
        _text_center(d, p(0.5, 0.5), text, int(span * (0.95 if len(text) == 1 else 0.7)), fg)
    elif glyph == "lens":
        d.rounded_rectangle(box(0, 0.18, 1, 0.92), radius=s * 0.08, fill=fg)
        d.rectangle(box(0.3, 0.06, 0.6, 0.2), fill=fg)
        d.ellipse(box(0.26, 0.3, 0.74, 0.8), fill=bg)
        d.ellipse(box(0.38, 0.42, 0.62, 0.68), fill=fg)
    elif glyph in ("clock", "stopwatch"):
        if glyph == "stopwatch":
            d.rectangle(box(0.42, -0.08, 0.58, 0.08), fill=fg)
        d.ellipse(box(0, 0.04, 1, 1.04), outline=fg, width=w)
        d.line([p(0.5, 0.54), p(0.5, 0.22)], fill=fg, width=w)
        d.line([p(0.5, 0.54), p(0.74, 0.66)], fill=fg, width=w)
    elif glyph == "calc":
        d.line([p(0.1, 0.25), p(0.4, 0.25)], fill=fg, width=w)
        d.line([p(0.25, 0.1), p(0.25, 0.4)], fill=fg, width=w)
        d.line([p(0.6, 0.25), p(0.9, 0.25)], fill=fg, width=w)
        d.line([p(0.12, 0.62), p(0.38, 0.88)], fill=fg, width=w)
        d.line([p(0.12, 0.88), p(0.38, 0.62)], fill=fg, width=w)
        d.line([p(0.6, 0.68), p(0.9, 0.68)], fill=fg, width=w)
        d.line([p(0.6, 0.82), p(0.9, 0.82)], fill=fg, width=w)
    elif glyph == "calendar":
        d.rounded_rectangle(box(0, 0.08, 1, 1), radius=s * 0.05, outline=fg, width=w)
        d.rectangle(box(0, 0.08, 1, 0.3), fill=fg)
        _text_center(d, p(0.5, 0.66), "31", int(span * 0.5), fg)
    elif glyph == "person":
        d.ellipse(box(0.3, 0.0, 0.7, 0.4), fill=fg)
        d.chord(box(0.05, 0.5, 0.95, 1.4), 180, 360, fill=fg)
    elif glyph == "bubble":
        d.rounded_rectangle(box(0, 0.05, 1, 0.75), radius=s * 0.1, fill=fg)
        d.polygon([p(0.15, 0.7), p(0.4, 0.7), p(0.1, 0.98)], fill=fg)
    elif glyph == "dots9":
        for i in range(3):
            for j in range(3):
                cx, cy = 0.15 + 0.35 * i, 0.15 + 0.35 * j
                d.ellipse(box(cx - 0.11, cy - 0.11, cx + 0.11, cy + 0.11), fill=fg)
    elif glyph == "mountain":
        d.ellipse(box(0.62, 0.05, 0.88, 0.31), fill=fg)
        d.polygon([p(0, 0.95), p(0.35, 0.35), p(0.7, 0.95)], fill=fg)
        d.polygon([p(0.4, 0.95), p(0.68, 0.5), p(1, 0.95)], fill=mix(fg, bg, 0.35))
    elif glyph == "gear":
        c = p(0.5, 0.5)
        for k in range(8):
            a = k * math.pi / 4
            dx, dy = math.cos(a), math.sin(a)
            d.line([c, (c[0] + dx * span * 0.52, c[1] + dy * span * 0.52)], fill=fg, width=int(span * 0.2))
        d.ellipse(box(0.12, 0.12, 0.88, 0.88), fill=fg)
        d.ellipse(box(0.34, 0.34, 0.66, 0.66), fill=bg)
    elif glyph == "pin":
        d.ellipse(box(0.15, 0, 0.85, 0.7), fill=fg)
        d.polygon([p(0.2, 0.5), p(0.8, 0.5), p(0.5, 1.02)], fill=fg)
        d.ellipse(box(0.37, 0.22, 0.63, 0.48), fill=bg)
    elif glyph == "sun":
        c = p(0.5, 0.5)
        for k in range(8):
            a = k * math.pi / 4
            d.line(
                [
                    (c[0] + math.cos(a) * span * 0.3, c[1] + math.sin(a) * span * 0.3),
                    (c[0] + math.cos(a) * span * 0.5, c[1] + math.sin(a) * span * 0.5),
                ],
                fill=fg,
                width=w,
            )
        d.ellipse(box(0.27, 0.27, 0.73, 0.73), fill=fg)
    elif glyph == "lines":
        for k in range(4):
            y = 0.12 + k * 0.25
            d.line([p(0, y), p(1 if k < 3 else 0.6, y)], fill=fg, width=w)
    elif glyph == "compass":
        d.ellipse(box(0, 0, 1, 1), outline=fg, width=w)
        d.polygon([p(0.5, 0.1), p(0.62, 0.5), p(0.38, 0.5)], fill=(229, 57, 53))
        d.polygon([p(0.5, 0.9), p(0.62, 0.5), p(0.38, 0.5)], fill=fg)
    elif glyph == "bolt":
        d.polygon([p(0.6, 0), p(0.15, 0.58), p(0.47, 0.58), p(0.35, 1), p(0.85, 0.4), p(0.52, 0.4)], fill=fg)
    elif glyph == "dot":
        d.ellipse(box(0, 0, 1, 1), outline=fg, width=w)
        d.ellipse(box(0.22, 0.22, 0.78, 0.78), fill=fg)
    elif glyph == "note":
        d.ellipse(box(0.05, 0.68, 0.45, 1.0), fill=fg)
        d.line([p(0.42, 0.84), p(0.42, 0.05)], fill=fg, width=w)
        d.polygon([p(0.42, 0.0), p(0.9, 0.15), p(0.9, 0.35), p(0.42, 0.22)], fill=fg)
    elif glyph in ("waves", "ripple"):
        rings = (0.15, 0.32, 0.5) if glyph == "waves" else (0.12, 0.28, 0.45)
        d.ellipse(box(0.4, 0.4, 0.6, 0.6), fill=fg)
        for r in rings[1:]:
            if glyph == "waves":
                d.arc(box(0.5 - r, 0.5 - r, 0.5 + r, 0.5 + r), 200, 340, fill=fg, width=w)
            else:
                d.ellipse(box(0.5 - r, 0.5 - r, 0.5 + r, 0.5 + r), outline=fg, width=w)
        if glyph == "waves":
            d.line([p(0.5, 0.6), p(0.5, 1.0)], fill=fg, width=w)
    elif glyph == "bars":
        for k, h in enumerate((0.5, 0.9, 0.3, 0.7)):
            d.rectangle(box(0.04 + k * 0.25, 1 - h, 0.2 + k * 0.25, 1), fill=fg)
    elif glyph == "play":
        d.polygon([p(0.15, 0), p(0.95, 0.5), p(0.15, 1)], fill=fg)
    elif glyph == "folder":
        d.polygon([p(0, 0.15), p(0.4, 0.15), p(0.5, 0.28), p(1, 0.28), p(1, 0.9), p(0, 0.9)], fill=fg)
    elif glyph == "envelope":
        d.rectangle(box(0, 0.15, 1, 0.85), outline=fg, width=w)
        d.line([p(0, 0.15), p(0.5, 0.55), p(1, 0.15)], fill=fg, width=w)
    elif glyph == "globe":
        d.ellipse(box(0, 0, 1, 1), outline=fg, width=w)
        d.ellipse(box(0.28, 0, 0.72, 1), outline=fg, width=w)
        d.line([p(0, 0.5), p(1, 0.5)], fill=fg, width=w)
    elif glyph == "bag":
        d.arc(box(0.28, 0, 0.72, 0.5), 180, 360, fill=fg, width=w)
        d.rectangle(box(0.05, 0.3, 0.95, 1), fill=fg)
    elif glyph == "card":
        d.rounded_rectangle(box(0, 0.12, 1, 0.88), radius=s * 0.06, fill=fg)
        d.rectangle(box(0, 0.3, 1, 0.45), fill=bg)
        d.rectangle(box(0.1, 0.62, 0.4, 0.74), fill=bg)
    elif glyph == "heart":
        d.ellipse(box(0, 0.05, 0.55, 0.6), fill=fg)
        d.ellipse(box(0.45, 0.05, 1, 0.6), fill=fg)
        d.polygon([p(0.03, 0.42), p(0.97, 0.42), p(0.5, 0.98)], fill=fg)
    elif glyph == "book":
        d.polygon([p(0, 0.1), p(0.48, 0.2), p(0.48, 1), p(0, 0.9)], fill=fg)
        d.polygon([p(1, 0.1), p(0.52, 0.2), p(0.52, 1), p(1, 0.9)], fill=fg)
    elif glyph == "hourglass":
        d.polygon([p(0.1, 0), p(0.9, 0), p(0.5, 0.5)], fill=fg)
        d.polygon([p(0.1, 1), p(0.9, 1), p(0.5, 0.5)], outline=fg, width=w)
    elif glyph == "check":
        d.line([p(0.05, 0.55), p(0.38, 0.85), p(0.95, 0.15)], fill=fg, width=int(w * 1.8), joint="curve")
    elif glyph == "frame":
        for (x, y), (dx, dy) in zip(
            ((0, 0), (1, 0), (0, 1), (1, 1)), ((1, 1), (-1, 1), (1, -1), (-1, -1)), strict=True
        ):
            d.line([p(x, y + dy * 0.3), p(x, y), p(x + dx * 0.3, y)], fill=fg, width=w)
        d.line([p(0.15, 0.5), p(0.85, 0.5)], fill=fg, width=w)
    elif glyph == "search":
        d.ellipse(box(0, 0, 0.68, 0.68), outline=fg, width=w)
        d.line([p(0.6, 0.6), p(1, 1)], fill=fg, width=int(w * 1.6))
    elif glyph == "board":
        for i in range(4):
            for j in range(4):
                if (i + j) % 2 == 0:
                    d.rectangle(box(i / 4, j / 4, (i + 1) / 4, (j + 1) / 4), fill=fg)
        d.rectangle(box(0, 0, 1, 1), outline=fg, width=max(1, w // 2))
    elif glyph == "grid3":
        d.rectangle(box(0, 0, 1, 1), outline=fg, width=w)
        for k in (1, 2):
            d.line([p(k / 3, 0), p(k / 3, 1)], fill=fg, width=max(1, w // 2))
            d.line([p(0, k / 3), p(1, k / 3)], fill=fg, width=max(1, w // 2))
    elif glyph == "cards":
        d.rounded_rectangle(box(0.3, 0, 1, 0.85), radius=s * 0.04, fill=mix(fg, bg, 0.3))
        d.rounded_rectangle(box(0, 0.15, 0.7, 1), radius=s * 0.04, fill=fg)
        d.polygon([p(0.35, 0.38), p(0.5, 0.58), p(0.35, 0.78), p(0.2, 0.58)], fill=(198, 40, 40))
    elif glyph == "bowl":
        d.chord(box(0, 0.1, 1, 0.95), 0, 180, fill=fg)
        for x in (0.3, 0.5, 0.7):
            d.line([p(x, 0.1), p(x, 0.4)], fill=fg, width=w)
    elif glyph == "tag":
        d.polygon([p(0, 0.45), p(0.45, 0), p(1, 0), p(1, 0.55), p(0.55, 1)], fill=fg)
        d.ellipse(box(0.68, 0.16, 0.84, 0.32), fill=bg)
    elif glyph == "bank":
        d.polygon([p(0, 0.3), p(0.5, 0), p(1, 0.3)], fill=fg)
        for x in (0.1, 0.42, 0.74):
            d.rectangle(box(x, 0.38, x + 0.16, 0.82), fill=fg)
        d.rectangle(box(0, 0.88, 1, 1), fill=fg)
    elif glyph == "chart":
        d.line([p(0, 0), p(0, 1), p(1, 1)], fill=fg, width=w)
        d.line([p(0.1, 0.8), p(0.35, 0.5), p(0.6, 0.65), p(0.95, 0.15)], fill=fg, width=w, joint="curve")
    elif glyph == "plane":
        d.polygon(
            [
                p(0.5, 0),
                p(0.6, 0.35),
                p(1, 0.6),
                p(0.6, 0.55),
                p(0.58, 0.85),
                p(0.72, 1),
                p(0.28, 1),
                p(0.42, 0.85),
                p(0.4, 0.55),
                p(0, 0.6),
                p(0.4, 0.35),
            ],
            fill=fg,
        )
    elif glyph in ("car", "train"):
        if glyph == "car":
            d.polygon([p(0.2, 0.45), p(0.32, 0.15), p(0.68, 0.15), p(0.8, 0.45)], fill=fg)
            d.rounded_rectangle(box(0, 0.42, 1, 0.8), radius=s * 0.05, fill=fg)
        else:
            d.rounded_rectangle(box(0.1, 0, 0.9, 0.8), radius=s * 0.1, fill=fg)
            d.rectangle(box(0.22, 0.12, 0.78, 0.42), fill=bg)
        d.ellipse(box(0.12, 0.7, 0.34, 0.92), fill=bg if glyph == "car" else fg)
        d.ellipse(box(0.66, 0.7, 0.88, 0.92), fill=bg if glyph == "car" else fg)
    elif glyph == "palette":
        d.ellipse(box(0, 0.05, 1, 0.95), fill=fg)
        for (x, y), c in zip(
            ((0.3, 0.3), (0.55, 0.22), (0.75, 0.42), (0.3, 0.6)),
            ((229, 57, 53), (253, 216, 53), (30, 136, 229), (67, 160, 71)),
            strict=True,
        ):
            d.ellipse(box(x - 0.09, y - 0.09, x + 0.09, y + 0.09), fill=c)
    elif glyph == "keys":
        d.rectangle(box(0, 0.05, 1, 0.95), fill=(250, 250, 250))
        for k in (1, 2, 3):
            d.line([p(k / 4, 0.05), p(k / 4, 0.95)], fill=(60, 60, 60), width=max(1, w // 2))
        for k in (0.25, 0.5, 0.75):
            d.rectangle(box(k - 0.08, 0.05, k + 0.08, 0.55), fill=(20, 20, 20))
    elif glyph == "wave":
        pts = [p(t / 20, 0.5 - 0.4 * math.sin(t / 20 * 2 * math.pi)) for t in range(21)]
        d.line(pts, fill=fg, width=w, joint="curve")
    elif glyph == "triangle":
        d.polygon([p(0.25, 1), p(0.4, 0), p(0.6, 0), p(0.75, 1)], outline=fg, width=w)
        d.line([p(0.5, 0.85), p(0.78, 0.2)], fill=fg, width=w)
    elif glyph == "level":
        d.rounded_rectangle(box(0, 0.3, 1, 0.7), radius=s * 0.08, outline=fg, width=w)
        d.ellipse(box(0.4, 0.37, 0.6, 0.63), fill=fg)
        d.line([p(0.33, 0.3), p(0.33, 0.7)], fill=fg, width=max(1, w // 2))
        d.line([p(0.67, 0.3), p(0.67, 0.7)], fill=fg, width=max(1, w // 2))
    elif glyph == "ruler":
        d.polygon([p(0, 0.7), p(0.7, 0), p(1, 0.3), p(0.3, 1)], outline=fg, width=w)
        for k in range(1, 6):
            t = k / 6
            d.line([p(0.7 * t, 0.7 - 0.7 * t), p(0.7 * t + 0.1, 0.8 - 0.7 * t)], fill=fg, width=max(1, w // 2))
    elif glyph == "arrows":
        d.line([p(0, 0.3), p(0.9, 0.3)], fill=fg, width=w)
        d.polygon([p(1, 0.3), p(0.75, 0.12), p(0.75, 0.48)], fill=fg)
        d.line([p(0.1, 0.7), p(1, 0.7)], fill=fg, width=w)
        d.polygon([p(0, 0.7), p(0.25, 0.52), p(0.25, 0.88)], fill=fg)
    elif glyph == "star":
        pts = []
        for k in range(10):
            r = 0.5 if k % 2 == 0 else 0.2
            a = -math.pi / 2 + k * math.pi / 5
            pts.append(p(0.5 + r * math.cos(a), 0.53 + r * math.sin(a)))
        d.polygon(pts, fill=fg)
    elif glyph == "leaf":
        d.chord(box(-0.1, 0.0, 0.9, 1.1), 270, 90, fill=fg)
        d.chord(box(0.1, -0.1, 1.1, 1.0), 90, 270, fill=fg)
        d.line([p(0.1, 0.95), p(0.8, 0.1)], fill=bg, width=max(1, w // 2))
    elif glyph == "moon":
        d.ellipse(box(0, 0, 1, 1), fill=fg)
        d.ellipse(box(0.3, -0.12, 1.2, 0.78), fill=bg)
    elif glyph == "puzzle":
        d.rectangle(box(0.05, 0.25, 0.75, 0.95), fill=fg)
        d.ellipse(box(0.28, 0.02, 0.52, 0.3), fill=fg)
        d.ellipse(box(0.7, 0.48, 0.98, 0.72), fill=fg)
    elif glyph == "cloud":
        d.ellipse(box(0, 0.35, 0.45, 0.8), fill=fg)
        d.ellipse(box(0.22, 0.12, 0.75, 0.65), fill=fg)
        d.ellipse(box(0.55, 0.3, 1, 0.8), fill=fg)
        d.rectangle(box(0.2, 0.55, 0.8, 0.8), fill=fg)
    elif glyph == "die":
        d.rounded_rectangle(box(0, 0, 1, 1), radius=s * 0.08, fill=fg)
        for x, y in ((0.25, 0.25), (0.75, 0.25), (0.5, 0.5), (0.25, 0.75), (0.75, 0.75)):
            d.ellipse(box(x - 0.09, y - 0.09, x + 0.09, y + 0.09), fill=bg)
    elif glyph == "film":
        d.rectangle(box(0.1, 0, 0.9, 1), fill=fg)
        for k in range(5):
            y = 0.06 + k * 0.2
            d.rectangle(box(0.14, y, 0.24, y + 0.1), fill=bg)
            d.rectangle(box(0.76, y, 0.86, y + 0.1), fill=bg)
        d.rectangle(box(0.32, 0.1, 0.68, 0.45), fill=bg)
        d.rectangle(box(0.32, 0.55, 0.68, 0.9), fill=bg)
    else:
        raise ValueError(f"glyph must be a known glyph name or 'letter:X', got {glyph!r}")


@cache
def app_icon(key: str) -> Image.Image:
    """The RGBA launcher icon of app ``key`` (``ICON_SIZE`` square)."""
    app = APPS[key]
    s = ICON_SIZE * _ICON_SCALE
    img = Image.new("RGBA", (s, s), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    bg = rgb(app.color)
    d.rounded_rectangle([0, 0, s - 1, s - 1], radius=int(s * 0.26), fill=bg + (255,))
    _draw_glyph(d, app.glyph, s, rgb(app.fg), bg)
    return img.resize((ICON_SIZE, ICON_SIZE), Image.Resampling.LANCZOS)


@cache
def launcher_tile(key: str) -> Image.Image:
    """RGBA grid-cell tile (``CELL_W x CELL_H``): icon with its label under it."""
    tile = Image.new("RGBA", (CELL_W, CELL_H), (0, 0, 0, 0))
    tile.alpha_composite(app_icon(key), ((CELL_W - ICON_SIZE) // 2, ICON_TOP))
    d = ImageDraw.Draw(tile)
    label = fit_label(APPS[key].name, 9, CELL_W - 2)
    y = ICON_TOP + ICON_SIZE + 8
    # A dark halo keeps white labels readable on any wallpaper.
    for dx, dy in ((-1, 0), (1, 0), (0, -1), (0, 1)):
        _text_center(d, (CELL_W / 2 + dx, y + dy), label, 9, (0, 0, 0, 150))
    _text_center(d, (CELL_W / 2, y), label, 9, (255, 255, 255, 255))
    return tile


# --- Chrome: wallpaper, status bar, nav bar ---------------------------------------------------

WALLPAPERS: tuple[tuple[str, str], ...] = (
    ("#1A237E", "#880E4F"),
    ("#004D40", "#1B5E20"),
    ("#263238", "#37474F"),
    ("#311B92", "#0D47A1"),
    ("#3E2723", "#BF360C"),
    ("#01579B", "#006064"),
)


@cache
def wallpaper(index: int) -> Image.Image:
    """Vertical two-colour gradient wallpaper ``index`` (RGB, full screen)."""
    top, bottom = (np.array(rgb(c), dtype=np.float32) for c in WALLPAPERS[index])
    t = np.linspace(0.0, 1.0, SCREEN_H, dtype=np.float32)[:, None, None]
    grad = top * (1 - t) + bottom * t
    return Image.fromarray(np.broadcast_to(grad, (SCREEN_H, SCREEN_W, 3)).astype(np.uint8), "RGB")


def draw_status_bar(img: Image.Image, clock: str, battery: int, bg: Color | None) -> None:
    """Time on the left; signal, wifi and battery on the right (on ``bg`` or transparent)."""
    d = ImageDraw.Draw(img)
    if bg is not None:
        d.rectangle([0, 0, SCREEN_W, STATUS_H - 1], fill=bg)
    fg = text_on(bg) if bg is not None else (255, 255, 255)
    d.text((6, STATUS_H / 2), clock, font=font(10), fill=fg, anchor="lm")
    x = SCREEN_W - 6
    # Battery: outline, nub, fill proportional to charge, percentage to its left.
    bx0, by0 = x - 16, 4
    d.rectangle([bx0, by0, x - 2, STATUS_H - 5], outline=fg)
    d.rectangle([x - 2, 6, x - 1, STATUS_H - 7], fill=fg)
    fill_w = int(round(12 * battery / 100))
    level = (229, 57, 53) if battery < 20 else fg
    if fill_w > 0:
        d.rectangle([bx0 + 2, by0 + 2, bx0 + 1 + fill_w, STATUS_H - 7], fill=level)
    d.text((bx0 - 3, STATUS_H / 2), f"{battery}%", font=font(9), fill=fg, anchor="rm")
    # Signal bars and a wifi wedge.
    sx = bx0 - 36
    for k in range(4):
        d.rectangle([sx + 4 * k, STATUS_H - 5 - 2 * k - 2, sx + 4 * k + 2, STATUS_H - 5], fill=fg)
    d.pieslice([sx - 16, 3, sx - 4, 15], 225, 315, fill=fg)


def draw_nav_bar(img: Image.Image, bg: Color, fg: Color) -> None:
    """Back (triangle), home (circle) and recents (square) buttons at the bottom."""
    d = ImageDraw.Draw(img)
    d.rectangle([0, NAV_TOP, SCREEN_W, SCREEN_H], fill=bg)
    cy = NAV_TOP + NAV_H / 2
    r = 5
    bx = SCREEN_W * 0.25
    d.polygon([(bx - r, cy), (bx + r, cy - r), (bx + r, cy + r)], fill=fg)
    hx = SCREEN_W * 0.5
    d.ellipse([hx - r, cy - r, hx + r, cy + r], outline=fg, width=2)
    rx = SCREEN_W * 0.75
    d.rectangle([rx - r + 1, cy - r + 1, rx + r - 1, cy + r - 1], outline=fg, width=2)


def launcher_page(
    wallpaper_index: int,
    slots: list[str | None],
    dock: list[str | None],
    page: int,
    n_pages: int,
    clock: str,
    battery: int,
) -> Image.Image:
    """One home-screen page: wallpaper, status bar, icon grid, page dots, dock, nav bar."""
    img = wallpaper(wallpaper_index).convert("RGBA")
    for i, key in enumerate(slots):
        if key is not None:
            r, c = divmod(i, GRID_COLS)
            img.alpha_composite(launcher_tile(key), (c * CELL_W, GRID_TOP + r * CELL_H))
    overlay = Image.new("RGBA", img.size, (0, 0, 0, 0))
    d = ImageDraw.Draw(overlay)
    d.rounded_rectangle([6, DOCK_TOP, SCREEN_W - 6, DOCK_TOP + DOCK_H - 1], radius=14, fill=(255, 255, 255, 60))
    if n_pages > 1:
        x0 = SCREEN_W / 2 - (n_pages - 1) * 5
        for k in range(n_pages):
            alpha = 255 if k == page else 110
            d.ellipse([x0 + 10 * k - 3, DOTS_Y - 3, x0 + 10 * k + 3, DOTS_Y + 3], fill=(255, 255, 255, alpha))
    img.alpha_composite(overlay)
    for c, key in enumerate(dock):
        if key is not None:
            img.alpha_composite(app_icon(key), (c * CELL_W + (CELL_W - ICON_SIZE) // 2, DOCK_TOP + 6))
    out = img.convert("RGB")
    draw_status_bar(out, clock, battery, None)
    draw_nav_bar(out, (0, 0, 0), (235, 235, 235))
    return out


# --- App screens ---------------------------------------------------------------------------


def _bars(d: ImageDraw.ImageDraw, x: float, y: float, widths, color, h: int = 5, gap: int = 9) -> None:
    """Grey placeholder text lines, one per width."""
    for k, w in enumerate(widths):
        d.rounded_rectangle([x, y + k * gap, x + w, y + k * gap + h], radius=2, fill=color)


def _screen_viewfinder(d, app, rng, x0, y0, x1, y1):
    d.rectangle([x0, y0, x1, y1], fill=(16, 16, 16))
    vy1 = y1 - 70
    top, bottom = rng.integers(40, 200, 3), rng.integers(20, 120, 3)
    for k in range(vy1 - y0):
        t = k / max(1, vy1 - y0)
        d.line(
            [(x0 + 4, y0 + k), (x1 - 4, y0 + k)],
            fill=tuple(int(a * (1 - t) + b * t) for a, b in zip(top, bottom, strict=True)),
        )
    for _ in range(3):
        cx, cy, r = rng.integers(x0 + 30, x1 - 30), rng.integers(y0 + 60, vy1 - 20), rng.integers(12, 30)
        d.ellipse([cx - r, cy - r, cx + r, cy + r], fill=tuple(int(v) for v in rng.integers(30, 230, 3)))
    cx, cy = (x0 + x1) / 2, (y0 + vy1) / 2
    for sx, sy in ((-1, -1), (1, -1), (-1, 1), (1, 1)):
        ax, ay = cx + sx * 40, cy + sy * 40
        d.line([(ax, ay), (ax - sx * 12, ay)], fill=(255, 235, 59), width=2)
        d.line([(ax, ay), (ax, ay - sy * 12)], fill=(255, 235, 59), width=2)
    by = y1 - 35
    d.ellipse([cx - 20, by - 20, cx + 20, by + 20], fill=(250, 250, 250))
    d.ellipse([cx - 15, by - 15, cx + 15, by + 15], outline=(16, 16, 16), width=2)
    d.rounded_rectangle(
        [x0 + 20, by - 12, x0 + 44, by + 12], radius=4, fill=tuple(int(v) for v in rng.integers(60, 200, 3))
    )
    for k, label in enumerate(("PHOTO", "VIDEO", "MORE")):
        d.text(
            (cx + (k - 1) * 50, vy1 + 8),
            label,
            font=font(8),
            fill=(255, 213, 79) if k == 0 else (200, 200, 200),
            anchor="mm",
        )


def _screen_dial(d, app, rng, x0, y0, x1, y1):
    bg = mix(app.color, "#000000", 0.55)
    d.rectangle([x0, y0, x1, y1], fill=bg)
    accent = mix(app.color, "#FFFFFF", 0.5)
    cx, cy, r = (x0 + x1) / 2, y0 + 105, 72
    d.ellipse([cx - r, cy - r, cx + r, cy + r], outline=accent, width=3)
    for k in range(12):
        a = k * math.pi / 6
        r0 = r - (12 if k % 3 == 0 else 6)
        d.line(
            [(cx + math.cos(a) * r0, cy + math.sin(a) * r0), (cx + math.cos(a) * r, cy + math.sin(a) * r)],
            fill=accent,
            width=2,
        )
    if app.key == "compass":
        for k, letter in enumerate("NESW"):
            a = -math.pi / 2 + k * math.pi / 2
            d.text(
                (cx + math.cos(a) * (r - 22), cy + math.sin(a) * (r - 22)),
                letter,
                font=font(12),
                fill=(255, 255, 255),
                anchor="mm",
            )
        d.polygon([(cx, cy - 50), (cx + 8, cy), (cx - 8, cy)], fill=(229, 57, 53))
        d.polygon([(cx, cy + 50), (cx + 8, cy), (cx - 8, cy)], fill=(230, 230, 230))
        big = f"{int(rng.integers(0, 360))}° NE"
    elif app.key == "meditation":
        for rr in (20, 38, 56):
            d.ellipse([cx - rr, cy - rr, cx + rr, cy + rr], outline=mix(app.color, "#FFFFFF", 0.2), width=2)
        big = "Breathe in"
    else:
        a1, a2 = rng.uniform(0, 2 * math.pi, 2)
        d.line([(cx, cy), (cx + math.cos(a1) * 40, cy + math.sin(a1) * 40)], fill=(255, 255, 255), width=4)
        d.line([(cx, cy), (cx + math.cos(a2) * 58, cy + math.sin(a2) * 58)], fill=(255, 255, 255), width=2)
        d.ellipse([cx - 4, cy - 4, cx + 4, cy + 4], fill=accent)
        m, s = rng.integers(0, 60, 2)
        big = {"timer": f"{m:02d}:{s:02d}", "stopwatch": f"{m:02d}:{s:02d}.{int(rng.integers(0, 100)):02d}"}.get(
            app.key, f"{int(rng.integers(1, 13))}:{m:02d}"
        )
    d.text((cx, cy + r + 30), big, font=font(26), fill=(255, 255, 255), anchor="mm")
    for k in range(2):
        yy = cy + r + 62 + k * 24
        d.rounded_rectangle([x0 + 16, yy, x1 - 16, yy + 18], radius=6, fill=mix(bg, "#FFFFFF", 0.12))
        _bars(d, x0 + 26, yy + 7, [int(rng.integers(40, 110))], accent, h=4)
    d.ellipse([cx - 18, y1 - 42, cx + 18, y1 - 6], fill=rgb(app.color))
    _text_center(d, (cx, y1 - 24), "+" if app.key in ("clock", "timer") else "o", 18, (255, 255, 255))


def _screen_keypad(d, app, rng, x0, y0, x1, y1):
    d.rectangle([x0, y0, x1, y1], fill=(33, 33, 33))
    disp_h = 78
    if app.key == "converter":
        for k, unit in enumerate(("km", "mi")):
            yy = y0 + 8 + k * 34
            d.rounded_rectangle([x0 + 10, yy, x1 - 10, yy + 28], radius=6, fill=(55, 55, 55))
            d.text(
                (x1 - 18, yy + 14), f"{rng.uniform(1, 99):.2f} {unit}", font=font(14), fill=(255, 255, 255), anchor="rm"
            )
    else:
        expr = f"{int(rng.integers(10, 999))} x {int(rng.integers(2, 99))}"
        d.text((x1 - 12, y0 + 24), expr, font=font(14), fill=(180, 180, 180), anchor="rm")
        d.text(
            (x1 - 12, y0 + 56), str(int(rng.integers(1000, 99999))), font=font(26), fill=(255, 255, 255), anchor="rm"
        )
    keys = ["C", "()", "%", "/", "7", "8", "9", "x", "4", "5", "6", "-", "1", "2", "3", "+", "0", ".", "<", "="]
    kw, kh = (x1 - x0 - 10) / 4, (y1 - y0 - disp_h - 6) / 5
    for i, label in enumerate(keys):
        r, c = divmod(i, 4)
        bx, by = x0 + 5 + c * kw, y0 + disp_h + r * kh
        op = c == 3 or r == 0
        fill = rgb(app.color) if c == 3 else (80, 80, 80) if r == 0 else (55, 55, 55)
        d.ellipse([bx + 4, by + 3, bx + kw - 4, by + kh - 3], fill=fill)
        _text_center(d, (bx + kw / 2, by + kh / 2), label, 15, (255, 255, 255) if not op or c == 3 else (230, 230, 230))


def _screen_dialer(d, app, rng, x0, y0, x1, y1):
    d.rectangle([x0, y0, x1, y1], fill=(250, 250, 250))
    number = "".join(str(v) for v in rng.integers(0, 10, 9))
    d.text(
        ((x0 + x1) / 2, y0 + 30),
        f"{number[:3]} {number[3:6]} {number[6:]}",
        font=font(20),
        fill=(33, 33, 33),
        anchor="mm",
    )
    labels = "123456789*0#"
    kw, kh = (x1 - x0 - 40) / 3, 46
    for i, label in enumerate(labels):
        r, c = divmod(i, 3)
        cx, cy = x0 + 20 + c * kw + kw / 2, y0 + 80 + r * kh
        d.ellipse([cx - 19, cy - 19, cx + 19, cy + 19], fill=(236, 239, 241))
        _text_center(d, (cx, cy), label, 17, (33, 33, 33))
    cx, cy = (x0 + x1) / 2, y1 - 34
    d.ellipse([cx - 22, cy - 22, cx + 22, cy + 22], fill=(67, 160, 71))
    d.rounded_rectangle([cx - 10, cy - 4, cx + 10, cy + 4], radius=3, fill=(255, 255, 255))


def _screen_calendar(d, app, rng, x0, y0, x1, y1):
    d.rectangle([x0, y0, x1, y1], fill=(255, 255, 255))
    months = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ]
    d.text(
        (x0 + 12, y0 + 16), f"{months[int(rng.integers(0, 12))]} 2024", font=font(15), fill=(33, 33, 33), anchor="lm"
    )
    cw = (x1 - x0 - 12) / 7
    for c, day in enumerate("MTWTFSS"):
        _text_center(d, (x0 + 6 + c * cw + cw / 2, y0 + 40), day, 10, (120, 120, 120))
    start, today = int(rng.integers(0, 7)), int(rng.integers(1, 29))
    for n in range(1, 31):
        r, c = divmod(start + n - 1, 7)
        cx, cy = x0 + 6 + c * cw + cw / 2, y0 + 62 + r * 26
        if n == today:
            d.ellipse([cx - 11, cy - 11, cx + 11, cy + 11], fill=rgb(app.color))
        _text_center(d, (cx, cy), str(n), 11, (255, 255, 255) if n == today else (33, 33, 33))
    ey = y0 + 62 + 6 * 26
    for k in range(3):
        color = tuple(int(v) for v in rng.integers(60, 220, 3))
        d.rounded_rectangle(
            [x0 + 12, ey + k * 30, x1 - 12, ey + k * 30 + 24], radius=5, fill=mix(color, "#FFFFFF", 0.6)
        )
        d.rectangle([x0 + 12, ey + k * 30, x0 + 16, ey + k * 30 + 24], fill=color)
        _bars(
            d,
            x0 + 24,
            ey + k * 30 + 6,
            [int(rng.integers(60, 140)), int(rng.integers(30, 70))],
            (90, 90, 90),
            h=4,
            gap=8,
        )


def _screen_list(d, app, rng, x0, y0, x1, y1):
    d.rectangle([x0, y0, x1, y1], fill=(255, 255, 255))
    d.rounded_rectangle([x0 + 10, y0 + 8, x1 - 10, y0 + 30], radius=11, fill=(238, 238, 238))
    _bars(d, x0 + 24, y0 + 17, [60], (170, 170, 170), h=4)
    for k in range(7):
        yy = y0 + 40 + k * 40
        if yy + 36 > y1:
            break
        color = tuple(int(v) for v in rng.integers(40, 230, 3))
        if app.key in ("files", "backup"):
            d.rounded_rectangle([x0 + 12, yy + 6, x0 + 36, yy + 28], radius=3, fill=rgb(app.color))
        elif app.key == "tasks":
            d.rectangle([x0 + 14, yy + 8, x0 + 32, yy + 26], outline=rgb(app.color), width=2)
            if rng.random() < 0.5:
                d.line([(x0 + 17, yy + 17), (x0 + 22, yy + 22), (x0 + 30, yy + 11)], fill=rgb(app.color), width=2)
        else:
            d.ellipse([x0 + 12, yy + 5, x0 + 38, yy + 31], fill=color)
            if app.key in ("contacts", "email"):
                _text_center(d, (x0 + 25, yy + 18), chr(65 + int(rng.integers(0, 26))), 12, (255, 255, 255))
        _bars(d, x0 + 48, yy + 9, [int(rng.integers(60, 120)), int(rng.integers(80, 150))], (60, 60, 60), h=5, gap=12)
        d.line([(x0 + 48, yy + 38), (x1, yy + 38)], fill=(235, 235, 235))
    d.ellipse([x1 - 50, y1 - 50, x1 - 12, y1 - 12], fill=rgb(app.color))
    _text_center(d, (x1 - 31, y1 - 31), "+", 22, text_on(app.color))


def _screen_chat(d, app, rng, x0, y0, x1, y1):
    d.rectangle([x0, y0, x1, y1], fill=(245, 245, 245))
    yy = y0 + 10
    mine = rng.random() < 0.5
    while yy < y1 - 70:
        w, h = int(rng.integers(70, 150)), int(rng.integers(1, 4)) * 10 + 12
        bx0 = x1 - 10 - w if mine else x0 + 10
        fill = rgb(app.color) if mine else (255, 255, 255)
        d.rounded_rectangle([bx0, yy, bx0 + w, yy + h], radius=9, fill=fill, outline=None if mine else (225, 225, 225))
        _bars(
            d,
            bx0 + 8,
            yy + 7,
            [w - 16 - int(rng.integers(0, 30)) for _ in range((h - 12) // 10)],
            mix(text_on(fill), fill, 0.3),
            h=4,
            gap=10,
        )
        yy += h + 8
        mine = not mine
    d.rounded_rectangle([x0 + 8, y1 - 40, x1 - 50, y1 - 10], radius=15, fill=(255, 255, 255), outline=(220, 220, 220))
    d.ellipse([x1 - 44, y1 - 42, x1 - 8, y1 - 6], fill=rgb(app.color))
    d.polygon([(x1 - 34, y1 - 32), (x1 - 16, y1 - 24), (x1 - 34, y1 - 16)], fill=(255, 255, 255))


def _screen_grid(d, app, rng, x0, y0, x1, y1):
    dark = app.key in ("videos", "movies")
    d.rectangle([x0, y0, x1, y1], fill=(24, 24, 24) if dark else (255, 255, 255))
    cols = 2 if app.key in ("store", "shopping", "garden", "movies") else 3
    gap = 4
    tw = (x1 - x0 - gap * (cols + 1)) / cols
    th = tw * (1.45 if app.key == "movies" else 1.0)
    yy, k = y0 + gap, 0
    while yy + th <= y1 - 4:
        for c in range(cols):
            tx = x0 + gap + c * (tw + gap)
            base = rng.integers(40, 230, 3)
            if app.key == "garden":
                base = np.array([60, 140, 60]) + rng.integers(-40, 40, 3)
            top = tuple(int(v) for v in base)
            bottom = tuple(int(v) for v in np.clip(base - 60, 0, 255))
            d.rectangle([tx, yy, tx + tw, yy + th], fill=top)
            d.polygon([(tx, yy + th), (tx + tw * 0.45, yy + th * 0.45), (tx + tw, yy + th)], fill=bottom)
            if app.key in ("videos", "movies"):
                cx, cy = tx + tw / 2, yy + th / 2
                d.polygon([(cx - 6, cy - 8), (cx + 9, cy), (cx - 6, cy + 8)], fill=(255, 255, 255))
            if cols == 2 and app.key != "movies":
                d.rectangle([tx, yy + th - 16, tx + tw, yy + th], fill=(255, 255, 255))
                _bars(d, tx + 4, yy + th - 11, [tw * 0.5], (80, 80, 80), h=4)
                _bars(d, tx + tw - 30, yy + th - 11, [24], rgb(app.color), h=5)
            k += 1
        yy += th + gap


def _screen_toggles(d, app, rng, x0, y0, x1, y1):
    d.rectangle([x0, y0, x1, y1], fill=(250, 250, 250))
    icons = ((30, 136, 229), (67, 160, 71), (251, 140, 0), (142, 36, 170), (0, 172, 193), (229, 57, 53))
    for k in range(7):
        yy = y0 + 8 + k * 42
        if yy + 36 > y1:
            break
        d.ellipse([x0 + 12, yy + 6, x0 + 36, yy + 30], fill=icons[k % len(icons)])
        _bars(d, x0 + 46, yy + 10, [int(rng.integers(50, 100)), int(rng.integers(70, 110))], (70, 70, 70), h=5, gap=11)
        on = bool(rng.random() < 0.6)
        tx = x1 - 44
        d.rounded_rectangle([tx, yy + 12, tx + 30, yy + 26], radius=7, fill=rgb(app.color) if on else (189, 189, 189))
        kx = tx + 23 if on else tx + 7
        d.ellipse([kx - 8, yy + 11, kx + 8, yy + 27], fill=(255, 255, 255), outline=(200, 200, 200))


def _screen_map(d, app, rng, x0, y0, x1, y1):
    d.rectangle([x0, y0, x1, y1], fill=(232, 228, 216))
    for _ in range(10):
        bx, by = rng.integers(x0, x1 - 20), rng.integers(y0, y1 - 20)
        d.rectangle([bx, by, bx + rng.integers(15, 50), by + rng.integers(15, 50)], fill=(214, 210, 196))
    d.ellipse([x0 - 40, y1 - 110, x0 + 90, y1 + 20], fill=(170, 210, 240))
    d.rectangle([x1 - 70, y0 + 60, x1, y0 + 120], fill=(200, 230, 190))
    for _ in range(5):
        pts = [(int(rng.integers(x0, x1)), int(rng.integers(y0, y1))) for _ in range(3)]
        d.line(pts, fill=(255, 255, 255), width=6, joint="curve")
    d.line([(x0, (y0 + y1) / 2), (x1, (y0 + y1) / 2 + 30)], fill=(255, 213, 79), width=8)
    route = [(int(rng.integers(x0 + 20, x1 - 20)), int(rng.integers(y0 + 50, y1 - 40))) for _ in range(3)]
    d.line(route, fill=rgb(app.color) if app.key != "taxi" else (33, 33, 33), width=4, joint="curve")
    px, py = route[-1]
    d.ellipse([px - 9, py - 22, px + 9, py - 4], fill=(229, 57, 53))
    d.polygon([(px - 7, py - 10), (px + 7, py - 10), (px, py)], fill=(229, 57, 53))
    d.rounded_rectangle([x0 + 10, y0 + 8, x1 - 10, y0 + 32], radius=12, fill=(255, 255, 255), outline=(210, 210, 210))
    _bars(d, x0 + 24, y0 + 18, [70], (150, 150, 150), h=4)
    if app.key in ("taxi", "trains"):
        d.rounded_rectangle([x0 + 8, y1 - 74, x1 - 8, y1 - 6], radius=10, fill=(255, 255, 255))
        _bars(d, x0 + 20, y1 - 62, [100, 60], (60, 60, 60), h=5, gap=12)
        d.rounded_rectangle([x0 + 20, y1 - 32, x1 - 20, y1 - 12], radius=8, fill=rgb(app.color))
        _text_center(d, ((x0 + x1) / 2, y1 - 22), "Book" if app.key == "taxi" else "Tickets", 11, text_on(app.color))


def _screen_weather(d, app, rng, x0, y0, x1, y1):
    top, bottom = rgb(app.color), mix(app.color, "#0D47A1", 0.6)
    for k in range(y1 - y0):
        d.line([(x0, y0 + k), (x1, y0 + k)], fill=mix(top, bottom, k / (y1 - y0)))
    cx, cy = (x0 + x1) / 2, y0 + 70
    d.ellipse([cx - 30, cy - 30, cx + 30, cy + 30], fill=(255, 235, 59))
    d.ellipse([cx - 5, cy + 5, cx + 45, cy + 40], fill=(255, 255, 255))
    d.ellipse([cx - 30, cy + 15, cx + 15, cy + 45], fill=(255, 255, 255))
    d.text((cx, cy + 75), f"{int(rng.integers(-5, 35))}°", font=font(40), fill=(255, 255, 255), anchor="mm")
    _bars(d, cx - 40, cy + 105, [80], (230, 240, 250), h=5)
    fy = y1 - 90
    d.rounded_rectangle([x0 + 8, fy, x1 - 8, y1 - 10], radius=10, fill=mix(bottom, "#FFFFFF", 0.2))
    for k, day in enumerate(("Mon", "Tue", "Wed", "Thu", "Fri")):
        fx = x0 + 8 + (k + 0.5) * (x1 - x0 - 16) / 5
        _text_center(d, (fx, fy + 14), day, 9, (255, 255, 255))
        sunny = rng.random() < 0.5
        d.ellipse([fx - 8, fy + 26, fx + 8, fy + 42], fill=(255, 235, 59) if sunny else (236, 239, 241))
        _text_center(d, (fx, fy + 58), f"{int(rng.integers(0, 30))}°", 10, (255, 255, 255))


def _screen_player(d, app, rng, x0, y0, x1, y1):
    bg = mix(app.color, "#000000", 0.6)
    d.rectangle([x0, y0, x1, y1], fill=bg)
    ax0, ay0, side = x0 + 28, y0 + 16, x1 - x0 - 56
    art = tuple(int(v) for v in rng.integers(0, 255, 3))
    for k in range(side):
        d.line([(ax0, ay0 + k), (ax0 + side, ay0 + k)], fill=mix(app.color, art, k / side))
    if app.key == "radio":
        _text_center(d, (ax0 + side / 2, ay0 + side / 2), f"{rng.uniform(88, 108):.1f}", 30, (255, 255, 255))
    else:
        d.ellipse(
            [ax0 + side / 2 - 30, ay0 + side / 2 - 30, ax0 + side / 2 + 30, ay0 + side / 2 + 30],
            outline=(255, 255, 255),
            width=3,
        )
    ty = ay0 + side + 14
    _bars(d, x0 + 28, ty, [int(rng.integers(90, 150)), int(rng.integers(50, 90))], (230, 230, 230), h=6, gap=12)
    py = ty + 36
    d.rounded_rectangle([x0 + 28, py, x1 - 28, py + 3], radius=1, fill=(120, 120, 120))
    frac = rng.uniform(0.1, 0.9)
    px = x0 + 28 + frac * (x1 - x0 - 56)
    d.rounded_rectangle([x0 + 28, py, px, py + 3], radius=1, fill=mix(app.color, "#FFFFFF", 0.4))
    d.ellipse([px - 5, py - 4, px + 5, py + 6], fill=(255, 255, 255))
    cy, cx = py + 40, (x0 + x1) / 2
    d.ellipse([cx - 22, cy - 22, cx + 22, cy + 22], fill=(255, 255, 255))
    d.polygon([(cx - 7, cy - 11), (cx + 12, cy), (cx - 7, cy + 11)], fill=bg)
    for sx in (-1, 1):
        bx = cx + sx * 55
        d.polygon([(bx - sx * 8, cy - 9), (bx + sx * 8, cy), (bx - sx * 8, cy + 9)], fill=(255, 255, 255))
        d.line([(bx + sx * 9, cy - 9), (bx + sx * 9, cy + 9)], fill=(255, 255, 255), width=2)


def _screen_reader(d, app, rng, x0, y0, x1, y1):
    paper = {"notes": (255, 249, 196), "journal": (250, 243, 230), "books": (251, 246, 233)}.get(
        app.key, (255, 255, 255)
    )
    d.rectangle([x0, y0, x1, y1], fill=paper)
    yy = y0 + 12
    if app.key == "news":
        d.rectangle([x0 + 10, yy, x1 - 10, yy + 80], fill=tuple(int(v) for v in rng.integers(60, 200, 3)))
        yy += 90
    if app.key == "translate":
        for label in ("English", "Spanish"):
            d.rounded_rectangle(
                [x0 + 10, yy, x1 - 10, yy + 100], radius=8, outline=(200, 200, 200), fill=(255, 255, 255)
            )
            d.text((x0 + 18, yy + 12), label, font=font(11), fill=rgb(app.color), anchor="lm")
            _bars(d, x0 + 18, yy + 30, [int(rng.integers(80, 170)) for _ in range(5)], (90, 90, 90), h=5, gap=12)
            yy += 112
        return
    d.rounded_rectangle([x0 + 12, yy, x0 + 12 + int(rng.integers(100, 170)), yy + 10], radius=3, fill=(40, 40, 40))
    yy += 24
    line_color = (120, 110, 90) if app.key in ("notes", "journal", "books") else (110, 110, 110)
    while yy < y1 - 14:
        if app.key == "notes":
            d.line([(x0, yy + 9), (x1, yy + 9)], fill=(230, 210, 140))
        width = int(rng.integers(110, x1 - x0 - 24)) if rng.random() < 0.8 else int(rng.integers(30, 90))
        d.rounded_rectangle([x0 + 12, yy, x0 + 12 + width, yy + 5], radius=2, fill=line_color)
        yy += 13 if rng.random() < 0.85 else 24


def _screen_browser(d, app, rng, x0, y0, x1, y1):
    d.rectangle([x0, y0, x1, y1], fill=(255, 255, 255))
    d.rounded_rectangle([x0 + 8, y0 + 6, x1 - 8, y0 + 28], radius=11, fill=(236, 239, 241))
    d.text((x0 + 20, y0 + 17), "www.example.org", font=font(10), fill=(90, 90, 90), anchor="lm")
    d.rectangle([x0, y0 + 36, x1, y0 + 130], fill=tuple(int(v) for v in rng.integers(40, 200, 3)))
    _bars(d, x0 + 14, y0 + 100, [120], (255, 255, 255), h=8)
    yy = y0 + 142
    while yy < y1 - 60:
        _bars(d, x0 + 12, yy, [int(rng.integers(120, 190))], (100, 100, 100), h=5)
        yy += 12
    for k in range(3):
        bx = x0 + 10 + k * 66
        d.rectangle([bx, y1 - 54, bx + 60, y1 - 8], fill=tuple(int(v) for v in rng.integers(80, 220, 3)))


def _screen_wallet(d, app, rng, x0, y0, x1, y1):
    d.rectangle([x0, y0, x1, y1], fill=(245, 245, 245))
    if app.key == "bank":
        d.text((x0 + 14, y0 + 22), "Balance", font=font(11), fill=(110, 110, 110), anchor="lm")
        d.text(
            (x0 + 14, y0 + 46),
            f"${rng.integers(100, 99999):,}.{rng.integers(0, 100):02d}",
            font=font(24),
            fill=(33, 33, 33),
            anchor="lm",
        )
        yy = y0 + 70
    else:
        yy = y0 + 10
        for k in range(3):
            color = tuple(int(v) for v in rng.integers(30, 200, 3))
            d.rounded_rectangle([x0 + 14, yy + k * 26, x1 - 14, yy + k * 26 + 100], radius=10, fill=color)
            d.rectangle([x0 + 28, yy + k * 26 + 8, x0 + 48, yy + k * 26 + 20], fill=(255, 213, 79))
        yy += 2 * 26 + 110
    for k in range(6):
        ry = yy + k * 30
        if ry + 26 > y1:
            break
        d.ellipse([x0 + 14, ry + 4, x0 + 36, ry + 26], fill=mix(app.color, "#FFFFFF", 0.4))
        _bars(d, x0 + 44, ry + 8, [int(rng.integers(50, 100))], (70, 70, 70), h=5)
        amount = f"{'-' if rng.random() < 0.7 else '+'}{rng.uniform(1, 300):.2f}"
        d.text((x1 - 14, ry + 15), amount, font=font(10), fill=(33, 33, 33), anchor="rm")


def _screen_chart(d, app, rng, x0, y0, x1, y1):
    dark = app.key == "sleep"
    bg = (18, 24, 60) if dark else (255, 255, 255)
    fg = (230, 230, 250) if dark else (40, 40, 40)
    d.rectangle([x0, y0, x1, y1], fill=bg)
    big = {
        "fitness": f"{int(rng.integers(1000, 15000)):,} steps",
        "sleep": f"{int(rng.integers(5, 9))}h {int(rng.integers(0, 60))}m",
        "stocks": f"{rng.uniform(50, 900):.2f}",
    }.get(app.key, "")
    d.text((x0 + 14, y0 + 24), big, font=font(20), fill=fg, anchor="lm")
    gx0, gy0, gx1, gy1 = x0 + 14, y0 + 50, x1 - 14, y0 + 190
    d.line([(gx0, gy1), (gx1, gy1)], fill=mix(bg, fg, 0.3))
    accent = rgb(app.color) if not dark else (159, 168, 218)
    if app.key == "stocks":
        vals = np.cumsum(rng.normal(0, 1, 30))
        vals = (vals - vals.min()) / max(1e-6, np.ptp(vals))
        pts = [(gx0 + (gx1 - gx0) * i / 29, gy1 - 10 - v * (gy1 - gy0 - 20)) for i, v in enumerate(vals)]
        d.polygon(pts + [(gx1, gy1), (gx0, gy1)], fill=mix(accent, bg, 0.75))
        d.line(pts, fill=accent, width=2)
    else:
        n = 7
        bw = (gx1 - gx0) / n
        for i in range(n):
            h = rng.uniform(0.2, 1.0) * (gy1 - gy0 - 10)
            d.rounded_rectangle([gx0 + i * bw + 4, gy1 - h, gx0 + (i + 1) * bw - 4, gy1], radius=3, fill=accent)
    for k in range(3):
        ry = gy1 + 14 + k * 34
        if ry + 28 > y1:
            break
        d.rounded_rectangle([x0 + 10, ry, x1 - 10, ry + 28], radius=7, fill=mix(bg, fg, 0.08))
        _bars(d, x0 + 20, ry + 11, [int(rng.integers(50, 100))], mix(bg, fg, 0.6), h=5)
        d.text((x1 - 20, ry + 14), f"{rng.uniform(0, 100):.1f}", font=font(10), fill=accent, anchor="rm")


def _screen_button(d, app, rng, x0, y0, x1, y1):
    flash = app.key == "flashlight"
    bg = (20, 20, 20) if flash else (250, 250, 250)
    d.rectangle([x0, y0, x1, y1], fill=bg)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2 - 20
    if flash:
        for r, t in ((90, 0.85), (70, 0.65), (52, 0.3)):
            d.ellipse([cx - r, cy - r, cx + r, cy + r], fill=mix((255, 214, 0), bg, t))
        d.ellipse([cx - 36, cy - 36, cx + 36, cy + 36], fill=(255, 214, 0))
        d.polygon(
            [(cx + 4, cy - 22), (cx - 12, cy + 4), (cx, cy + 4), (cx - 4, cy + 22), (cx + 12, cy - 4), (cx, cy - 4)],
            fill=(20, 20, 20),
        )
        d.text((cx, y1 - 50), "ON", font=font(18), fill=(255, 214, 0), anchor="mm")
    else:
        amp = rng.uniform(4, 40, 40)
        for i, a in enumerate(amp):
            x = x0 + 14 + i * (x1 - x0 - 28) / 40
            d.line([(x, y0 + 60 - a / 2), (x, y0 + 60 + a / 2)], fill=(229, 57, 53), width=2)
        d.text(
            (cx, cy + 10),
            f"00:{int(rng.integers(0, 60)):02d}.{int(rng.integers(0, 10))}",
            font=font(28),
            fill=(33, 33, 33),
            anchor="mm",
        )
        d.ellipse([cx - 30, y1 - 90, cx + 30, y1 - 30], fill=(229, 57, 53))
        d.ellipse([cx - 12, y1 - 72, cx + 12, y1 - 48], fill=(255, 255, 255))


def _screen_board(d, app, rng, x0, y0, x1, y1):
    bg = mix(app.color, "#000000", 0.5)
    d.rectangle([x0, y0, x1, y1], fill=bg)
    side = x1 - x0 - 24
    bx, by = x0 + 12, y0 + 30
    if app.key == "chess":
        cell = side / 8
        for i in range(8):
            for j in range(8):
                color = (240, 217, 181) if (i + j) % 2 == 0 else (181, 136, 99)
                d.rectangle([bx + i * cell, by + j * cell, bx + (i + 1) * cell, by + (j + 1) * cell], fill=color)
                if j in (0, 1, 6, 7) and rng.random() < 0.85:
                    pc = (30, 30, 30) if j < 2 else (250, 250, 250)
                    d.ellipse(
                        [bx + i * cell + 5, by + j * cell + 5, bx + (i + 1) * cell - 5, by + (j + 1) * cell - 5],
                        fill=pc,
                    )
    elif app.key == "dice":
        for k, n in enumerate(rng.integers(1, 7, 2)):
            dx = bx + 10 + k * (side / 2)
            s = side / 2 - 20
            d.rounded_rectangle([dx, by + 50, dx + s, by + 50 + s], radius=10, fill=(255, 255, 255))
            spots = {
                1: [(0.5, 0.5)],
                2: [(0.25, 0.25), (0.75, 0.75)],
                3: [(0.25, 0.25), (0.5, 0.5), (0.75, 0.75)],
                4: [(0.25, 0.25), (0.75, 0.25), (0.25, 0.75), (0.75, 0.75)],
                5: [(0.25, 0.25), (0.75, 0.25), (0.5, 0.5), (0.25, 0.75), (0.75, 0.75)],
                6: [(0.25, 0.2), (0.75, 0.2), (0.25, 0.5), (0.75, 0.5), (0.25, 0.8), (0.75, 0.8)],
            }[int(n)]
            for sx, sy in spots:
                d.ellipse(
                    [dx + sx * s - 6, by + 50 + sy * s - 6, dx + sx * s + 6, by + 50 + sy * s + 6], fill=(33, 33, 33)
                )
        d.rounded_rectangle([x0 + 40, y1 - 60, x1 - 40, y1 - 24], radius=18, fill=rgb(app.color))
        _text_center(d, ((x0 + x1) / 2, y1 - 42), "ROLL", 14, (255, 255, 255))
    else:
        cell = side / 4
        for i in range(4):
            for j in range(4):
                color = tuple(int(v) for v in rng.integers(60, 240, 3))
                d.rounded_rectangle(
                    [bx + i * cell + 2, by + j * cell + 2, bx + (i + 1) * cell - 2, by + (j + 1) * cell - 2],
                    radius=6,
                    fill=color,
                )
    _bars(d, x0 + 14, y0 + 12, [60], (230, 230, 230), h=6)


def _screen_sudoku(d, app, rng, x0, y0, x1, y1):
    d.rectangle([x0, y0, x1, y1], fill=(255, 255, 255))
    side = x1 - x0 - 20
    bx, by, cell = x0 + 10, y0 + 30, side / 9
    for k in range(10):
        w = 2 if k % 3 == 0 else 1
        d.line([(bx + k * cell, by), (bx + k * cell, by + side)], fill=(33, 33, 33), width=w)
        d.line([(bx, by + k * cell), (bx + side, by + k * cell)], fill=(33, 33, 33), width=w)
    for i in range(9):
        for j in range(9):
            if rng.random() < 0.4:
                _text_center(
                    d, (bx + (i + 0.5) * cell, by + (j + 0.5) * cell), str(int(rng.integers(1, 10))), 12, (33, 33, 33)
                )
    for k in range(9):
        _text_center(d, (bx + (k + 0.5) * cell, by + side + 30), str(k + 1), 15, rgb(app.color))


def _screen_cards(d, app, rng, x0, y0, x1, y1):
    d.rectangle([x0, y0, x1, y1], fill=(27, 94, 32))
    cw, ch = (x1 - x0 - 16) / 7, 40
    for c in range(7):
        cx = x0 + 8 + c * cw
        for k in range(c + 1):
            cy = y0 + 70 + k * 12
            face = k == c
            d.rounded_rectangle(
                [cx + 1, cy, cx + cw - 2, cy + ch],
                radius=3,
                fill=(255, 255, 255) if face else (21, 101, 192),
                outline=(230, 230, 230),
            )
            if face:
                red = rng.random() < 0.5
                _text_center(
                    d,
                    (cx + cw / 2, cy + 10),
                    "A23456789TJQK"[int(rng.integers(0, 13))],
                    10,
                    (198, 40, 40) if red else (20, 20, 20),
                )
    for c in range(4):
        fx = x0 + 8 + (c + 3) * cw
        d.rounded_rectangle([fx + 1, y0 + 12, fx + cw - 2, y0 + 12 + ch], radius=3, outline=(165, 214, 167))
    d.rounded_rectangle([x0 + 9, y0 + 12, x0 + 8 + cw - 2, y0 + 12 + ch], radius=3, fill=(21, 101, 192))


def _screen_canvas(d, app, rng, x0, y0, x1, y1):
    d.rectangle([x0, y0, x1, y1], fill=(255, 255, 255))
    for _ in range(6):
        pts = [(int(rng.integers(x0 + 10, x1 - 10)), int(rng.integers(y0 + 10, y1 - 60))) for _ in range(4)]
        d.line(pts, fill=tuple(int(v) for v in rng.integers(0, 255, 3)), width=int(rng.integers(2, 9)), joint="curve")
    colors = ((229, 57, 53), (251, 140, 0), (253, 216, 53), (67, 160, 71), (30, 136, 229), (142, 36, 170), (33, 33, 33))
    d.rectangle([x0, y1 - 44, x1, y1], fill=(238, 238, 238))
    for k, c in enumerate(colors):
        cx = x0 + 18 + k * 30
        d.ellipse([cx - 11, y1 - 33, cx + 11, y1 - 11], fill=c, outline=(255, 255, 255) if k else (0, 0, 0), width=2)


def _screen_piano(d, app, rng, x0, y0, x1, y1):
    d.rectangle([x0, y0, x1, y1], fill=(17, 17, 17))
    for k in range(5):
        d.rounded_rectangle([x0 + 10 + k * 40, y0 + 14, x0 + 42 + k * 40, y0 + 34], radius=5, fill=(60, 60, 60))
    d.text(((x0 + x1) / 2, y0 + 70), "C4", font=font(22), fill=(255, 255, 255), anchor="mm")
    ky0, n = y0 + 110, 7
    kw = (x1 - x0) / n
    pressed = int(rng.integers(0, n))
    for k in range(n):
        fill = (200, 230, 255) if k == pressed else (250, 250, 250)
        d.rectangle([x0 + k * kw + 1, ky0, x0 + (k + 1) * kw - 1, y1 - 4], fill=fill)
    for k in (0, 1, 3, 4, 5):
        bx = x0 + (k + 1) * kw
        d.rectangle([bx - kw * 0.3, ky0, bx + kw * 0.3, ky0 + (y1 - ky0) * 0.6], fill=(20, 20, 20))


def _screen_gauge(d, app, rng, x0, y0, x1, y1):
    bg = mix(app.color, "#000000", 0.45) if app.key != "ruler" else (255, 248, 225)
    fg = (255, 255, 255) if app.key != "ruler" else (62, 39, 35)
    d.rectangle([x0, y0, x1, y1], fill=bg)
    cx = (x0 + x1) / 2
    if app.key == "ruler":
        for k in range(0, y1 - y0 - 10, 6):
            length = 30 if k % 30 == 0 else 18 if k % 15 == 0 else 10
            d.line([(x0, y0 + 8 + k), (x0 + length, y0 + 8 + k)], fill=fg, width=1)
            if k % 30 == 0:
                d.text((x0 + 36, y0 + 8 + k), str(k // 30), font=font(10), fill=fg, anchor="lm")
        d.text((cx + 30, (y0 + y1) / 2), f"{rng.uniform(1, 12):.1f} cm", font=font(22), fill=fg, anchor="mm")
        return
    if app.key == "level":
        d.rounded_rectangle([x0 + 20, y0 + 80, x1 - 20, y0 + 130], radius=25, fill=(205, 220, 57), outline=fg, width=2)
        bx = cx + rng.uniform(-40, 40)
        d.ellipse([bx - 18, y0 + 87, bx + 18, y0 + 123], fill=(240, 244, 195))
        d.line([(cx - 24, y0 + 80), (cx - 24, y0 + 130)], fill=fg, width=2)
        d.line([(cx + 24, y0 + 80), (cx + 24, y0 + 130)], fill=fg, width=2)
        big = f"{rng.uniform(-5, 5):.1f}°"
    else:
        cy, r = y0 + 150, 85
        d.arc([cx - r, cy - r, cx + r, cy + r], 180, 360, fill=fg, width=4)
        for k in range(11):
            a = math.pi + k * math.pi / 10
            d.line(
                [
                    (cx + math.cos(a) * (r - 10), cy + math.sin(a) * (r - 10)),
                    (cx + math.cos(a) * r, cy + math.sin(a) * r),
                ],
                fill=fg,
                width=2,
            )
        a = math.pi + rng.uniform(0.2, 0.8) * math.pi
        d.line([(cx, cy), (cx + math.cos(a) * (r - 16), cy + math.sin(a) * (r - 16))], fill=(255, 82, 82), width=3)
        d.ellipse([cx - 6, cy - 6, cx + 6, cy + 6], fill=fg)
        big = "A 440 Hz" if app.key == "tuner" else f"{int(rng.integers(60, 180))} BPM"
    d.text((cx, y0 + 200), big, font=font(24), fill=fg, anchor="mm")
    for k, label in enumerate(("-", "o", "+")):
        bx = cx + (k - 1) * 60
        d.ellipse([bx - 20, y1 - 70, bx + 20, y1 - 30], fill=mix(bg, "#FFFFFF", 0.2))
        _text_center(d, (bx, y1 - 50), label, 18, fg)


def _screen_sky(d, app, rng, x0, y0, x1, y1):
    d.rectangle([x0, y0, x1, y1], fill=(10, 20, 40))
    stars = [(int(rng.integers(x0, x1)), int(rng.integers(y0, y1))) for _ in range(90)]
    for sx, sy in stars:
        r = 1 if rng.random() < 0.8 else 2
        d.ellipse([sx - r, sy - r, sx + r, sy + r], fill=(255, 255, int(rng.integers(180, 255))))
    const = stars[:5]
    d.line(const, fill=(100, 140, 220), width=1)
    for sx, sy in const:
        d.ellipse([sx - 3, sy - 3, sx + 3, sy + 3], fill=(255, 245, 157))
    d.arc([x0 - 40, y1 - 60, x1 + 40, y1 + 140], 180, 360, fill=(80, 110, 170), width=2)


_SCREENS = {
    "viewfinder": _screen_viewfinder,
    "dial": _screen_dial,
    "keypad": _screen_keypad,
    "dialer": _screen_dialer,
    "calendar": _screen_calendar,
    "list": _screen_list,
    "chat": _screen_chat,
    "grid": _screen_grid,
    "toggles": _screen_toggles,
    "map": _screen_map,
    "weather": _screen_weather,
    "player": _screen_player,
    "reader": _screen_reader,
    "browser": _screen_browser,
    "wallet": _screen_wallet,
    "chart": _screen_chart,
    "button": _screen_button,
    "board": _screen_board,
    "sudoku": _screen_sudoku,
    "cards": _screen_cards,
    "canvas": _screen_canvas,
    "piano": _screen_piano,
    "gauge": _screen_gauge,
    "sky": _screen_sky,
}


def app_status_color(key: str) -> Color:
    """Status-bar colour of app ``key`` (a darker shade of its theme)."""
    return mix(APPS[key].color, "#000000", 0.3)


@cache
def app_screen_body(key: str) -> Image.Image:
    """App ``key``'s full screen without the status bar (drawn per episode, it shows the time).

    A title bar in the app's colour with its name, the app's content, and the nav bar.
    """
    app = APPS[key]
    img = Image.new("RGB", (SCREEN_W, SCREEN_H), (255, 255, 255))
    d = ImageDraw.Draw(img)
    color = rgb(app.color)
    d.rectangle([0, STATUS_H, SCREEN_W, STATUS_H + TITLE_H - 1], fill=color)
    fg = text_on(color)
    d.text((14, STATUS_H + TITLE_H / 2), app.name, font=font(16), fill=fg, anchor="lm")
    for k in range(3):  # overflow menu
        d.ellipse([SCREEN_W - 16, STATUS_H + 11 + 6 * k, SCREEN_W - 13, STATUS_H + 14 + 6 * k], fill=fg)
    _SCREENS[app.screen](d, app, _app_rng(key), 0, STATUS_H + TITLE_H, SCREEN_W, NAV_TOP)
    draw_nav_bar(img, (0, 0, 0), (235, 235, 235))
    return img
