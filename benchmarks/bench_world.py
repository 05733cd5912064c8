"""Planning in a latent world model (issue 23): Two Rooms success rates, one table, one command.

    .venv/bin/python benchmarks/bench_world.py                 # the full table (resumable)
    .venv/bin/python benchmarks/bench_world.py --seeds 0 --episodes 30 --quick   # a smoke run

One offline dataset (random-policy trajectories, `--data-episodes` × 50 steps, 32×32 images, seed 0)
trains every model; each learnt row is trained with `--seeds` training seeds and evaluated on the
same `--episodes` episodes (start and goal in different rooms, so every episode must find the door;
success = within 0.08 of the goal within 100 steps). Rows: JEPA + MPPI, JEPA + CEM, the pixel
world model + MPPI, goal-conditioned behaviour cloning, the random (data) policy, MPPI on the true
simulator (the oracle), and JEPA + MPPI with each loss term removed (the ablations). Success is
pooled over seeds with a 95% Wilson interval, beside the mean ± std over seeds. Planning time per
step and training time are this machine's (2 cores; each job single-threaded).

One change at a time: `--random-layout` (a new wall place and door per episode), `--variant NAME`
(the settings in VARIANTS), `--cost`, `--budget H,N,I`, `--episode-steps`, `--size`; each labels its
rows, and `diagnose_world.py` splits a model's failures between its latent and its predictor.

Resumable: the data and checkpoints under runs/world/models/ (gitignored), each evaluated row in
benchmarks/results/world/rows.json, one line per row (or `--rows-file rows-NAME.json` for a second
run on the other core, e.g. `--rows` of the ablations; the table merges every rows*.json).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np
import torch
from results_md import RUNS, dumps_by_key, replace_section

from latentspace.core.stats import wilson
from latentspace.world import (PlannerConfig, RoomsConfig, TrainConfig, Trajectories, build, eval_tasks, evaluate,
                               load_world, make_trajectories, train_world)
from latentspace.world.data import random_actions
from latentspace.world.oracle import TrueStateModel
from latentspace.world.planning import COSTS, Planner
from latentspace.world.probe import motion_share, position_probe
from latentspace.world.two_rooms import Layout

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "benchmarks" / "results" / "world"  # the evaluated rows (rows*.json)
MODELS = RUNS / "world" / "models"  # the data and the trained models
ABLATIONS = ("variance", "covariance", "smoothness", "inverse_dynamics")


RANDOM = " — random wall"
# Settings tried against the random wall, one change at a time (model settings, training settings);
# a row run with --variant NAME is labelled "[NAME]" and its models are named after it.
VARIANTS = {
    "latent128": ({"latent": 128}, {}),
    "idm5": ({"weights": {"inverse_dynamics": 5.0}}, {}),
    "temporal-1": ({"weights": {"temporal_variance": 1.0}}, {}),
    "temporal-10": ({"weights": {"temporal_variance": 10.0}}, {}),
    "spatial": ({"arch": "spatial", "latent": 8, "width": 16}, {}),
    "spatial-temporal-10": ({"arch": "spatial", "latent": 8, "width": 16, "weights": {"temporal_variance": 10.0}}, {}),
    "window16": ({"rollout": 16}, {"window": 16}),
    "temporal-10-window16": ({"weights": {"temporal_variance": 10.0}, "rollout": 16}, {"window": 16}),
    "temporal-10-hidden512": ({"weights": {"temporal_variance": 10.0}, "hidden": 512}, {}),
    # standardised input channels, as PLDM/EB-JEPA (the agent's blob ~8x the walls instead of ~1/15 of their pixels)
    "normalize": ({"normalize": True}, {}),
    "normalize-temporal-10": ({"normalize": True, "weights": {"temporal_variance": 10.0}}, {}),
    "normalize-batch256": ({"normalize": True}, {"batch_size": 256}),  # EB-JEPA's batch is 384: steadier VICReg statistics
    "normalize-rollout4": ({"normalize": True, "rollout": 4}, {}),  # the predictor also trained on its own 4-step rollouts
    # PLDM/EB-JEPA's architecture (feature map, convolutional predictor) on standardised inputs: a convolution sees
    # the wall next to the agent, where the vector predictor must recover it from a code it shares with the walls
    "normalize-spatial": ({"normalize": True, "arch": "spatial", "latent": 8, "width": 16}, {}),
    # EB-JEPA's published coefficients (var 16, cov 8, time-sim 12, IDM 1; ours default to 1, 0.1, 0.1, 1)
    "ebjepa": ({"weights": {"variance": 16.0, "covariance": 8.0, "smoothness": 12.0, "inverse_dynamics": 1.0}}, {}),
}


def variant_settings(variant: str | None, drop: str | None) -> tuple[dict, dict]:
    """(model settings, training settings) of a variant with loss term ``drop`` removed."""
    from latentspace.world.jepa import DEFAULT_WEIGHTS

    model, training = VARIANTS[variant] if variant else ({}, {})
    weights = {**DEFAULT_WEIGHTS, **model.get("weights", {})}
    if drop:
        weights[drop] = 0.0
    return {**model, "weights": weights}, training


def dataset(args) -> Trajectories:
    length = ("" if args.episode_steps == 50 else f"x{args.episode_steps}") + ("" if args.size == 32 else f"-{args.size}px")
    path = MODELS / f"data-{'random-' if args.random_layout else ''}{args.data_episodes}{length}.npz"
    config = RoomsConfig(size=args.size, random_layout=args.random_layout)
    if path.exists():
        return Trajectories.load(path, config)
    data = make_trajectories(config, args.data_episodes, args.episode_steps, seed=0)
    path.parent.mkdir(parents=True, exist_ok=True)
    data.save(path)
    return data


def trained(kind: str, drop: str | None, seed: int, data, args):
    """A trained model (from its checkpoint when it exists) and its training seconds."""
    variant = args.variant if kind == "jepa" else None
    name = (f"{'random-' if args.random_layout else ''}{kind}{f'-{variant}' if variant else ''}"
            f"{f'-no-{drop}' if drop else ''}-seed{seed}{'' if args.steps == 2000 else f'-{args.steps}steps'}"
            f"{'' if args.data_episodes == 1000 else f'-{args.data_episodes}data'}"
            f"{'' if args.episode_steps == 50 else f'x{args.episode_steps}'}{'' if args.size == 32 else f'-{args.size}px'}")
    out = MODELS / name
    settings, training = variant_settings(variant, drop) if kind == "jepa" else ({}, {})
    meta_path = out / "timing.json"
    if (out / "model.safetensors").exists() and meta_path.exists():
        model, _, _ = load_world(out / "model.safetensors", data.config)
        return model, json.loads(meta_path.read_text())["train_s"]
    started = time.perf_counter()
    model, _ = train_world(build(kind, data.config.size, settings), data,
                           TrainConfig(**{"steps": args.steps, "batch_size": 64, "window": 4, "seed": seed, **training}), out=out,
                           progress=lambda s, n, h: s % 500 == 0 and print(name, s, round(h["loss"], 3), flush=True))
    seconds = time.perf_counter() - started
    meta_path.write_text(json.dumps({"train_s": seconds}))
    return model, seconds


def merged() -> dict:
    """Every row of every rows*.json (what parallel runs wrote too)."""
    every = {}
    for path in sorted(OUT.glob("rows*.json")):
        every |= json.loads(path.read_text())
    return every


def tagged(label: str, tag: str) -> str:
    """``label`` with ``tag`` before its layout suffix."""
    plain = label.removesuffix(RANDOM)
    return f"{plain} {tag}{RANDOM if plain != label else ''}"


def random_policy(seed: int):
    actions = random_actions(np.random.default_rng(seed), 1, 200)[0]
    return lambda obs, goal, step, episode=None: actions[step]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--episodes", type=int, default=100)
    parser.add_argument("--steps", type=int, default=2000, help="training steps per model")
    parser.add_argument("--data-episodes", type=int, default=1000)
    parser.add_argument("--episode-steps", type=int, default=50,
                        help="steps per data episode (rows with another than 50 are labelled '(N-step episodes)')")
    parser.add_argument("--size", type=int, default=32, help="image side (rows with another than 32 are labelled '(N px)')")
    parser.add_argument("--pixel-episodes", type=int, default=30,
                        help="episodes (one seed) for the image-cost pixel row: ~0.5 s of decoding per step")
    parser.add_argument("--rows", default="all", help="comma-separated row names to run (default: all)")
    parser.add_argument("--rows-file", default="rows.json",
                        help="where this run keeps its rows (rows-NAME.json lets two runs share the machine)")
    parser.add_argument("--random-layout", action="store_true",
                        help="data and episodes with a random wall place and door height (rows marked 'random wall')")
    parser.add_argument("--variant", choices=sorted(VARIANTS),
                        help="JEPA rows with these settings instead of the defaults (labelled [NAME]): "
                        + "; ".join(f"{k}: {v[0]}{f' {v[1]}' if v[1] else ''}" for k, v in VARIANTS.items()))
    parser.add_argument("--cost", default="closest+end", choices=COSTS,
                        help="the planners' cost (rows with another than the default are labelled '(COST cost)')")
    parser.add_argument("--budget", metavar="H,N,I",
                        help="planning budget: horizon, samples, iterations (default 16,256,4; rows labelled '(budget H,N,I)')")
    parser.add_argument("--quick", action="store_true", help="do not touch docs/results.md")
    args = parser.parse_args()
    torch.set_num_threads(1)
    seeds = [int(s) for s in args.seeds.split(",")]
    rows_path = OUT / args.rows_file
    rows = json.loads(rows_path.read_text()) if rows_path.exists() else {}
    done = merged() | rows  # rows another run (--rows-file) made are not made again
    data = dataset(args)
    config = data.config
    tasks = eval_tasks(config, args.episodes)
    planner = PlannerConfig()
    budget = dict(zip(("horizon", "samples", "iterations"), map(int, args.budget.split(",")))) if args.budget else {}
    specs = [("JEPA + MPPI", "jepa", None, "mppi"), ("JEPA + CEM", "jepa", None, "cem"),
             ("pixel model + MPPI, image cost", "pixel", None, "mppi"),
             ("pixel model + MPPI, its latent's cost", "pixel", "latent", "mppi"), ("goal-conditioned BC", "bc", None, None),
             ("random policy", None, None, None), ("oracle: MPPI on the true simulator", "oracle", None, "mppi")]
    specs += [(f"JEPA + MPPI without {term}", "jepa", term, "mppi") for term in ABLATIONS]
    tried = [(f"{label} [{name}]", *rest) for name in VARIANTS for label, *rest in specs if rest[0] == "jepa"]
    table_specs = [(label + suffix, *rest) for suffix in ("", RANDOM) for label, *rest in specs + tried]
    if args.variant:
        specs = [(f"{label} [{args.variant}]", *rest) for label, *rest in specs if rest[0] == "jepa"]
    if args.random_layout:  # the same rows on data and episodes with a new wall place and door per episode
        specs = [(label + RANDOM, *rest) for label, *rest in specs]
    wanted = None if args.rows == "all" else set(args.rows.split(","))
    for label, kind, drop, method in specs:
        if wanted and label.removesuffix(RANDOM).removesuffix(f" [{args.variant}]") not in wanted:
            continue
        if args.cost != PlannerConfig.cost:  # the same models, planned with another cost
            label = tagged(label, f"({args.cost} cost)")
        if args.episode_steps != 50:  # data cut into shorter (or longer) episodes
            label = tagged(label, f"({args.episode_steps}-step episodes)")
        if args.budget:
            label = tagged(label, f"(budget {args.budget})")
        if args.size != 32:
            label = tagged(label, f"({args.size} px)")
        image_cost = kind == "pixel" and drop is None
        for seed in seeds[:1] if kind in (None, "oracle") or image_cost else seeds:
            episodes = min(args.episodes, args.pixel_episodes) if image_cost else args.episodes
            key = f"{label} | seed {seed} | {episodes} episodes | {args.steps} steps | {args.data_episodes} data"
            if key in done:
                continue
            train_s, probe = 0.0, None
            if kind is None:
                make = lambda i: random_policy(1000 + i)  # noqa: E731
            elif kind == "oracle":
                oracle = TrueStateModel(config, Layout(config.wall_x, config.door_y))
                make = lambda i: Planner(oracle, PlannerConfig(method=method, cost=args.cost, **budget), seed=i)  # noqa: E731
            else:
                model, train_s = trained(kind, None if kind == "pixel" else drop, seed, data, args)
                settings = PlannerConfig(method=method or "mppi", cost=args.cost, **budget)
                if kind == "pixel":  # decoding images is the cost: every 4th planned step is scored
                    model.cost = "latent" if drop == "latent" else "image"
                    settings = PlannerConfig(method=method, cost_every=4 if image_cost else 1)
                if kind == "bc":
                    make = lambda i, model=model: model.actor()  # noqa: E731
                else:
                    make = lambda i, model=model, settings=settings: Planner(model, settings, seed=i)  # noqa: E731
                    obs = data.observations[-100:].reshape(-1, 2, config.size, config.size)
                    probe = position_probe(model, obs, data.states[-100:].reshape(-1, 2))
                    probe["motion_share"] = motion_share(model, config)
            summary, _ = evaluate(config, make, tasks[:episodes])
            rows[key] = {**summary, "label": label, "seed": seed, "train_s": train_s, "probe": probe}
            print(key, {k: v for k, v in rows[key].items() if k != "probe"}, flush=True)
            OUT.mkdir(parents=True, exist_ok=True)
            rows_path.write_text(dumps_by_key(rows))
    text = render(merged() | rows, table_specs, seeds, args, planner)
    print(text)
    if not args.quick:
        start, end = "<!-- bench_world:start -->", "<!-- bench_world:end -->"
        replace_section(f"{start}\n{text}{end}", start, end)


def render(rows: dict, specs, seeds, args, planner) -> str:
    command = (f".venv/bin/python benchmarks/bench_world.py --seeds {','.join(map(str, seeds))} --episodes "
               f"{args.episodes} --steps {args.steps} --data-episodes {args.data_episodes}")
    lines = ["## Planning in a latent world model: Two Rooms (issue 23)", "",
             f"{datetime.date.today().isoformat()}, CPU ({platform.machine()}, {os.cpu_count()} cores, one thread per "
             f"job), torch {torch.__version__}. Command: `{command}`. Data: {args.data_episodes} random-policy episodes "
             "of 50 steps, 32×32 images, fixed wall (seed 0), the same for every model. Evaluation: "
             f"{args.episodes} episodes with start and goal in different rooms; success = within 0.08 of the goal "
             f"within 100 steps. Planner: {planner.method}/cem, horizon {planner.horizon}, {planner.samples} samples, "
             f"{planner.iterations} iterations, replanning every {planner.replan_every} steps; cost = the closest "
             "the rollout comes to the goal's latent plus where it ends. Pooled success over training seeds "
             f"(95% Wilson interval) and mean ± std over seeds. The image-cost pixel row decodes every planned "
             f"latent it scores (~0.5 s of planning per step here), so it scores every 4th step and runs "
             f"{args.pixel_episodes} episodes of seed 0.", "",
             "| row | success [95% CI] | per seed | mean steps | planning ms/step | position probe R² | agent's share of the latent | train min |",
             "|---|---|---|---:|---:|---:|---:|---:|"]
    for label, *_ in specs:
        mine = [r for k, r in rows.items() if r["label"] == label and f"| {args.steps} steps | {args.data_episodes} "
                "data" in k]
        if not mine:
            continue
        wins, n = sum(round(r["success"] * r["n"]) for r in mine), sum(r["n"] for r in mine)
        low, high = wilson(wins, n)
        rates = [100 * r["success"] for r in mine]
        spread = f"{statistics.mean(rates):.0f} ± {statistics.stdev(rates):.0f}" if len(rates) > 1 else f"{rates[0]:.0f}"
        probes = [r["probe"]["r2"] for r in mine if r.get("probe")]
        shares = [r["probe"]["motion_share"] for r in mine if (r.get("probe") or {}).get("motion_share") is not None]
        lines.append(f"| {label} | {100 * wins / n:.1f}% [{100 * low:.1f}, {100 * high:.1f}] | {spread} "
                     f"({len(mine)} seed{'s' if len(mine) > 1 else ''}) | "
                     f"{statistics.mean(r['mean_steps'] for r in mine):.1f} | "
                     f"{1000 * statistics.mean(r['plan_s_per_step'] for r in mine):.1f} | "
                     f"{f'{statistics.mean(probes):.3f}' if probes else '—'} | "
                     f"{f'{statistics.mean(shares):.3f}' if shares else '—'} | "
                     f"{statistics.mean(r['train_s'] for r in mine) / 60:.1f} |")
    lines.append("")
    return "\n".join(lines + diagnostics(rows))


def diagnostics(rows: dict) -> list[str]:
    """Every random-wall row (any seed, training length, data size): what was tried there, one change at a time."""
    mine = sorted(({**r, "steps": int(k.split(" | ")[3].split()[0]), "data": int(k.split(" | ")[4].split()[0])}
                   for k, r in rows.items() if RANDOM in r["label"]),
                  key=lambda r: (r["data"], r["steps"], r["label"], r["seed"]))
    if not mine:
        return []
    lines = ["Random wall, one change at a time ([variant]: its settings are `bench_world.VARIANTS`):", "",
             "| row | seed | data episodes | training steps | success [95% CI] | position probe R² | agent's share of the latent |",
             "|---|---:|---:|---:|---|---:|---:|"]
    for r in mine:
        wins = round(r["success"] * r["n"])
        low, high = wilson(wins, r["n"])
        probe = r.get("probe") or {}
        share = probe.get("motion_share")
        lines.append(f"| {r['label'].removesuffix(RANDOM)} | {r['seed']} | {r['data']} | {r['steps']} | {100 * r['success']:.0f}% "
                     f"[{100 * low:.0f}, {100 * high:.0f}] | {'—' if not probe else format(probe['r2'], '.3f')} | "
                     f"{'—' if share is None else f'{share:.3f}'} |")
    return lines + [""]


if __name__ == "__main__":
    main()
