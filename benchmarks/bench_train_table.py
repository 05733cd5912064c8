"""The anchor table (issue 5): every training recipe on ProsQA-like data, like Coconut's Table 1.

Trains each recipe with the chosen profile (finished recipes are reused from their run folders,
so an interrupted table resumes) and writes the table into docs/results.md next to the paper's
numbers (GPT-2, ProsQA: Coconut 97.0% / 14.2 positions, CoT 77.5% / 49.4, No-CoT 76.7% / 8.2).

    .venv/bin/python benchmarks/bench_train_table.py --profile quick
    .venv/bin/python benchmarks/bench_train_table.py --profile quick --recipes cot,coconut   # a subset
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402
from results_md import replace_section  # noqa: E402  (benchmarks/ is on sys.path)

from latentspace.train.profiles import get_profile  # noqa: E402
from latentspace.train.table import ORDER, goals, markdown, run_table  # noqa: E402

START, END = "<!-- bench_train_table:start -->", "<!-- bench_train_table:end -->"
ROOT = Path(__file__).resolve().parent


def above_chance(rows: list[dict], chance: float = 0.5) -> str:
    """Which recipes beat picking one of ProsQA's two options at random (95% interval above 50%)."""
    from latentspace.bench import wilson

    above = [r["recipe"] for r in rows if wilson(r["test_correct"], r["test_n"])[0] > chance]
    return (f"Above chance ({100 * chance:.0f}%: two options; 95% interval above it): "
            f"{', '.join(above) if above else 'none'}.")


def shown(path: Path) -> str:
    """``path`` relative to the repository when it lies inside it (the command as a reader types it)."""
    path = path.resolve()
    return str(path.relative_to(ROOT.parent)) if path.is_relative_to(ROOT.parent) else str(path)


def look_inside(run: Path, png: Path, n: int = 100) -> str:
    """The Coconut model's thoughts read through the lens: mass on frontier / passed / ahead / unreachable nodes."""
    import json

    from latentspace.model.latent_model import LatentModel
    from latentspace.tasks import load_jsonl
    from latentspace.train.analysis import GROUPS, frontier_mass, plot_frontier

    options = json.loads((run / "checkpoint" / "state.json").read_text())["options"]
    count = options["max_stage"] * options["thoughts_per_step"]
    lm = LatentModel.load(str(run / "checkpoint"), show_progress=False)
    result = frontier_mass(lm, load_jsonl(run / "data" / "test.jsonl")[:n], count)
    plot_frontier(result, png)
    rows = [f"| {i} | " + " | ".join(f"{row[g]:.3f}" for g in GROUPS) + " |"
            for i, row in enumerate(result.per_thought, 1)]
    return "\n".join([
        f"Look inside (Coconut's \"search in superposition\" analysis, `latentspace train inspect {shown(run)}`): "
        f"lens probability of each continuous thought on graph nodes at the thought's depth (frontier), "
        f"nearer the root (passed), farther (ahead) and unreachable from the root; {result.items} test items. "
        f"Plot: `{shown(png)}`.", "",
        "| thought | " + " | ".join(GROUPS) + " |", "|---|" + "---:|" * len(GROUPS), *rows, ""])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--recipes", default=",".join(ORDER))
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--quick", action="store_true", help="do not touch docs/results.md")
    args = parser.parse_args()
    profile = get_profile(args.profile)
    out = args.out or ROOT / "results" / f"train-table-{profile.task}-{args.profile}"
    rows = run_table(profile.task, profile, out, args.recipes.split(","), progress=False)
    table = markdown(rows)
    hours = sum(r["train_seconds"] for r in rows) / 3600
    text = "\n".join([
        f"## Training recipes on ProsQA-like data, profile `{args.profile}` (issue 5)",
        "",
        f"Task `{profile.task}`, {profile.n_train} training / {profile.n_test} test items, {profile.layers}-layer {profile.hidden}-d "
        f"{profile.family} from scratch, word-level vocabulary; {profile.note}. Trained {hours:.2f} h in total on CPU "
        f"({platform.machine()}, {os.cpu_count()} cores), torch {torch.__version__}, "
        f"{datetime.date.today().isoformat()}. Command: "
        f"`.venv/bin/python benchmarks/bench_train_table.py --profile {args.profile} --recipes {args.recipes}`",
        "",
        table,
        goals(rows),
        above_chance(rows),
        "",
        "Paper (GPT-2 124M pretrained, 17,886 items, 50 epochs): No-CoT 76.7% / 8.2, CoT 77.5% / 49.4, iCoT 98.2% / "
        "8.2, pause 75.9% / 8.2, Coconut 97.0% / 14.2 (accuracy / generated positions incl. thoughts).",
        "",
    ])
    if "coconut" in args.recipes.split(","):
        png = out / "frontier.png" if args.quick else ROOT.parent / "docs" / f"frontier_{args.profile}.png"
        text += "\n" + look_inside(out / "coconut", png) + "\n"
    print(text)
    if not args.quick:
        replace_section(f"{START}\n{text}{END}", START, END)


if __name__ == "__main__":
    main()
