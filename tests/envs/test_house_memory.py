"""Tests of House's search map (``vlm_rewards.envs.house.memory``): what counts as looked at, the
egocentric crop, and the wrapper's contract."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from vlm_rewards.envs.house.env import Actions, HouseEnv
from vlm_rewards.envs.house.memory import CHANNELS, SearchMap, SearchMapObservation
from vlm_rewards.envs.house.nav import segments_cross_walls


@pytest.fixture(scope="module")
def house() -> HouseEnv:
    env = HouseEnv(family="find", num_rooms=(3, 3), actions="walk", obs_size=32, render_size=32)
    yield env
    env.close()


def test_seen_floor_is_in_view_within_sight_and_not_behind_walls(house):
    house.reset(seed=4)
    memory = SearchMap(sight=3.0)
    memory.reset(house)
    memory.update(house)
    agent = house.agent
    points = memory._points[memory.seen]
    assert 0 < memory.seen_fraction < 0.5
    rel = points - agent.cam_pos[[0, 2]]
    assert np.all(np.linalg.norm(rel, axis=1) <= 3.0 + 1e-9)
    feet = np.linalg.norm(points - agent.pos[[0, 2]], axis=1) <= 0.5  # the floor at its feet counts too
    assert feet.any() and not feet.all()
    assert np.all(rel[~feet] @ agent.dir_vec[[0, 2]] > 0)  # the rest is in front of the camera
    assert not segments_cross_walls(points, agent.cam_pos[[0, 2]], house.wall_segs).any()
    # Floor in front and in range but behind a wall stays unseen: with 3 rooms some exists
    # in any full turn, and no turn ever marks it.
    for _ in range(int(round(360 / house.params.sample(None, "turn_step"))) + 2):
        house.step(Actions.turn_left)
        memory.update(house)
    seen = memory._points[memory.seen]
    assert not segments_cross_walls(seen, agent.cam_pos[[0, 2]], house.wall_segs).any()
    assert memory.seen_fraction < 1.0


def test_what_is_seen_stays_seen_and_turning_looks_further(house):
    house.reset(seed=5)
    memory = SearchMap()
    memory.reset(house)
    memory.update(house)
    before = memory.seen.copy()
    for _ in range(6):
        house.step(Actions.turn_left)
        memory.update(house)
    assert np.all(memory.seen[before]) and memory.seen.sum() > before.sum()
    assert memory.visited.sum() == 1  # turning on the spot stands in one cell


def test_egocentric_crop_puts_what_is_ahead_above_the_agent(house):
    house.reset(seed=6)
    memory = SearchMap(size=16, cell=0.5)
    memory.reset(house)
    memory.update(house)
    crop = memory.egocentric(house)
    assert crop.shape == (len(CHANNELS), 16, 16) and crop.dtype == np.float32
    rows, _ = np.nonzero(crop[0])
    # The first view: floor ahead, rows 0-7 of 16, and the floor at its feet (within 0.5 m: row 8 at most).
    assert rows.size and np.all(rows <= 8) and (rows <= 6).sum() > 2 * (rows >= 7).sum()
    assert crop[2].sum() == 1 and crop[2, 7:9, 7:9].sum() == 1  # the agent's own cell, at the centre
    assert set(np.unique(crop)) <= {0.0, 1.0}
    # Seen wall marks are seen floor too.
    assert np.all(crop[0][crop[1] > 0] == 1)
    # After a half turn the same floor lies behind: below the centre.
    for _ in range(int(round(180 / house.params.sample(None, "turn_step")))):
        house.step(Actions.turn_left)
    behind = memory.egocentric(house)  # no update: the same floor, seen from the new heading
    assert np.nonzero(behind[0])[0].min() >= 6


def test_wrapper_adds_the_map_and_the_seen_fraction(house):
    from vlm_rewards.envs import goals
    from vlm_rewards.wrappers import GoalEmbeddingObservation

    table = {g: np.ones(4, np.float32) for g in goals("house", "all", family="find")}
    env = SearchMapObservation(GoalEmbeddingObservation(house, table), sight=4.0, size=8, cell=1.0)
    assert env.observation_space["map"].shape == (3, 8, 8)
    obs, info = env.reset(seed=7)
    assert env.observation_space.contains(obs)
    first = info["seen_fraction"]
    assert 0 < first < 1
    for _ in range(8):
        obs, _, _, _, info = env.step(int(Actions.turn_left))
        assert env.observation_space.contains(obs)
    assert info["seen_fraction"] > first
    # A new episode starts a new map.
    _, info = env.reset(seed=8)
    assert info["seen_fraction"] < 0.5
    with pytest.raises(ValueError, match="already has a 'map'"):
        SearchMapObservation(env)


def test_wrapper_needs_a_house_env_with_a_dict_observation(house):
    from tests.helpers import ColourSquareEnv

    with pytest.raises(TypeError, match="needs a House env"):
        SearchMapObservation(ColourSquareEnv())
    with pytest.raises(TypeError, match="Dict observation"):
        SearchMapObservation(house)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"sight": 0}, "sight"), ({"sight": "far"}, "sight"), ({"size": 15}, "size"), ({"size": 0}, "size"),
    ({"cell": -1.0}, "cell"),
])
def test_bad_arguments_name_the_argument(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SearchMap(**kwargs)


def test_the_map_is_read_only_after_a_reset(house):
    with pytest.raises(RuntimeError, match="reset"):
        SearchMap().egocentric(house)


class _DictObs(gym.ObservationWrapper):
    """The House image as a Dict observation, as GoalEmbeddingObservation gives it."""

    def __init__(self, env):
        super().__init__(env)
        self.observation_space = gym.spaces.Dict({"image": env.observation_space})

    def observation(self, obs):
        return {"image": obs}


def _seen_after(env: HouseEnv, steps: int, explore: bool) -> float:
    """Share of the floor looked at after ``steps`` explore steps (or left turns)."""
    wrapped = SearchMapObservation(_DictObs(env), explore_action=True)
    wrapped.reset(seed=11)
    for _ in range(steps):
        _, _, terminated, truncated, info = wrapped.step(wrapped.explore_id if explore else int(Actions.turn_left))
        assert info["explored"] is explore
        if terminated or truncated:
            break
    return info["seen_fraction"]


def test_explore_action_walks_to_floor_not_yet_looked_at():
    """The explore step leaves the first room: it looks at most of a 3-room house, where turning on
    the spot sees one room at most."""
    env = HouseEnv(family="find", num_rooms=(3, 3), actions="walk", obs_size=32, render_size=32, max_episode_steps=200)
    try:
        explored = _seen_after(env, 150, explore=True)
        turned = _seen_after(env, 150, explore=False)
    finally:
        env.close()
    assert turned < 0.5
    assert explored > 0.8 and explored > turned + 0.3


def test_explore_action_extends_the_action_space_and_checks_actions(house):
    wrapped = SearchMapObservation(_DictObs(house), explore_action=True)
    assert wrapped.action_space.n == house.action_space.n + 1 == wrapped.explore_id + 1
    wrapped.reset(seed=3)
    _, _, _, _, info = wrapped.step(int(Actions.turn_left))
    assert info["explored"] is False
    with pytest.raises(ValueError, match="action must be an int in"):
        wrapped.step(wrapped.explore_id + 1)
    moved = HouseEnv(family="find", num_rooms=(2, 2), actions="move", obs_size=32, render_size=32)
    try:
        with pytest.raises(ValueError, match="explore_action needs House actions='walk'"):
            SearchMapObservation(_DictObs(moved), explore_action=True)
    finally:
        moved.close()


def test_the_explorer_side_steps_after_a_bump_and_turns_once_all_is_seen(house):
    from vlm_rewards.envs.house.memory import FrontierExplorer

    house.reset(seed=8)
    memory = SearchMap()
    memory.reset(house)
    memory.update(house)
    explorer = FrontierExplorer(memory)
    with pytest.raises(RuntimeError, match="reset"):
        explorer.act(house)
    explorer.reset(house)
    for _ in range(40):  # turn towards the frontier until it says walk
        action = explorer.act(house)
        assert action in (0, 1, 2)
        if action == 2:
            break
        house.step(action)
        memory.update(house)
    assert action == 2
    assert explorer.act(house, last_action=2, blocked=True) == 4  # bumped: a side step, left first
    assert explorer.act(house, last_action=4, blocked=True) == 5  # left is shut too: right
    assert explorer.act(house, last_action=2, blocked=False) == 2
    memory.seen[:] = True
    explorer.reset(house)
    assert explorer.act(house) == 0  # nothing left to look at: look round
