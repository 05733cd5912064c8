"""`latentspace world`: Two Rooms data, world-model training, latent planning and its evaluation."""

from __future__ import annotations

import math

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from latentspace.cli.common import JsonOpt, console, emit_json, err_console, literal, say, seed_option
from latentspace.core import files
from latentspace.core.errors import LatentspaceError
from latentspace.core.limits import MAX_BATCH
from latentspace.names import PLANNERS, listed

app = typer.Typer(no_args_is_help=True, help="Plan and act in latent space: Two Rooms, JEPA world models, MPPI/CEM.")

DATA, RUN = Path("runs/world/data.npz"), Path("runs/world/jepa")  # the defaults: their parents are ours to make
ModelArg = Annotated[str, typer.Option("--model", help="A trained model (its folder or model.safetensors), or "
                                                       "'oracle' (the true state and simulator) or 'random'.")]
PlannerOpt = Annotated[str, typer.Option(help=f"{listed(PLANNERS)} (a planner over a world model; ignored for a bc policy).")]
HorizonOpt = Annotated[int, typer.Option(min=1, max=128, help="Planned actions per plan.")]
SamplesOpt = Annotated[int, typer.Option(min=8, max=8192, help="Action sequences sampled per iteration.")]
IterationsOpt = Annotated[int, typer.Option(min=1, max=64, help="Planner iterations per replanning.")]
ReplanOpt = Annotated[int, typer.Option(min=1, max=128, help="Actions taken before planning again.")]
CostOpt = Annotated[str, typer.Option(help="Planning cost: closest+end (the closest the plan comes to the goal plus "
                                           "where it ends), sum (the distance at every step, as EB-JEPA) or end.")]


def progress_bar(label: str, quiet: bool):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (TextColumn(label), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[note]}"),
               TimeRemainingColumn())
    return Progress(*columns, disable=quiet, transient=True, console=err_console)


@app.command("data")
def data(
    out: Annotated[Path, typer.Option(help="Write the trajectories here (.npz).")] = DATA,
    episodes: Annotated[int, typer.Option(min=1, max=100_000, help="Random-policy episodes.")] = 1000,
    steps: Annotated[int, typer.Option(min=1, max=1000, help="Actions per episode.")] = 50,
    size: Annotated[int, typer.Option(min=16, max=256, help="Observation side in pixels (a power of two).")] = 32,
    random_layout: Annotated[bool, typer.Option("--random-layout", help="A new wall place and door height per "
                                                                        "episode.")] = False,
    seed: Annotated[int, seed_option("Seed of the episodes (the same seed, the same data).")] = 0,
    json_out: JsonOpt = False,
) -> None:
    """Generate offline random-policy trajectories of Two Rooms (images, actions, true states).

    Example: latentspace world data --episodes 1000 --out runs/world/data.npz
    """
    from latentspace.world.data import make_trajectories
    from latentspace.world.two_rooms import RoomsConfig

    check_size(size)
    config = RoomsConfig(size=size, random_layout=random_layout)
    files.check_output(default_parents(out, DATA), "--out")
    with progress_bar("episodes", json_out) as bar:
        task = bar.add_task("episodes", total=episodes, note="")
        made = make_trajectories(config, episodes, steps, seed, progress=lambda i, n: bar.update(task, completed=i))
    made.save(out)
    summary = {"out": str(out), "episodes": episodes, "steps": steps, "seed": seed, "environment": config.key(),
               "crossed_door": float(crossing_share(made))}
    if json_out:
        emit_json(summary)
        return
    say(f"{episodes} episodes of {steps} steps ({100 * summary['crossed_door']:.0f}% pass the door): {out}")


def default_parents(out: Path, default: Path) -> Path:
    """``out``; when it is the default, its parent folders are made (a typed path's are checked, not made)."""
    if out == default:
        out.parent.mkdir(parents=True, exist_ok=True)
    return out


def check_size(size: int) -> None:
    if size & (size - 1):
        raise LatentspaceError(f"--size {size}: a power of two (16, 32, 64, 128, 256)")


def crossing_share(made) -> float:
    left = made.states[..., 0] < made.layouts[:, None, 0]
    return float((left.any(1) & (~left).any(1)).mean())


def parse_weights(text: str | None) -> dict[str, float]:
    """``"temporal_variance=10,smoothness=0"`` -> {term: weight}; anything else is refused in one line."""
    from latentspace.world.losses import TERMS

    weights = {}
    for item in (t.strip() for t in (text or "").split(",")):
        if not item:
            continue
        term, _, value = item.partition("=")
        try:
            number = float(value)
        except ValueError:
            number = -1.0
        if term.strip() not in TERMS or not (math.isfinite(number) and number >= 0):
            raise LatentspaceError(f"--weight {item!r}: give TERM=W with W >= 0, TERM one of {', '.join(TERMS)}")
        weights[term.strip()] = number
    return weights


@app.command("train")
def train(
    data_file: Annotated[Path, typer.Option("--data", help="Trajectories from `world data`.")] = DATA,
    kind: Annotated[str, typer.Option(help="jepa (latent prediction), pixel (next-image prediction) or bc "
                                           "(goal-conditioned behaviour cloning).")] = "jepa",
    out: Annotated[Path, typer.Option(help="Run folder: model.safetensors and checkpoint/ (a rerun resumes).")] = RUN,
    steps: Annotated[int, typer.Option(min=1, max=10_000_000, help="Optimizer steps.")] = 3000,
    batch_size: Annotated[int, typer.Option(min=1, max=MAX_BATCH, help="Windows per step.")] = 64,
    window: Annotated[int, typer.Option(min=1, max=64, help="Actions per training window.")] = 4,
    lr: Annotated[float, typer.Option(min=1e-8, max=1.0, help="AdamW learning rate.")] = 1e-3,
    latent: Annotated[int, typer.Option(min=1, max=512, help="Latent dimensions.")] = 32,
    drop: Annotated[str | None, typer.Option(help="jepa: loss terms to switch off (comma-separated: variance, "
                                                  "covariance, smoothness, inverse_dynamics) — the ablations.")] = None,
    rollout: Annotated[int, typer.Option(min=1, max=16, help="jepa: also train the predictor on its own "
                                                             "rollouts of this many steps.")] = 1,
    weight: Annotated[str | None, typer.Option(help="jepa: loss weights to set, TERM=W comma-separated (terms: "
                                                    "prediction, variance, covariance, smoothness, inverse_dynamics, "
                                                    "temporal_variance; e.g. temporal_variance=10 for random walls).")] = None,
    arch: Annotated[str, typer.Option(help="vector (a latent vector, MLP predictor) or spatial (--latent channels "
                                           "on an 8×8 map, convolutional predictor).")] = "vector",
    width: Annotated[int, typer.Option(min=1, max=512, help="Convolution channels (encoder; spatial predictor).")] = 32,
    normalize: Annotated[bool, typer.Option(help="Standardise each image channel with the data's statistics "
                                                 "(as PLDM/EB-JEPA; lifts the small agent above the walls).")] = False,
    seed: Annotated[int, seed_option("Seed of the initial weights and the batches.")] = 0,
    json_out: JsonOpt = False,
) -> None:
    """Train a world model (or the behaviour-cloning baseline) on offline trajectories.

    Example: latentspace world train --data runs/world/data.npz --kind jepa --out runs/world/jepa
    """
    from latentspace.world.checkpoint import build
    from latentspace.world.data import Trajectories
    from latentspace.world.jepa import DEFAULT_WEIGHTS
    from latentspace.world.train import TrainConfig, train_world

    settings: dict = {"latent": latent, "arch": arch, "width": width, "normalize": normalize}
    if drop is not None or rollout != 1 or weight is not None:
        if kind != "jepa":
            raise LatentspaceError("--drop, --weight and --rollout are jepa settings")
        dropped = [t.strip() for t in (drop or "").split(",") if t.strip()]
        unknown = sorted(set(dropped) - (set(DEFAULT_WEIGHTS) - {"prediction"}))
        if unknown:
            raise LatentspaceError(f"--drop {unknown[0]!r}: valid terms are variance, covariance, smoothness, "
                                   "inverse_dynamics")
        weights = {**DEFAULT_WEIGHTS, **parse_weights(weight)}
        settings |= {"weights": {k: (0.0 if k in dropped else v) for k, v in weights.items()}, "rollout": rollout}
    out = files.check_output(default_parents(out, RUN), "--out", folder=True, inputs=(data_file,))
    made = Trajectories.load(data_file)
    model = build(kind, made.config.size, settings, seed=seed)
    config = TrainConfig(steps=steps, batch_size=batch_size, window=window, lr=lr, seed=seed)
    with progress_bar(kind, json_out) as bar:
        task = bar.add_task("steps", total=steps, note="")
        model, history = train_world(model, made, config, out=out, progress=lambda s, n, h: bar.update(
            task, completed=s, note=f"loss {h['loss']:.3f}"))
    summary = {"out": str(out), "kind": kind, "steps": steps, "settings": model.config.to_dict(),
               "loss_first": history[0] if history else None, "loss_last": history[-1] if history else None,
               "params": sum(p.numel() for p in model.parameters())}
    if json_out:
        emit_json(summary)
        return
    last = history[-1] if history else {}
    say(f"trained a {kind} model ({summary['params']:,} parameters), loss "
                  f"{history[0]['loss']:.3f} -> {last.get('loss', float('nan')):.3f}: {out}")


def world_model(spec: str, config=None):
    """(model, environment configuration) of a --model value."""
    from latentspace.world.checkpoint import load_world
    from latentspace.world.oracle import RandomModel, TrueStateModel
    from latentspace.world.two_rooms import Layout, RoomsConfig

    if spec in ("oracle", "random"):
        config = config or RoomsConfig(size=32)
        model = (TrueStateModel(config, Layout(config.wall_x, config.door_y)) if spec == "oracle"
                 else RandomModel(config))
        return model, config
    path = Path(spec)
    path = path / "model.safetensors" if path.is_dir() else path
    model, _, trained = load_world(path, config)
    return model, trained


def actor_for(model, planner: str, horizon: int, samples: int, iterations: int, replan: int, seed: int,
              cost: str = "closest+end"):
    from latentspace.world.planning import Planner, PlannerConfig

    settings = PlannerConfig(method=planner, horizon=horizon, samples=samples, iterations=iterations,
                             replan_every=min(replan, horizon), cost=cost)  # checked even for bc: a typo is an error
    if getattr(model, "kind", "") == "bc":
        return model.actor()
    return Planner(model, settings, seed=seed)


def parse_point(text: str | None, what: str):
    if text is None:
        return None
    try:
        x, y = (float(v) for v in text.split(","))
    except ValueError:
        raise LatentspaceError(f"{what} {text!r}: give X,Y (two numbers in 0-1)") from None
    return (x, y)


@app.command("plan")
def plan(
    model_spec: ModelArg = "runs/world/jepa",
    start: Annotated[str | None, typer.Option(help="X,Y of the start (0-1; default: drawn by --seed).")] = None,
    goal: Annotated[str | None, typer.Option(help="X,Y of the goal (0-1; default: drawn in the other room).")] = None,
    planner: PlannerOpt = "mppi",
    horizon: HorizonOpt = 16,
    samples: SamplesOpt = 256,
    iterations: IterationsOpt = 4,
    replan: ReplanOpt = 2,
    cost: CostOpt = "closest+end",
    png: Annotated[Path | None, typer.Option(help="Draw the executed path (and the first plan, through a "
                                                  "position probe) over the map here.")] = None,
    gif: Annotated[Path | None, typer.Option(help="Write the episode as an animated GIF here.")] = None,
    seed: Annotated[int, seed_option("Seed of the drawn start/goal and of the planner's samples.")] = 0,
    json_out: JsonOpt = False,
) -> None:
    """Plan one episode to a goal with a world model and run it in the environment.

    Example: latentspace world plan --model runs/world/jepa --start 0.2,0.2 --goal 0.8,0.8 --png path.png
    """
    from latentspace.world.evaluate import eval_tasks
    from latentspace.world.planning import run_episode
    from latentspace.world.report import episode_gif, episode_picture
    from latentspace.world.two_rooms import TwoRooms

    for path, what in ((png, "--png"), (gif, "--gif")):
        if path is not None:
            files.check_output(path, what, inputs=(Path(model_spec), png if what == "--gif" else None))
    model, config = world_model(model_spec)
    task = eval_tasks(config, 1, seed)[0]
    s, g = parse_point(start, "--start") or task.start, parse_point(goal, "--goal") or task.goal
    env = TwoRooms(config)
    episode = run_episode(env, actor_for(model, planner, horizon, samples, iterations, replan, seed, cost), s, g,
                          task.layout, seed)
    if png is not None:
        episode_picture(episode, config, png)
    if gif is not None:
        episode_gif(episode, config, gif)
    summary = {"success": episode.success, "steps": episode.steps, "start": list(s), "goal": list(g),
               "final": episode.states[-1], "plan_s_per_step": episode.seconds_per_step,
               "model": getattr(model, "kind", model_spec), "png": str(png) if png else None,
               "gif": str(gif) if gif else None}
    if json_out:
        emit_json(summary)
        return
    verdict = "reached the goal" if episode.success else "did not reach the goal"
    console.print(f"{verdict} in {episode.steps} steps (final {tuple(round(v, 3) for v in episode.states[-1])}, "
                  f"goal {tuple(round(v, 3) for v in g)}), {1000 * episode.seconds_per_step:.1f} ms planning per step")


@app.command("eval")
def evaluate_cmd(
    model_spec: ModelArg = "runs/world/jepa",
    episodes: Annotated[int, typer.Option(min=1, max=100_000, help="Evaluation episodes (start and goal in "
                                                                   "different rooms).")] = 100,
    planner: PlannerOpt = "mppi",
    horizon: HorizonOpt = 16,
    samples: SamplesOpt = 256,
    iterations: IterationsOpt = 4,
    replan: ReplanOpt = 2,
    cost: CostOpt = "closest+end",
    data_file: Annotated[Path | None, typer.Option("--data", help="Trajectories for the position probe (made for "
                                                                  "the model's environment).")] = None,
    report: Annotated[Path | None, typer.Option(help="Write an HTML report (probe, planned vs executed paths, an "
                                                     "episode GIF, latent PCA) into this folder.")] = None,
    seed: Annotated[int, seed_option("Seed of the evaluation episodes (keep it apart from data seeds).")] = 1000,
    json_out: JsonOpt = False,
) -> None:
    """Success rate of planning (or of the bc policy) over evaluation episodes, with a 95% interval.

    Example: latentspace world eval --model runs/world/jepa --episodes 100 --planner cem --json
    """
    from latentspace.world.data import Trajectories
    from latentspace.world.evaluate import eval_tasks, evaluate

    if report is not None:
        report = files.check_output(report, "--report", folder=True, inputs=(data_file,))
    model, config = world_model(model_spec)
    made = Trajectories.load(data_file, config) if data_file is not None else None
    tasks = eval_tasks(config, episodes, seed)
    actor_for(model, planner, horizon, samples, iterations, replan, seed, cost)  # bad settings: refused before any episode
    with progress_bar("episodes", json_out) as bar:
        task = bar.add_task("episodes", total=episodes, note="")
        summary, runs = evaluate(config, lambda i: actor_for(model, planner, horizon, samples, iterations, replan,
                                                             seed + i, cost),
                                 tasks, progress=lambda i, n: bar.update(task, completed=i))
    summary |= {"model": getattr(model, "kind", model_spec), "planner": None if getattr(model, "kind", "") == "bc"
                else planner, "cost": cost, "seed": seed}
    if made is not None and hasattr(model, "encode") and getattr(model, "kind", "") in ("jepa", "pixel"):
        from latentspace.world.probe import position_probe

        summary["probe"] = position_probe(model, *probe_sample(made))
    if report is not None:
        from latentspace.world.report import write_report

        summary["report"] = str(write_report(report, model, config, runs, made, summary))
    if json_out:
        emit_json(summary)
        return
    table = Table(title=literal(f"{summary['model']} + {summary['planner'] or 'policy'} on {episodes} episodes"))
    for col in ("success [95% CI]", "mean steps", "planning ms/step", "probe R² (control)"):
        table.add_column(col)
    probe = summary.get("probe")
    table.add_row(f"{100 * summary['success']:.1f}% [{100 * summary['ci'][0]:.1f}, {100 * summary['ci'][1]:.1f}]",
                  f"{summary['mean_steps']:.1f}", f"{1000 * summary['plan_s_per_step']:.1f}",
                  f"{probe['r2']:.2f} ({probe['control_r2']:.2f})" if probe else "—")
    console.print(table)
    if report is not None:
        say(f"report: {summary['report']}")


def probe_sample(made, episodes: int = 200):
    n = min(episodes, made.episodes)
    return (made.observations[-n:].reshape(-1, *made.observations.shape[2:]),
            made.states[-n:].reshape(-1, 2))



