"""MNNS, minimum non-negative sum (Gozeten et al. 2025, "Continuous Chain of Thought Enables
Parallel Exploration and Reasoning", arXiv 2505.23648).

Four digits 1-9; give each a sign so the signed sum is the smallest value >= 0. The chain of
thought is the partial sums of the optimal sign choice; the last partial sum is the answer. Items
are symbolic (one whitespace-separated symbol per token):

    question  "3 5 7 2 ="       steps  "-3" "2" "-5"      answer  "1"

Every sign of every digit is free, so step t has 2^t partial sums: ``meta["traces"]`` holds all 16
sign choices' partial-sum traces, the optimal one first — the target set of the CoT2 recipe (its
step-t distribution is the empirical one over the traces). Ties between optimal choices go to the
first in the order + before -. All 9^4 = 6,561 problems exist; ``meta["group"]`` is the sorted digit
multiset, and `train.data.split_items` keeps a group on one side of a split, so no permutation of a
test problem is trained on.
"""

from __future__ import annotations

import itertools
import random

from latentspace.core.errors import LatentspaceError
from latentspace.tasks.base import Item

DIGITS = range(1, 10)
LENGTH = 4
SIGNS = list(itertools.product((1, -1), repeat=LENGTH))  # + before -: the tie-break order
# every partial sum a trace can reach: a tokenizer built from the gold steps alone would miss some
VOCABULARY = ("=", *(str(v) for v in range(-9 * LENGTH, 9 * LENGTH + 1)))


def partial_sums(digits: tuple[int, ...], signs: tuple[int, ...]) -> list[int]:
    return list(itertools.accumulate(s * d for s, d in zip(signs, digits)))


def check_digits(digits) -> tuple[int, ...]:
    digits = tuple(digits)
    if len(digits) != LENGTH or any(isinstance(d, bool) or not isinstance(d, int) or d not in DIGITS for d in digits):
        raise LatentspaceError(f"an MNNS problem is {LENGTH} digits from 1 to 9, not {list(digits)[:8]}")
    return digits


def item(digits) -> Item:
    """The item of one problem; digits outside 1-9 or a count other than 4 are refused."""
    digits = check_digits(digits)
    traces = [partial_sums(digits, signs) for signs in SIGNS]
    best = min(range(len(SIGNS)), key=lambda i: (traces[i][-1] < 0, abs(traces[i][-1]), i))
    gold = traces[best]
    ordered = [gold] + [t for i, t in enumerate(traces) if i != best]
    signs = "".join("+" if s > 0 else "-" for s in SIGNS[best])
    return Item(" ".join(map(str, digits)) + " =", str(gold[-1]), [str(s) for s in gold[:-1]],
                {"digits": list(digits), "signs": signs, "traces": [[str(s) for s in t] for t in ordered],
                 "group": "".join(map(str, sorted(digits))), "symbolic": True})


def generate(n_items: int, seed: int = 0) -> list[Item]:
    """``n_items`` of the 6,561 problems in a seeded order (all of them when n is larger)."""
    problems = list(itertools.product(DIGITS, repeat=LENGTH))
    random.Random(seed).shuffle(problems)
    return [item(p) for p in problems[:n_items]]


def from_item(found: Item, where: str = "item") -> Item:
    """A file's item (its question holds the four digits) in this task's layout."""
    tokens = found.question.replace("=", " ").split()
    try:
        digits = [int(t) for t in tokens]
    except ValueError:
        raise LatentspaceError(f"{where}: an MNNS question is four digits 1-9, not {found.question[:60]!r}") from None
    try:
        return item(digits)
    except LatentspaceError as err:
        raise LatentspaceError(f"{where}: {err}") from None


def load(path, seed: int = 0, hops=None) -> list[Item]:
    """A task file's items (``.jsonl`` or a ``.json`` list) as MNNS items, each checked."""
    from pathlib import Path

    from latentspace.tasks.jsonl import load_items

    return [from_item(found, f"{Path(path).name}: item {i}") for i, found in enumerate(load_items(path))]


def extract(text: str) -> str | None:
    """The number after the last ``###`` (or the last number)."""
    tail = text.rsplit("###", 1)[-1].split()
    numbers = [t for t in tail if t.lstrip("-").isdigit()]
    return numbers[-1] if numbers else None
