"""Selectors: one answer from N sampled paths. ``pass`` is the oracle (any path right: coverage, pass@N),
``vote`` the majority answer (ties: the answer drawn first). The latent reward model and beam search
read the thoughts themselves and live in their own files."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from latentspace.core.errors import LatentspaceError


def majority(answers: list[str | None]) -> str | None:
    """The most frequent answer (None never wins while any path gave one); ties go to the first drawn."""
    given = [a for a in answers if a is not None]
    if not given:
        return None
    counts = Counter(given)
    best = max(counts.values())
    return next(a for a in given if counts[a] == best)


def vote_correct(paths: list[dict]) -> bool:
    winner = majority([p["extracted"] for p in paths])
    return next((p["correct"] for p in paths if p["extracted"] == winner), False) if winner is not None else False


def pass_correct(paths: list[dict]) -> bool:
    return any(p["correct"] for p in paths)


SELECTORS: dict[str, Callable[[list[dict]], bool]] = {"pass": pass_correct, "vote": vote_correct}


def select(name: str, paths: list[dict]) -> bool:
    """Whether selector ``name`` picks a right answer from ``paths`` (rows with extracted, correct)."""
    if name not in SELECTORS:
        raise LatentspaceError(f"unknown selector {name[:40]!r}; valid: greedy, {', '.join(SELECTORS)}")
    return SELECTORS[name](paths)
