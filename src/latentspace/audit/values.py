"""The intermediate values an audit checks thoughts against, from the items themselves.

Thought t is held to step t of the item's trace (MNNS: the optimal choice's partial sum; ProsQA:
the path's node); thoughts past the trace to its last step (the answer's own). The *set* at step t
is every value a search in superposition would hold there; an equation step's value is its result: all sign choices' partial sums (MNNS
``meta["traces"]``), the nodes at depth t+1 (ProsQA ``meta["frontier"]``).
"""

from __future__ import annotations

from latentspace.tasks import Item


def value(step: str) -> str:
    """A step's value: the result of an equation step ("4 + 10 = 14" -> "14"), else the step itself."""
    return step.rsplit("=", 1)[1].strip() if "=" in step else step


def gold(item: Item, t: int) -> str | None:
    steps = list(item.steps)
    if not steps:
        return None
    return value(steps[min(t, len(steps) - 1)])


def value_set(item: Item, t: int) -> set[str]:
    meta = item.meta or {}
    if meta.get("traces"):
        traces = meta["traces"]
        return {trace[min(t, len(trace) - 1)] for trace in traces}
    if meta.get("frontier"):
        frontier = meta["frontier"]
        return set(frontier[min(t, len(frontier) - 1)])
    found = gold(item, t)
    return {found} if found is not None else set()


def has_values(items: list[Item]) -> bool:
    return bool(items) and all(item.steps for item in items)
