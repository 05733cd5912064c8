"""Receding-horizon planning: plan an action sequence that brings the model's latent to the goal's,
take its first ``replan_every`` actions in the environment, plan again from what is seen.

The cost of a sequence (``cost``) is by default the closest the rolled-out latents come to the
goal's latent plus where they end (a terminal term): only the end would ignore a path that passes
the goal, only the closest would not make the plan stay there. ``sum`` adds the distance at every
step, as EB-JEPA does (it reports 97% with it against 89% with the end alone): it rewards getting
there early and spreads one bad prediction over many terms.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from latentspace.core.errors import LatentspaceError
from latentspace.world.cem import cem
from latentspace.world.mppi import mppi
from latentspace.world.predictor import rollout

METHODS = ("mppi", "cem")
COSTS = ("closest+end", "sum", "end")


@dataclass(frozen=True)
class PlannerConfig:
    method: str = "mppi"
    horizon: int = 16
    samples: int = 256
    iterations: int = 4
    noise: float = 0.7
    temperature: float = 0.3  # MPPI
    elite: float = 0.1  # CEM
    replan_every: int = 2
    cost_every: int = 1  # score every k-th planned step (and the last): a costly distance (images) at fewer steps
    cost: str = "closest+end"

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise LatentspaceError(f"unknown planner {self.method!r}; valid: {', '.join(METHODS)}")
        if self.cost not in COSTS:
            raise LatentspaceError(f"planner: unknown cost {self.cost!r}; valid: {', '.join(COSTS)}")
        checks = [(1 <= self.horizon <= 128, "horizon is 1-128 steps"), (8 <= self.samples <= 8192, "samples 8-8192"),
                  (1 <= self.iterations <= 64, "iterations 1-64"), (0.0 < self.noise <= 4.0, "noise in (0, 4]"),
                  (0.0 < self.temperature <= 100.0, "temperature in (0, 100]"), (0.0 < self.elite < 1.0, "elite in (0, 1)"),
                  (1 <= self.replan_every <= self.horizon, "replan_every is 1 to the horizon"),
                  (1 <= self.cost_every <= self.horizon, "cost_every is 1 to the horizon")]
        for ok, message in checks:
            if not ok:
                raise LatentspaceError(f"planner: {message}")

    def to_dict(self) -> dict:
        return asdict(self)


def sequence_cost(model, z0: torch.Tensor, goal: torch.Tensor, every: int = 1, kind: str = "closest+end"):
    def cost_of(actions: torch.Tensor) -> torch.Tensor:
        latents = rollout(model.predict, z0.expand(actions.shape[0], -1), actions)
        steps = torch.arange(latents.shape[1] - 1, -1, -every).flip(0)  # ends with the last step
        d = model.distance(latents[:, steps], goal)
        if kind == "sum":
            return d.sum(1)
        return d[:, -1] if kind == "end" else d.min(1).values + d[:, -1]
    return cost_of


@torch.no_grad()
def plan(model, z0: torch.Tensor, goal: torch.Tensor, config: PlannerConfig, start: torch.Tensor,
         generator: torch.Generator) -> torch.Tensor:
    cost_of = sequence_cost(model, z0, goal, config.cost_every, config.cost)
    if config.method == "mppi":
        return mppi(cost_of, start, config.samples, config.iterations, config.noise, config.temperature, generator)
    return cem(cost_of, start, config.samples, config.iterations, config.noise, config.elite, generator)


@dataclass
class Episode:
    success: bool
    steps: int
    states: list = field(default_factory=list)  # true (x, y) after each step, the start first
    goal: tuple = ()
    layout: tuple = ()
    plans: list = field(default_factory=list)  # (step, planned actions [H, 2]) at each replanning
    plan_seconds: float = 0.0  # total time spent planning

    @property
    def seconds_per_step(self) -> float:
        return self.plan_seconds / max(1, self.steps)


def run_episode(env, act, start, goal, layout=None, seed: int = 0) -> Episode:
    """One episode from ``start`` to ``goal``; ``act(observation, goal_observation, step) -> action``."""
    options = {"start": start, "goal": goal} | ({"layout": layout} if layout is not None else {})
    obs, info = env.reset(seed=seed, options=options)
    goal_obs = env.goal_observation()
    episode = Episode(False, 0, [info["state"].tolist()], tuple(info["goal"].tolist()), tuple(info["layout"]))
    for step in range(env.config.max_steps):
        started = time.perf_counter()
        action = act(obs, goal_obs, step, episode)
        episode.plan_seconds += time.perf_counter() - started
        obs, _, terminated, truncated, info = env.step(np.asarray(action, dtype=np.float64))
        episode.states.append(info["state"].tolist())
        episode.steps = step + 1
        if terminated:
            episode.success = True
            break
        if truncated:
            break
    return episode


class Planner:
    """The acting side of a planner on a world model: keeps the plan between replannings (warm start)."""

    def __init__(self, model, config: PlannerConfig, seed: int = 0) -> None:
        self.model, self.config = model, config
        self.generator = torch.Generator().manual_seed(seed)
        self.plan = torch.zeros(config.horizon, 2)
        self.goal = None

    def __call__(self, obs, goal_obs, step: int, episode: Episode | None = None):
        c = self.config
        if step == 0:
            if hasattr(self.model, "layout") and episode is not None:  # the oracle knows the episode's walls
                from latentspace.world.two_rooms import Layout

                self.model.layout = Layout(*episode.layout)
            self.plan = torch.zeros(c.horizon, 2)
            with torch.no_grad():
                self.goal = self.model.encode(torch.as_tensor(goal_obs)[None])[0]
        k = step % c.replan_every
        if k == 0:
            with torch.no_grad():
                z0 = self.model.encode(torch.as_tensor(obs)[None])[0]
            self.plan = plan(self.model, z0, self.goal, c, self.plan, self.generator)
            self.current = self.plan.clone()
            if episode is not None:
                episode.plans.append((step, self.current.tolist()))
            self.plan = torch.cat([self.plan[c.replan_every:], torch.zeros(c.replan_every, 2)])  # warm start
        return self.current[k].numpy()
