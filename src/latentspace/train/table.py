"""The anchor table: every recipe on one task and profile, shaped like Coconut's Table 1.

Each recipe trains into its own folder under ``out``; a recipe whose ``summary.json`` exists is
not trained again (so an interrupted table resumes, and adding a recipe costs only that recipe).
"""

from __future__ import annotations

from pathlib import Path

from latentspace.bench.metrics import wilson
from latentspace.train.profiles import Profile
from latentspace.train.recipes import get_recipe
from latentspace.errors import LatentspaceError
from latentspace.train.checkpoint import read_json, run_settings
from latentspace.train.trainer import TrainRun, check_run, train

ORDER = ["nocot", "cot", "pause", "icot", "coconut", "codi"]  # Table 1's rows, CODI added


def run_table(task: str, profile: Profile, out: Path, recipes: list[str] = ORDER, seed: int = 0,
              progress: bool = True, settings: dict | None = None) -> list[dict]:
    if not recipes:
        raise LatentspaceError("a table needs at least one recipe")
    runs = [TrainRun(get_recipe(name, **profile.recipe_options.get(name, {})), task, profile, out / name, seed=seed,
                     extra=dict(settings or {})) for name in recipes]
    for run in runs:  # every run's settings before the first one trains (not an hour later)
        check_run(run)
    rows = []
    for run in runs:
        folder, recipe = run.out, run.recipe
        done = folder / "summary.json"
        if done.exists():  # reuse a finished recipe only if it was made exactly like this one
            made = read_json(done, "run summary")
            if not isinstance(made, dict):
                raise LatentspaceError(f"{done} is damaged (not a run summary); remove it or use another --out")
            wanted = {"task": task, "seed": seed, "options": recipe.options(), "settings": run_settings(run),
                      "sizes": {k: run.setting(k) for k in ("n_train", "n_valid", "n_test", "layers", "hidden", "heads")}}
            if any(made.get(k) != v for k, v in wanted.items()):
                raise LatentspaceError(f"{folder} was trained with other settings than profile {profile.name} now "
                                       "has; remove it or use another --out")
        else:
            train(run, progress=progress)
        rows.append(read_json(done, "run summary"))
    return rows


def markdown(rows: list[dict]) -> str:
    cot = next((r for r in rows if r["recipe"] == "cot"), None)
    lines = ["| recipe | accuracy [95% CI] | positions per answer | × CoT positions | s per answer | "
             "train s per epoch | × CoT epoch |", "|---|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        lo, hi = wilson(r["test_correct"], r["test_n"])
        ratio = lambda key: f"{r[key] / cot[key]:.2f}" if cot and cot[key] else "·"  # noqa: E731
        lines.append(f"| {r['recipe']} | {100 * r['test_accuracy']:.1f}% [{100 * lo:.1f}, {100 * hi:.1f}] | "
                     f"{r['positions']:.1f} | {ratio('positions')} | {r['seconds_per_answer']:.3f} | "
                     f"{r['epoch_seconds']:.1f} | {ratio('epoch_seconds')} |")
    return "\n".join(lines) + "\n"


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
