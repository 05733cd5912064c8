"""Which checkpoint a finished run's test numbers came from: the kept best one (``select: best``) or the last.

The engine keeps ``out/best`` while training (`train.selection`, where the rule lives: a run started from
another, ``--init``, needs it too); every study of a finished run loads the weights this names, and a
summary that names weights which are gone is refused.
"""

from __future__ import annotations

from pathlib import Path

from latentspace.train.selection import finished_model


def model_folder(run_dir: Path) -> Path:
    """The checkpoint a finished run's test numbers came from: ``best`` when it selected one."""
    return finished_model(run_dir)
