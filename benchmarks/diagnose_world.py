"""Which half of a learnt world model limits planning: its latent (the cost) or its predictor (the dynamics)?

    .venv/bin/python benchmarks/diagnose_world.py --random-layout --variant normalize --seeds 0

Takes a JEPA model that `bench_world.py` trained (the same name, settings and data; trains it if
missing) and plans with two hybrids, on the same evaluation episodes and planner settings:

- learnt cost, true dynamics: the simulator rolls the true state out, each rolled-out state is
  rendered and encoded, and the cost is the learnt latent's distance to the goal's latent;
- learnt dynamics, probe cost: the learnt predictor rolls the latent out, and the cost is the
  distance between the positions a linear probe (fitted on the training data) reads off the latent
  and off the goal's latent.

Next to both true (MPPI on the simulator: the planner's ceiling) and both learnt (JEPA + MPPI),
at the same planner settings, they say which half loses the episodes. Rows go to benchmarks/results/world/rows-diagnose.json with bench_world's
key format (or `--rows-file rows-NAME.json`), so they appear in its "one change at a time" table.
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import torch
from bench_world import OUT, RANDOM, VARIANTS, dataset, tagged, trained
from results_md import dumps_by_key

from latentspace.world import PlannerConfig, eval_tasks, evaluate
from latentspace.world.oracle import TrueStateModel
from latentspace.world.planning import Planner
from latentspace.world.two_rooms import Layout, Renderer


class LearntCostTrueDynamics(TrueStateModel):
    """The simulator's exact dynamics over the true state; distances in the learnt latent."""

    def __init__(self, model, config) -> None:
        super().__init__(config, Layout(config.wall_x, config.door_y))
        self.model, self._renderer, self._goal = model, None, None

    def _encode_states(self, states: torch.Tensor) -> torch.Tensor:
        if self._renderer is None or self._renderer_layout != self.layout:  # a new episode's walls
            self._renderer, self._renderer_layout = Renderer(self.layout, self.config), self.layout
        images = self._renderer(states.reshape(-1, 2).numpy())
        return self.model.encode(torch.as_tensor(images)).reshape(*states.shape[:-1], -1)

    def distance(self, z: torch.Tensor, goal: torch.Tensor) -> torch.Tensor:
        if self._goal is None or not torch.equal(self._goal[0], goal):
            self._goal = (goal.clone(), self._encode_states(goal[None])[0])
        return ((self._encode_states(z) - self._goal[1]) ** 2).sum(-1)


class LearntDynamicsProbeCost:
    """The learnt encoder and predictor; distances between probe-read positions."""

    def __init__(self, model, weights: torch.Tensor) -> None:
        self.model, self.weights = model, weights
        self.encode, self.predict = model.encode, model.predict

    def _position(self, z: torch.Tensor) -> torch.Tensor:
        return torch.cat([z, torch.ones_like(z[..., :1])], -1) @ self.weights

    def distance(self, z: torch.Tensor, goal: torch.Tensor) -> torch.Tensor:
        return ((self._position(z) - self._position(goal)) ** 2).sum(-1)


@torch.no_grad()
def fit_probe(model, data, frames: int = 8192) -> torch.Tensor:
    """Least-squares map [latent, 1] -> (x, y) on evenly spaced training frames."""
    size = data.config.size
    observations = data.observations.reshape(-1, 2, size, size)
    pick = np.linspace(0, len(observations) - 1, min(frames, len(observations))).astype(int)
    z = torch.cat([model.encode(torch.as_tensor(observations[pick[i:i + 512]])) for i in range(0, len(pick), 512)])
    x = torch.cat([z, torch.ones_like(z[:, :1])], 1).double()
    y = torch.as_tensor(data.states.reshape(-1, 2)[pick]).double()
    return torch.linalg.lstsq(x, y).solution.float()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--episodes", type=int, default=100)
    parser.add_argument("--steps", type=int, default=2000, help="training steps of the model (as bench_world)")
    parser.add_argument("--data-episodes", type=int, default=1000)
    parser.add_argument("--random-layout", action="store_true")
    parser.add_argument("--variant", choices=sorted(VARIANTS))
    parser.add_argument("--rows-file", default="rows-diagnose.json", help="where the rows go (one per parallel run)")
    parser.add_argument("--cost-every", type=int, default=1,
                        help="score every k-th planned step, in every row (rendering and encoding each rolled-out "
                        "state makes the learnt-cost row ~1 s per step at 1); rows labelled '(cost every k)'")
    args = parser.parse_args()
    args.episode_steps, args.size = 50, 32  # bench_world's defaults: the models it trains by default
    torch.set_num_threads(1)
    data = dataset(args)
    tasks = eval_tasks(data.config, args.episodes)
    path = OUT / args.rows_file
    rows = json.loads(path.read_text()) if path.exists() else {}
    base = f"JEPA + MPPI{f' [{args.variant}]' if args.variant else ''}"
    for seed in map(int, args.seeds.split(",")):
        model, _ = trained("jepa", None, seed, data, args)
        settings = PlannerConfig(cost_every=args.cost_every)
        oracle = TrueStateModel(data.config, Layout(data.config.wall_x, data.config.door_y))
        weights = fit_probe(model, data)
        hybrids = {"(true cost, true dynamics)": lambda i: Planner(oracle, settings, seed=i),
                   "(learnt cost, true dynamics)": lambda i: Planner(LearntCostTrueDynamics(model, data.config),
                                                                     settings, seed=i),
                   "(learnt dynamics, probe cost)": lambda i: Planner(LearntDynamicsProbeCost(model, weights),
                                                                      settings, seed=i),
                   "(learnt cost, learnt dynamics)": lambda i: Planner(model, settings, seed=i)}
        for tag, make in hybrids.items():
            every = f", cost every {args.cost_every}" if args.cost_every != 1 else ""
            label = tagged(base + (RANDOM if args.random_layout else ""), tag[:-1] + every + ")")
            key = f"{label} | seed {seed} | {args.episodes} episodes | {args.steps} steps | {args.data_episodes} data"
            if key in rows:
                continue
            summary, _ = evaluate(data.config, make, tasks)
            rows[key] = {**summary, "label": label, "seed": seed, "train_s": 0.0, "probe": None}
            print(key, summary, flush=True)
            path.write_text(dumps_by_key(rows))


if __name__ == "__main__":
    main()
