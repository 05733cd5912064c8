"""The anchor table: every recipe on one task and profile, over seeds, beside the papers' numbers.

Each (seed, recipe) trains into ``out/s{seed}/{recipe}``; a run whose ``summary.json`` exists is
not trained again (so an interrupted table resumes, and adding a recipe or a seed costs only that
run) — but only if it was made exactly as the profile now says, else the table refuses.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from pathlib import Path
from statistics import mean, stdev

import torch

from latentspace.core.errors import LatentspaceError
from latentspace.core import files
from latentspace.core.stats import group_bootstrap, tally, wilson
from latentspace.train.profiles import Profile
from latentspace.train.recipes import get_recipe
from latentspace.train.checkpoint import read_metrics
from latentspace.train.records import RunSummary, read_summary, typical_epoch_seconds
from latentspace.train.run import TrainRun, check_run, run_settings
from latentspace.train.run_folder import advising
from latentspace.train.trainer import train

ORDER = ["nocot", "cot", "pause", "icot", "coconut", "codi", "cot2"]  # Table 1's rows, CODI and CoT2 added

# what the papers report for each profile's setting (accuracy %), shown in the same table
PUBLISHED = {
    "laptop-mnns": ({"nocot": 68.4, "cot": 84.9, "coconut": 92.6, "cot2": 98.9},
                    "CoT2 repository's figures, MNNS, GPT-2 2 layers 2 heads d=32 (Gozeten et al. 2025)"),
    "paper-mnns": ({"nocot": 68.4, "cot": 84.9, "coconut": 92.6, "cot2": 98.9},
                   "CoT2 repository's figures, MNNS, GPT-2 2 layers 2 heads d=32 (Gozeten et al. 2025)"),
    "laptop-mnns-d24": ({"cot": 70.4, "cot2": 96.6},
                        "CoT2 repository's width curve, MNNS, GPT-2 2 layers 2 heads d=24 (Gozeten et al. 2025)"),
    "laptop-mnns-d16": ({"cot": 55.5, "cot2": 55.3},
                        "CoT2 repository's width curve, MNNS, GPT-2 2 layers 2 heads d=16 (Gozeten et al. 2025)"),
    "laptop-prosqa": ({"nocot": 54.9, "cot": 68.5, "coconut": 90.0, "cot2": 93.4},
                      "CoT2 paper, symbolic ProsQA, GPT-2 4 layers 4 heads, small widths (Gozeten et al. 2025)"),
    "laptop-prosqa-15k": ({"nocot": 54.9, "cot": 68.5, "coconut": 90.0, "cot2": 93.4},
                          "CoT2 paper, symbolic ProsQA, GPT-2 4 layers 4 heads, small widths (Gozeten et al. 2025)"),
    "paper-prosqa": ({"nocot": 75.0, "cot": 75.0, "coconut": 98.8},
                     "Reasoning by Superposition, symbolic ProsQA, GPT-2 2 layers d=768 (Zhu et al. 2025; CoT and "
                     "No-CoT read off its figure as about 75%, Coconut 98.8% from the follow-up's ablation)"),
    "laptop-vsp": ({"nocot": 77.9, "cot": 61.5, "visual": 85.6},
                   "MVoT, FrozenLake, Anole-7B fine-tuned (Li et al. 2025): direct answer, text CoT and "
                   "visualization-of-thought (images generated as thoughts, the nearest published arm to latent "
                   "visual thoughts)"),
    "full": ({"nocot": 76.7, "cot": 77.5, "pause": 75.9, "icot": 98.2, "coconut": 97.0},
             "Coconut Table 1, ProsQA, pretrained GPT-2 (Hao et al. 2024)"),
}


def run_folder(out: Path, seed: int, recipe: str) -> Path:
    return out / f"s{seed}" / recipe


def run_table(task: str, profile: Profile, out: Path, recipes: list[str] = ORDER, seeds: list[int] = (0,),
              progress: bool = True, settings: dict | None = None, hops: str | None = None,
              jobs: int = 1, inits: dict[int, Path] | None = None) -> list[dict]:
    """Train (or reuse) every (seed, recipe) run; one summary row each, seeds outermost.

    ``inits``: the finished run each seed's runs start from (`--init`: the vsp arms from a map reader).

    ``jobs`` > 1 trains that many runs at a time, each in its own process with an equal share of the
    cores' threads (on a CPU; a GPU trains one run at a time).
    """
    if not recipes:
        raise LatentspaceError("a table needs at least one recipe")
    if not seeds:
        raise LatentspaceError("a table needs at least one seed")
    if not isinstance(jobs, int) or not 1 <= jobs <= 256:
        raise LatentspaceError(f"jobs: runs at a time, from 1 to 256, not {str(jobs)[:40]}")
    runs = [TrainRun(get_recipe(name, **profile.recipe_options.get(name, {})), task, profile,
                     run_folder(out, seed, name), seed=seed, hops=hops, extra=dict(settings or {}),
                     init=(inits or {}).get(seed))
            for seed in seeds for name in recipes]
    for run in runs:  # every run's settings before the first one trains (not an hour later)
        check_run(run)
    todo = []
    for run in runs:
        if (run.out / "summary.json").exists():
            check_reusable(run, summary_of(run), profile)
        else:
            todo.append(run)
    if jobs > 1 and len(todo) > 1 and not torch.cuda.is_available():
        train_at_once(todo, jobs, progress)
    else:
        for run in todo:
            train(run, progress=progress)
    rows = []
    for run in runs:
        row = summary_of(run).to_dict()  # the one schema (`records.RunSummary`): no KeyError below
        log = read_metrics(run.out)
        if log:  # summaries written before the median held the mean, paused epochs included
            row["epoch_seconds"] = typical_epoch_seconds(log)
        groups = test_groups(run.out)
        rows.append(row if groups is None else {**row, "test_groups": groups})
    return rows


def test_groups(out: Path) -> dict[str, list[int]] | None:
    """``{group: [correct, answered]}`` of a finished run's test answers — MNNS's groups are its digit
    multisets (permutations answered alike); an item without a group is its own. None when the run
    folder lacks its answers or data (a run made elsewhere): the table falls back to item intervals."""
    answers, items = out / "test_answers.jsonl", out / "data" / "test.jsonl"
    if not (answers.is_file() and items.is_file()):
        return None
    rows = files.read_text(answers, "test answers").splitlines()
    tests = files.read_text(items, "test data").splitlines()
    if len(rows) != len(tests):
        return None

    def group(number: int, item: str) -> str:
        meta = json.loads(item).get("meta") or {}
        return str(meta.get("group", f"item {number}")) if isinstance(meta, dict) else f"item {number}"

    return tally((group(n, item), json.loads(row).get("correct")) for n, (row, item) in enumerate(zip(rows, tests)))


def train_at_once(runs: list[TrainRun], jobs: int, progress: bool) -> None:
    """Train ``runs``, ``jobs`` at a time in fresh processes, the cores' threads shared out among them.

    Measured on 2 cores (`benchmarks/bench_train_speed.py`): two one-thread processes make 1.4-1.6x the
    steps per second of one two-thread process — small models do not keep two threads busy. A run
    that fails stops the table with its own message (the others finish or stay resumable).
    """
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    threads = max(1, (os.cpu_count() or 1) // jobs)
    context = multiprocessing.get_context("spawn")  # never fork a process that holds torch's threads
    with ProcessPoolExecutor(min(jobs, len(runs)), mp_context=context, initializer=torch.set_num_threads,
                             initargs=(threads,)) as pool:
        pending = {pool.submit(train, run, False): run for run in runs}
        for future in as_completed(pending):
            future.result()  # a failed run raises here, its message unchanged
            if progress:
                print(f"finished {pending[future].out}", flush=True)


def summary_of(run: TrainRun) -> RunSummary:
    with advising(f"remove {run.out} or use another --out"):
        return read_summary(run.out / "summary.json")


def check_reusable(run: TrainRun, summary: RunSummary, profile: Profile) -> None:
    """A finished run is reused only if it was made exactly like this one would be."""
    made = summary.to_dict()
    wanted = {"recipe": run.recipe.name, "task": run.task, "seed": run.seed, "options": run.recipe.options(),
              "settings": run_settings(run),
              "sizes": {k: run.setting(k) for k in ("n_train", "n_valid", "n_test", "layers", "hidden", "heads")}}
    defaults = type(run.recipe)().options()
    if isinstance(made.get("options"), dict):  # an option added since the run was made counts at its default
        made = {**made, "options": {**{k: v for k, v in defaults.items() if k not in made["options"]},
                                    **made["options"]}}
    if any(made.get(k) != v for k, v in wanted.items()):
        raise LatentspaceError(f"{run.out} was trained with other settings than profile {profile.name} now "
                               "has; remove it or use another --out")


def by_recipe(rows: list[dict]) -> dict[str, list[dict]]:
    grouped: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        grouped[row["recipe"]].append(row)
    return grouped


DRAWS = 2000  # bootstrap draws behind every interval of the table


def accuracy(runs: list[dict], draws: int = DRAWS) -> tuple[float, float, float]:
    """(mean accuracy over seeds, its 95% interval): a bootstrap over the runs' test groups and seeds
    when every run carries its groups (`test_groups`), else a pooled Wilson interval over the answers."""
    if all(r.get("test_groups") for r in runs):
        lo, hi = group_bootstrap([r["test_groups"] for r in runs], draws)
    else:
        lo, hi = wilson(sum(r["test_correct"] for r in runs), sum(r["test_n"] for r in runs))
    return mean(r["test_accuracy"] for r in runs), lo, hi


def markdown(rows: list[dict], profile: str | None = None, draws: int = DRAWS) -> str:
    """One line per recipe: mean over seeds, the pooled interval, each seed, the published number."""
    groups = by_recipe(rows)
    published = PUBLISHED.get(profile, ({}, ""))[0]
    mean_of = lambda runs, key: mean(r[key] for r in runs)  # noqa: E731
    cot = groups.get("cot")
    lines = ["| recipe | accuracy [95% CI] | per seed | published | positions per answer | × CoT positions | "
             "s per answer | train min | s per epoch | × CoT epoch |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for name, runs in groups.items():
        acc, lo, hi = accuracy(runs, draws)
        ratio = lambda key: f"{mean_of(runs, key) / mean_of(cot, key):.2f}" if cot and mean_of(cot, key) else "·"  # noqa: E731
        spread = f" ± {100 * stdev(r['test_accuracy'] for r in runs):.1f}" if len(runs) > 1 else ""
        seeds = ", ".join(f"{100 * r['test_accuracy']:.1f}" for r in runs)
        paper = f"{published[name]:.1f}%" if name in published else "·"
        lines.append(f"| {name} | {100 * acc:.1f}%{spread} [{100 * lo:.1f}, {100 * hi:.1f}] | {seeds} | {paper} | "
                     f"{mean_of(runs, 'positions'):.1f} | {ratio('positions')} | "
                     f"{mean_of(runs, 'seconds_per_answer'):.4f} | {mean_of(runs, 'train_seconds') / 60:.1f} | "
                     f"{mean_of(runs, 'epoch_seconds'):.2f} | {ratio('epoch_seconds')} |")
    source = PUBLISHED.get(profile, ({}, ""))[1]
    note = f"\nPublished: {source}.\n" if source and any(n in published for n in groups) else ""
    if all(r.get("test_groups") for r in rows):
        how = ("a bootstrap over digit multisets (every permutation of a multiset is one draw) and seeds"
               if any(not g.startswith("item ") for r in rows for g in r["test_groups"]) else
               "a bootstrap over test items and seeds")
        note += f"\nIntervals: {how}, {draws} draws.\n"
    else:
        note += "\nIntervals: Wilson, pooled over every test answer of the seeds.\n"
    tested = sorted({(r.get("settings") or {}).get("select", "last") for r in rows})
    note += "Tested at: " + ", ".join(PROTOCOLS.get(s, s) for s in tested) + ".\n"
    note += "s per epoch: the median epoch's wall time (an epoch spent paused does not count).\n"
    return "\n".join(lines) + "\n" + note


PROTOCOLS = {"last": "the last epoch", "best": "the checkpoint best on validation (the test protocol is the run's "
                                                "`select` setting)"}


CONTINUOUS = ("coconut", "cot2", "codi", "pause")


def separated(a: list[dict], b: list[dict], draws: int = DRAWS) -> bool:
    """Is ``b``'s 95% interval entirely above ``a``'s?"""
    return accuracy(b, draws)[1] > accuracy(a, draws)[2]


def interval(runs: list[dict], draws: int = DRAWS) -> str:
    _, lo, hi = accuracy(runs, draws)
    return f"[{100 * lo:.1f}, {100 * hi:.1f}]"


def latent_goals(rows: list[dict], profile: str | None, draws: int = DRAWS) -> str:
    """Issue 19's goals for the symbolic tasks, each checked on ``rows`` (empty without the rows they need)."""
    groups = by_recipe(rows)
    continuous = [n for n in CONTINUOUS if n in groups and n != "pause"]
    if not {"nocot", "cot"} <= set(groups) or not continuous:
        return ""
    best = max(continuous, key=lambda n: accuracy(groups[n])[0])
    nocot, cot, top = groups["nocot"], groups["cot"], groups[best]
    pct = lambda runs: f"{100 * accuracy(runs)[0]:.1f}%"  # noqa: E731
    checks = [("No-CoT < CoT < best continuous", accuracy(nocot)[0] < accuracy(cot)[0] < accuracy(top)[0],
               f"{pct(nocot)} < {pct(cot)} < {best} {pct(top)}"),
              ("95% interval of CoT above No-CoT's", separated(nocot, cot, draws),
               interval(nocot, draws) + " vs " + interval(cot, draws)),
              ("95% interval of the best continuous above CoT's", separated(cot, top, draws),
               interval(cot, draws) + " vs " + interval(top, draws))]
    if profile and profile.startswith(("laptop-mnns", "paper-mnns")):
        checks.append(("best continuous ≥ 90%", accuracy(top)[0] >= 0.90, f"{best} {pct(top)}"))
    else:
        gain = accuracy(top)[0] - accuracy(cot)[0]
        positions = mean(r["positions"] for r in top) / mean(r["positions"] for r in cot)
        checks += [("best continuous ≥ CoT + 15 points", gain >= 0.15, f"{100 * gain:+.1f} points"),
                   ("≤ ⅓ of CoT's positions", positions <= 1 / 3, f"{positions:.2f}×")]
        published = PUBLISHED.get(profile or "", ({}, ""))[0].get("nocot")
        if published is not None:  # the pipeline's first check: No-CoT where the papers put it
            off = 100 * accuracy(nocot)[0] - published
            checks.append((f"No-CoT within 10 points of the published {published:.1f}%", abs(off) <= 10,
                           f"{off:+.1f} points"))
    return f"Goals ({best} is the best continuous recipe): " + "; ".join(
        f"{name}: {'met' if ok else 'missed'} ({value})" for name, ok, value in checks) + "."


def goals(rows: list[dict]) -> str:
    """Issue 5's goals for Coconut against CoT, each checked on ``rows`` (empty without both recipes)."""
    by = {r["recipe"]: r for r in rows}
    if not {"cot", "coconut"} <= set(by):
        return ""
    cot, coconut = by["cot"], by["coconut"]
    passes = coconut["options"]["max_stage"] * coconut["options"]["thoughts_per_step"] + 1
    checks = [
        ("accuracy ≥ CoT", coconut["test_accuracy"] >= cot["test_accuracy"],
         f"{100 * coconut['test_accuracy']:.1f}% vs {100 * cot['test_accuracy']:.1f}%"),
        ("positions ≤ ⅓ of CoT's", coconut["positions"] <= cot["positions"] / 3,
         f"{coconut['positions'] / cot['positions']:.2f}×"),
        ("wall time per answer ≤ ½ of CoT's", coconut["seconds_per_answer"] <= cot["seconds_per_answer"] / 2,
         f"{coconut['seconds_per_answer'] / cot['seconds_per_answer']:.2f}×"),
        (f"training cost per epoch ≤ {passes}× CoT's (max thoughts + 1)",
         coconut["epoch_seconds"] <= passes * cot["epoch_seconds"],
         f"{coconut['epoch_seconds'] / cot['epoch_seconds']:.2f}×"),
    ]
    return "Goals, Coconut vs CoT: " + "; ".join(f"{name}: {'met' if ok else 'missed'} ({value})"
                                                 for name, ok, value in checks) + "."
