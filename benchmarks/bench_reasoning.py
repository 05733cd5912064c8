"""Every reasoning strategy on the bundled model: accuracy [95% CI], positions, wall time.

Runs `latentspace bench` into runs/reasoning-smollm2/ (gitignored; per-item rows, resumable: an
interrupted run continues where it stopped, and more seeds can be added later to the same rows),
writes the table into docs/results.md and its rows, one JSON line per task and strategy, into
benchmarks/results/reasoning-smollm2.jsonl (what `--report-only` reads when there are no per-item rows).

    .venv/bin/python benchmarks/bench_reasoning.py                  # 200 items per task and seed
    .venv/bin/python benchmarks/bench_reasoning.py --seeds 0,1,2    # add seeds to the same rows
    .venv/bin/python benchmarks/bench_reasoning.py --n prontoqa=100 --strategies loop   # per-task sizes
    .venv/bin/python benchmarks/bench_reasoning.py --report-only --seeds 0,1,2   # table from the rows so far
    .venv/bin/python benchmarks/bench_reasoning.py --n 8 --quick    # smoke run, prints only
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from results_md import KEPT, RUNS, kept_for_seeds, replace_section, write_kept  # noqa: E402  (benchmarks/ is on sys.path)

START, END = "<!-- bench_reasoning:start -->", "<!-- bench_reasoning:end -->"
ROOT = Path(__file__).resolve().parent
ROWS = KEPT / "reasoning-smollm2.jsonl"  # the table's rows (one per task and strategy)
STRATEGIES = "direct,cot,continuous,soft,switch,pause,loop,optimize"
# answer budgets long enough for this chatty model to finish (it rarely answers in one word); every
# other option is the strategy's default
SETS = ["max_new_tokens=40", "cot.max_new_tokens=128", "switch.max_new_tokens=64"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", default="200", help="items per task and seed: 200, or arithmetic=200,prontoqa=100")
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--tasks", default="arithmetic,prontoqa")
    parser.add_argument("--strategies", default=STRATEGIES)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--out", type=Path, default=RUNS / "reasoning-smollm2", help="the per-item rows (resumable)")
    parser.add_argument("--quick", action="store_true", help=f"do not touch docs/results.md nor {ROWS.name}")
    parser.add_argument("--report-only", action="store_true", help="summarise the rows already there")
    parser.add_argument("--note", default="", help="text written under the table (e.g. how partial runs were made)")
    args = parser.parse_args()
    sizes = per_task(args.n, args.tasks.split(","))
    if not args.report_only:
        for task, n in sizes.items():  # one run per task: each may have its own size; rows share the folder
            command = [sys.executable, "-m", "latentspace.cli.app", "bench", "--task", task, "--strategies",
                       args.strategies, "--n", str(n), "--seeds", args.seeds, "--batch-size", str(args.batch_size),
                       "--out", str(args.out), *[x for s in sets_for(args.strategies) for x in ("--set", s)], "--json"]
            subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    from latentspace.bench import read_rows, summarise

    seeds = {int(x) for x in args.seeds.split(",")}
    rows = read_rows(sorted(args.out.glob("rows*.jsonl")))
    date = datetime.date.today().isoformat()
    if rows or not args.report_only:
        # the table shows the seeds asked for: rows of other seeds (a run still going) stay in the folder
        summary = summarise([r for r in rows if r["seed"] in seeds])
    else:  # no per-item rows here (a fresh checkout): the table's kept rows
        summary, date = kept_for_seeds(ROWS, set(seeds))
    table = markdown(summary, args, date)
    print(table)
    if not args.quick:
        replace_section(f"{START}\n{table}{END}", START, END)
        command = f".venv/bin/python benchmarks/bench_reasoning.py --n {args.n} --seeds {args.seeds}"
        write_kept(ROWS, [{**s, "date": date, "command": command} for s in summary])


def sets_for(strategies: str) -> list[str]:
    """The budgets that apply to these strategies (bench refuses options of strategies not run)."""
    names = strategies.split(",")
    return [s for s in SETS if "." not in s.split("=")[0] or s.split(".")[0] in names]


def per_task(spec: str, tasks: list[str]) -> dict[str, int]:
    if "=" not in spec:
        return {task: int(spec) for task in tasks}
    given = {k: int(v) for k, v in (part.split("=") for part in spec.split(","))}
    return {task: given.get(task, 200) for task in tasks}


def markdown(summary: list[dict], args, date: str) -> str:
    direct = {s["task"]: s for s in summary if s["strategy"] == "direct"}
    seeds = sorted({seed for s in summary for seed in s["seeds"]})
    lines = [
        "## Reasoning strategies on the bundled model (issue 4)",
        "",
        f"SmolLM2-135M-Instruct, float32, CPU ({platform.machine()}, {os.cpu_count()} cores), greedy, "
        f"batches of {args.batch_size}; {date}. Command:",
        "",
        f"    .venv/bin/python benchmarks/bench_reasoning.py --n {args.n} --seeds {args.seeds}",
        "",
        *([args.note, ""] if args.note else []),
        f"i.e. per task `latentspace bench --task TASK --strategies {STRATEGIES} --n N --seeds "
        f"{','.join(map(str, seeds))} --batch-size {args.batch_size} {' '.join('--set ' + s for s in SETS)}`. "
        "Per-item rows (resumable) in `runs/reasoning-smollm2/`, the table's in "
        "`benchmarks/results/reasoning-smollm2.jsonl`. Latent strategies think, then answer "
        "with the `direct` prompt, so `Δ direct` is what their thinking adds. Positions = prompt + latent "
        "slots + tokens fed; seconds = batch time / batch size.",
        "",
        "| task | strategy | seeds | n | accuracy [95% CI] | Δ direct | tokens | latents | positions | s/item |",
        "|---|---|---|---:|---|---:|---:|---:|---:|---:|",
    ]
    for s in summary:
        base = direct.get(s["task"])
        delta = f"{100 * (s['accuracy'] - base['accuracy']):+.1f}" if base else "·"
        lines.append(f"| {s['task']} | {s['strategy']} | {','.join(map(str, s['seeds']))} | {s['n']} | "
                     f"{100 * s['accuracy']:.1f}% "
                     f"[{100 * s['ci_low']:.1f}, {100 * s['ci_high']:.1f}] | {delta} | {s['explicit_tokens']:.1f} | "
                     f"{s['latent_steps']:.1f} | {s['positions']:.0f} | {s['seconds']:.2f} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
