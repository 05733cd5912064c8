"""Shortcut check: the same model on an out-of-distribution variant of its task (relabelled
nodes, deeper graphs, ...). A model that learnt the task keeps its accuracy; one that learnt the
data's shortcuts falls towards chance."""

from __future__ import annotations

from latentspace.audit.record import Recording
from latentspace.audit.subject import Subject, accuracy
from latentspace.tasks import Item


def ood(subject: Subject, rec: Recording, variant: str, items: list[Item]) -> dict:
    out = accuracy(subject.answer(items))
    inside = accuracy(rec.rows)
    return {"variant": variant, "n": len(items), "in_distribution": inside, "out_of_distribution": out,
            "gap": inside - out}
