"""Tasks: items with a question, reasoning steps and an answer, plus answer extraction and checking.

Every built-in task is generated offline and deterministically from a seed, so a split is
reproducible anywhere. The training recipes reuse these generators.
"""

from __future__ import annotations

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


def extract_marked(text: str) -> str:
    """The text after the last answer marker (``####``, ``#`` or ``Answer:``), else all of it."""
    lowered = text.lower()
    cuts = [(text.rfind("#"), 1), (lowered.rfind("answer:"), len("answer:"))]
    pos, width = max(cuts)
    return (text[pos + width:] if pos >= 0 else text).strip().lstrip("#").strip()
