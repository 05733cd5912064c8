"""How well do the visual recipe's cosine targets tell the agent's cells apart? (issue 41)

The `visual` recipe pulls the state before each thought slot towards a frozen encoder's code of one
quadrant of the picture after a move, by cosine. A target only teaches imagination if a wrong imagined
state scores worse than the right one. For each kind of target (`picture`: Mirage's, the picture's codes;
`change`: the codes minus those of the map without the agent) this fits the target encoder as the recipe
does, then on other items' moves measures 1 − cos (the recipe's loss) of three guesses against the true
target, per slot, over the slots whose true target is not zero:

- **copy the start**: the start picture's target (a model that imagines no move at all),
- **best wrong cell**: the agent drawn in the nearest other cell of the same map (the most confusable error),
- **another map**: another item's start target (a model that ignores the picture),
- **wrong kind**: the agent in the right cell of a map where that cell is the other kind (hole for ice,
  ice for a hole): does the target say what the agent stepped on, as the text CoT's trace does?

Rows go to benchmarks/results/vsp-targets.jsonl and a table to stdout:

    .venv/bin/python benchmarks/check_vsp_targets.py            # 600 fitting items, 200 measured
"""

from __future__ import annotations

import argparse
import datetime
import os
import random
from statistics import mean

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402
from results_md import KEPT, write_kept  # noqa: E402

from latentspace.tasks import vsp  # noqa: E402
from latentspace.train.recipes.visual import Rescale, lift, map_relative  # noqa: E402
from latentspace.vision.target import fit_target_encoder  # noqa: E402


def targets(encoder, pictures: torch.Tensor, maps: torch.Tensor, kind: str, width: int) -> torch.Tensor:
    """``[B, K, width]`` as `VisualLM.goals` makes them (``maps``: the same rows' question pictures)."""
    codes = encoder.embed(pictures)
    if kind == "change":
        codes = map_relative(codes, encoder.embed(vsp.map_only(maps)))
    return Rescale(width ** 0.5)(codes @ lift(encoder.dim, width))


def loss(guess: torch.Tensor, truth: torch.Tensor) -> float:
    """Mean 1 − cos over the slots whose true target is not zero (a zero target teaches nothing)."""
    cos = torch.nn.functional.cosine_similarity(guess, truth, dim=-1)
    live = truth.norm(dim=-1) > 0
    return float((1 - cos)[live].mean())


def flipped(rows: list[str], cell: tuple[int, int]) -> list[str] | None:
    """The map with ``cell`` the other kind (hole <-> ice), or None for the start or the goal."""
    r, c = cell
    swap = {"H": "F", "F": "H"}.get(rows[r][c])
    return None if swap is None else rows[:r] + [rows[r][:c] + swap + rows[r][c + 1:]] + rows[r + 1:]


def measure(encoder, items, kind: str, width: int, rng: random.Random) -> dict:
    copy, wrong, other, live, wrong_kind = [], [], [], [], []
    starts = {id(it): vsp.picture(it) for it in items}
    for it in items:
        rows, path = vsp.meta_map(it), [tuple(c) for c in it.meta["cells"]]
        start = starts[id(it)][None]
        cells = [(r, c) for r in range(len(rows)) for c in range(len(rows))]
        every = torch.stack([vsp.render(rows, cell) for cell in cells])
        goal_all = targets(encoder, every, start.expand(len(cells), -1, -1, -1), kind, width)
        start_goal = targets(encoder, start, start, kind, width)[0]
        stranger = rng.choice([x for x in items if x is not it])
        stranger_goal = targets(encoder, starts[id(stranger)][None], starts[id(stranger)][None], kind, width)[0]
        for cell in path:
            truth = goal_all[cells.index(cell)]
            live.append(int((truth.norm(dim=-1) > 0).sum()))
            copy.append(loss(start_goal, truth))
            wrong.append(min(loss(goal_all[j], truth) for j, other_cell in enumerate(cells) if other_cell != cell))
            other.append(loss(stranger_goal, truth))
            swapped = flipped(rows, cell)
            if swapped is not None:
                pictures = torch.stack([vsp.render(swapped, cell), vsp.render(swapped)])
                wrong_kind.append(loss(targets(encoder, pictures[:1], pictures[1:], kind, width)[0], truth))
    return {"targets": kind, "moves": len(copy), "live_slots": mean(live), "copy_start": mean(copy),
            "best_wrong_cell": mean(wrong), "best_wrong_cell_min": min(wrong), "another_map": mean(other),
            "wrong_kind": mean(wrong_kind), "wrong_kind_moves": len(wrong_kind)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fit-items", type=int, default=600, help="training items whose pictures fit the encoder")
    parser.add_argument("--items", type=int, default=200, help="other items whose moves are measured")
    parser.add_argument("--width", type=int, default=64, help="the model's width (laptop-vsp: 64)")
    parser.add_argument("--steps", type=int, default=1500, help="the target encoder's fitting steps (the recipe's)")
    args = parser.parse_args()
    torch.manual_seed(0)
    fit = vsp.generate(args.fit_items, seed=0)
    pictures = torch.cat([vsp.states(it) for it in fit])
    encoder = fit_target_encoder(pictures, channels=4, steps=args.steps)
    measured = vsp.generate(args.items, seed=7)
    rows = [measure(encoder, measured, kind, args.width, random.Random(0)) for kind in ("picture", "change")]
    write_kept(KEPT / "vsp-targets.jsonl", rows,
               {"fit_items": args.fit_items, "fit_pictures": len(pictures), "items": args.items, "width": args.width,
                "steps": args.steps, "date": datetime.date.today().isoformat(), "torch": torch.__version__})
    print("| targets | slots with a target | 1 − cos: copy the start | best wrong cell (mean / min) | another map "
          "| wrong kind |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| `{r['targets']}` | {r['live_slots']:.2f} of 4 | {r['copy_start']:.3f} | "
              f"{r['best_wrong_cell']:.3f} / {r['best_wrong_cell_min']:.3f} | {r['another_map']:.3f} "
              f"| {r['wrong_kind']:.3f} |")


if __name__ == "__main__":
    main()
