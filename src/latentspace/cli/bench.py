"""`latentspace bench`: evaluate strategies on tasks over seeds; resumable and shardable."""

from __future__ import annotations

import platform
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from latentspace import files, jsonsafe
from latentspace.cli.common import (DEFAULT, SEED_RANGE, JsonOpt, ModelOpt, console, emit_json, load_model,
                                    parse_ints, parse_sets)
from latentspace.errors import LatentspaceError


def _shard(spec: str | None) -> tuple[int, int]:
    from latentspace.bench.harness import shard_from_env

    if spec is None:
        return shard_from_env()
    try:
        rank, world = (int(x) for x in spec.split("/"))
    except ValueError:
        raise LatentspaceError(f"--shard expects RANK/WORLD like 0/2, not {spec!r}") from None
    if not 0 <= rank < world <= 100_000:
        raise LatentspaceError(f"--shard {spec[:40]}: needs 0 <= RANK < WORLD")
    return rank, world


def names_of(spec: str, what: str) -> list[str]:
    """A comma list's names, each once; an empty list is refused (it would run nothing and "succeed")."""
    names = [s.strip() for s in spec.split(",") if s.strip()]
    if not names:
        raise LatentspaceError(f"--{what} names nothing; give a comma list")
    if len(set(names)) != len(names):
        raise LatentspaceError(f"--{what} names one twice: {spec[:200]}")
    return names


def seed_list(spec: str) -> list[int]:
    seeds = parse_ints(spec, "seed") or [0]
    bad = [s for s in seeds if not SEED_RANGE["min"] <= s <= SEED_RANGE["max"]]
    if bad:
        raise LatentspaceError(f"--seeds: {str(bad[0])[:40]} is not in {SEED_RANGE['min']}..{SEED_RANGE['max']}")
    if len(seeds) > 10_000:
        raise LatentspaceError(f"--seeds: {len(seeds)} seeds; at most 10000")
    return seeds


def strategy_options(names: list[str], sets: dict) -> dict[str, dict]:
    """Split ``--set`` pairs per strategy: ``soft.top_k`` goes to soft, a bare ``top_k`` to all."""
    options: dict[str, dict] = {name: {} for name in names}
    for key, value in sets.items():
        strategy, dot, field = key.rpartition(".")
        if dot and strategy not in options:
            raise LatentspaceError(f"--set {key}: {strategy!r} is not among --strategies ({', '.join(names)})")
        for name in [strategy] if dot else names:
            options[name][field] = value
    return options


def bench(
    task: Annotated[str, typer.Option(help="Comma list: arithmetic, prontoqa, prosqa, multiplication, FILE.jsonl or FILE.json (ProsQA layout).")],
    strategies: Annotated[str, typer.Option(help="Comma list of strategies.")] = "direct,soft",
    model: ModelOpt = DEFAULT,
    n: Annotated[int, typer.Option(min=1, max=1_000_000, help="Items per task and seed.")] = 50,
    seeds: Annotated[str, typer.Option(help="Comma list of seeds (items and sampling).")] = "0",
    out: Annotated[Path, typer.Option(help="Folder for rows, summary and manifest.")] = Path("latentspace-bench"),
    shard: Annotated[str | None, typer.Option(help="RANK/WORLD; default from RANK/WORLD_SIZE (torchrun).")] = None,
    batch_size: Annotated[int, typer.Option(min=1, max=4096,
                                            help="Questions answered together (same answers, faster).")] = 8,
    set_: Annotated[list[str] | None, typer.Option(
        "--set", help="Strategy option, STRATEGY.key=value or key=value for all (repeatable).")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Run a strategies × tasks × seeds grid and summarise accuracy (95% CI), tokens, positions, time.

    Re-running the same command skips finished rows. Under a launcher that sets RANK/WORLD_SIZE
    (`torchrun --standalone --nproc_per_node 4 -m latentspace.cli.app -- bench ...`, or
    `accelerate launch --multi_gpu`) each process takes a slice and rank 0 merges.
    Example: latentspace bench --task arithmetic,prontoqa --strategies direct,cot,soft --n 200 --seeds 0,1,2
    --set cot.max_new_tokens=128 --set max_latent_steps=4
    """
    from latentspace.bench import jobs, read_rows, run_grid, summarise
    from latentspace.bench.harness import done_keys
    from latentspace.bench.identity import check_and_record, identity
    from latentspace.strategies import get_strategy

    names = names_of(strategies, "strategies")
    tasks = names_of(task, "task")
    options = strategy_options(names, parse_sets(set_))
    for name in names:
        get_strategy(name, **options[name])  # fail fast, before loading a model
    seeds_used = seed_list(seeds)
    rank, world = _shard(shard)
    grid = jobs(tasks, names, seeds_used, n, (rank, world))
    files.check_output(out, "--out", folder=True)
    rows_path = out / (f"rows.{rank}-of-{world}.jsonl" if world > 1 else "rows.jsonl")
    done = done_keys(rows_path)  # a damaged rows file is refused before the model loads
    lm = load_model(model, quiet=json_out)
    out.mkdir(parents=True, exist_ok=True)
    check_and_record(out, identity(lm.fingerprint, tasks, options))  # never resume rows made otherwise
    columns = (TextColumn("bench"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, disable=json_out, transient=True) as bar:
        progress = bar.add_task("rows", total=len(grid))
        bar.update(progress, completed=sum(job.key in done for job in grid))  # resumed rows
        run_grid(lm, grid, rows_path, options, on_row=lambda row: bar.advance(progress), batch_size=batch_size)
    if world > 1:
        _wait_for_everyone()
        if rank != 0:
            return
    rows = read_rows(sorted(out.glob("rows*.jsonl")))
    summary = summarise(rows)
    manifest = {"command": " ".join(sys.argv), "model": lm.name, "fingerprint": lm.fingerprint,
                "tasks": task, "strategies": names, "options": options, "seeds": seeds_used, "n": n, "world": world,
                "python": platform.python_version(), "versions": _versions()}
    files.write_text(out / "summary.json", jsonsafe.dumps(summary, indent=2))
    files.write_text(out / "manifest.json", jsonsafe.dumps(manifest, indent=2))
    from latentspace.bench.report import write_bench_report

    report = write_bench_report(out, summary, manifest)
    if json_out:
        emit_json({"summary": summary, "rows": len(rows), "out": str(out), "report": str(report)})
        return
    table = Table(title=f"{lm.name}: {len(rows)} answers in {out}")
    for col in ("task", "strategy", "n", "accuracy [95% CI]", "tokens", "latents", "positions", "s/item", "peak MB"):
        table.add_column(col)
    for s in summary:
        table.add_row(s["task"], s["strategy"], str(s["n"]),
                      f"{s['accuracy']:.1%} [{s['ci_low']:.1%}–{s['ci_high']:.1%}]", f"{s['explicit_tokens']:.1f}",
                      f"{s['latent_steps']:.1f}", f"{s['positions']:.0f}", f"{s['seconds']:.2f}",
                      f"{s['peak_mb']:.0f}")
    console.print(table)
    console.print(f"report: {report}")


def _wait_for_everyone() -> None:
    """Barrier across launched processes, so rank 0 merges only complete shards."""
    from accelerate import PartialState

    PartialState().wait_for_everyone()


def _versions() -> dict:
    from importlib.metadata import version

    return {pkg: version(pkg) for pkg in ("latentspace", "torch", "transformers")}
