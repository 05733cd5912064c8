"""Selectors: one answer from N sampled paths. ``pass`` is the oracle (any path right: coverage,
pass@N), ``vote`` the majority answer (ties: the answer drawn first), ``rm`` the path a latent reward
model scores highest (`reward_model`). Each takes the paths' rows, their step features and the reward
model (None when none was given) and says whether its pick is right. Beam search is not a selector:
it searches while thinking (`beam`)."""

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


def vote_correct(paths: list[dict], features=None, rm=None) -> bool:
    winner = majority([p["extracted"] for p in paths])
    return next((p["correct"] for p in paths if p["extracted"] == winner), False) if winner is not None else False


def pass_correct(paths: list[dict], features=None, rm=None) -> bool:
    return any(p["correct"] for p in paths)


def rm_correct(paths: list[dict], features=None, rm=None) -> bool:
    if rm is None:
        raise LatentspaceError("the rm selector needs a reward model: --rm FILE (fit one with `latentspace train rm fit RUN`)")
    from latentspace.search.reward_model import best_path

    return bool(paths[best_path(rm, features)]["correct"])


SELECTORS: dict[str, Callable[..., bool]] = {"pass": pass_correct, "vote": vote_correct, "rm": rm_correct}


def select(name: str, paths: list[dict], features=None, rm=None) -> bool:
    """Whether selector ``name`` picks a right answer from ``paths`` (rows with extracted, correct)."""
    if name not in SELECTORS:
        raise LatentspaceError(f"unknown selector {name[:40]!r}; valid: greedy, {', '.join(SELECTORS)}")
    return SELECTORS[name](paths, features, rm)
