"""A training run's settings as the command line gives them: ``--set`` pairs split into recipe options
and run settings (each checked against its declared range), the task, and a flat YAML config file."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from latentspace.core import files
from latentspace.core.errors import LatentspaceError


def split_options(recipe: str, sets: dict) -> tuple[dict, dict]:
    """``--set`` pairs -> (recipe options, run settings); unknown keys and values out of their declared
    ranges (`Recipe.RANGES`, `Profile.RANGES`) are one-line errors."""
    from latentspace.train.recipes import RECIPES
    from latentspace.train.run import RUN_SETTINGS, check_settings

    if recipe not in RECIPES:
        raise LatentspaceError(f"unknown recipe {recipe[:80]!r}; valid: {', '.join(sorted(RECIPES))}")
    fields = {f.name for f in dataclasses.fields(RECIPES[recipe])}
    unknown = sorted(set(sets) - fields - set(RUN_SETTINGS))
    if unknown:
        raise LatentspaceError(f"--set {unknown[0][:80]}: not an option of {recipe} ({', '.join(sorted(fields))}) "
                               f"nor a run setting ({', '.join(sorted(RUN_SETTINGS))})")
    settings = {k: v for k, v in sets.items() if k in RUN_SETTINGS}
    check_settings(settings)
    return {k: v for k, v in sets.items() if k in fields}, settings


def task_name(task: str | None, profile) -> str:
    """``--task`` or the profile's; an empty one is refused rather than silently replaced."""
    if task is None:
        return profile.task
    if not task.strip():
        raise LatentspaceError("--task: empty name; give a built-in task or a FILE.jsonl")
    return task


def read_config(path: Path | None) -> dict:
    """A flat YAML mapping (``epochs: 20``, ``lr: 3.0e-4``) or nothing."""
    if path is None:
        return {}
    import yaml

    try:
        data = yaml.safe_load(files.read_text(path, "config file"))
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"{path.name}:{mark.line + 1}" if mark else path.name
        raise LatentspaceError(f"{where}: not valid YAML") from None
    if data is None:
        return {}
    if not isinstance(data, dict) or any(isinstance(v, (dict, list)) for v in data.values()):
        raise LatentspaceError(f"{path.name}: expected a flat mapping of option: value")
    return {str(k).replace("-", "_"): v for k, v in data.items()}
