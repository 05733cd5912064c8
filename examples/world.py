"""Planning in a latent world model in a few lines: data, a JEPA model, MPPI towards a goal, a look inside.

    .venv/bin/python examples/world.py            # 32×32 images, 800 training steps (about a minute)
    .venv/bin/python examples/world.py --tiny     # 16×16, 60 steps (seconds; what the test runs)
"""

import argparse
import tempfile
from pathlib import Path

import torch

from latentspace.world import (Planner, PlannerConfig, RoomsConfig, TrainConfig, build, eval_tasks, evaluate,
                               make_trajectories, train_world)
from latentspace.world.oracle import TrueStateModel
from latentspace.world.probe import position_probe
from latentspace.world.report import episode_picture
from latentspace.world.two_rooms import Layout

parser = argparse.ArgumentParser()
parser.add_argument("--tiny", action="store_true")
args = parser.parse_args()
torch.manual_seed(0)

# 1. offline data: random-policy trajectories of Two Rooms (images, actions, true positions)
config = RoomsConfig(size=16 if args.tiny else 32)
data = make_trajectories(config, episodes=80 if args.tiny else 400, steps=30 if args.tiny else 50, seed=0)
print(f"{data.episodes} episodes of {data.steps} steps, {config.size}x{config.size} images")

# 2. a JEPA world model: it predicts the next latent (never pixels); every loss term is logged
model, history = train_world(build("jepa", config.size), data, TrainConfig(steps=60 if args.tiny else 800))
print("loss terms at the end:", {k: round(v, 3) for k, v in history[-1].items()})

# 3. what the latent holds: a linear probe to (x, y), beside its shuffled control
obs = data.observations[-20:].reshape(-1, 2, config.size, config.size)
print("position probe:", position_probe(model, obs, data.states[-20:].reshape(-1, 2)))

# 4. plan with MPPI in the latent space (start and goal in different rooms), and on the true simulator
tasks = eval_tasks(config, 4 if args.tiny else 20)
learnt, episodes = evaluate(config, lambda i: Planner(model, PlannerConfig(method="mppi"), seed=i), tasks)
oracle = TrueStateModel(config, Layout(config.wall_x, config.door_y))
best, _ = evaluate(config, lambda i: Planner(oracle, PlannerConfig(method="mppi"), seed=i), tasks)
print(f"JEPA + MPPI reached {learnt['success']:.0%} of the goals; MPPI on the true simulator {best['success']:.0%}")

# 5. the first episode's path and plans over the map
picture = episode_picture(episodes[0], config, Path(tempfile.mkdtemp()) / "episode.png")
print(f"episode 0 ({'reached' if episodes[0].success else 'missed'} in {episodes[0].steps} steps): {picture}")
