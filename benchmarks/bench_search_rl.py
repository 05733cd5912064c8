"""Search and RL over continuous thoughts on trained MNNS runs (issue 40): one table each in docs/results.md.

Search: for each run, a latent reward model is fitted on its *training* questions (`train rm fit`:
8 paths a question, 8 continuations a prefix), then on the test split greedy beside pass@N (coverage),
vote@N, best-of-N by the reward model and beam search scored by it, N = 4, 16, 64, with intervals over
digit multisets and each selector's paired gain over greedy.
RL: `train rl` on the training questions; test accuracy before and after, read with the deterministic
thought (greedy) and with one sampled path (the regime RL optimises), with paired intervals.

    .venv/bin/python benchmarks/bench_search_rl.py            # every row not yet kept, then the tables
    .venv/bin/python benchmarks/bench_search_rl.py --write    # the tables from the kept rows only

Rows are kept in benchmarks/results/search_rl.jsonl as they finish (a rerun skips them); models and
reward models under runs/search-rl/. Runs used: `latentspace train table --profile laptop-mnns` (seeds
0-1) and `--profile laptop-mnns-d16` (seed 0).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from results_md import KEPT, RUNS, replace_section  # noqa: E402

KEPT_FILE = KEPT / "search_rl.jsonl"
OUT = RUNS / "search-rl"
START, END = "<!-- bench_search_rl:start -->", "<!-- bench_search_rl:end -->"
MNNS = RUNS / "table-mnns-laptop-mnns"
SEARCH = [  # (label, run, sampler, the split the reward model is fitted on)
    ("coconut s0", MNNS / "s0" / "coconut", "noise:0.3", "train"),
    ("coconut s1", MNNS / "s1" / "coconut", "noise:0.3", "train"),
    ("cot2 s0", MNNS / "s0" / "cot2", "mts:16", "train"),
    ("cot2 d16 s0", RUNS / "table-mnns-laptop-mnns-d16" / "s0" / "cot2", "mts:16", "train"),
    # Coconut answers every training question right (it memorises them): its paths' errors, what a reward
    # model must learn to spot, are on unseen multisets — the validation split's (disjoint from the test's)
    ("coconut s0, rm on valid", MNNS / "s0" / "coconut", "noise:0.3", "valid"),
    ("coconut s1, rm on valid", MNNS / "s1" / "coconut", "noise:0.3", "valid"),
]
RL = [  # (label, run, RLConfig options)
    ("coconut s0", MNNS / "s0" / "coconut", {"sampler": "noise:0.3", "lr": 1e-5, "iterations": 300}),
    ("coconut s1", MNNS / "s1" / "coconut", {"sampler": "noise:0.3", "lr": 1e-5, "iterations": 300}),
    ("cot2 d16 s0", RUNS / "table-mnns-laptop-mnns-d16" / "s0" / "cot2", {"sampler": "mts:16", "lr": 1e-5,
                                                                           "iterations": 300}),
    ("cot2 d16 s0, KL 0.5", RUNS / "table-mnns-laptop-mnns-d16" / "s0" / "cot2",
     {"sampler": "mts:16", "lr": 1e-5, "iterations": 300, "kl": 0.5}),
    # the issue's guard: RL must not cost CoT2 at d=32 its ≥ 99% (the authors' protocol, seed 42: 99.2%)
    ("cot2 paper-mnns s42, KL 0.5", RUNS / "table-mnns-paper-mnns" / "s42" / "cot2",
     {"sampler": "mts:16", "lr": 1e-5, "iterations": 300, "kl": 0.5}),
    # Coconut answers all its training questions right, so RL there sees groups of equal rewards (no signal):
    # RL on the validation split's questions (multisets disjoint from the test's), the test still unseen
    *((f"coconut s{seed}, RL on valid", MNNS / f"s{seed}" / "coconut",
       {"sampler": "noise:0.3", "lr": 1e-5, "iterations": 300, "split": "valid"}) for seed in range(5)),
]
SIZES = (4, 16, 64)


def kept() -> list[dict]:
    if not KEPT_FILE.exists():
        return []
    return [json.loads(line) for line in KEPT_FILE.read_text().splitlines() if line.strip() and "meta" not in line]


def keep(row: dict) -> None:
    from results_md import write_kept

    write_kept(KEPT_FILE, [*kept(), row])


def search_row(label: str, run: Path, spec: str, split: str = "train") -> dict:
    from latentspace.core.saved import fingerprint
    from latentspace.model.samplers import parse_sampler
    from latentspace.search import sample_paths, search_report
    from latentspace.search.beam import beam_search
    from latentspace.search.report import groups_of, row
    from latentspace.search.reward_model import fit_reward_model
    from latentspace.search.rollouts import collect_rollouts
    from latentspace.tasks import load_jsonl
    from latentspace.train.studies.evaluate_run import load_run, run_items

    started = time.perf_counter()
    loaded, sampler = load_run(run), parse_sampler(spec)
    roll = collect_rollouts(loaded, load_jsonl(run / "data" / f"{split}.jsonl")[:1000], sampler, 8, 8, seed=1)
    rm, fit = fit_reward_model(roll)
    folder = OUT / label.replace(" ", "-")
    folder.mkdir(parents=True, exist_ok=True)
    rm.save(folder / "rm.safetensors", fingerprint(loaded.causal_lm), str(run), {"sampler": spec})
    items = run_items(run, None, None, 0)
    paths = sample_paths(loaded, items, sampler, max(SIZES), seed=0)
    rows = search_report(paths, SIZES, ("pass", "vote", "rm"), rm=rm)
    greedy = [bool(r["correct"]) for r in paths.greedy]
    for size in SIZES:
        width = 4
        found = beam_search(loaded, items, sampler, rm, width, size // width, seed=0)
        rows.append(row("beam", size, groups_of(paths), [bool(r["correct"]) for r in found], greedy, 2000))
    return {"kind": "search", "label": label, "run": str(run.relative_to(RUNS.parent)), "sampler": spec, "split": split,
            "items": len(items), "fit": vars(fit), "rows": rows, "seconds": time.perf_counter() - started}


def history(out: Path) -> list[dict]:
    """The RL run's per-iteration records (its resumable checkpoint's progress file)."""
    progress = out / "rl" / "checkpoint" / "progress.json"
    return json.loads(progress.read_text())["history"] if progress.exists() else []


def rl_row(label: str, run: Path, options: dict) -> dict:
    from latentspace.core.stats import group_bootstrap, tally
    from latentspace.model.samplers import parse_sampler
    from latentspace.search.report import paired_gain
    from latentspace.train.studies.rl import RLConfig, train_rl
    from latentspace.train.studies.evaluate_run import load_run, run_items

    started = time.perf_counter()
    out = rl_out(label)
    config = RLConfig(**options)
    summary = train_rl(run, out, config)
    seconds = time.perf_counter() - started
    items = run_items(run, None, None, 0)
    groups = [str(item.meta.get("group", i)) for i, item in enumerate(items)]
    result = {"kind": "rl", "label": label, "run": str(run.relative_to(RUNS.parent)), "options": options,
              "items": len(items), "seconds": seconds, "curve": summary["curve"]}
    for mode, sampler in (("greedy", None), ("sampled", parse_sampler(config.sampler))):
        hooks = {} if sampler is None else {"sampler": sampler, "seed": 0}
        before, after = ([bool(r["correct"]) for r in load_run(folder).evaluate(items, **hooks).rows]
                         for folder in (run, out))
        result[mode] = {"before": sum(before) / len(items), "after": sum(after) / len(items),
                        "before_interval": group_bootstrap([tally(zip(groups, before))]),
                        "after_interval": group_bootstrap([tally(zip(groups, after))]),
                        "gain_interval": paired_gain(groups, after, before)}
    return result


def rl_out(label: str) -> Path:
    return OUT / ("rl-" + label.replace(" ", "-").replace(",", ""))


def informative(row: dict) -> str:
    shares = [r["informative"] for r in history(rl_out(row["label"])) if r.get("informative") is not None]
    return f"{100 * sum(shares) / len(shares):.0f}%" if shares else "·"


def pct(x: float) -> str:
    return f"{100 * x:.1f}"


def section(rows: list[dict]) -> str:
    order = {("search", entry[0]): i for i, entry in enumerate(SEARCH)} | {("rl", entry[0]): i for i, entry in enumerate(RL)}
    rows = sorted(rows, key=lambda r: order.get((r["kind"], r["label"]), len(order)))
    text = [START, "## Search and RL over continuous thoughts, MNNS (issue 40)", "",
            "Command: `.venv/bin/python benchmarks/bench_search_rl.py` (CPU, one thread; runs of `latentspace train "
            "table --profile laptop-mnns` and `laptop-mnns-d16`). Test split (1,313 problems); intervals: 95% bootstrap "
            "over digit multisets; *gain*: the selector's accuracy minus greedy's on the same problems, with a paired "
            "interval. The reward model is fitted on a run's training questions (up to 1,000 questions × 8 paths, 8 "
            "continuations a prefix: `latentspace train rm fit RUN --sampler S`), or its validation questions where "
            "said (`--split valid`: multisets disjoint from the test's); beam search keeps 4 beams, N/4 "
            "candidates each, the first the deterministic thought.", ""]
    for row in (r for r in rows if r["kind"] == "search"):
        fit = row["fit"]
        split = row.get("split", "train")
        text += [f"**{row['label']}** (`{row['run']}`, sampler `{row['sampler']}`; reward model fitted on the {split} "
                 f"split — on its held-out fifth: its pick {pct(fit['held_out_best_of_group'])}%, a random path "
                 f"{pct(fit['held_out_mean_path'])}%, any path {pct(fit['held_out_any_path'])}%)", "",
                 "| selector | N | accuracy [95% CI] | gain over greedy [95% CI] |", "|---|---:|---:|---:|"]
        for r in row["rows"]:
            gain = "" if "gain" not in r else f"{100 * r['gain']:+.1f} [{100 * r['gain_interval'][0]:+.1f}, " \
                                              f"{100 * r['gain_interval'][1]:+.1f}]"
            text.append(f"| {r['selector']} | {r['n']} | {pct(r['accuracy'])}% [{pct(r['interval'][0])}, "
                        f"{pct(r['interval'][1])}] | {gain} |")
        text.append("")
    rl = [r for r in rows if r["kind"] == "rl"]
    if rl:
        text += ["RL (`latentspace train rl RUN --sampler S --lr LR --iterations 300 [--split valid]`; 32 questions × 8 "
                 "rollouts an iteration, 2 clipped updates each, advantages over the group's spread; the training "
                 "split's questions unless *RL on valid*: the validation split's, multisets disjoint from the test's): "
                 "test accuracy before → after, read with the deterministic thought and with one sampled path; "
                 "*informative*: the share of groups whose rollouts did not all get the same reward, over the run.",
                 "",
                 "| run | settings | greedy before → after | gain [95% CI] | sampled before → after | gain [95% CI] "
                 "| informative | minutes |", "|---|---|---:|---:|---:|---:|---:|---:|"]
        for r in rl:
            g, s = r["greedy"], r["sampled"]
            settings = ", ".join(f"{k} {v}" for k, v in r["options"].items() if k != "iterations")
            text.append(f"| {r['label']} | {settings} | {pct(g['before'])} → {pct(g['after'])} | "
                        f"{100 * (g['after'] - g['before']):+.1f} [{100 * g['gain_interval'][0]:+.1f}, "
                        f"{100 * g['gain_interval'][1]:+.1f}] | {pct(s['before'])} → {pct(s['after'])} | "
                        f"{100 * (s['after'] - s['before']):+.1f} [{100 * s['gain_interval'][0]:+.1f}, "
                        f"{100 * s['gain_interval'][1]:+.1f}] | {informative(r)} | {r['seconds'] / 60:.1f} |")
        text.append("")
    return "\n".join(text + [END])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="Only write the tables from the kept rows.")
    parser.add_argument("--only", choices=("search", "rl"), default=None)
    args = parser.parse_args()
    done = {(r["kind"], r["label"]) for r in kept()}
    if not args.write:
        if args.only in (None, "search"):
            for label, run, spec, split in SEARCH:
                if ("search", label) not in done and run.is_dir():
                    keep(search_row(label, run, spec, split))
                    print(f"search {label}: done", flush=True)
        if args.only in (None, "rl"):
            for label, run, options in RL:
                if ("rl", label) not in done and run.is_dir():
                    keep(rl_row(label, run, options))
                    print(f"rl {label}: done", flush=True)
    replace_section(section(kept()), START, END)


if __name__ == "__main__":
    main()
