"""`latentspace bench`: evaluate strategies on tasks over seeds; resumable and shardable."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from latentspace.cli.common import (DEFAULT, SEED_RANGE, JsonOpt, ModelOpt, console, emit_json, literal, load_model,
                                    parse_ints, parse_sets, say)
from latentspace.core.errors import LatentspaceError
from latentspace.core.limits import MAX_BATCH
from latentspace.names import STRATEGIES, TASKS


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


def bench(
    task: Annotated[str, typer.Option(
        help=f"Comma list: {', '.join(TASKS)}, FILE.jsonl or FILE.json (ProsQA layout).")],
    strategies: Annotated[str, typer.Option(
        help=f"Comma list of strategies: {', '.join(STRATEGIES)}, agents:PIPELINE[:MODE].")] = "direct,soft",
    model: ModelOpt = DEFAULT,
    n: Annotated[int, typer.Option(min=1, max=1_000_000, help="Items per task and seed.")] = 50,
    seeds: Annotated[str, typer.Option(help="Comma list of seeds (items and sampling).")] = "0",
    out: Annotated[Path, typer.Option(help="Folder for rows, summary and manifest.")] = Path("latentspace-bench"),
    shard: Annotated[str | None, typer.Option(help="RANK/WORLD; default from RANK/WORLD_SIZE (torchrun).")] = None,
    batch_size: Annotated[int, typer.Option(min=1, max=MAX_BATCH,
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
    from latentspace.bench.run import BenchRun, parse_shard, strategy_options

    names = names_of(strategies, "strategies")
    tasks = names_of(task, "task")
    rank, world = parse_shard(shard)
    run = BenchRun(tasks, names, seed_list(seeds), n, out, strategy_options(names, parse_sets(set_)), rank, world)
    lm = load_model(model, quiet=json_out)  # only once everything that can be refused was checked
    columns = (TextColumn("bench"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, disable=json_out, transient=True) as bar:
        progress = bar.add_task("rows", total=len(run.grid), completed=run.resumed)
        result = run.run(lm, batch_size, on_row=lambda row: bar.advance(progress), command=" ".join(sys.argv))
    if result is None:
        return  # another process's slice: rank 0 reports
    summary, report = result["summary"], result["report"]
    if json_out:
        emit_json({"summary": summary, "rows": result["rows"], "out": str(out), "report": str(report)})
        return
    table = Table(title=literal(f"{lm.name}: {result['rows']} answers in {out}"))
    for col in ("task", "strategy", "n", "accuracy [95% CI]", "tokens", "latents", "positions", "s/item", "peak MB"):
        table.add_column(col)
    for s in summary:
        table.add_row(literal(s["task"]), literal(s["strategy"]), str(s["n"]),
                      f"{s['accuracy']:.1%} [{s['ci_low']:.1%}–{s['ci_high']:.1%}]", f"{s['explicit_tokens']:.1f}",
                      f"{s['latent_steps']:.1f}", f"{s['positions']:.0f}", f"{s['seconds']:.2f}",
                      f"{s['peak_mb']:.0f}")
    console.print(table)
    say(f"report: {report}")
