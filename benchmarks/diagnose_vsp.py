"""Why does the from-scratch vision-language model not learn VSP? One variant per call (issue 41's diagnosis).

Each call trains one run and appends its row (test accuracy, per-answer accuracy, validation curve,
a few replies) to benchmarks/results/vsp-diagnosis.jsonl:

    # perception alone: plans of 1 move, direct answer (the answer is the kind of the start's neighbour)
    .venv/bin/python benchmarks/diagnose_vsp.py --task short --max-moves 1 --recipe nocot --epochs 40
    # map-reading questions ("at r2 c3" -> hole, "where start" -> r1 c0), then CoT on vsp from those weights
    .venv/bin/python benchmarks/diagnose_vsp.py --task read --epochs 10 --out runs/vsp-diag/read
    .venv/bin/python benchmarks/diagnose_vsp.py --task vsp --recipe cot --epochs 20 --init runs/vsp-diag/read
    # the picture encoder: one token per map cell (--group 1), 3x3 context convolutions (--context 2)
    .venv/bin/python benchmarks/diagnose_vsp.py --task vsp --recipe cot --group 1

The variants of the encoder are set through `latentspace.vision.patches`' diagnostic constants (the
toolkit's runs use the defaults); every task here shares the vsp family's vocabulary, so weights move between
them. (`--task read` is `vsp-read`; the rows of 2026-12-07 came from an earlier copy of the same generator
with another seed string: the same distribution, other items.)
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import random
from collections import Counter
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from results_md import KEPT, RUNS  # noqa: E402

import latentspace.vision.patches as patches  # noqa: E402
from latentspace.tasks import TASKS, TaskSpec, vsp  # noqa: E402
from latentspace.tasks.base import Item  # noqa: E402

def short(max_moves: int):
    """vsp with plans of 1..max_moves moves (max_moves 1: the answer is what lies next to the start)."""
    def generate(n: int, seed: int = 0) -> list[Item]:
        rng, items = random.Random(f"short-{seed}"), []
        while len(items) < n:
            rows = vsp.random_map(rng.choice(vsp.SIZES), rng)
            plan = vsp.plan_for(rows, rng.randint(1, max_moves), vsp.ANSWERS[len(items) % 3], rng)
            if plan is not None:
                items.append(vsp.item(rows, plan))
        return items
    return generate


def register(max_moves: int) -> None:
    shared = dict(picture_tokens=patch_tokens())  # the encoder variant's token count
    TASKS["vsp"] = dataclasses.replace(TASKS["vsp"], **shared)
    TASKS["read"] = dataclasses.replace(TASKS["vsp-read"], name="read", **shared)  # the toolkit's map reading
    TASKS["short"] = TaskSpec("short", short(max_moves), vsp.extract, "vsp, short plans", symbolic=True,
                              vocabulary=vsp.VOCABULARY, picture=vsp.picture, states=vsp.step_pictures, **shared)


def patch_tokens() -> int:
    return (vsp.IMAGE // (patches.GROUP * vsp.PIXELS)) ** 2


TIED: dict = {}  # the model being trained and its tokenizer, for --positions tied


def tie_positions() -> None:
    """Per-cell patch tokens whose position is the model's own embedding of "rR" plus that of "cC" (zero for
    the padding cells beyond the largest map): a lookup by coordinates becomes a match of content."""
    import torch

    import latentspace.vision.prefix as prefix
    from latentspace.train import latent_forward, trainer

    original_fill, original_load = prefix.fill_pictures, trainer.load_model

    def load_model(run, tokenizer, state, base):
        model = original_load(run, tokenizer, state, base)
        TIED.update(model=model, rows=tokenizer.convert_tokens_to_ids([f"r{i}" for i in range(vsp.MAX_SIZE)]),
                    cols=tokenizer.convert_tokens_to_ids([f"c{i}" for i in range(vsp.MAX_SIZE)]))
        return model

    def fill(embeds, ids, picture_id, tokens):
        table = TIED["model"].get_input_embeddings().weight
        side = int(tokens.shape[1] ** 0.5)
        pad = table.new_zeros(side - vsp.MAX_SIZE, table.shape[1])
        rows = torch.cat([table[TIED["rows"]], pad])
        cols = torch.cat([table[TIED["cols"]], pad])
        return original_fill(embeds, ids, picture_id, tokens + (rows[:, None] + cols[None]).flatten(0, 1)[None])

    trainer.load_model, prefix.fill_pictures, latent_forward.fill_pictures = load_model, fill, fill


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", choices=("vsp", "short", "read"), default="vsp")
    parser.add_argument("--recipe", default="nocot")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--n-train", type=int, default=3000)
    parser.add_argument("--max-moves", type=int, default=1, help="--task short: plans of 1..this many moves")
    parser.add_argument("--group", type=int, default=patches.GROUP, help="map cells per patch token side")
    parser.add_argument("--context", type=int, default=patches.CONTEXT, help="3x3 convolutions over the cells")
    parser.add_argument("--positions", choices=("free", "rowcol", "tied"), default=patches.POSITIONS,
                        help="patch positions: one learned vector per token, row + column, or (with --group 1) "
                             "also the model's embeddings of the cell's coordinate tokens")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--init", type=Path, default=None, help="a run folder to start from (e.g. a --task read run)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    patches.GROUP, patches.CONTEXT = args.group, args.context
    patches.POSITIONS = "free" if args.positions == "tied" else args.positions
    if args.positions == "tied":
        if args.group != 1:
            parser.error("--positions tied needs --group 1 (one token per map cell)")
        tie_positions()
    register(args.max_moves)
    from latentspace.train.profiles import get_profile
    from latentspace.train.recipes import get_recipe
    from latentspace.train.run import TrainRun
    from latentspace.train.trainer import train

    name = (f"{args.task}{args.max_moves if args.task == 'short' else ''}-{args.recipe}-e{args.epochs}-g{args.group}"
            f"-c{args.context}-{args.positions}-lr{args.lr:g}" + (f"-from-{args.init.name}" if args.init else "") + f"-s{args.seed}")
    out = args.out or RUNS / "vsp-diag" / name
    out.parent.mkdir(parents=True, exist_ok=True)
    options = {"epochs": args.epochs}
    if args.recipe.startswith("visual"):
        options["teacher_epochs"] = args.epochs // 2 if args.recipe != "visual-s1" else args.epochs
    summary = train(TrainRun(get_recipe(args.recipe, **options), args.task, get_profile("laptop-vsp"), out,
                             seed=args.seed, init=args.init, extra={"n_train": args.n_train, "n_valid": 300, "n_test": 300,
                                                    "eval_every": 2, "lr": args.lr,
                                                    # tied positions read the trained model's table: test it as is
                                                    **({"select": "last"} if args.positions == "tied" else {})}),
                    progress=False)
    answers = [json.loads(line) for line in (out / "test_answers.jsonl").read_text().splitlines()]
    def kind(r):  # vsp / short: the answer (A B C); read: the question's kind (at, where start, where goal)
        return r["answer"] if args.task != "read" else " ".join(r["question"].split()[:1 if r["question"].startswith("at") else 2])

    per = Counter(map(kind, answers))
    right = Counter(kind(r) for r in answers if r["correct"])
    curve = [round(r["accuracy"], 3) for r in map(json.loads, (out / "metrics.jsonl").read_text().splitlines())
             if r["kind"] == "eval"]
    row = {"variant": name, "task": args.task, "recipe": args.recipe, "epochs": args.epochs, "n_train": args.n_train,
           "group": args.group, "context": args.context, "positions": args.positions, "lr": args.lr, "init": str(args.init) if args.init else None,
           "seed": args.seed, "test_accuracy": summary["test_accuracy"], "valid_curve": curve,
           "per_kind": {k: round(right[k] / per[k], 3) for k in sorted(per)},
           "replies": [(r["question"], r["answer"], r["text"]) for r in answers[:4]],
           "train_minutes": round(summary["train_seconds"] / 60, 1), "date": datetime.date.today().isoformat()}
    with (KEPT / "vsp-diagnosis.jsonl").open("a") as f:
        f.write(json.dumps(row) + "\n")
    print(json.dumps(row))


if __name__ == "__main__":
    main()
