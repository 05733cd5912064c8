"""What the audit needs from a latent reasoner: a *subject*.

A subject answers items while letting the audit watch and change its thoughts. Anything with these
members is one (a trained run: `latentspace.train.studies.auditable.TrainedSubject`; a planted toy in the
tests). The audit never imports the layers that make subjects, so it audits them all the same way.

    name: str
    thoughts(items) -> list[int]         thought count per item
    token_id(symbol: str) -> int | None  the one token that spells an intermediate value, or None
    answer(items, limit=None, observe=None, edit=None) -> list[dict]
        one row per item, with "correct" (bool) and "extracted" (the answer read, or None);
        ``limit`` cuts every item's thoughts after that many; ``observe(i, state, vectors, rows)``
        is called before thought i is fed, with the state it is computed from (``state.logits``
        ``[B, V]``), its input vectors ``[B, d]`` and the batch's item indices; ``edit`` (same
        arguments) returns the vectors to feed instead.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import torch

from latentspace.tasks import Item

ThoughtHook = Callable[[int, object, torch.Tensor, range], object]


class Subject(Protocol):
    name: str

    def thoughts(self, items: list[Item]) -> list[int]: ...

    def token_id(self, symbol: str) -> int | None: ...

    def answer(self, items: list[Item], limit: int | None = None, observe: ThoughtHook | None = None,
               edit: ThoughtHook | None = None) -> list[dict]: ...


def accuracy(rows: list[dict]) -> float:
    return sum(bool(r["correct"]) for r in rows) / max(1, len(rows))
