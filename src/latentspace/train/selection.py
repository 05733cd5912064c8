"""Keep the best validation checkpoint and test it (``select: best``), as Coconut's protocol does.

Small from-scratch models memorise their training set long before the last epoch (MNNS No-CoT
reaches a training loss of 1e-4 while held-out accuracy falls), so the test split is read by the
checkpoint whose *validation* accuracy was highest — counted only at the recipe's final stage, whose
thoughts are the ones tested. ``out/best`` is a copy of ``out/checkpoint`` made when validation
improves (staged, then renamed: whole or absent), with ``best.json`` (`records.BestRecord`) saying
which epoch it is. Its record is read through `records`: a damaged one is refused in one line, never
taken for "no best checkpoint". `finished_model` says which checkpoint a finished run's numbers came from
(the studies read it through `train.studies.best`; a run started from another, `--init`, starts from it).
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

from latentspace.core import files, jsonsafe
from latentspace.core.checked import DamagedFile
from latentspace.train.records import BestRecord, Selected, read_best, read_summary

RECORD = "best.json"


def finished_model(run_dir: Path) -> Path:
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


def best_accuracy(out: Path) -> float:
    """The validation accuracy of the kept checkpoint (-1 without one)."""
    record = selected(out)
    return record.accuracy if record is not None else -1.0


def keep_best(out: Path, epoch: int, accuracy: float) -> None:
    """Copy the checkpoint just written into ``out/best`` with its record."""
    staging, final = out / "best.partial", out / "best"
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(out / "checkpoint", staging)
    record = BestRecord(epoch=epoch, valid_accuracy=accuracy, accuracy=accuracy)
    files.write_text(staging / RECORD, jsonsafe.dumps(dataclasses.asdict(record)))
    shutil.rmtree(final, ignore_errors=True)
    staging.rename(final)


def selected(out: Path) -> BestRecord | None:
    """The kept checkpoint's record, or None when none was kept."""
    path = out / "best" / RECORD
    return read_best(path) if path.exists() else None

