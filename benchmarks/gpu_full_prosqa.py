"""The `full` profile on a GPU (issue 19): fine-tune SmolLM2-135M on published-size English ProsQA
with Coconut and CoT in bf16, as many epochs as a time budget allows, recording seconds per step
and test accuracy after every epoch. Prepared for a session that is lent the device; on a CPU it
runs at toy size (`--smoke`) to prove the script.

    .venv/bin/python benchmarks/gpu_full_prosqa.py --minutes 4.5            # per recipe, on the GPU
    .venv/bin/python benchmarks/gpu_full_prosqa.py --smoke --quick          # seconds, CPU, no docs
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402
from results_md import replace_section  # noqa: E402

from latentspace.train.profiles import get_profile  # noqa: E402
from latentspace.train.recipes import get_recipe  # noqa: E402
from latentspace.train.run import TrainRun  # noqa: E402
from latentspace.train.studies.evaluate_run import evaluate_run  # noqa: E402
from latentspace.train.trainer import train  # noqa: E402

ROOT = Path(__file__).resolve().parent
START, END = "<!-- gpu_full_prosqa:start -->", "<!-- gpu_full_prosqa:end -->"


def one_recipe(name: str, profile, task: str, out: Path, minutes: float, n_eval: int, model: str | None) -> list[dict]:
    run = TrainRun(get_recipe(name, **profile.recipe_options.get(name, {})), task, profile, out / name, model=model)
    rows, started, epoch = [], time.perf_counter(), 0
    while epoch < run.recipe.epochs and time.perf_counter() - started < 60 * minutes:
        train(run, progress=False, until_epoch=epoch)
        metrics = [json.loads(line) for line in (run.out / "metrics.jsonl").read_text().splitlines()]
        steps = [r for r in metrics if r["kind"] == "step" and r["epoch"] == epoch]
        seconds = next(r["seconds"] for r in metrics if r["kind"] == "epoch" and r["epoch"] == epoch)
        result = evaluate_run(run.out, n=n_eval)
        rows.append({"recipe": name, "epoch": epoch, "stage": run.recipe.stage(epoch), "accuracy": result.accuracy,
                     "n": result.n, "positions": result.positions, "s_per_step": seconds / max(1, len(steps)),
                     "loss": steps[-1]["loss"] if steps else None})
        print(json.dumps(rows[-1]), flush=True)
        epoch += 1
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipes", default="coconut,cot")
    parser.add_argument("--minutes", type=float, default=4.5, help="training budget per recipe")
    parser.add_argument("--n-eval", type=int, default=500)
    parser.add_argument("--out", type=Path, default=ROOT.parent / "runs" / "gpu-full-prosqa")
    parser.add_argument("--smoke", action="store_true", help="toy size on a CPU (tiny model, smoke data)")
    parser.add_argument("--quick", action="store_true", help="do not touch docs/results.md")
    args = parser.parse_args()
    profile = get_profile("smoke" if args.smoke else "full")
    model, task = ("tiny", "prosqa-small") if args.smoke else (None, profile.task)  # byte tokens: short items
    rows = [row for name in args.recipes.split(",")
            for row in one_recipe(name, profile, task, args.out, args.minutes, min(args.n_eval, profile.n_test), model)]
    device = torch.cuda.get_device_name() if torch.cuda.is_available() else "CPU"
    lines = [f"## The `full` profile on a GPU: SmolLM2-135M fine-tuned on English ProsQA (issue 19)", "",
             f"{device}, bf16 autocast, batch {profile.batch_size}, lr {profile.lr:g}, {profile.n_train} training items; "
             f"{args.minutes} min of training per recipe, test accuracy on {args.n_eval} items after every epoch. "
             f"Command: `.venv/bin/python benchmarks/gpu_full_prosqa.py --minutes {args.minutes}`", "",
             "| recipe | epoch | stage | test accuracy | positions | s per step | last loss |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    lines += [f"| {r['recipe']} | {r['epoch']} | {r['stage']} | {100 * r['accuracy']:.1f}% | {r['positions']:.1f} | "
              f"{r['s_per_step']:.3f} | {r['loss'] if r['loss'] is None else round(r['loss'], 3)} |" for r in rows]
    text = "\n".join(lines) + "\n"
    print(text)
    if not args.quick and not args.smoke:
        replace_section(f"{START}\n{text}{END}", START, END)


if __name__ == "__main__":
    main()
