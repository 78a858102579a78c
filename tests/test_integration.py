"""The pieces together: a built-in domain, the VLM reward, goal conditioning and SB3 PPO."""

import gymnasium as gym
import numpy as np
from stable_baselines3 import PPO
from stable_baselines3.common.vec_env import DummyVecEnv, VecMonitor

import vlm_rewards.envs  # noqa: F401
from vlm_rewards import RewardScorer, goals
from vlm_rewards.wrappers import GoalEmbeddingObservation, RenderFrameInfo, VecVLMReward, goal_embedding_table


def test_ppo_learns_steps_on_phone_with_vlm_reward(tiny_model):
    goal_set = goals("phone", split="all")
    scorer = RewardScorer(tiny_model, goal_set=goal_set)
    table = goal_embedding_table(scorer, goal_set)

    def make():
        env = gym.make("vlm_rewards/Phone-v0", render_mode="rgb_array", render_size=32, terminate_on_success=False)
        return RenderFrameInfo(GoalEmbeddingObservation(env, table))

    venv = VecMonitor(VecVLMReward(DummyVecEnv([make, make]), scorer))
    model = PPO("MultiInputPolicy", venv, n_steps=16, batch_size=16, n_epochs=1, seed=0, device="cpu")
    model.learn(total_timesteps=32)
    obs = venv.reset()
    assert set(obs) == {"image", "goal"} and obs["goal"].shape == (2, 16)
    _, rewards, _, infos = venv.step(np.array([0, 27]))
    for r, info in zip(rewards, infos):
        assert r == info["vlm_reward"] and "ground_truth_success" in info and info["goal"] in goal_set
