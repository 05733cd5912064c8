"""Tour: plan in a latent world model (issue 23) — a JEPA model of Two Rooms trained for seconds, one
planned episode through the door, and what its latent holds."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import torch

from latentspace.tour.section import SectionResult

if TYPE_CHECKING:  # the type only: no import at run time
    from latentspace.model.latent_model import LatentModel


def world(lm: LatentModel, out: Path) -> SectionResult:
    from latentspace.world import (Planner, PlannerConfig, RoomsConfig, TrainConfig, build, eval_tasks, evaluate,
                                   make_trajectories, train_world)
    from latentspace.world.probe import position_probe
    from latentspace.world.report import episode_gif, episode_picture

    tiny = lm.name.startswith("tiny")  # the test tour: smaller images, fewer steps
    config = RoomsConfig(size=16 if tiny else 32)
    data = make_trajectories(config, 120 if tiny else 400, 30 if tiny else 50, seed=0)
    torch.manual_seed(0)
    steps = 100 if tiny else 800
    model, history = train_world(build("jepa", config.size), data, TrainConfig(steps=steps, batch_size=32))
    probe = position_probe(model, data.observations[-40:].reshape(-1, 2, config.size, config.size),
                           data.states[-40:].reshape(-1, 2))
    tasks = eval_tasks(config, 4 if tiny else 10)
    summary, episodes = evaluate(config, lambda i: Planner(model, PlannerConfig(), seed=i), tasks)
    shown = next((e for e in episodes if e.success), episodes[0])
    images = [episode_picture(shown, config, out / "world-episode.png"), episode_gif(shown, config, out / "world.gif")]
    rows = [{"episode": i, "reached": e.success, "steps": e.steps} for i, e in enumerate(episodes)]
    text = (f"A JEPA world model (CNN encoder, MLP predictor; latent prediction + variance, covariance, smoothness "
            f"and inverse-dynamics terms, no pixels) trained {steps} steps on {data.episodes} random-policy episodes "
            f"of Two Rooms. A linear probe reads the agent's position from its latent with held-out R² "
            f"{probe['r2']:.2f} (shuffled: {probe['control_r2']:.2f}). MPPI in the latent space reached the goal in the "
            f"other room in {sum(e.success for e in episodes)} of {len(episodes)} episodes. The full table (JEPA vs a "
            "pixel model, behaviour cloning, the ablations): `benchmarks/bench_world.py`; do it yourself with "
            "`latentspace world data|train|plan|eval`.")
    return SectionResult("Plan in a latent world model", text, rows, images,
                         {"probe": probe, "success": summary["success"], "loss_last": history[-1]["loss"]})
