"""User tasks from files: JSONL (one ``{"question", "answer", "steps"?}`` per line) or a JSON list.

A JSON list is the layout ProsQA/ProntoQA are published in (Coconut's data files); ProsQA's graph
fields (``idx_to_symbol``, ``edges``, ``root``, ``target``, ``neg_target``) are kept in each
item's meta under the names our generator uses, so the same analyses run on both.
"""

from __future__ import annotations

import json
from pathlib import Path

from latentspace.core.errors import LatentspaceError
from latentspace.core.files import check_text, read_text
from latentspace.tasks.base import Item


def to_item(row, where: str, meta: dict) -> Item:
    """One file row as an Item, or a one-line error naming where it is (the same rules for every layout)."""
    if not isinstance(row, dict) or not isinstance(row.get("question"), str) or "answer" not in row:
        raise LatentspaceError(f'{where}: expected {{"question": str, "answer": ..., "steps": [str]?}}')
    if not row["question"].strip():
        raise LatentspaceError(f"{where}: empty question")
    steps = row.get("steps", [])
    if not isinstance(steps, list) or not all(isinstance(s, str) for s in steps):
        raise LatentspaceError(f"{where}: steps must be a list of strings")
    answer = str(row["answer"])
    for text in (row["question"], answer, *steps):  # a JSON "\ud800" escape gives a lone surrogate
        check_text(text, f"{where}: text")
    return Item(row["question"], answer, steps, meta)


def json_rows(path: str | Path) -> list[tuple[str, object]]:
    """``(where, row)`` of every non-empty line of a JSONL file (``where`` is ``NAME:LINE``); a line that is
    not JSON, or a file without rows, is a one-line error naming it."""
    path = Path(path)
    rows = []
    for number, line in enumerate(read_text(path, "task file").splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path.name}:{number}"
        try:
            rows.append((where, json.loads(line)))
        except json.JSONDecodeError as err:
            raise LatentspaceError(f"{where}: not valid JSON ({err.msg})") from None
    if not rows:
        raise LatentspaceError(f"{path.name} holds no items")
    return rows


def load_jsonl(path: str | Path) -> list[Item]:
    """Items of a JSONL file; a malformed row raises a one-line error naming file and line."""
    items = []
    for where, row in json_rows(path):
        meta = row.get("meta") if isinstance(row, dict) and isinstance(row.get("meta"), dict) else {}
        items.append(to_item(row, where, meta))  # meta: e.g. a saved split's graphs
    return items


PUBLISHED_META = {"idx_to_symbol": "names", "edges": "edge_list", "root": "root", "target": "target",
                  "neg_target": "neg_target"}


def is_task_file(task: str) -> bool:
    return task.endswith((".jsonl", ".json"))


def load_items(path: str | Path) -> list[Item]:
    """Items of a ``.jsonl`` file or of a ``.json`` list in the published ProsQA/ProntoQA layout."""
    path = Path(path)
    if path.suffix != ".json":
        return load_jsonl(path)
    try:
        rows = json.loads(read_text(path, "task file"))
    except json.JSONDecodeError as err:
        raise LatentspaceError(f"{path.name}:{err.lineno}: not valid JSON ({err.msg})") from None
    if not isinstance(rows, list) or not rows:
        raise LatentspaceError(f"{path.name}: expected a non-empty JSON list of items")
    items = []
    for number, row in enumerate(rows):
        where = f"{path.name}: item {number}"
        meta = {ours: row[theirs] for theirs, ours in PUBLISHED_META.items() if theirs in row} if isinstance(row, dict) else {}
        items.append(to_item(row, where, meta))
    return items
