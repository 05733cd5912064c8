"""Keep the best validation checkpoint and test it (``select: best``), as Coconut's protocol does.

Small from-scratch models memorise their training set long before the last epoch (MNNS No-CoT
reaches a training loss of 1e-4 while held-out accuracy falls), so the test split is read by the
checkpoint whose *validation* accuracy was highest — counted only at the recipe's final stage, whose
thoughts are the ones tested. ``out/best`` is a copy of ``out/checkpoint`` made when validation
improves (staged, then renamed: whole or absent), with ``best.json`` saying which epoch it is.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from latentspace import files, jsonsafe


def best_accuracy(out: Path) -> float:
    """The validation accuracy of the kept checkpoint (-1 without one, or when its record is damaged)."""
    path = out / "best" / "best.json"
    try:
        return float(json.loads(files.read_text(path, "best checkpoint record"))["accuracy"]) if path.exists() else -1.0
    except (ValueError, KeyError, TypeError):
        return -1.0


def keep_best(out: Path, epoch: int, accuracy: float) -> None:
    """Copy the checkpoint just written into ``out/best`` with its record."""
    staging, final = out / "best.partial", out / "best"
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(out / "checkpoint", staging)
    files.write_text(staging / "best.json", jsonsafe.dumps({"epoch": epoch, "valid_accuracy": accuracy,
                                                            "accuracy": accuracy}))
    shutil.rmtree(final, ignore_errors=True)
    staging.rename(final)


def selected(out: Path) -> dict | None:
    """The kept checkpoint's record, or None."""
    path = out / "best" / "best.json"
    if not path.exists():
        return None
    try:
        return json.loads(files.read_text(path, "best checkpoint record"))
    except ValueError:
        return None


def model_folder(run_dir: Path) -> Path:
    """The checkpoint a finished run's test numbers came from: ``best`` when it selected one."""
    summary = run_dir / "summary.json"
    try:
        chosen = json.loads(files.read_text(summary, "run summary")).get("selected") if summary.exists() else None
    except (ValueError, AttributeError):
        chosen = None
    best = run_dir / "best"
    return best if isinstance(chosen, dict) and (best / "state.json").exists() else run_dir / "checkpoint"
