"""Tasks: items with a question, reasoning steps and an answer, plus answer extraction and checking.

Every built-in task is generated offline and deterministically from a seed, so a split is
reproducible anywhere. The training recipes reuse these generators.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field


@dataclass
class Item:
    question: str
    answer: str
    steps: list[str] = field(default_factory=list)  # reasoning steps in text (for CoT and training)
    meta: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


def normalise(text: str) -> str:
    """Compare answers without case, commas, surrounding spaces or a final full stop."""
    return " ".join(text.replace(",", "").strip().rstrip(".").lower().split())


def graded(text: str, expected: str, extract: Callable[[str], str | None]) -> tuple[bool, str | None]:
    """The one answer check (tasks, the bench, the audit): ``(correct, what was extracted)``.

    Correct when an answer was extracted and it equals ``expected`` once both are normalised; an
    empty expected answer is never matched (there is nothing to check against).
    """
    found = extract(text)
    return found is not None and bool(expected) and normalise(found) == normalise(expected), found


def free_text(text: str) -> str:
    """The whole reply is the answer (a question without a task: `audit --question`)."""
    return text.strip()


def extract_marked(text: str) -> str:
    """The text after the last answer marker (``####``, ``#`` or ``Answer:``), else all of it."""
    lowered = text.lower()
    cuts = [(text.rfind("#"), 1), (lowered.rfind("answer:"), len("answer:"))]
    pos, width = max(cuts)
    return (text[pos + width:] if pos >= 0 else text).strip().lstrip("#").strip()
