"""Watch a reasoning run while it happens: each trace step and each piece of answer text, live.

The server streams a run with this; anything else can too (a notebook progress view, a logger):

    with watching(on_step=lambda row, step: print(step.kind, step.top[:1]),
                  on_text=lambda row, piece: print(piece, end="")):
        trace = get_reasoner("soft").run(lm, "What is 7 times 8?")

A context variable, not an argument, so every strategy streams without changing its signature.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from latentspace.trace import Step


@dataclass(frozen=True)
class Watcher:
    on_step: Callable[[int, Step], None] | None = None  # (row of the batch, the step just recorded)
    on_text: Callable[[int, str], None] | None = None  # (row, a new piece of the answer text)


_CURRENT: contextvars.ContextVar[Watcher | None] = contextvars.ContextVar("latentspace_watcher", default=None)


@contextmanager
def watching(on_step: Callable[[int, Step], None] | None = None,
             on_text: Callable[[int, str], None] | None = None) -> Iterator[Watcher]:
    token = _CURRENT.set(Watcher(on_step, on_text))
    try:
        yield _CURRENT.get()
    finally:
        _CURRENT.reset(token)


def record(trace, row: int, step: Step) -> None:
    """Append ``step`` to ``trace`` and tell the watcher, if any."""
    trace.steps.append(step)
    watcher = _CURRENT.get()
    if watcher is not None and watcher.on_step is not None:
        watcher.on_step(row, step)


def text_sink() -> Callable[[int, str], None] | None:
    watcher = _CURRENT.get()
    return None if watcher is None else watcher.on_text
