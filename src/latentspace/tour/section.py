"""A tour section: (model, report folder) -> what it found (`pages.SectionResult`: text, a table, pictures,
data for --json)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from latentspace.core.pages import SectionResult

__all__ = ["Section", "SectionResult"]

if TYPE_CHECKING:
    from latentspace.model.latent_model import LatentModel


# A section: (model, report folder) -> result. Later capabilities append theirs to SECTIONS.
Section = Callable[["LatentModel", Path], SectionResult]
