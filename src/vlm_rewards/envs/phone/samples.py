"""Phone frames for datasets: captioned corpus frames and labelled evaluation-set frames.

Referenced by the phone's :class:`~vlm_rewards.envs.registry.Domain` record; the writers
(shards, manifests) are in :mod:`vlm_rewards.data`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from vlm_rewards.envs._sampling import NOISE, CorpusFrame, LabelledFrame, pick, styled
from vlm_rewards.envs.registry import EvalSource

__all__ = ["EVALSET", "POLICIES", "corpus_samples", "evalset_samples", "phone_caption", "phone_captions", "phone_labeller"]


_APP_CAPTIONS = (
    "the {a} app open on a phone",
    "a phone showing the {a} app",
    "the {a} app is open",
    "{a} app screen",
    "a screenshot of the {a} app",
    "the {a} app",
    "the phone has the {a} app open",
)
_HOME_CAPTIONS = (
    "a phone home screen with app icons",
    "the phone launcher showing app icons",
    "home screen page {p} of a phone",
    "a grid of app icons on a phone",
    "the launcher of a phone",
)


def phone_caption(foreground: str, page: int, rng: np.random.Generator) -> tuple[str, str]:
    """(caption, label) for a phone frame with ``foreground`` ("home" or an app key) on ``page``."""
    if foreground == "home":
        return pick(rng, _HOME_CAPTIONS).format(p=page + 1), "phone:home"
    return pick(rng, _APP_CAPTIONS).format(a=foreground), f"phone:app:{foreground}"


# Caption styles of the corpus (one caption of each per frame): descriptive, the phrasing of
# web alt-text for phone screenshots, and instruction-like (the instruction this state completes).
_APP_STYLES = (
    _APP_CAPTIONS,
    ("screenshot of the {a} app on an android phone", "{a} - android app screenshot",
     "android phone screen: {a}", "a screenshot of {a} on an android phone", "mobile app screenshot, {a} app"),
    ("open the {a} app", "open {a}", "launch the {a} app", "go to the {a} app", "start {a} on the phone"),
)
_HOME_STYLES = (
    _HOME_CAPTIONS,
    ("screenshot of an android home screen", "android launcher screenshot, page {p}",
     "a screenshot of app icons on an android phone"),
    ("go to the home screen", "press home on the phone", "close the app"),
)
_ICON_STYLES = (
    ("the {a} app icon", "an app icon for {a}", "the {a} icon on a home screen", "the icon of the {a} app"),
    ("{a} android app icon", "app icon: {a}", "launcher icon of the {a} app", "android icon, {a}"),
    ("tap the {a} icon", "the icon that opens {a}", "press the {a} app icon", "tap here to open {a}"),
)
# Fraction of app frames followed by a twin with another app open (a hard negative).
_TWIN_RATE = 0.3
# Probability that a home-screen frame is followed by a close-up of one of its icons, cropped
# from the native screen (``PhoneEnv.region_crops``): what a pointer policy reading the VLM's
# per-region features asks about, and the only place an app's icon is named.
_ICON_RATE = 0.6


def phone_captions(foreground: str, page: int, rng: np.random.Generator) -> tuple[tuple[str, ...], str]:
    """(captions, label): one caption per style (descriptive, screenshot, instruction) for a
    phone frame with ``foreground`` ("home" or an app key) on ``page``."""
    if foreground == "home":
        return styled(rng, _HOME_STYLES, p=str(page + 1)), "phone:home"
    return styled(rng, _APP_STYLES, a=foreground), f"phone:app:{foreground}"


def _twin_app(app: str, rng: np.random.Generator) -> str:
    # One of the three apps most like ``app`` to the eye (same screen layout, then nearest colour).
    from vlm_rewards.envs.phone.apps import DIVERSE_APPS
    from vlm_rewards.envs.phone.env import goal_text
    from vlm_rewards.envs.phone.text import hardness

    goal = goal_text(app)
    ranked = sorted((a for a in DIVERSE_APPS if a != app), key=lambda a: hardness(goal, goal_text(a)))
    return pick(rng, ranked[:3])


def corpus_samples(rng: np.random.Generator, image_size: int, holdout: frozenset[str]) -> Iterator[Any]:
    del holdout  # app names carry no colour-object combinations
    from vlm_rewards.envs import phone

    env = phone.PhoneEnv(apps="diverse", goal_split="all", render_mode="rgb_array", render_size=image_size)
    all_goals = phone.goals("all", apps="diverse")
    n_cells = phone.N_TAP_CELLS

    def frames(info: dict[str, Any]) -> Iterator[CorpusFrame]:
        state = rng.bit_generator.state
        captions, label = phone_captions(info["foreground"], info["page"], rng)
        yield CorpusFrame(env.render(), captions, label)
        if info["foreground"] == "home" and rng.random() < _ICON_RATE:
            cells = [i for i, app in enumerate(env.cell_apps()) if app is not None]
            cell = pick(rng, cells)
            app = env.cell_apps()[cell]
            yield CorpusFrame(env.region_crops(image_size)[cell], styled(rng, _ICON_STYLES, a=app), f"phone:icon:{app}")
        if info["foreground"] != "home" and rng.random() < _TWIN_RATE:
            other = _twin_app(info["foreground"], rng)
            after = rng.bit_generator.state
            rng.bit_generator.state = state  # the same templates, another app
            twin_captions, twin_label = phone_captions(other, info["page"], rng)
            rng.bit_generator.state = after
            env.foreground = other
            try:
                yield CorpusFrame(env.render(), twin_captions, twin_label, twin=True)
            finally:
                env.foreground = info["foreground"]

    while True:
        obs, info = env.reset(seed=int(rng.integers(2**31)), options={"goal": pick(rng, all_goals)})
        policy = pick(rng, ("random", "explore", "explore", "solver"))
        solver = phone.make_solver(env)
        yield from frames(info)
        for _ in range(int(rng.integers(4, 16))):
            if policy == "solver":
                action = solver(obs)
            elif policy == "random":
                action = int(rng.integers(env.action_space.n))
            elif info["foreground"] == "home":  # explore: open apps, turn pages
                action = int(rng.integers(n_cells)) if rng.random() < 0.7 else pick(rng, (phone.SWIPE_LEFT, phone.SWIPE_RIGHT))
            else:
                action = phone.BACK if rng.random() < 0.5 else phone.HOME
            obs, _, terminated, truncated, info = env.step(action)
            yield from frames(info)
            if terminated or truncated:
                break


POLICIES = ("random", "solver", "noisy", "near_miss")


def _phone_plan(env: Any, app: str) -> int:
    """Next discrete action towards having ``app`` in the foreground (public env state)."""
    from vlm_rewards.envs import phone

    if env.foreground == app:
        return 0  # a tap on in-app content is inert: stay
    if env.foreground is not None:
        return phone.BACK
    page, slot = env.layout.locate(app)
    if page is None:
        return phone.N_TAP_CELLS - phone.GRID_COLS + slot
    if page == env.page:
        return slot
    return phone.SWIPE_LEFT if page > env.page else phone.SWIPE_RIGHT


def _phone_neighbour(env: Any, app: str, rng: np.random.Generator) -> str:
    """An app whose icon sits next to ``app``'s (same page or dock), for near misses."""
    page, slot = env.layout.locate(app)
    slots = env.layout.dock if page is None else env.layout.pages[page]
    cols = len(env.layout.dock)
    near = [slot - 1, slot + 1] if page is None else [slot - 1, slot + 1, slot - cols, slot + cols]
    candidates = [slots[i] for i in near if 0 <= i < len(slots) and slots[i] not in (None, app)]
    if not candidates:
        candidates = [a for a in env.layout.dock if a != app]
    return pick(rng, candidates)


def evalset_samples(
    variant: str, all_goals: list[str], split: str, rng: np.random.Generator, image_size: int
) -> Iterator[Any]:
    """Labelled frames of the ``variant`` app set ("common", "diverse"); see :class:`EvalSource`."""
    from vlm_rewards.envs import phone

    app_set = variant
    labels_of = phone_labeller(app_set, all_goals)
    pursue = phone.goals(split, app_set)
    env = phone.PhoneEnv(apps=app_set, goal_split=split, render_mode="rgb_array", render_size=image_size,
                         terminate_on_success=False)
    episode = 0
    while True:
        goal = pick(rng, pursue)
        env.reset(seed=int(rng.integers(2**31)), options={"goal": goal})
        policy = int(rng.integers(len(POLICIES)))
        name = POLICIES[policy]
        target = env.target if name != "near_miss" else _phone_neighbour(env, env.target, rng)
        length, hold = int(rng.integers(4, 16)), int(rng.integers(1, 5))
        pursued = all_goals.index(goal)
        for t in range(length + 1):
            if t:
                if name == "random" or (name == "noisy" and rng.random() < NOISE):
                    action = int(rng.integers(phone.N_DISCRETE))
                else:
                    action = _phone_plan(env, target)
                env.step(action)
            yield LabelledFrame(env.render(), labels_of(env), episode, t, policy, pursued)
            if name != "random" and env.foreground == target:
                hold -= 1
                if hold < 0:
                    break
        episode += 1


def phone_labeller(variant: str, all_goals: list[str]) -> Callable[[Any], np.ndarray]:
    """``labels(env)`` of ``all_goals`` for an unwrapped PhoneEnv: which goal's app is open."""
    from vlm_rewards.envs import phone

    column = {phone.parse_goal(g, variant)[1]: i for i, g in enumerate(all_goals)}

    def labels(env: Any) -> np.ndarray:
        out = np.zeros(len(all_goals), dtype=bool)
        if env.foreground in column:
            out[column[env.foreground]] = True
        return out

    return labels


EVALSET = EvalSource(policies=POLICIES, samples=evalset_samples, labeller=phone_labeller)
