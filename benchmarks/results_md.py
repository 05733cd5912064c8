"""docs/results.md is shared by every benchmark: each owns one marker-delimited section."""

from __future__ import annotations

from pathlib import Path

RESULTS = Path(__file__).resolve().parents[1] / "docs" / "results.md"


def replace_section(section: str, start: str, end: str, path: Path = RESULTS) -> None:
    """Put ``section`` (which begins with ``start`` and ends with ``end``) in place of the old one."""
    old = path.read_text() if path.exists() else "# Results\n"
    if start in old and end in old:
        new = old[: old.index(start)] + section + old[old.index(end) + len(end):]
    else:
        new = old.rstrip("\n") + "\n\n" + section + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(new)
