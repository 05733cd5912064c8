"""The audit table (issue 20): every trained latent recipe's thoughts audited, seeds side by side,
and training-free strategies on the bundled model — one row per (model, seed), the full reports
under runs/audit/.

    .venv/bin/python benchmarks/bench_audit.py --profile laptop-mnns --seeds 0,1
    .venv/bin/python benchmarks/bench_audit.py --profile laptop-prosqa --seeds 0
    .venv/bin/python benchmarks/bench_audit.py --strategies continuous,soft --n 40   # SmolLM2, arithmetic

Resumable: each audit saves its report after every test under runs/audit/, and a rerun keeps the
finished tests of the same model, items and seed.

Each row condenses one report: intact accuracy; necessity (all thoughts cut, the worst single
thought replaced by its mean); per thought (t1 · t2 · ...): the gold value top-3 in correct / wrong
answers (and at the layer of that position where it is top-3 most often, through the logit lens), the probe's gap over its shuffled control (for the step's value, and for the final
answer), the interchange follow rate; steering at
strength 1 (answers changed by the class direction / by a random one, mean over thoughts); the
shortcut check where the task has a variant; min = the audit's minutes, the intact pass and every test
(summed from the saved report, so a resumed audit reports what all of it took).
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

from latentspace.audit import audit  # noqa: E402
from latentspace.audit.pages import write_audit  # noqa: E402
from latentspace.audit.report import table  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def pct(x) -> str:
    return "–" if x is None else f"{100 * x:.0f}"


def condensed(report) -> dict:
    r = report.results
    row = {"acc": pct(report.accuracy), "thoughts": report.thoughts}
    if "necessity" in r:
        nec = r["necessity"]
        row["cut all"] = pct(nec["cut"][0]["accuracy"])
        worst = min(nec["mean"], key=lambda x: x["accuracy"]) if nec["mean"] else None
        row["worst → mean"] = f"{pct(worst['accuracy'])} (t{worst['thought']})" if worst else "–"
    if "decodability" in r:
        row["gold top-3 right / wrong"] = " · ".join(
            f"{pct(x['top3_correct'])}/{pct(x['top3_wrong'])}" for x in r["decodability"])
        if any("by_layer" in x for x in r["decodability"]):
            def best(x):
                if not x.get("by_layer"):
                    return "–"
                layer = max(x["by_layer"], key=x["by_layer"].get)
                return f"{pct(x['by_layer'][layer])} (L{layer})"
            row["gold top-3, best layer"] = " · ".join(best(x) for x in r["decodability"])
    if "probe" in r:
        row["probe − control: step"] = " · ".join(pct(x.get("gap")) for x in r["probe"])
        row["answer"] = " · ".join(pct(x.get("answer_gap")) for x in r["probe"])
        if any("best_layer" in x for x in r["probe"]):
            row["best layer: gap (layer)"] = " · ".join(
                f"{pct(x['best_layer_gap'])} (L{x['best_layer']})" if "best_layer" in x else "–" for x in r["probe"])
    if "interchange" in r:
        row["interchange follows"] = " · ".join(pct(x.get("follows")) for x in r["interchange"])
    if "steer" in r:
        at_one = [x for x in r["steer"] if x.get("strength") == 1.0]
        if at_one:
            changed = sum(x["answer_changed"] for x in at_one) / len(at_one)
            control = sum(x["control_changed"] for x in at_one) / len(at_one)
            row["steer s=1 changed / random"] = f"{pct(changed)} / {pct(control)}"
    if "ood" in r:
        row["ood"] = f"{pct(r['ood']['out_of_distribution'])} ({r['ood']['variant']})"
    return row


def mean(values) -> float | None:
    values = [v for v in values if v is not None]
    return sum(values) / len(values) if values else None


def shape(report) -> dict:
    """The numbers the issue's expected shape is judged on, for one report (fractions)."""
    r = report.results
    out = {"acc": report.accuracy}
    if "necessity" in r:
        out["cut cost"] = report.accuracy - r["necessity"]["cut"][0]["accuracy"]
    if "decodability" in r:
        out["top3 right"] = mean(x.get("top3_correct") for x in r["decodability"])
        out["top3 wrong"] = mean(x.get("top3_wrong") for x in r["decodability"])
    if "probe" in r:
        out["probe gap"] = mean(x.get("gap") for x in r["probe"])
    if "interchange" in r:
        out["follows"] = mean(x.get("follows") for x in r["interchange"])
    return out


def verdicts(shapes: list[dict]) -> dict:
    """Mean ± sd over seeds, and the issue's two claims: necessary (cutting every thought costs >= 20
    points) and decodable (gold top-3 in most correct answers — and how much less in wrong ones)."""
    row = {}
    for key in ("acc", "cut cost", "top3 right", "top3 wrong", "probe gap", "follows"):
        values = [s[key] for s in shapes if s.get(key) is not None]
        if values:
            m = sum(values) / len(values)
            sd = (sum((v - m) ** 2 for v in values) / (len(values) - 1)) ** 0.5 if len(values) > 1 else 0.0
            row[key] = f"{100 * m:.0f} ± {100 * sd:.0f}"
    cut = mean(s.get("cut cost") for s in shapes)
    right, wrong = mean(s.get("top3 right") for s in shapes), mean(s.get("top3 wrong") for s in shapes)
    row["necessary (cut costs ≥ 20)"] = "–" if cut is None else ("yes" if cut >= 0.20 else "no")
    row["decodable (top-3 in > 50% of right)"] = "–" if right is None else ("yes" if right > 0.5 else "no")
    row["right − wrong top-3 (points)"] = "–" if right is None or wrong is None else f"{100 * (right - wrong):+.0f}"
    return row


def summary(reports: dict[str, list]) -> list[str]:
    rows = [{"model": name, "seeds": len(group), **verdicts([shape(r) for r in group])}
            for name, group in reports.items()]
    return ["Over seeds (mean ± sd, percentages; per-thought numbers averaged over thoughts):", "", *table(rows), ""]


def resumed(folder: Path):
    """An earlier report in ``folder`` (the audit reuses its finished tests when it audited the same)."""
    from latentspace.cli.audit import earlier_report

    return earlier_report(folder) if folder.is_dir() else None


def saver(folder: Path):
    from latentspace.core import files, jsonsafe

    def save(report) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        files.write_text(folder / "report.json", jsonsafe.dumps(report.to_dict(), indent=2) + "\n", "audit report")
    return save


def trained_rows(profile: str, recipes: list[str], seeds: list[int], n: int, tests, reports: dict) -> list[dict]:
    from latentspace.cli.audit import ood_variant
    from latentspace.train.studies.auditable import TrainedSubject
    from latentspace.train.studies.evaluate_run import run_items
    from latentspace.train.profiles import get_profile

    task = get_profile(profile).task
    rows = []
    for recipe in recipes:
        for seed in seeds:
            run = ROOT / "runs" / f"table-{task}-{profile}" / f"s{seed}" / recipe
            if not (run / "summary.json").exists():
                print(f"skip {run}: not trained")
                continue
            items = run_items(run, None, n, 0)
            variant = ood_variant(run, "auto")
            ood = (variant, run_items(run, variant, len(items), 0)) if variant else None
            folder = ROOT / "runs" / "audit" / profile / f"s{seed}-{recipe}"
            report = audit(TrainedSubject(run), items, tests, ood, done=resumed(folder), saved=saver(folder))
            write_audit(report, folder)
            reports.setdefault(recipe, []).append(report)
            rows.append({"model": f"{recipe} s{seed}", "n": len(items), **condensed(report),
                         "min": f"{sum(report.seconds.values()) / 60:.1f}"})
            print(rows[-1], flush=True)
    return rows


def strategy_rows(strategies: list[str], n: int, steps: int, tests, reports: dict, max_tokens: int,
                  seeds: list[int]) -> list[dict]:
    from latentspace.audit.strategy_subject import StrategySubject
    from latentspace.model.latent_model import LatentModel
    from latentspace.reason import get_reasoner
    from latentspace.tasks import get_task

    lm = LatentModel.load("smollm2-135m", show_progress=False)
    task = get_task("arithmetic")
    rows = []
    for name in strategies:
        for seed in seeds:  # a seed draws other items (and noise, shuffles, probe splits)
            items = task.generate(n, seed=seed)
            reasoner = get_reasoner(name, max_latent_steps=steps, max_new_tokens=max_tokens)
            folder = ROOT / "runs" / "audit" / "smollm2-arithmetic" / f"s{seed}-{name}"
            report = audit(StrategySubject(lm, reasoner, task, seed=seed), items, tests, seed=seed,
                           done=resumed(folder), saved=saver(folder))
            write_audit(report, folder)
            reports.setdefault(f"{name} (SmolLM2)", []).append(report)
            rows.append({"model": f"{name} s{seed}", "n": n, **condensed(report),
                         "min": f"{sum(report.seconds.values()) / 60:.1f}"})
            print(rows[-1], flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default=None, help="audit this profile's trained runs (laptop-mnns, ...)")
    parser.add_argument("--recipes", default="coconut,cot2")
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--strategies", default=None, help="training-free strategies on SmolLM2 (arithmetic)")
    parser.add_argument("--steps", type=int, default=4, help="latent steps of --strategies")
    parser.add_argument("--max-tokens", type=int, default=16, help="answer budget of --strategies (arithmetic "
                        "answers are one number; the audit answers every item dozens of times)")
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--tests", default="necessity,decodability,probe,interchange,steer,ood")
    parser.add_argument("--quick", action="store_true", help="do not touch docs/results.md")
    args = parser.parse_args()
    tests = args.tests.split(",")
    seeds = [int(s) for s in args.seeds.split(",")]
    reports: dict[str, list] = {}
    if args.profile:
        rows = trained_rows(args.profile, args.recipes.split(","), seeds, args.n, tests, reports)
        name, folder = args.profile, f"runs/audit/{args.profile}/"
    else:
        rows = strategy_rows(args.strategies.split(","), args.n, args.steps, tests, reports, args.max_tokens, seeds)
        name, folder = "smollm2-arithmetic", "runs/audit/smollm2-arithmetic/"
    shown = {k.replace("_", "-"): v for k, v in vars(args).items() if v not in (None, False) and k != "quick"}
    if args.profile:
        shown.pop("steps"), shown.pop("max-tokens")
    else:
        shown.pop("recipes")
    command = "`.venv/bin/python benchmarks/bench_audit.py " + " ".join(f"--{k} {v}" for k, v in shown.items()) + "`"
    text = "\n".join([
        f"## Audit of latent thoughts, `{name}` (issue 20)", "",
        f"{datetime.date.today().isoformat()}, CPU ({platform.machine()}, {os.cpu_count()} cores), torch "
        f"{torch.__version__}. Command: {command}. Percentages; a · list is per thought (t1 · t2 · ...). "
        f"Full reports (every thought, correct vs wrong, plots): `{folder}*/index.html`, or "
        "`latentspace audit -m RUN --out DIR`.", "", *table(rows), "", *summary(reports)])
    print(text)
    if not args.quick:
        start, end = f"<!-- bench_audit:{name}:start -->", f"<!-- bench_audit:{name}:end -->"
        replace_section(f"{start}\n{text}{end}", start, end)


if __name__ == "__main__":
    main()
