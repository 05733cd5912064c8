"""Multi-agent pipelines on the bundled model: single agent vs text pipeline vs latent pipeline.

Every pipeline runs as a `latentspace bench` strategy (``agents:PIPELINE:MODE``) on the built-in
arithmetic and ProntoQA-like tasks, one seed at a time, into runs/agents-smollm2/ (gitignored;
per-item rows, resumable: an interrupted run continues; a finished seed's table is complete), and
the table with latent/text ratios goes into docs/results.md, its rows (one JSON line per task and
strategy) into benchmarks/results/agents-smollm2.jsonl (what `--report-only` reads when there are
no per-item rows).

    .venv/bin/python benchmarks/bench_agents.py                    # 70 items x seeds 0,1,2 per task
    .venv/bin/python benchmarks/bench_agents.py --n 200            # more items (same rows folder)
    .venv/bin/python benchmarks/bench_agents.py --report-only      # table from the rows so far
    .venv/bin/python benchmarks/bench_agents.py --n 4 --seeds 0 --quick --out /tmp/agents   # smoke run
    .venv/bin/python benchmarks/bench_agents.py --tasks prontoqa --modes text,latent \
        --pipelines benchmarks/pipelines/hierarchical_short_roles.yaml     # a variant, into the same table
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import subprocess
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from results_md import KEPT, RUNS, kept_for_seeds, replace_section, write_kept  # noqa: E402  (benchmarks/ is on sys.path)

START, END = "<!-- bench_agents:start -->", "<!-- bench_agents:end -->"
ROOT = Path(__file__).resolve().parent
ROWS = KEPT / "agents-smollm2.jsonl"  # the table's rows (one per task and strategy)
PIPELINES = ("sequential", "hierarchical")
MODES = ("single", "text", "latent")
# one budget for every mode: answers of up to 32 tokens; each text agent writes up to 32 (a short
# budget favours the text pipeline's cost — the latent pipeline's ratios are measured against it)
SETS = ["max_new_tokens=32", "agent_tokens=32"]


def strategies(pipelines=PIPELINES, modes=MODES) -> str:
    return ",".join(f"agents:{p}:{m}" for p in pipelines for m in modes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=70, help="items per task and seed")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--tasks", default="arithmetic,prontoqa")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--out", type=Path, default=RUNS / "agents-smollm2", help="the per-item rows (resumable)")
    parser.add_argument("--quick", action="store_true", help=f"do not touch docs/results.md nor {ROWS.name}")
    parser.add_argument("--report-only", action="store_true", help="summarise the rows already there")
    parser.add_argument("--note", default="", help="text written under the table")
    parser.add_argument("--pipelines", default=",".join(PIPELINES), help="built-in names or pipeline files")
    parser.add_argument("--modes", default=",".join(MODES))
    args = parser.parse_args()
    chosen = strategies(args.pipelines.split(","), args.modes.split(","))
    seeds = [int(s) for s in args.seeds.split(",")]
    if not args.report_only:
        for seed in seeds:  # seed by seed: a run cut short still leaves complete seeds
            command = [sys.executable, "-m", "latentspace.cli.app", "bench", "--task", args.tasks, "--strategies",
                       chosen, "--n", str(args.n), "--seeds", str(seed), "--batch-size", str(args.batch_size),
                       "--out", str(args.out), *[x for s in SETS for x in ("--set", s)], "--json"]
            subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    from latentspace.bench import read_rows, summarise

    every = read_rows(sorted(args.out.glob("rows*.jsonl")))
    date = datetime.date.today().isoformat()
    if every or not args.report_only:
        summary = summarise([r for r in every if r["seed"] in seeds and r["index"] < args.n])
    else:  # no per-item rows here (a fresh checkout): the table's kept rows
        summary, date = kept_for_seeds(ROWS, set(seeds))
    table = markdown(summary, args, date)
    print(table)
    if not args.quick:
        replace_section(f"{START}\n{table}{END}", START, END)
        command = f".venv/bin/python benchmarks/bench_agents.py --n {args.n} --seeds {args.seeds}"
        write_kept(ROWS, [{**s, "date": date, "command": command} for s in summary])


def markdown(summary: list[dict], args, date: str) -> str:
    by = {(s["task"], s["strategy"]): s for s in summary}
    found = list(dict.fromkeys(s["strategy"].split(":")[1] for s in summary))  # every pipeline in the rows
    seeds = sorted({seed for s in summary for seed in s["seeds"]})
    lines = [
        "## Multi-agent pipelines: single vs text vs latent (issue 7)",
        "",
        f"SmolLM2-135M-Instruct, float32, CPU ({platform.machine()}, {os.cpu_count()} cores), greedy, "
        f"batches of {args.batch_size}; {date}. Command:",
        "",
        f"    .venv/bin/python benchmarks/bench_agents.py --n {args.n} --seeds {args.seeds}",
        "",
        *([args.note, ""] if args.note else []),
        f"i.e. per seed `latentspace bench --task {args.tasks} --strategies {strategies()} --n {args.n} "
        f"--seeds SEED --batch-size {args.batch_size} {' '.join('--set ' + s for s in SETS)}` "
        f"(seeds {','.join(map(str, seeds))}; per-item rows in `runs/agents-smollm2/`, the table's in "
        "`benchmarks/results/agents-smollm2.jsonl`). The built-in "
        "pipelines: `sequential` = planner → critic → refiner (4 latent steps each) → solver; `hierarchical` "
        "= 3 experts (4 latent steps each, in parallel from one shared prefix) → summariser. `single` = one "
        "model with the final agent's prompt; `text` = the same agents writing (≤ 32 tokens each) for the "
        "next to read. Tokens = every token any agent wrote; positions = every slot any agent computed; "
        "seconds = batch time / batch size. Ratios are latent ÷ text.",
        "",
        "| task | pipeline | mode | n | accuracy [95% CI] | tokens | latents | positions | s/item | "
        "tokens ÷ text | s ÷ text | acc. in text CI |",
        "|---|---|---|---:|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for task in sorted({s["task"] for s in summary}):
        for pipeline in [p for p in PIPELINES if p in found] + [p for p in found if p not in PIPELINES]:
            text = by.get((task, f"agents:{pipeline}:text"))
            for mode in MODES:
                s = by.get((task, f"agents:{pipeline}:{mode}"))
                if s is None:
                    continue
                ratios = "· | · | ·"
                if mode == "latent" and text:
                    inside = text["ci_low"] <= s["accuracy"] <= text["ci_high"]
                    ratios = (f"{s['explicit_tokens'] / text['explicit_tokens']:.2f}× | "
                              f"{s['seconds'] / text['seconds']:.2f}× | {'yes' if inside else 'no'}")
                lines.append(f"| {task} | {pipeline} | {mode} | {s['n']} | {100 * s['accuracy']:.1f}% "
                             f"[{100 * s['ci_low']:.1f}, {100 * s['ci_high']:.1f}] | {s['explicit_tokens']:.1f} | "
                             f"{s['latent_steps']:.1f} | {s['positions']:.0f} | {s['seconds']:.2f} | {ratios} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
