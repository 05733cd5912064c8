"""Latent visual thoughts on VSP (issue 41): direct answers, text CoT, latent visual thoughts, the pause
control and the stage-1-only ablation, in and out of distribution, with what the thoughts hold.

Per seed, first a map reader (`nocot` on `vsp-read`: "at r2 c3" -> hole, "where start" -> r1 c0 — the
perception the published arms get from a pretrained VLM; from scratch, reading what lies at a location takes
most of a run's steps, docs/results.md VSP part 1), then every arm of the profile from it (`--init`), each
scored on its test split and on
``--n-ood`` out-of-distribution items (6×6 maps or plans of 8 moves), reads the slot arms' thoughts
(`latentspace train imagery`: replacement test, cell probe with a shuffled control, nearest pictures)
and writes the table and the issue's goals into docs/results.md.

    .venv/bin/python benchmarks/bench_vsp.py                          # laptop-vsp, seeds 0,1,2
    .venv/bin/python benchmarks/bench_vsp.py --profile smoke-vsp --seeds 0 --n-ood 40 --n-look 20   # seconds
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
from pathlib import Path
from statistics import mean

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402
from results_md import KEPT, RUNS, replace_section, write_kept  # noqa: E402

from latentspace.core.stats import tally, group_bootstrap  # noqa: E402
from latentspace.train.profiles import get_profile  # noqa: E402
from latentspace.train.studies.evaluate_run import evaluate_run  # noqa: E402
from latentspace.train.studies.imagery import imagery  # noqa: E402
from latentspace.train.studies.table import run_folder, run_table  # noqa: E402

START, END = "<!-- bench_vsp:start -->", "<!-- bench_vsp:end -->"
SLOTS = ("visual", "visual-change", "visual-filled", "visual-s1", "visual-pause")  # arms with thought slots: the look-inside readings
ANCHORS = ("Anchors (not the same models: pretrained 7B VLMs fine-tuned): MVoT FrozenLake, Anole-7B — direct "
           "77.9, text CoT 61.5, visualization-of-thought 85.6 (arXiv 2501.07542); Mirage VSP spatial reasoning "
           "(second-hand) — direct SFT 0.72 → Mirage 0.76, stage ablation: without stage 1 0.52, without stage "
           "2 0.21 (arXiv 2506.17218).")


def interval(tallies: list[dict]) -> str:
    lo, hi = group_bootstrap(tallies, 2000)
    return f"[{100 * lo:.1f}, {100 * hi:.1f}]"


def reader(profile, out: Path, seed: int, args) -> dict:
    """The seed's map reader, trained once (a finished one is reused): its folder and per-question accuracy."""
    from latentspace.train.recipes import get_recipe
    from latentspace.train.run import TrainRun
    from latentspace.train.trainer import train

    folder = out / f"s{seed}" / "reader"
    folder.parent.mkdir(parents=True, exist_ok=True)
    run = TrainRun(get_recipe("nocot", epochs=args.read_epochs), "vsp-read", profile, folder, seed=seed,
                   extra={"n_train": args.read_items})
    summary = json.loads((folder / "summary.json").read_text()) if (folder / "summary.json").exists() else train(run)
    answers = [json.loads(line) for line in (folder / "test_answers.jsonl").read_text().splitlines()]
    kinds = {}
    for row in answers:
        kind = "at" if row["question"].startswith("at") else row["question"]
        kinds.setdefault(kind, []).append(row["correct"])
    return {"folder": folder, "accuracy": summary["test_accuracy"], "minutes": summary["train_seconds"] / 60,
            **{k: mean(v) for k, v in kinds.items()}}


def score(rows: list[dict], n_ood: int) -> list[dict]:
    """Each run's in-distribution test answers and its OOD answers (the same OOD items for every arm of a seed)."""
    out = []
    for row in rows:
        folder = Path(row["folder"])
        answers = [json.loads(line) for line in (folder / "test_answers.jsonl").read_text().splitlines()]
        inside = [(f"item {i}", bool(r["correct"])) for i, r in enumerate(answers)]
        ood = evaluate_run(folder, "vsp-ood", n=n_ood, seed=1000 + row["seed"])
        outside = [(f"item {i}", bool(r["correct"])) for i, r in enumerate(ood.rows)]
        out.append({"recipe": row["recipe"], "seed": row["seed"], "in": tally(inside), "ood": tally(outside),
                    "in_acc": mean(c for _, c in inside), "ood_acc": ood.accuracy, "positions": row["positions"],
                    "train_min": row["train_seconds"] / 60})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="laptop-vsp")
    parser.add_argument("--seeds", default=None, help="comma list (default: the profile's)")
    parser.add_argument("--recipes", default=None, help="comma list (default: the profile's)")
    parser.add_argument("--n-ood", type=int, default=500, help="out-of-distribution items per run")
    parser.add_argument("--n-look", type=int, default=400, help="test items the look-inside readings use")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--read-epochs", type=int, default=150, help="the map reader's epochs (0: no reader)")
    parser.add_argument("--read-items", type=int, default=3000, help="the map reader's training questions")
    args = parser.parse_args()
    profile = get_profile(args.profile)
    seeds = [int(s) for s in args.seeds.split(",")] if args.seeds else list(profile.seeds)
    recipes = args.recipes.split(",") if args.recipes else list(profile.recipes)
    out = RUNS / f"table-vsp-{profile.name}"
    readers = {seed: reader(profile, out, seed, args) for seed in seeds} if args.read_epochs else {}
    rows = run_table("vsp", profile, out, recipes, seeds, jobs=args.jobs, inits={s: r["folder"] for s, r in readers.items()})
    for row in rows:
        row["folder"] = str(run_folder(out, row["seed"], row["recipe"]))
    scored = score(rows, args.n_ood)
    looks = []
    for row in rows:
        if row["recipe"] in SLOTS:
            report = imagery(Path(row["folder"]), n=args.n_look, seed=row["seed"])
            looks.append({"recipe": row["recipe"], "seed": row["seed"], **{k: v for k, v in report.to_dict().items()
                                                                          if k not in ("run", "recipe", "example")}})
    write_kept(KEPT / f"vsp-{profile.name}.jsonl",
               [{k: v for k, v in r.items() if k not in ("in", "ood")} for r in scored] + looks,
               {"profile": profile.name, "seeds": seeds, "n_ood": args.n_ood, "n_look": args.n_look,
                "date": datetime.date.today().isoformat(), "torch": torch.__version__, "machine": platform.machine(),
                "readers": {s: {k: (str(v.relative_to(RUNS.parent)) if k == "folder" else v) for k, v in r.items()}
                            for s, r in readers.items()}})  # relative: no machine path in kept rows
    text = section(profile.name, seeds, recipes, scored, looks, args, readers)
    replace_section(text, START, END)
    print(text)


def section(profile: str, seeds: list[int], recipes: list[str], scored: list[dict], looks: list[dict], args,
            readers: dict) -> str:
    by = {name: [r for r in scored if r["recipe"] == name] for name in recipes}
    lines = [START, f"## Latent visual thoughts on VSP (FrozenLake pictures), profile {profile}", "",
             f"`.venv/bin/python benchmarks/bench_vsp.py --profile {profile} --seeds {','.join(map(str, seeds))}` "
             f"({datetime.date.today().isoformat()}, {platform.machine()}, torch {torch.__version__}). Seeds "
             f"{', '.join(map(str, seeds))}; test split and {args.n_ood} out-of-distribution items (6×6 maps or "
             "8-move plans) per run; intervals: bootstrap over items and seeds, 2,000 draws.", "",
             "| arm | recipe | in distribution [95% CI] | out of distribution [95% CI] | per seed (in / out) | "
             "positions | train min |", "|---|---|---|---|---|---:|---:|"]
    names = {"nocot": "A direct", "cot": "B text CoT", "visual": "C latent visual", "visual-pause": "D pause",
             "visual-s1": "C1 stage 1 only", "visual-change": "C′ map-relative targets",
             "visual-filled": "C″ map-relative, empty quadrants filled"}
    for name, runs in by.items():
        if not runs:
            continue
        per_seed = ", ".join(f"{100 * r['in_acc']:.1f} / {100 * r['ood_acc']:.1f}" for r in runs)
        lines.append(f"| {names.get(name, name)} | {name} | {100 * mean(r['in_acc'] for r in runs):.1f}% "
                     f"{interval([r['in'] for r in runs])} | {100 * mean(r['ood_acc'] for r in runs):.1f}% "
                     f"{interval([r['ood'] for r in runs])} | {per_seed} | {mean(r['positions'] for r in runs):.1f} | "
                     f"{mean(r['train_min'] for r in runs):.1f} |")
    lines += ["", ANCHORS, ""]
    if readers:
        lines += [f"Every arm of a seed starts from that seed's map reader (`nocot` on `vsp-read`, {args.read_epochs} "
                  f"epochs, {args.read_items} questions): " + "; ".join(
                      f"seed {s}: {100 * r['accuracy']:.1f}% (at r c {100 * r.get('at', 0):.1f}%, where start "
                      f"{100 * r.get('where start', 0):.1f}%, where goal {100 * r.get('where goal', 0):.1f}%; "
                      f"{r['minutes']:.1f} min)" for s, r in readers.items()) + ".", ""]
    if looks:
        lines += [f"What the slots hold and whether the answers need them (`latentspace train imagery RUN --n "
                  f"{args.n_look}`, test split; mean over seeds): accuracy clean and with every thought replaced; "
                  "a linear probe of the agent's cell after each move from the states before that move's 4 slots, "
                  "beside the same probe on shuffled labels; the share of moves whose thoughts are nearest to the "
                  "picture with the agent on its true cell, and the same for the states before each move's slots "
                  "when every earlier thought is the true target (one move imagined: does the model imagine the "
                  "next state at all, or do its errors compound along the plan?).", "",
                  "| recipe | clean | zeros | noise | another item's | oracle targets | cell probe | shuffled probe | "
                  "nearest picture | one move imagined |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for name in SLOTS:
            mine = [r for r in looks if r["recipe"] == name]
            if not mine:
                continue
            avg = lambda get: mean(get(r) for r in mine)  # noqa: E731
            cell = lambda how: f"{100 * avg(lambda r: r['replacement'][how]):.1f}%" if how in mine[0]["replacement"] else "·"  # noqa: E731
            share = lambda key: f"{100 * avg(lambda r: r[key]):.1f}%" if mine[0].get(key) is not None else "·"  # noqa: E731
            lines.append(f"| {name} | {100 * avg(lambda r: r['accuracy']):.1f}% | {cell('zeros')} | {cell('noise')} | "
                         f"{cell('shuffled')} | {cell('oracle')} | {100 * avg(lambda r: r['probe']):.1f}% | "
                         f"{100 * avg(lambda r: r['probe_shuffled']):.1f}% | {share('nearest')} | "
                         f"{share('nearest_teacher')} |")
        lines.append("")
    lines += [goals(by, looks), END]
    return "\n".join(lines)


def goals(by: dict, looks: list[dict]) -> str:
    """The issue's goals, each checked on what was measured (skipped where its rows are missing); once for C
    as Mirage builds it (`visual`) and once for each variant of the map-relative targets where it ran."""
    def ood(name):
        return mean(r["ood_acc"] for r in by[name]) if by.get(name) else None

    out = ["Goals (issue 41):"]
    a, d, b = ood("nocot"), ood("visual-pause"), ood("cot")
    for arm, tag in (("visual", "C"), ("visual-change", "C′"), ("visual-filled", "C″")):
        c = ood(arm)
        if c is None:
            continue
        if None not in (a, d):
            met = c >= a + 0.05 and c >= d + 0.05
            out.append(f"- {tag} above A and D by ≥ 5 points out of distribution: {tag} {100 * c:.1f}, A "
                       f"{100 * a:.1f}, D {100 * d:.1f} — {'met' if met else 'not met'}")
        if b is not None:
            lo, hi = group_bootstrap([r["ood"] for r in by["cot"]], 2000)
            out.append(f"- {tag} ≥ B or within B's interval (OOD): {tag} {100 * c:.1f}, B {100 * b:.1f} "
                       f"[{100 * lo:.1f}, {100 * hi:.1f}] — {'met' if c >= lo else 'not met'}")
        mine = [r for r in looks if r["recipe"] == arm]
        if not mine:
            continue
        clean = mean(r["accuracy"] for r in mine)
        worst = min(mean(r["replacement"][h] for r in mine) for h in ("noise", "shuffled"))
        oracle = mean(r["replacement"]["oracle"] for r in mine)
        out.append(f"- noise or shuffled thoughts cost {tag} ≥ 10 points, oracle targets do not hurt: clean "
                   f"{100 * clean:.1f}, worst of noise/shuffled {100 * worst:.1f}, oracle {100 * oracle:.1f} — "
                   f"{'met' if clean - worst >= 0.10 and oracle >= clean - 0.01 else 'not met'}")
        probe = mean(r["probe"] for r in mine)
        pause = [r for r in looks if r["recipe"] == "visual-pause"]
        paused = mean(r["probe"] for r in pause) if pause else None
        verdict = "met" if probe >= 0.9 and (paused is None or paused < 0.9) else "not met"
        out.append(f"- the probe reads the cell from {tag}'s thoughts ≥ 90% and not from D's: {tag} "
                   f"{100 * probe:.1f}" + (f", D {100 * paused:.1f}" if paused is not None else "") + f" — {verdict}")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    main()
