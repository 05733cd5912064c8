"""User tasks from JSONL: one ``{"question", "answer", "steps"?}`` object per line."""

from __future__ import annotations

import json
from pathlib import Path

from latentspace.errors import LatentspaceError
from latentspace.tasks.base import Item


def load_jsonl(path: str | Path) -> list[Item]:
    """Items of a JSONL file; a malformed row raises a one-line error naming file and line."""
    path = Path(path)
    if not path.is_file():
        raise LatentspaceError(f"no task file at {path}")
    items = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path.name}:{number}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise LatentspaceError(f"{where}: not valid JSON ({err.msg})") from None
        if not isinstance(row, dict) or not isinstance(row.get("question"), str) or "answer" not in row:
            raise LatentspaceError(f'{where}: expected {{"question": str, "answer": ..., "steps": [str]?}}')
        steps = row.get("steps", [])
        if not isinstance(steps, list) or not all(isinstance(s, str) for s in steps):
            raise LatentspaceError(f"{where}: steps must be a list of strings")
        items.append(Item(row["question"], str(row["answer"]), steps))
    if not items:
        raise LatentspaceError(f"{path.name} holds no items")
    return items
