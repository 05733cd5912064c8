"""docs/results.md is shared by every benchmark: each owns one marker-delimited section.

What a section's table is built from is kept beside it in benchmarks/results/ — one JSON line per
result (``write_kept``/``read_kept``) — while per-item and per-step outputs, checkpoints and caches
go under runs/ (gitignored).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

RESULTS = Path(__file__).resolve().parents[1] / "docs" / "results.md"
KEPT = Path(__file__).resolve().parent / "results"  # the rows the docs' tables are built from
RUNS = Path(__file__).resolve().parents[1] / "runs"  # bulky outputs: per-item rows, logs, checkpoints


def replace_section(section: str, start: str, end: str, path: Path = RESULTS) -> None:
    """Put ``section`` (which begins with ``start`` and ends with ``end``) in place of the old one."""
    old = path.read_text() if path.exists() else "# Results\n"
    if start in old and end in old:
        new = old[: old.index(start)] + section + old[old.index(end) + len(end):]
    else:
        new = old.rstrip("\n") + "\n\n" + section + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(new)


def write_kept(path: Path, rows: list[dict], meta: dict | None = None) -> None:
    """One compact JSON line per result (``meta``, what the rows share, first as ``{"meta": ...}``);
    written beside and renamed into place, so a run killed mid-write leaves the old file whole."""
    lines = ([json.dumps({"meta": meta}, ensure_ascii=False)] if meta is not None else []) + \
        [json.dumps(row, ensure_ascii=False) for row in rows]
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    os.replace(partial, path)


def read_kept(path: Path) -> tuple[list[dict], dict]:
    """(rows, meta) of a file ``write_kept`` wrote; ([], {}) when there is none."""
    if not path.exists():
        return [], {}
    rows, meta = [], {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            value = json.loads(line)
            if set(value) == {"meta"}:
                meta = value["meta"]
            else:
                rows.append(value)
    return rows, meta


def kept_for_seeds(path: Path, seeds: set[int]) -> tuple[list[dict], str]:
    """The rows of the table last written to ``path`` that were made from these seeds, and its date
    (a fresh checkout has no per-item rows: the report is rebuilt from the kept ones)."""
    rows, _ = read_kept(path)
    mine = [r for r in rows if set(r["seeds"]) <= seeds]
    if not mine:
        held = sorted({",".join(map(str, r["seeds"])) for r in rows})
        raise SystemExit(f"no per-item rows in the --out folder, and {path} holds no rows of seeds "
                         f"{','.join(map(str, sorted(seeds)))} (it holds seeds {' / '.join(held) or 'none'})")
    return [{k: v for k, v in r.items() if k not in ("date", "command")} for r in mine], mine[0]["date"]


def dumps_by_key(rows: dict) -> str:
    """A JSON object of results written one entry (key and result) per line: compact, and a rerun that
    changes one result changes one line."""
    entries = [f"{json.dumps(key)}: {json.dumps(value)}" for key, value in rows.items()]
    return "{\n" + ",\n".join(entries) + "\n}\n"
