"""`latentspace train RECIPE`: train a model to reason in latent space (resumable, accelerate-ready)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from latentspace.cli.common import JsonOpt, console, default_group, emit_json, literal, parse_sets, say, seed_option
from latentspace.core import files
from latentspace.core.errors import LatentspaceError
from latentspace.names import RECIPES, TASKS, listed

app = typer.Typer(cls=default_group("run"), no_args_is_help=True,
                  help="Train latent reasoners: `latentspace train table --profile laptop-mnns` (the headline table).")


def _add_search() -> None:
    from latentspace.cli.train_search import rl, rm_app

    app.add_typer(rm_app, name="rm")
    app.command("rl")(rl)


_add_search()


def _add_imagery() -> None:
    from latentspace.cli.train_imagery import imagery

    app.command("imagery")(imagery)


_add_imagery()

PROFILE_HELP = ("laptop-mnns (+ laptop-mnns-d24, laptop-mnns-d16: narrower widths; paper-mnns, the authors' protocol) / laptop-prosqa (the papers' small-model "
                "settings on a CPU; + laptop-prosqa-15k at their data size), laptop-vsp (latent visual "
                "thoughts on FrozenLake pictures), smoke-mnns / smoke-prosqa / smoke-vsp / smoke (seconds), full (fine-tune SmolLM2 on ProsQA, GPU), full-scratch, "
                "paper-prosqa (the superposition paper's symbolic ProsQA, GPU), "
                "english-small (does not learn; kept as a record).")


HopsOpt = Annotated[str | None, typer.Option(help="Path lengths kept, e.g. 3-4 (prosqa-sym; default: the profile's).")]


def run_folder(out: Path | None, default_name: str, inputs: tuple = ()) -> Path:
    """``--out`` checked before any work (never one of the command's ``inputs``); without it ``runs/NAME``."""
    if out is not None:
        return files.check_output(out, "--out", folder=True, inputs=inputs)
    return files.check_output(Path("runs"), "runs folder", folder=True) / default_name


def task_file(task: str | None) -> Path | None:
    """``--task`` when it names a file the command reads (else a built-in task's name)."""
    from latentspace.tasks import is_task_file

    return Path(task) if task and is_task_file(task) else None


@app.command("run")
def run(
    recipe: Annotated[str, typer.Argument(help=f"{listed(RECIPES)}.")],
    task: Annotated[str | None, typer.Option(
        help=f"{', '.join(TASKS)} or FILE.jsonl "
             "(default: the profile's).")] = None,
    profile: Annotated[str, typer.Option(help=PROFILE_HELP)] = "smoke",
    hops: HopsOpt = None,
    out: Annotated[Path | None, typer.Option(help="Run folder (default runs/RECIPE-TASK-PROFILE).")] = None,
    seed: Annotated[int, seed_option("Seed of data, initialisation and order.")] = 0,
    model: Annotated[str | None, typer.Option(
        "--model", "-m", help="Fine-tune this registry model (e.g. smollm2-135m) instead of training from scratch.")] = None,
    set_: Annotated[list[str] | None, typer.Option(
        "--set", help="Recipe option or run setting, key=value (repeatable): epochs=8, lr=3e-4, n_train=500.")] = None,
    config: Annotated[Path | None, typer.Option(
        help="YAML mapping of recipe options and run settings (the --set keys); --set wins.")] = None,
    until_epoch: Annotated[int | None, typer.Option(min=0, max=100_000,
                                                    help="Pause after this epoch (resume by re-running).")] = None,
    quiet: Annotated[bool, typer.Option(help="No per-step progress lines.")] = False,
    log_with: Annotated[str | None, typer.Option(
        help="Also log the curves (loss, speed, validation accuracy per epoch) through accelerate: tensorboard "
             "(files in RUN/logs; `pip install 'latentspace[tensorboard]'`, then `tensorboard --logdir RUN/logs`).")
    ] = None,
    init: Annotated[Path | None, typer.Option(
        "--init", help="Start from this finished run's model (its tokenizer and shape; e.g. a vsp-read map "
                       "reader for the vsp arms).")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Train RECIPE on TASK; re-running the same command resumes from the last checkpoint.

    Same command on more processes: `accelerate launch --multi_gpu --num_processes 2 -m latentspace.cli.app
    train coconut ...` (GPUs, or gloo DDP on CPUs) or `torchrun --standalone --nproc_per_node 2 -m
    latentspace.cli.app -- train ...`; `--set batch_size` is the global batch.
    """
    from latentspace.train.config import read_config, split_options, task_name
    from latentspace.train.profiles import get_profile
    from latentspace.train.recipes import get_recipe
    from latentspace.train.run import TrainRun
    from latentspace.train.trainer import train

    chosen = get_profile(profile)
    task = task_name(task, chosen)
    recipe_options, settings = split_options(recipe, {**read_config(config), **parse_sets(set_)})
    reasoner = get_recipe(recipe, **{**chosen.recipe_options.get(recipe, {}), **recipe_options})
    folder = run_folder(out, f"{recipe}-{Path(task).stem}-{profile}", inputs=(task_file(task), config))
    summary = train(TrainRun(reasoner, task, chosen, folder, seed=seed, model=model, hops=hops, extra=settings,
                             log_with=log_with, init=init), progress=not (quiet or json_out), until_epoch=until_epoch)
    if json_out:
        emit_json(summary)
    elif summary.get("test_n"):
        say(f"{recipe} on {task}: test accuracy {100 * summary['test_accuracy']:.1f}% "
            f"(n={summary['test_n']}), {summary['positions']:.1f} positions per answer; {folder}")
    elif summary:
        console.print(f"paused after epoch {summary['paused_after_epoch']}; re-run the command to resume")


@app.command("table")
def table(
    task: Annotated[str | None, typer.Option(help="Task of every run (default: the profile's).")] = None,
    profile: Annotated[str, typer.Option(help=PROFILE_HELP)] = "laptop-mnns",
    out: Annotated[Path | None, typer.Option(help="Folder of the runs (default runs/table-TASK-PROFILE).")] = None,
    recipes: Annotated[str | None, typer.Option(help=f"Comma list of {', '.join(RECIPES)}, in table "
                                                           "order (default: the profile's).")] = None,
    seeds: Annotated[str | None, typer.Option(help="Comma list of seeds (default: the profile's, e.g. 0,1,2).")] = None,
    hops: HopsOpt = None,
    set_: Annotated[list[str] | None, typer.Option(
        "--set", help="Run setting for every recipe, key=value: n_train=500, batch_size=16.")] = None,
    draws: Annotated[int, typer.Option(min=1, max=1_000_000, help="Bootstrap draws behind each interval (over "
                                                                   "digit multisets and seeds).")] = 2000,
    jobs: Annotated[int | None, typer.Option(min=1, max=256, help=(
        "Runs trained at a time, each in its own process with an equal share of the threads (default: one per "
        "CPU core, one thread each — measured 1.4-1.6x the runs per hour of one two-thread run on 2 cores; a GPU "
        "trains one at a time)."))] = None,
    init: Annotated[str | None, typer.Option(
        "--init", help="Start every run of a seed from this finished run, {seed} replaced by the seed (e.g. "
                       "runs/table-vsp-laptop-vsp/s{seed}/reader: vsp's map readers).")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Train every recipe for every seed (finished runs are reused) and print the table beside the
    papers' numbers, with the issue's goals checked.

    Example: latentspace train table --profile laptop-mnns   (then: cat runs/table-mnns-laptop-mnns/table.md)
    """
    from latentspace.cli.common import parse_ints
    from latentspace.train.config import task_name
    from latentspace.train.profiles import get_profile
    from latentspace.train.recipes import RECIPES
    from latentspace.train.studies.table import latent_goals, markdown, run_table

    from latentspace.train.run import check_settings

    chosen = get_profile(profile)
    task = task_name(task, chosen)
    text_recipes = recipes if recipes is not None else ",".join(chosen.recipes)
    names = [r.strip() for r in text_recipes.split(",") if r.strip()]
    if not names:
        raise LatentspaceError(f"--recipes names no recipe; valid: {', '.join(sorted(RECIPES))}")
    for name in names:
        if name not in RECIPES:
            raise LatentspaceError(f"unknown recipe {name[:80]!r}; valid: {', '.join(sorted(RECIPES))}")
    if len(set(names)) != len(names):
        raise LatentspaceError(f"--recipes names a recipe twice: {text_recipes[:200]}")
    chosen_seeds = list(chosen.seeds) if seeds is None else (parse_ints(seeds, "--seeds") or [])
    if not chosen_seeds or len(set(chosen_seeds)) != len(chosen_seeds) or any(not 0 <= s < 2**63 for s in chosen_seeds):
        raise LatentspaceError(f"--seeds: distinct seeds from 0 to 2**63-1, not {seeds[:80] if seeds else seeds}")
    settings = parse_sets(set_)
    check_settings(settings, "--set run setting")
    folder = run_folder(out, f"table-{Path(task).stem}-{profile}", inputs=(task_file(task),))
    import os

    inits = None if init is None else {seed: Path(init.replace("{seed}", str(seed))) for seed in chosen_seeds}
    rows = run_table(task, chosen, folder, names, chosen_seeds, progress=not json_out, settings=settings, hops=hops,
                     jobs=jobs or os.cpu_count() or 1, inits=inits)
    text = markdown(rows, chosen.name, draws) + "\n" + latent_goals(rows, chosen.name, draws) + "\n"
    files.write_text(folder / "table.md", text)
    report = table_report(folder, chosen.name, names, chosen_seeds, rows, init)
    if json_out:
        emit_json(rows)
    else:
        console.print(text, highlight=False, markup=False, soft_wrap=True)
        say(f"curves and table: {report}")


def table_report(folder: Path, profile: str, recipes: list[str], seeds: list[int], rows: list[dict],
                 init: str | None = None) -> Path:
    """``curves.png`` (every run's loss and validation accuracy per epoch) and ``index.html`` in ``folder``."""
    from latentspace.core.pages import SectionResult, write_report
    from latentspace.train.checkpoint import read_metrics
    from latentspace.train.curves import plot_curves
    from latentspace.train.studies.table import run_folder as table_run

    runs = {f"{recipe} s{seed}": read_metrics(table_run(folder, seed, recipe)) for seed in seeds for recipe in recipes}
    png = plot_curves(runs, folder / "curves.png", f"{profile}: {len(runs)} runs")
    section = SectionResult("Training curves", "Mean training loss and validation accuracy per epoch; one line per "
                                               "run, one colour per recipe.", images=[png])
    table = SectionResult("Runs", "Each run's test accuracy (the table with intervals: table.md).", rows=[
        {"recipe": r["recipe"], "seed": r["seed"], "test accuracy %": round(100 * r["test_accuracy"], 1),
         "test items": r["test_n"], "positions": round(r["positions"], 1), "train s": round(r["train_seconds"])}
        for r in rows])
    start = "from scratch" if init is None else f"from {init}"
    return write_report(folder, f"{start}, profile {profile}",
                        {"recipes": ", ".join(recipes), "seeds": ", ".join(map(str, seeds))},
                        [section, table], title=f"latentspace train table --profile {profile}")


@app.command("eval")
def eval_(
    run_dir: Annotated[Path, typer.Argument(help="A finished run folder (train RECIPE --out RUN).")],
    task: Annotated[str | None, typer.Option(
        help="A task file (e.g. the released prosqa_test.json), converted to the run's layout, or a built-in "
             "task of the same layout (default: the run's own test split).")] = None,
    n: Annotated[int | None, typer.Option(min=1, max=1_000_000, help="Items to score (default: all).")] = None,
    seed: Annotated[int, seed_option("Seed of a generated task and of the symbolic relabelling of a file.")] = 0,
    answers: Annotated[Path | None, typer.Option(help="Write every answer as JSONL here.")] = None,
    set_: Annotated[list[str] | None, typer.Option(
        "--set", help="Recipe option at test time, key=value: sample_k=4 (cot2's multi-token sampling).")] = None,
    curves: Annotated[Path | None, typer.Option(
        help="Also draw the run's training curves (loss and validation accuracy per epoch) to this picture.")] = None,
    samples: Annotated[int | None, typer.Option(
        min=1, max=4096, help="Draw N sampled thought paths per question and select among them (search).")] = None,
    sampler: Annotated[str | None, typer.Option(
        help="How a thought is sampled: mts:K (token-mixture thoughts, e.g. cot2), noise:SIGMA, dropout:P, "
             "gumbel:TAU, dirichlet:ALPHA (default with --samples: mts:4 for cot2, else required).")] = None,
    select: Annotated[str, typer.Option(
        help="Selectors reported beside greedy, comma-separated: pass (any path right: pass@N), vote, "
             "rm (best-of-N by --rm), beam (beam search over thought steps scored by --rm).")] = "pass,vote",
    rm: Annotated[Path | None, typer.Option(
        "--rm", help="A latent reward model fitted on this run (`latentspace train rm fit RUN`).")] = None,
    beam_width: Annotated[int, typer.Option(min=1, max=4096, help="Beams kept per step (beam: N / width "
                                            "candidates per beam).")] = 4,
    json_out: JsonOpt = False,
) -> None:
    """Score a trained run on other items, read the way it was trained (tokens, thoughts, stage).

    With --samples N: greedy beside each selector at N = 4, 16, 64 (up to N) and N, with intervals over
    item groups (MNNS: digit multisets) and each selector's paired gain over greedy.

    Example: latentspace train eval runs/table-prosqa-sym-laptop-prosqa/s0/coconut --task prosqa_test.json
    Example: latentspace train eval runs/table-mnns-laptop-mnns/s0/coconut --samples 16 --sampler noise:1
    """
    from latentspace.core import jsonsafe
    from latentspace.train.studies.evaluate_run import evaluate_run
    from latentspace.train.run_folder import require_run, run_inputs

    require_run(run_dir)  # the input first: a missing run is the message, not its --answers path
    if answers is not None:  # never over what it reads: the run's test split, its weights, the task file
        answers = files.check_output(answers, "--answers", inputs=(*run_inputs(run_dir), task_file(task)))
    if curves is not None:
        from latentspace.core.plots import check_picture

        curves = check_picture(curves, "--curves", inputs=(*run_inputs(run_dir), task_file(task), answers))
    options = parse_sets(set_)
    if samples is not None or sampler is not None or rm is not None:
        from latentspace.cli.train_search import search_eval

        return search_eval(run_dir, task, n, seed, options, samples or 16, sampler, select, answers, json_out, rm,
                           beam_width)
    result = evaluate_run(run_dir, task, n, seed, options=options)
    if curves is not None:
        from latentspace.train.checkpoint import read_metrics
        from latentspace.train.curves import plot_curves

        plot_curves({f"{result_recipe(run_dir)} {run_dir.name}": read_metrics(run_dir)}, curves, str(run_dir))
    if answers is not None:
        files.write_text(answers, "".join(jsonsafe.dumps(r) + "\n" for r in result.rows))
    summary = {"run": str(run_dir), "task": task or "the run's test split", "options": options, "n": result.n,
               "accuracy": result.accuracy, "correct": sum(r["correct"] for r in result.rows),
               "positions": result.positions, "seconds_per_answer": result.seconds_per_item}
    if json_out:
        emit_json(summary)
    else:
        say(f"{summary['task']}: accuracy {100 * result.accuracy:.1f}% ({summary['correct']}/{result.n}), "
            f"{result.positions:.1f} positions per answer")


def result_recipe(run_dir: Path) -> str:
    """The recipe a run folder trained (its checkpoint's record), for a curve's colour and legend."""
    from latentspace.core.checked import read_json

    return str(read_json(run_dir / "summary.json", dict, "run summary").get("recipe", "run"))


@app.command("inspect")
def inspect(
    run_dir: Annotated[Path, typer.Argument(help="A run folder of a coconut or cot2 model on ProsQA items.")],
    n: Annotated[int, typer.Option(min=1, max=1_000_000, help="Test items to read.")] = 100,
    thoughts: Annotated[int | None, typer.Option(min=1, max=1024,
                                                 help="Thoughts per item (default: the run's last stage).")] = None,
    png: Annotated[Path | None, typer.Option(help="Plot (default RUN/frontier.png).")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Decode each continuous thought with the lens: how much points at the search frontier?

    The Coconut paper's "breadth-first search in superposition" analysis on ProsQA-like items.
    """
    from latentspace.train.studies.analysis import GROUPS, plot_frontier
    from latentspace.train.studies.inspect_run import inspect_run
    from latentspace.train.run_folder import require_run, run_inputs

    require_run(run_dir)  # the input first: a missing run is the message, not its --png path
    picture_path = files.check_output(png or run_dir / "frontier.png", "--png", inputs=run_inputs(run_dir))
    result = inspect_run(run_dir, n, thoughts)
    picture = plot_frontier(result, picture_path)
    if json_out:
        emit_json({"items": result.items, "per_thought": result.per_thought, "png": str(picture)})
        return
    console.print("thought  " + "  ".join(f"{g:>11}" for g in GROUPS) + "  frontier÷other")
    for i, row in enumerate(result.per_thought, 1):
        ratio = row["frontier"] / max(row["passed"] + row["ahead"], 1e-9)
        console.print(f"{i:>7}  " + "  ".join(f"{row[g]:11.3f}" for g in GROUPS) + f"  {ratio:14.1f}")
    console.print(f"[dim]{result.items} items; plot: {literal(picture)}[/dim]")
