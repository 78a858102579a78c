"""The package's import graph: no cycles between files, no import from a lower layer up.

Imports inside functions count too: a lazy import still ties two modules together, and
a cycle of lazy imports is a boundary drawn in the wrong place.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = "vlm_rewards"

#: Layers from low to high; a module may import its own layer and the ones before it.
#: envs (the domains) sit beside the reward stack, below what builds on both.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("_validation", "io", "headless", "cache"),
    ("models",),
    ("rewards",),
    ("scoring",),
    ("wrappers", "envs"),
    ("data",),
    ("pretrain", "evaluation"),
    ("family",),
    ("distributed",),
    ("agents",),
    ("cli", "__main__"),
)


def _modules() -> dict[str, Path]:
    mods = {}
    for path in (SRC / PACKAGE).rglob("*.py"):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        mods[".".join(parts)] = path
    return mods


def _resolve(name: str, mods: dict[str, Path]) -> str | None:
    while name and name not in mods:
        name = name.rpartition(".")[0]
    return name or None


@functools.cache
def import_graph() -> dict[str, set[str]]:
    """``module -> modules of the package it imports`` (anywhere in the file)."""
    mods = _modules()
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for mod, path in mods.items():
        is_pkg = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = mod.split(".") if is_pkg else mod.split(".")[:-1]
                    anchor = anchor[: len(anchor) - (node.level - 1)]
                    base = ".".join(anchor + ([base] if base else []))
                # `from pkg import submodule` imports the submodule; `from mod import name` the module.
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in mods else base for a in node.names]
            for name in targets:
                if name == PACKAGE or name.startswith(PACKAGE + "."):
                    target = _resolve(name, mods)
                    if target and target != mod:
                        graph[mod].add(target)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def _layer(module: str) -> int | None:
    parts = module.split(".")
    if len(parts) == 1:
        return None  # the package root re-exports lazily from everywhere
    for i, names in enumerate(LAYERS):
        if parts[1] in names:
            return i
    raise AssertionError(f"{module} is in no layer: add {parts[1]!r} to LAYERS in {__file__}")


def test_graph_sees_lazy_imports():
    graph = import_graph()
    # cli imports the agents only inside its commands: the graph must still see it.
    assert any(t.startswith("vlm_rewards.agents") for t in graph["vlm_rewards.cli"])


def test_no_import_cycles():
    assert _cycles(import_graph()) == []


def test_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


@pytest.mark.parametrize("module", sorted(_modules()))
def test_no_upward_import(module):
    mine = _layer(module)
    if mine is None:
        return
    upward = sorted(t for t in import_graph()[module] if (_layer(t) or 0) > mine)
    assert upward == [], f"{module} (layer {mine}) imports higher layers: {upward}"
