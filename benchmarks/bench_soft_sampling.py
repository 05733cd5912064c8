"""Training-free search over soft thoughts on the bundled SmolLM2-135M (issue 40): soft thinking with a
thought sampler and a majority vote, against text CoT self-consistency (sampled answers, voted), at the
positions each spends.

For each question, S sampled runs of each strategy (the first N of them give vote@N and pass@N):
`soft` with `thought_sampler=gumbel:TAU` (the Gumbel-softmax of each step's next-token distribution
is fed) or `dirichlet:ALPHA` (weights drawn from Dirichlet(ALPHA · p)), `cot` with `answer_temperature=0.7`; greedy `direct`, `soft` and `cot` as references. Positions
are summed over a question's N runs, so rows compare equal compute where their positions match.

    .venv/bin/python benchmarks/bench_soft_sampling.py --n 60 --samples 8

Per-run rows are kept in runs/soft-sampling/ (a rerun resumes); the table goes to docs/results.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from results_md import RUNS, replace_section  # noqa: E402

START, END = "<!-- bench_soft_sampling:start -->", "<!-- bench_soft_sampling:end -->"
OUT = RUNS / "soft-sampling"
ARMS = {  # name -> (strategy, options, sampled)
    "direct": ("direct", {"max_new_tokens": 24}, False),
    "soft": ("soft", {"max_new_tokens": 24}, False),
    "cot": ("cot", {"max_new_tokens": 128}, False),
    "soft + gumbel:0.5": ("soft", {"max_new_tokens": 24, "thought_sampler": "gumbel:0.5"}, True),
    "soft + gumbel:1": ("soft", {"max_new_tokens": 24, "thought_sampler": "gumbel:1"}, True),
    "soft + dirichlet:1": ("soft", {"max_new_tokens": 24, "thought_sampler": "dirichlet:1"}, True),
    "soft + dirichlet:10": ("soft", {"max_new_tokens": 24, "thought_sampler": "dirichlet:10"}, True),
    "cot, T=0.7": ("cot", {"max_new_tokens": 128, "answer_temperature": 0.7}, True),
}


def run_arm(lm, name: str, items, samples: int, batch: int) -> list[list[dict]]:
    """Per item, its runs (1 for a greedy arm): ``{extracted, correct, positions}``; kept and resumed."""
    from latentspace.bench.harness import check
    from latentspace.strategies import get_strategy

    strategy, options, sampled = ARMS[name]
    path = OUT / (name.replace(" ", "_").replace(",", "").replace(":", "") + ".jsonl")
    done = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
    reasoner = get_strategy(strategy, **options)
    runs = samples if sampled else 1
    todo = [(i, s) for i in range(len(items)) for s in range(runs)][len(done):]
    with path.open("a") as handle:
        for first in range(0, len(todo), batch):
            chunk = todo[first:first + batch]
            seed = 1000 * chunk[0][1] + chunk[0][0]  # one seed per batch; every row of it draws its own noise
            traces = reasoner.run_batch(lm, [items[i].question for i, _ in chunk], seed=seed)
            for (i, s), trace in zip(chunk, traces):
                correct, found = check("arithmetic", trace.text, items[i])
                row = {"item": i, "sample": s, "extracted": found, "correct": bool(correct),
                       "positions": trace.positions}
                handle.write(json.dumps(row) + "\n")
                done.append(row)
    out = [[] for _ in items]
    for row in done:
        out[row["item"]].append(row)
    return out


def vote(rows: list[dict]) -> bool:
    answers = [r["extracted"] for r in rows if r["extracted"]]
    if not answers:
        return False
    winner = Counter(answers).most_common(1)[0][0]
    return next(r["correct"] for r in rows if r["extracted"] == winner)


def main() -> None:
    from latentspace.core.stats import wilson
    from latentspace.model.latent_model import LatentModel
    from latentspace.tasks import get_task

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=60)
    parser.add_argument("--samples", type=int, default=8)
    parser.add_argument("--batch", type=int, default=16)
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    lm = LatentModel.load("smollm2-135m", show_progress=False)
    items = get_task("arithmetic").generate(args.n, seed=0)
    table = ["| arm | selector | N | accuracy [95% CI] | positions per question |", "|---|---|---:|---:|---:|"]
    for name, (_, _, sampled) in ARMS.items():
        per_item = run_arm(lm, name, items, args.samples, args.batch)
        sizes = [n for n in (1, 4, args.samples) if n <= args.samples] if sampled else [1]
        for n in sorted(set(sizes)):
            for selector in (("vote", "pass") if sampled and n > 1 else ("greedy" if not sampled else "one path",)):
                right = [vote(r[:n]) if selector == "vote" else any(x["correct"] for x in r[:n]) if selector == "pass"
                         else r[0]["correct"] for r in per_item]
                low, high = wilson(sum(right), len(right))
                positions = sum(sum(x["positions"] for x in r[:n]) for r in per_item) / len(per_item)
                table.append(f"| {name} | {selector} | {n} | {100 * sum(right) / len(right):.1f}% "
                             f"[{100 * low:.1f}, {100 * high:.1f}] | {positions:.0f} |")
        print(name, "done", flush=True)
    text = [START, "## Training-free search over soft thoughts, SmolLM2-135M (issue 40)", "",
            f"Command: `.venv/bin/python benchmarks/bench_soft_sampling.py --n {args.n} --samples {args.samples}` "
            f"(CPU; {args.n} `arithmetic` questions, seed 0; {time.strftime('%Y-%m-%d')}; resumable, so no wall time is "
            "given). Sampled arms run each question S times; vote@N and pass@N (any run right: coverage, "
            "an oracle) use the first N runs, and positions are summed over those N runs. Intervals: Wilson, over "
            "questions.", "", *table, "", END]
    replace_section("\n".join(text), START, END)


if __name__ == "__main__":
    main()
