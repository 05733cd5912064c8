"""`latentspace train eval RUN --samples N` (search over sampled thought paths: greedy, pass@N, vote@N,
best-of-N and beam by a latent reward model) and `latentspace train rm fit RUN` (that reward model)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from latentspace.cli.common import JsonOpt, console, emit_json, err_console, literal, say, seed_option
from latentspace.core import files, jsonsafe
from latentspace.core.errors import LatentspaceError

SIZES = (4, 16, 64)
rm_app = typer.Typer(no_args_is_help=True, help="Latent reward models over a run's thought paths.")


def parse_selectors(text: str) -> tuple[str, ...]:
    from latentspace.search import SELECTORS

    names = tuple(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))
    valid = ("greedy", *SELECTORS, "beam")
    unknown = [name for name in names if name not in valid]
    if unknown or not names:
        raise LatentspaceError(f"unknown selector {(unknown or [text])[0][:40]!r}; valid: {', '.join(valid)}")
    return tuple(name for name in names if name != "greedy")


def run_fingerprint(loaded) -> dict:
    from latentspace.core.saved import fingerprint

    return fingerprint(loaded.causal_lm)


def default_sampler(loaded, spec: str | None, rm_meta: dict | None) -> str:
    if spec is not None:
        return spec
    if rm_meta and rm_meta.get("sampler"):
        return str(rm_meta["sampler"])  # search the way the reward model saw paths drawn
    if not loaded.recipe.mixes_tokens:
        raise LatentspaceError(f"a {loaded.recipe.name} run needs --sampler: noise:SIGMA or dropout:P "
                               "(its thoughts are fed-back states)")
    return "mts:4"


def search_eval(run_dir: Path, task: str | None, n: int | None, seed: int, options: dict, samples: int,
                spec: str | None, select: str, answers: Path | None, json_out: bool, rm_path: Path | None = None,
                beam_width: int = 4) -> None:
    from latentspace.model.samplers import parse_sampler
    from latentspace.search import sample_paths, search_report
    from latentspace.search.report import groups_of, row
    from latentspace.train.studies.evaluate_run import load_run, run_items

    selectors = parse_selectors(select)
    if {"rm", "beam"} & set(selectors) and rm_path is None:
        raise LatentspaceError("the rm and beam selectors need a reward model: --rm FILE "
                               "(fit one with `latentspace train rm fit RUN`)")
    if "beam" in selectors and beam_width > samples:
        raise LatentspaceError(f"--beam-width {beam_width} is above --samples {samples}: N candidates a step "
                               "are shared among the beams")
    loaded = load_run(run_dir, options)
    rm, rm_meta = None, None
    if rm_path is not None:
        from latentspace.search.reward_model import load_reward_model

        rm, rm_meta = load_reward_model(rm_path, run_fingerprint(loaded), str(run_dir))
    sampler = parse_sampler(default_sampler(loaded, spec, rm_meta))
    items = run_items(run_dir, task, n, seed)
    loaded.check_items(items)
    with err_console.status(f"sampling {samples} paths for each of {len(items)} questions ({sampler.spec()})"):
        paths = sample_paths(loaded, items, sampler, samples, seed)
    sizes = tuple(s for s in SIZES if s < samples) + (samples,)
    rows = search_report(paths, sizes, tuple(s for s in selectors if s != "beam"), rm=rm)
    if "beam" in selectors:
        from latentspace.search.beam import beam_search

        greedy = [bool(r["correct"]) for r in paths.greedy]
        for size in sizes:
            width = min(beam_width, size)
            with err_console.status(f"beam search, {width} beams × {size // width} candidates"):
                found = beam_search(loaded, items, sampler, rm, width, size // width, seed)
            rows.append(row("beam", width * (size // width), groups_of(paths), [bool(r["correct"]) for r in found],
                            greedy, 2000))
    if answers is not None:
        files.write_text(answers, "".join(jsonsafe.dumps({**greedy, "paths": [
            {k: p[k] for k in ("extracted", "correct", "text")} for p in drawn]}) + "\n"
            for greedy, drawn in zip(paths.greedy, paths.paths)))
    summary = {"run": str(run_dir), "task": task or "the run's test split", "sampler": sampler.spec(), "seed": seed,
               "samples": samples, "items": len(items), "reward_model": None if rm_path is None else str(rm_path),
               "rows": rows}
    if json_out:
        return emit_json(summary)
    table = Table(title=literal(f"{run_dir}: {len(items)} questions, {sampler.spec()}, seed {seed}"))
    for column in ("selector", "N", "accuracy [95% CI]", "gain over greedy [95% CI]"):
        table.add_column(column, justify="left" if column == "selector" else "right")
    for found in rows:
        low, high = found["interval"]
        gain = "" if "gain" not in found else (f"{100 * found['gain']:+.1f} [{100 * found['gain_interval'][0]:+.1f}, "
                                               f"{100 * found['gain_interval'][1]:+.1f}]")
        table.add_row(found["selector"], str(found["n"]),
                      f"{100 * found['accuracy']:.1f}% [{100 * low:.1f}, {100 * high:.1f}]", gain)
    console.print(table)


@rm_app.command("fit")
def fit(
    run_dir: Annotated[Path, typer.Argument(help="A finished run folder whose thoughts the reward model reads.")],
    out: Annotated[Path, typer.Option(help="Where to save it (.safetensors).")],
    sampler: Annotated[str | None, typer.Option(
        help="How paths are drawn: noise:SIGMA, mts:K (default: mts:4 for token-mixture thoughts).")] = None,
    split: Annotated[str, typer.Option(help="The run's split to draw questions from: train or valid "
                                       "(never test).")] = "train",
    questions: Annotated[int, typer.Option(min=2, max=1_000_000, help="Questions to draw paths for.")] = 1000,
    paths: Annotated[int, typer.Option(min=2, max=256, help="Paths per question (a group to rank).")] = 8,
    continuations: Annotated[int, typer.Option(
        min=1, max=256, help="Continuations per prefix for its Monte-Carlo value (LatentTTS: 64).")] = 8,
    epochs: Annotated[int, typer.Option(min=1, max=100_000, help="Full-batch AdamW epochs.")] = 300,
    seed: Annotated[int, seed_option("Seed of the paths and the fit.")] = 0,
    json_out: JsonOpt = False,
) -> None:
    """Fit a latent reward model on a run's own sampled thought paths (Monte-Carlo step values).

    Example: latentspace train rm fit runs/table-mnns-laptop-mnns/s0/coconut --sampler noise:0.3 --out rm.safetensors
    """
    from latentspace.model.samplers import parse_sampler
    from latentspace.search.reward_model import fit_reward_model
    from latentspace.search.rollouts import collect_rollouts
    from latentspace.tasks import load_jsonl
    from latentspace.train.run_folder import require_run, run_inputs
    from latentspace.train.studies.evaluate_run import load_run

    require_run(run_dir)
    if split not in ("train", "valid"):
        raise LatentspaceError(f"--split must be train or valid, not {split[:40]!r} (the test split stays unseen)")
    out = files.check_output(out, "--out", inputs=run_inputs(run_dir))
    loaded = load_run(run_dir)
    spec = default_sampler(loaded, sampler, None)
    chosen = parse_sampler(spec)
    items = load_jsonl(run_dir / "data" / f"{split}.jsonl")[:questions]
    loaded.check_items(items)
    with err_console.status(f"{paths} paths × {len(items)} questions, {continuations} continuations a prefix"):
        roll = collect_rollouts(loaded, items, chosen, paths, continuations, seed)
        model, report = fit_reward_model(roll, epochs=epochs, seed=seed)
    summary = {"run": str(run_dir), "out": str(out), "sampler": chosen.spec(), "split": split,
               "questions": len(items), "paths": paths, "continuations": continuations, **vars(report)}
    model.save(out, run_fingerprint(loaded), str(run_dir), {k: v for k, v in summary.items() if k not in ("run", "out")})
    if json_out:
        return emit_json(summary)
    say(f"{out}: fitted on {len(items)} {split} questions × {paths} paths ({chosen.spec()}); held-out questions: "
        f"its pick {100 * report.held_out_best_of_group:.1f}%, a random path {100 * report.held_out_mean_path:.1f}%, "
        f"any path {100 * report.held_out_any_path:.1f}%")


def rl(
    run_dir: Annotated[Path, typer.Argument(help="A finished run with thoughts (coconut, cot2, codi, pause).")],
    out: Annotated[Path, typer.Option(help="The RL run folder (resumes when it holds this RL's checkpoint).")],
    sampler: Annotated[str | None, typer.Option(
        help="The policy's randomness: noise:SIGMA (fed-back thoughts) or mts:K (cot2; default mts:4).")] = None,
    group: Annotated[int, typer.Option(min=2, max=4096, help="Rollouts per question.")] = 8,
    questions: Annotated[int, typer.Option(min=1, max=65536, help="Training questions per iteration.")] = 32,
    iterations: Annotated[int, typer.Option(min=1, max=10_000_000, help="Iterations (rollouts + updates).")] = 100,
    updates: Annotated[int, typer.Option(min=1, max=64, help="Optimizer steps per batch of rollouts.")] = 2,
    clip: Annotated[float, typer.Option(min=1e-6, max=10, help="ε of the clipped ratio.")] = 0.2,
    lr: Annotated[float, typer.Option(min=1e-12, max=1, help="AdamW learning rate (no weight decay).")] = 1e-5,
    kl: Annotated[float, typer.Option(min=0, max=1e6, help="Weight of the KL to the supervised model.")] = 0.0,
    scale: Annotated[str, typer.Option(help="Advantage scale: std (GRPO) or none (RLOO-like).")] = "std",
    eval_every: Annotated[int, typer.Option(min=1, max=10**9, help="Iterations between validation scores.")] = 10,
    split: Annotated[str, typer.Option(help="RL's questions: train, or valid (unseen multisets; the curve is then "
                                       "scored on train). The test split is never used.")] = "train",
    seed: Annotated[int, seed_option("Seed of the questions drawn and the samples.")] = 0,
    json_out: JsonOpt = False,
) -> None:
    """Reinforcement learning on a run's continuous thoughts (group-relative, clipped ratio, resumable).

    Example: latentspace train rl runs/table-mnns-laptop-mnns/s0/coconut --sampler noise:0.3 --out runs/rl-coconut
    """
    from rich.progress import Progress

    from latentspace.train.studies.rl import RLConfig, train_rl
    from latentspace.train.run_folder import require_run, run_inputs

    require_run(run_dir)
    out = files.check_output(out, "--out", folder=True, inputs=(*run_inputs(run_dir), run_dir))
    if sampler is None:
        from latentspace.train.studies.evaluate_run import load_run

        sampler = default_sampler(load_run(run_dir), None, None)
    config = RLConfig(sampler=sampler, group=group, questions=questions, iterations=iterations, updates=updates,
                      clip=clip, lr=lr, kl=kl, scale=scale, eval_every=eval_every, save_every=eval_every, seed=seed,
                      split=split)
    with Progress(console=err_console, disable=json_out, transient=True) as bar:
        task = bar.add_task("RL on thoughts", total=iterations)

        def shown(done, total, record):
            valid = f", valid {100 * record['valid']:.1f}%" if "valid" in record else ""
            bar.update(task, completed=done, description=f"RL: reward {record['reward']:.2f}{valid}")

        summary = train_rl(run_dir, out, config, progress=shown)
    if json_out:
        return emit_json({k: v for k, v in summary.items() if k != "curve"} | {"curve": summary["curve"]})
    say(f"{out}: test accuracy {100 * summary['test_before']:.1f}% -> {100 * summary['test_after']:.1f}% "
        f"({summary['test_n']} items; {iterations} iterations, {config.sampler}, group {group})")
