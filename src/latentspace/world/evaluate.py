"""The evaluation protocol: start and goal in *different* rooms (every episode must find the door),
drawn by seed, on the configuration's layout (or a random one per episode when it is random);
success = within ``radius`` of the goal within ``max_steps``."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from latentspace.core.stats import wilson
from latentspace.world.two_rooms import RoomsConfig, TwoRooms


@dataclass(frozen=True)
class Task:
    start: tuple
    goal: tuple
    layout: tuple


def eval_tasks(config: RoomsConfig, n: int, seed: int = 1000) -> list[Task]:
    """``n`` (start, goal, layout) triples; the same for the same seed (keep it apart from data seeds)."""
    env = TwoRooms(config)
    tasks = []
    for i in range(n):
        env.reset(seed=seed * 7919 + i)
        side = i % 2
        start, goal = env.free_point(room=side), env.free_point(room=1 - side)
        tasks.append(Task(tuple(start.tolist()), tuple(goal.tolist()), (env.layout.wall_x, env.layout.door_y)))
    return tasks


def success_rate(episodes) -> dict:
    wins = sum(e.success for e in episodes)
    low, high = wilson(wins, len(episodes))
    steps = [e.steps for e in episodes]
    return {"n": len(episodes), "success": wins / len(episodes), "ci": [low, high], "mean_steps": float(np.mean(steps)),
            "plan_s_per_step": sum(e.plan_seconds for e in episodes) / max(1, sum(steps))}


def evaluate(config: RoomsConfig, make_actor, tasks: list[Task], progress=None) -> tuple[dict, list]:
    """Run one episode per task with a fresh actor (``make_actor(i)``) each; (summary, episodes)."""
    from latentspace.world.planning import run_episode

    env, episodes = TwoRooms(config), []
    for i, task in enumerate(tasks):
        episodes.append(run_episode(env, make_actor(i), task.start, task.goal, task.layout, seed=i))
        if progress is not None:
            progress(i + 1, len(tasks))
    return success_rate(episodes), episodes
