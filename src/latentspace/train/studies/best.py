"""Which checkpoint a finished run's test numbers came from: the kept best one (``select: best``) or the last.

The engine keeps ``out/best`` while training (`train.selection`); this reads a finished run's
summary to find the weights every study of it must load, refusing a summary that names weights
which are gone.
"""

from __future__ import annotations

from pathlib import Path

from latentspace.core.checked import DamagedFile
from latentspace.train.records import Selected, read_summary


def model_folder(run_dir: Path) -> Path:
    """The checkpoint a finished run's test numbers came from: ``best`` when it selected one."""
    summary = run_dir / "summary.json"
    chosen = read_summary(summary).selected if summary.exists() else "last"
    best = run_dir / "best"
    if isinstance(chosen, Selected):
        if not (best / "state.json").exists():  # the test numbers came from weights that are gone
            raise DamagedFile(f"run summary {summary} selects the best checkpoint (epoch {chosen.epoch}) but "
                              f"{best} holds none")
        return best
    return run_dir / "checkpoint"
