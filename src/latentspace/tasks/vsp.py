"""Visual spatial planning on FrozenLake (the VSP task Mirage and MVoT report on), generated offline.

An N×N map of ice, holes, one start and one goal is shown as a small picture; the question is a plan
of L moves (``U D L R``) and the answer says what the plan does when walked from the start:

- ``A``: it reaches the goal (the walk ends there, as a FrozenLake episode does),
- ``B``: it falls into a hole (the walk ends there — later moves do not matter),
- ``C``: it stays safe but does not end on the goal.

A move into the edge leaves the agent where it is (FrozenLake without slipping). Because the walk ends
at the first hole or at the goal, the label depends on the intermediate cells, not on the last one
alone: a plan that falls at move 2 is ``B`` even where move L would end on ice. The reasoning steps
are the agent's cell after each move and its kind (``r1 c2 safe``), one step per move of the plan (after
the walk ended, its last cell again: the number of steps never tells that it ended) — what text CoT
writes and what the latent visual thoughts are supervised with, as pictures.

Items are balanced over A / B / C. Maps always have a path from the start to the goal. The default
split is in-distribution (N ≤ 5, L ≤ 6); ``ood=True`` draws N = 6 or L = 8, which training never sees.

    item = generate(1, seed=0)[0]          # item.question "R D D", item.answer "B", item.meta["map"]
    image = render(item.meta["map"])       # [3, 32, 32] floats, the agent on the start cell
"""

from __future__ import annotations

import random
from collections import deque

from latentspace.core.errors import LatentspaceError
from latentspace.tasks.base import Item

MOVES = {"U": (-1, 0), "D": (1, 0), "L": (0, -1), "R": (0, 1)}
CELLS = "SGHF"  # start, goal, hole, frozen ice (FrozenLake's letters)
ANSWERS = ("A", "B", "C")
SIZES, LENGTHS = (3, 4, 5), (2, 3, 4, 5, 6)  # in distribution
OOD_SIZE, OOD_LENGTH = 6, 8  # out of distribution: a bigger map or a longer plan
MAX_SIZE = 6
PIXELS = 4  # per cell: a 6×6 map is 24 px, padded to IMAGE
IMAGE = 32
PATCH_TOKENS = (IMAGE // (2 * PIXELS)) ** 2  # tokens `vision.PatchEncoder` makes of a picture (one per 2×2 cells)
HOLE_SHARE = 0.25
COLOURS = {"F": (0.75, 0.9, 1.0), "H": (0.1, 0.15, 0.35), "S": (0.95, 0.95, 0.6), "G": (0.2, 0.8, 0.3)}
AGENT = (0.9, 0.1, 0.1)
# tokens of every item's question, steps and answer: a tokenizer built from the gold steps would miss some
# (and of the map-reading questions, so every task of the family shares one tokenizer: `--init` moves weights)
VOCABULARY = (*MOVES, *ANSWERS, "safe", "hole", "goal", "start", "at", "where", *(f"r{i}" for i in range(MAX_SIZE)),
              *(f"c{i}" for i in range(MAX_SIZE)))


def check_map(rows) -> list[str]:
    """``rows`` as a square map of S/G/H/F with one start and one goal; anything else is one line."""
    if not isinstance(rows, (list, tuple)) or not rows or not all(isinstance(r, str) for r in rows):
        raise LatentspaceError("a FrozenLake map is a list of strings of S, G, H and F")
    n = len(rows)
    if n > MAX_SIZE or any(len(r) != n for r in rows):
        raise LatentspaceError(f"a FrozenLake map is square, at most {MAX_SIZE}×{MAX_SIZE}; got "
                               f"{n} rows of lengths {sorted({len(r) for r in rows})[:6]}")
    text = "".join(rows)
    if set(text) - set(CELLS):
        raise LatentspaceError(f"unknown map cells {sorted(set(text) - set(CELLS))[:6]}; valid: S G H F")
    if text.count("S") != 1 or text.count("G") != 1:
        raise LatentspaceError(f"a FrozenLake map has one start and one goal, not {text.count('S')} and "
                               f"{text.count('G')}")
    return list(rows)


def check_plan(plan) -> list[str]:
    moves = plan.split() if isinstance(plan, str) else list(plan)
    unknown = [m for m in moves if m not in MOVES]
    if unknown or not moves:
        raise LatentspaceError(f"a plan is one or more of {' '.join(MOVES)}, not {' '.join(map(str, moves))[:60]!r}")
    return moves


def find(rows: list[str], cell: str) -> tuple[int, int]:
    flat = "".join(rows).index(cell)
    return divmod(flat, len(rows))


def step(rows: list[str], at: tuple[int, int], move: str) -> tuple[int, int]:
    """One move; into the edge it stays put."""
    dr, dc = MOVES[move]
    r, c = at[0] + dr, at[1] + dc
    return (r, c) if 0 <= r < len(rows) and 0 <= c < len(rows) else at


def walk(rows, plan) -> tuple[str, list[tuple[int, int]]]:
    """``(answer, cells visited after each move until the walk ends)``, checked step by step."""
    rows, moves = check_map(rows), check_plan(plan)
    at, cells = find(rows, "S"), []
    for move in moves:
        at = step(rows, at, move)
        cells.append(at)
        kind = rows[at[0]][at[1]]
        if kind == "H":
            return "B", cells
        if kind == "G":
            return "A", cells
    return "C", cells


def kind_of(rows: list[str], cell: tuple[int, int]) -> str:
    return {"H": "hole", "G": "goal"}.get(rows[cell[0]][cell[1]], "safe")


def reachable(rows: list[str]) -> bool:
    """Is there a hole-free path from the start to the goal?"""
    start, seen, queue = find(rows, "S"), set(), deque([find(rows, "S")])
    seen.add(start)
    while queue:
        at = queue.popleft()
        if rows[at[0]][at[1]] == "G":
            return True
        for move in MOVES:
            nxt = step(rows, at, move)
            if nxt not in seen and rows[nxt[0]][nxt[1]] != "H":
                seen.add(nxt)
                queue.append(nxt)
    return False


def random_map(n: int, rng: random.Random) -> list[str]:
    while True:
        cells = ["H" if rng.random() < HOLE_SHARE else "F" for _ in range(n * n)]
        start, goal = rng.sample(range(n * n), 2)
        cells[start], cells[goal] = "S", "G"
        rows = ["".join(cells[r * n:(r + 1) * n]) for r in range(n)]
        if reachable(rows):
            return rows


def distances(rows: list[str], target: str) -> dict[tuple[int, int], int]:
    """Moves from each start or ice cell to the nearest ``target`` cell (G or H) over start and ice cells."""
    n, found = len(rows), {}
    queue = deque((r, c) for r in range(n) for c in range(n) if rows[r][c] == target)
    for cell in queue:
        found[cell] = 0
    while queue:
        at = queue.popleft()
        for move in MOVES:
            before = step(rows, at, move)  # moves are reversible except into an edge, which stays put
            if before not in found and rows[before[0]][before[1]] in "SF":
                found[before] = found[at] + 1
                queue.append(before)
    return found


def plan_for(rows: list[str], length: int, answer: str, rng: random.Random, tries: int = 50) -> list[str] | None:
    """A plan of ``length`` moves whose walk gives ``answer``, or None. A and B walks end at a random
    move (the goal or a hole reached there), the moves after it random and never walked — so the last
    move's cell does not decide the answer; C walks stay on ice to the end."""
    target = {"A": "G", "B": "H"}.get(answer)
    near = distances(rows, target) if target else {}
    start = find(rows, "S")
    if target and near.get(start, length + 1) > length:
        return None
    for _ in range(tries):
        ends = length if target is None else rng.randint(near[start], length)
        moves, at = [], start
        for i in range(length):
            left = ends - i - 1  # moves still to walk after this one
            def kind(m):
                nxt = step(rows, at, m)
                return rows[nxt[0]][nxt[1]]
            if i >= ends:
                options = list(MOVES)  # after the walk ended: never walked
            elif left == 0 and target:
                options = [m for m in MOVES if kind(m) == target]
            else:
                options = [m for m in MOVES if kind(m) in "SF"
                           and (not target or near.get(step(rows, at, m), length + 1) <= left)]
            if not options:
                break
            move = rng.choice(options)
            moves.append(move)
            at = step(rows, at, move) if i < ends else at
        else:
            if walk(rows, moves)[0] == answer:
                return moves
    return None


def item(rows, plan) -> Item:
    """The item of one map and plan (both checked)."""
    rows, moves = check_map(rows), check_plan(plan)
    answer, walked = walk(rows, moves)
    # one state per move, the ended walk's last cell repeated: how many steps (and thoughts) an item has
    # then follows from its plan alone — a walk that ended early must not show in the layout
    cells = walked + [walked[-1]] * (len(moves) - len(walked))
    steps = [f"r{r} c{c} {kind_of(rows, (r, c))}" for r, c in cells]
    return Item(" ".join(moves), answer, steps,
                {"map": rows, "size": len(rows), "length": len(moves), "cells": [list(c) for c in cells],
                 "walked": len(walked), "symbolic": True})


def generate(n_items: int, seed: int = 0, ood: bool = False) -> list[Item]:
    """``n_items`` balanced over A / B / C, seeded. ``ood``: N = 6 or L = 8 (one of them at least)."""
    rng, items = random.Random(f"vsp-{seed}-{ood}"), []
    while len(items) < n_items:
        answer = ANSWERS[len(items) % len(ANSWERS)]
        if ood:
            n, length = rng.choice([(OOD_SIZE, rng.choice(LENGTHS + (OOD_LENGTH,))), (rng.choice(SIZES), OOD_LENGTH)])
        else:
            n, length = rng.choice(SIZES), rng.choice(LENGTHS)
        rows = random_map(n, rng)
        plan = plan_for(rows, length, answer, rng)
        if plan is not None:
            items.append(item(rows, plan))
    return items


def load(path, seed: int = 0, hops=None) -> list[Item]:
    """A task file of maps and plans (JSONL: ``{"map": ["SFF", "FHF", "FFG"], "plan": "R D"}`` per line, or
    this task's own saved items) as checked items; the answer is the simulator's (a given one must agree)."""
    from latentspace.tasks.jsonl import json_rows

    items = []
    for where, row in json_rows(path):
        if not isinstance(row, dict):
            raise LatentspaceError(f'{where}: expected {{"map": [rows], "plan": "moves"}}')
        meta = row.get("meta") if isinstance(row.get("meta"), dict) else {}
        rows, plan = row.get("map", meta.get("map")), row.get("plan", row.get("question"))
        try:
            found = item(rows, plan if isinstance(plan, (str, list)) else "")
        except LatentspaceError as err:
            raise LatentspaceError(f"{where}: {err}") from None
        if "answer" in row and str(row["answer"]).strip() != found.answer:
            raise LatentspaceError(f"{where}: answer {str(row['answer'])[:20]!r}, but the plan gives {found.answer}")
        items.append(found)
    return items


def reading(n_items: int, seed: int = 0) -> list[Item]:
    """Map-reading questions about a picture (`vsp-read`, the perception the VSP arms start from): half
    ``at rR cC`` -> what lies there (safe, hole, goal, start), half ``where start`` / ``where goal`` -> its
    cell (``rR cC``), over the in-distribution map sizes."""
    rng, items = random.Random(f"vsp-read-{seed}"), []
    while len(items) < n_items:
        size = rng.choice(SIZES)
        rows = random_map(size, rng)
        meta = {"map": rows, "size": size, "symbolic": True}
        if rng.random() < 0.5:
            r, c = rng.randrange(size), rng.randrange(size)
            question, answer = f"at r{r} c{c}", {"S": "start"}.get(rows[r][c]) or kind_of(rows, (r, c))
        else:
            target = rng.choice("SG")
            r, c = find(rows, target)
            question, answer = f"where {'start' if target == 'S' else 'goal'}", f"r{r} c{c}"
        items.append(Item(question, answer, [], meta))
    return items


def extract_reading(text: str) -> str | None:
    """A reading's answer: the text after the last answer marker (``###``, ``Answer:``; a cell is two symbols)."""
    from latentspace.tasks.base import extract_marked

    return extract_marked(text) or None


def is_ood(found: Item) -> bool:
    return found.meta["size"] > max(SIZES) or found.meta["length"] > max(LENGTHS)


def extract(text: str) -> str | None:
    """The last A, B or C in the reply."""
    found = [t for t in text.replace(".", " ").split() if t in ANSWERS]
    return found[-1] if found else None


def render(rows, agent: tuple[int, int] | None = None):
    """The map as a ``[3, IMAGE, IMAGE]`` float tensor in [0, 1]: PIXELS per cell, the map in the
    top-left corner, black padding; the agent (default: on the start) a red 2×2 mark in its cell's
    middle, so two states of one map differ only in the agent's old and new cells."""
    import torch

    rows = check_map(rows)
    at = find(rows, "S") if agent is None else tuple(agent)
    if not (0 <= at[0] < len(rows) and 0 <= at[1] < len(rows)):
        raise LatentspaceError(f"the agent's cell {tuple(at)} is off the {len(rows)}×{len(rows)} map")
    n = len(rows)
    palette = torch.tensor([COLOURS[cell] for cell in CELLS])  # [4, 3], in CELLS' order
    cells = palette[torch.tensor([CELLS.index(cell) for row in rows for cell in row])].T.reshape(3, n, n)
    image = torch.zeros(3, IMAGE, IMAGE)
    image[:, :n * PIXELS, :n * PIXELS] = cells.repeat_interleave(PIXELS, 1).repeat_interleave(PIXELS, 2)
    middle = PIXELS // 2 - 1
    top, left = at[0] * PIXELS + middle, at[1] * PIXELS + middle
    image[:, top:top + 2, left:left + 2] = torch.tensor(AGENT)[:, None, None]
    return image


def map_only(pictures):
    """Question pictures (the agent on the start) with the agent's mark painted over in the start's colour:
    the map alone, what a map-relative target is measured from."""
    import torch

    agent = torch.tensor(AGENT)[:, None, None]
    marked = (pictures - agent).abs().sum(-3, keepdim=True) < 1e-4
    return torch.where(marked, torch.tensor(COLOURS["S"], dtype=pictures.dtype)[:, None, None], pictures)


def check_image(image) -> None:
    """A picture the tiny vision model reads: ``[3, IMAGE, IMAGE]`` (or a batch of them), finite."""
    import torch

    if not isinstance(image, torch.Tensor) or image.shape[-3:] != (3, IMAGE, IMAGE) or image.dim() not in (3, 4):
        shape = tuple(image.shape) if isinstance(image, torch.Tensor) else type(image).__name__
        raise LatentspaceError(f"a VSP image is [3, {IMAGE}, {IMAGE}] (RGB, or a batch of them), not {shape}")
    if not torch.isfinite(image).all():
        raise LatentspaceError("the image holds NaN or infinite values")


def meta_map(found: Item) -> list[str]:
    """The item's map, checked (an item read back from a file may be damaged)."""
    meta = found.meta if isinstance(found.meta, dict) else {}
    return check_map(meta.get("map"))


def picture(found: Item):
    """The question's picture: the map with the agent on the start."""
    return render(meta_map(found))


def step_pictures(found: Item):
    """``[moves, 3, IMAGE, IMAGE]``: the picture after each move (the states a text CoT writes as cells)."""
    return states(found)[1:]


def states(found: Item):
    """``[1 + moves, 3, IMAGE, IMAGE]``: the start picture, then the picture after each move."""
    import torch

    rows, cells = meta_map(found), found.meta.get("cells")
    if not isinstance(cells, list) or len(cells) != len(found.steps):
        raise LatentspaceError("a VSP item needs meta 'cells': the agent's cell after each move, one per step")
    return torch.stack([render(rows)] + [render(rows, tuple(cell)) for cell in cells])
