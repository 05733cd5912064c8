"""The VSP arms' diagnosis rows (issue 41): single-seed runs, each scored as bench_vsp scores an arm.

For every run folder given: its test accuracy (the run's own answers), out-of-distribution accuracy on the
same 500 vsp-ood items bench_vsp gives that seed (seed 1000 + the run's seed), and — for runs with thought
slots — `train imagery`'s readings (replacements, cell probe, nearest picture, one move imagined), and for
map-relative runs "empty zeroed": the answers with the model's own thoughts, except that the slots whose true
target is zero (the quadrants the agent is not in) get zero, as teacher forcing gave them. A folder of a run
still in progress (no summary.json) is scored from its checkpoint, on its test split. Rows go
to benchmarks/results/vsp-arms-diagnosis.jsonl (one per folder, replaced when a folder is measured again; written
after each folder) and a table to stdout (`diagnose_vsp.py` is part 1's diagnosis, before the arms):

    .venv/bin/python benchmarks/diagnose_vsp_arms.py runs/vsp-diag/s0-nocot-e60 runs/vsp-diag/s0-visual-pause-e60
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402
from results_md import KEPT  # noqa: E402

from latentspace.core.errors import LatentspaceError  # noqa: E402
from latentspace.train.studies.evaluate_run import evaluate_run, load_run, run_items  # noqa: E402
from latentspace.train.studies.imagery import imagery, oracle_goals  # noqa: E402

ROWS = KEPT / "vsp-arms-diagnosis.jsonl"


def empty_zeroed(folder: Path, n: int, seed: int) -> float:
    """Accuracy with the model's own thoughts, the slots whose true (map-relative) target is zero zeroed."""
    loaded = load_run(folder)
    items = run_items(folder, None, n, seed)
    goals = oracle_goals(loaded, items)

    def edit(i, state, vectors, rows):
        out = vectors.clone()
        for b, item in enumerate(rows):
            if i < len(goals[item]) and goals[item][i].norm() == 0:
                out[b] = 0
        return out

    return loaded.evaluate(items, edit=edit).accuracy


def measure(folder: Path, n_ood: int, n_look: int) -> dict:
    finished = (folder / "summary.json").exists()
    summary = json.loads((folder / ("summary.json" if finished else "checkpoint/state.json")).read_text())
    seed = summary["seed"]
    test = summary["test_accuracy"] if finished else evaluate_run(folder, None, n=n_look, seed=seed).accuracy
    row = {"run": folder.name, "finished": finished, "epoch": None if finished else summary["epoch"],
           "recipe": summary["recipe"], "seed": seed, "options": summary.get("options", {}), "test": test,
           "ood": evaluate_run(folder, "vsp-ood", n=n_ood, seed=1000 + seed).accuracy,
           "date": datetime.date.today().isoformat(), "torch": torch.__version__}
    try:
        report = imagery(folder, n=n_look, seed=seed).to_dict()
    except LatentspaceError:  # no thought slots (the direct answer): nothing to look inside
        return row
    row |= {"clean": report["accuracy"]}  # the looked-at items' own accuracy, beside their replacements
    row |= {k: report[k] for k in ("replacement", "probe", "probe_shuffled", "nearest", "nearest_teacher")}
    if row["options"].get("targets") == "change":
        row["empty_zeroed"] = empty_zeroed(folder, n_look, seed)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="finished vsp run folders")
    parser.add_argument("--n-ood", type=int, default=500)
    parser.add_argument("--n-look", type=int, default=400)
    args = parser.parse_args()
    fresh = []
    for folder in args.runs:
        fresh.append(measure(folder, args.n_ood, args.n_look))
        kept = [json.loads(line) for line in ROWS.read_text().splitlines()] if ROWS.exists() else []
        rows = [r for r in kept if r["run"] != fresh[-1]["run"]] + [fresh[-1]]
        ROWS.write_text("".join(json.dumps(r) + "\n" for r in rows))
    pct = lambda v: "·" if v is None else f"{100 * v:.1f}%"  # noqa: E731
    print("| run | recipe | test | OOD | clean / zeros / noise / oracle | empty zeroed | cell probe | nearest | one "
          "move imagined |")
    print("|---|---|---:|---:|---|---:|---:|---:|---:|")
    for r in fresh:
        swap = r.get("replacement", {})
        print(f"| {r['run']}{'' if r['finished'] else ' (epoch ' + str(r['epoch']) + ')'} | {r['recipe']} | "
              f"{pct(r['test'])} | {pct(r['ood'])} | "
              f"{' / '.join([pct(r.get('clean'))] + [pct(swap.get(h)) for h in ('zeros', 'noise', 'oracle')]) if swap else '·'} | "
              f"{pct(r.get('empty_zeroed'))} | {pct(r.get('probe'))} | {pct(r.get('nearest'))} | "
              f"{pct(r.get('nearest_teacher'))} |")


if __name__ == "__main__":
    main()
