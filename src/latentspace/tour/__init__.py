"""`latentspace tour`: walk through what the toolkit does on a real model, with real outputs.

Each section runs on the loaded model and returns a `SectionResult`; the tour prints it and adds
it to an HTML report. Later capabilities add a section file and list it in `sections/__init__.py`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from latentspace.core.files import check_output
from latentspace.core.pages import write_report
from latentspace.tour.section import Section, SectionResult
from latentspace.tour.sections import SECTIONS

if TYPE_CHECKING:  # the type only: no import at run time
    from latentspace.model.latent_model import LatentModel


def run_tour(lm: LatentModel, out: Path, sections: list[Section] | None = None,
             on_section: Callable[[SectionResult], None] | None = None) -> tuple[Path, list[SectionResult]]:
    """Run the sections on ``lm``, writing pictures and ``index.html`` into ``out``."""
    check_output(out, "tour folder", folder=True)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    results = []
    started = time.perf_counter()
    for section in sections or SECTIONS:
        result = section(lm, out)
        results.append(result)
        if on_section:
            on_section(result)
    meta = {"layers": lm.n_layers, "d": lm.hidden_size, "seconds": round(time.perf_counter() - started, 1)}
    return write_report(out, lm.name, meta, results), results
