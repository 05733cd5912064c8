"""ProsQA at the published budget on a GPU: `full` (issue 19: fine-tune SmolLM2-135M on English ProsQA)
or `paper-prosqa` (issue 39: the superposition paper's symbolic ProsQA, GPT-2 2 layers d=768 from
scratch, ~15k items, 300 epochs), bf16, as many epochs as a time budget allows, recording seconds
per step and test accuracy after every epoch; resumable (re-run the command). Prepared for a
session that is lent the device; on a CPU it runs at toy size (`--smoke`) to prove the script.

    .venv/bin/python benchmarks/gpu_full_prosqa.py --minutes 4.5                                  # full
    .venv/bin/python benchmarks/gpu_full_prosqa.py --profile paper-prosqa --recipes coconut,cot,cot2,nocot --minutes 3
    .venv/bin/python benchmarks/gpu_full_prosqa.py --smoke --quick [--profile paper-prosqa]       # seconds, CPU
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
    # a re-run goes on from the epochs it measured before (`train` resumes the run itself)
    kept = out / f"{name}_epochs.jsonl"
    rows = [json.loads(line) for line in kept.read_text().splitlines()] if kept.exists() else []
    started, epoch = time.perf_counter(), len(rows)
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
        kept.write_text("".join(json.dumps(r) + "\n" for r in rows))
        epoch += 1
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="full", choices=("full", "paper-prosqa"))
    parser.add_argument("--recipes", default="coconut,cot")
    parser.add_argument("--minutes", type=float, default=4.5, help="training budget per recipe")
    parser.add_argument("--n-eval", type=int, default=500)
    parser.add_argument("--out", type=Path, default=None, help="default runs/gpu-PROFILE")
    parser.add_argument("--smoke", action="store_true", help="toy size on a CPU (tiny model, smoke data)")
    parser.add_argument("--quick", action="store_true", help="do not touch docs/results.md")
    args = parser.parse_args()
    symbolic = args.profile == "paper-prosqa"
    out = args.out or ROOT.parent / "runs" / f"gpu-{args.profile}{'-smoke' if args.smoke else ''}"
    if args.smoke:  # toy size: the symbolic profile's own machinery on smoke-prosqa, `full`'s on a tiny model
        profile = get_profile("smoke-prosqa" if symbolic else "smoke")
        model, task = (None, profile.task) if symbolic else ("tiny", "prosqa-small")  # byte tokens: short items
    else:
        profile = get_profile(args.profile)
        model, task = None, profile.task
    rows = [row for name in args.recipes.split(",")
            for row in one_recipe(name, profile, task, out, args.minutes, min(args.n_eval, profile.n_test), model)]
    device = torch.cuda.get_device_name() if torch.cuda.is_available() else "CPU"
    title = ("The `paper-prosqa` profile on a GPU: symbolic ProsQA, GPT-2 2 layers d=768 from scratch (issue 39)"
             if symbolic else "The `full` profile on a GPU: SmolLM2-135M fine-tuned on English ProsQA (issue 19)")
    flag = f" --profile {args.profile}" if symbolic else ""
    lines = [f"## {title}", "",
             f"{device}, bf16 autocast, batch {profile.batch_size}, lr {profile.lr:g}, {profile.n_train} training items; "
             f"{args.minutes} min of training per recipe, test accuracy on {args.n_eval} items after every epoch. "
             f"Command: `.venv/bin/python benchmarks/gpu_full_prosqa.py{flag} --recipes {args.recipes} "
             f"--minutes {args.minutes}`", "",
             "| recipe | epoch | stage | test accuracy | positions | s per step | last loss |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    lines += [f"| {r['recipe']} | {r['epoch']} | {r['stage']} | {100 * r['accuracy']:.1f}% | {r['positions']:.1f} | "
              f"{r['s_per_step']:.3f} | {r['loss'] if r['loss'] is None else round(r['loss'], 3)} |" for r in rows]
    text = "\n".join(lines) + "\n"
    print(text)
    if not args.quick and not args.smoke:
        start, end = (START.replace("full", "paper"), END.replace("full", "paper")) if symbolic else (START, END)
        replace_section(f"{start}\n{text}{end}", start, end)


if __name__ == "__main__":
    main()
