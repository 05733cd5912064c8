"""Task generators and loaders with answer extraction and checking (shared by reason, bench, train)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from latentspace.errors import LatentspaceError
from latentspace.tasks import arithmetic, multiplication, prontoqa, prosqa
from latentspace.tasks.base import Item, normalise
from latentspace.tasks.jsonl import is_task_file, load_items, load_jsonl


@dataclass(frozen=True)
class TaskSpec:
    name: str
    generate: Callable[..., list[Item]]
    extract: Callable[[str], str | None]
    description: str

    def check(self, text: str, item: Item) -> bool:
        """Is the answer extracted from ``text`` the item's answer?"""
        found = self.extract(text)
        return found is not None and normalise(found) == normalise(item.answer)


TASKS = {t.name: t for t in (
    TaskSpec("arithmetic", arithmetic.generate, arithmetic.extract, "one- and two-step word problems"),
    TaskSpec("prontoqa", prontoqa.generate, prontoqa.extract, "ProntoQA-like 5-hop true/false"),
    TaskSpec("prosqa", prosqa.generate, prosqa.extract, "ProsQA-like graph reachability (its vocabulary)"),
    TaskSpec("prosqa-small", partial(prosqa.generate, shape=prosqa.SMALL), prosqa.extract,
             "ProsQA-like with smaller graphs (8-12 nodes, 2-4 hops; the quick training profile's data)"),
    TaskSpec("multiplication", multiplication.generate, multiplication.extract, "k×k multiplication, iCoT format"),
)}


def get_task(name: str) -> TaskSpec:
    if name not in TASKS:
        raise LatentspaceError(f"unknown task {name!r}; valid: {', '.join(TASKS)} (or a .jsonl file)")
    return TASKS[name]


__all__ = ["TASKS", "Item", "TaskSpec", "get_task", "is_task_file", "load_items", "load_jsonl", "normalise"]
