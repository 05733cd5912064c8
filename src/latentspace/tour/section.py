"""What a tour section returns: text, a table, pictures, and data for --json."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from latentspace.model.latent_model import LatentModel


@dataclass
class SectionResult:
    title: str
    summary: str  # a short paragraph of real outputs, for the terminal and the report
    rows: list[dict] = field(default_factory=list)  # a table (one dict per row)
    images: list[Path] = field(default_factory=list)  # PNG files inside the report folder
    data: dict = field(default_factory=dict)  # everything else worth keeping, JSON-serialisable

    def to_dict(self) -> dict:
        return {"title": self.title, "summary": self.summary, "rows": self.rows,
                "images": [p.name for p in self.images], "data": self.data}


# A section: (model, report folder) -> result. Later capabilities append theirs to SECTIONS.
Section = Callable[["LatentModel", Path], SectionResult]
