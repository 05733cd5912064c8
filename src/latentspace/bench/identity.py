"""What a bench folder's rows were made with, so a resumed run never reuses rows of another setting.

Rows are keyed by (task, strategy, seed, item index) only; without this record a re-run with another
model, other strategy options or an edited task file would keep the old rows and label them new.
The record is written before the first row; a later run must agree with it wherever they overlap
(same model; the same options for a strategy both ran; the same content for a task both ran).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from latentspace.core import files, jsonsafe
from latentspace.core.errors import LatentspaceError
from latentspace.core.saved import FIELDS, describe
from latentspace.tasks import is_task_file

NAME = "identity.json"


def task_digest(task: str) -> str | None:
    """SHA-256 of a task file's bytes (generated tasks are fixed by name and seed: None)."""
    return hashlib.sha256(Path(task).read_bytes()).hexdigest()[:16] if is_task_file(task) else None


def identity(fingerprint: dict, tasks: list[str], options: dict[str, dict]) -> dict:
    return {"fingerprint": fingerprint, "tasks": {t: task_digest(t) for t in tasks},
            "options": json.loads(jsonsafe.dumps(options))}


def check_and_record(out: Path, mine: dict) -> None:
    """Refuse ``out`` when its rows were made otherwise; else record the union of both settings."""
    path = out / NAME
    if not path.exists():
        files.write_text(path, jsonsafe.dumps(mine, indent=2))
        return
    try:
        saved = json.loads(files.read_text(path, "bench identity"))
        fingerprint, tasks, options = saved["fingerprint"], dict(saved["tasks"]), dict(saved["options"])
    except (json.JSONDecodeError, KeyError, TypeError, ValueError):
        raise LatentspaceError(f"{path} is damaged; remove the folder or use a new --out") from None
    hint = f"; {out} holds rows made otherwise: use a new --out"
    if fingerprint != mine["fingerprint"]:
        made = describe(fingerprint) if all(k in fingerprint for k in FIELDS) else "an unknown model"
        raise LatentspaceError(f"its rows were made by [{made}], not the loaded [{describe(mine['fingerprint'])}]{hint}")
    for task, digest in mine["tasks"].items():
        if task in tasks and tasks[task] != digest:
            raise LatentspaceError(f"task file {task} has changed since its rows were made{hint}")
    for name, opts in mine["options"].items():
        if name in options and options[name] != opts:
            raise LatentspaceError(f"strategy {name} ran with options {options[name]}, now {opts}{hint}")
    merged = {"fingerprint": fingerprint, "tasks": {**tasks, **mine["tasks"]}, "options": {**options, **mine["options"]}}
    if merged != saved:
        files.write_text(path, jsonsafe.dumps(merged, indent=2))
