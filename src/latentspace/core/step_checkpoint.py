"""A resumable trainer's checkpoint, written as one unit and resumed exactly.

Layout: ``OUT/checkpoint/`` holds the weights (written by the trainer's own saver), ``state.pt``
(optimizer state, random-generator states, step) and ``progress.json`` (step, per-step history).

- Written whole or not at all: everything goes into ``checkpoint.partial/``, which then replaces
  ``checkpoint/`` by two renames; `recover` undoes a cut between the renames (the previous checkpoint
  was kept as ``checkpoint.old``). A run killed while saving resumes from the last whole checkpoint.
- Every file carries the step, and ``manifest.json`` the SHA-256 of every file as it was written
  (`verify`): a resume refuses a folder whose files disagree or changed (one hand-copied from
  another run or another step, one damaged) instead of training on a mix. Any staged folder gets
  the manifest — the recipes' trainer checks its checkpoint with the same `verify`.
- Random generators (torch's global one, and the trainer's own numpy / `random` generators) are saved
  and restored, so a resumed run continues the same batches and noise: it ends bit-identical to one
  that was never interrupted.
"""

from __future__ import annotations

import contextlib
import random
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from latentspace.core import files, jsonsafe
from latentspace.core.checked import DamagedFile, conform, load_torch, read_json

FOLDER = "checkpoint"


@contextlib.contextmanager
def staged(out: Path, name: str = FOLDER) -> Iterator[Path]:
    """An empty staging folder; when the block ends without error it becomes ``out/name`` whole."""
    staging, final, old = out / f"{name}.partial", out / name, out / f"{name}.old"
    out.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        yield staging
        write_manifest(staging)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    shutil.rmtree(old, ignore_errors=True)
    if final.exists():
        final.rename(old)
    staging.rename(final)  # the one moment a checkpoint changes: `recover` undoes a cut just before it
    shutil.rmtree(old, ignore_errors=True)


MANIFEST = "manifest.json"


def _digests(folder: Path) -> dict[str, str]:
    import hashlib

    out = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.name != MANIFEST):
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        out[str(path.relative_to(folder))] = digest.hexdigest()
    return out


def write_manifest(folder: Path) -> None:
    """Record every file of a checkpoint being staged, by content, so a later mix is seen."""
    files.write_text(folder / MANIFEST, jsonsafe.dumps(_digests(folder), indent=1) + "\n", "checkpoint manifest")


def verify(folder: Path, advice: str) -> None:
    """Refuse a checkpoint folder whose files are not the ones written together (a member replaced,
    changed or missing). A folder without a manifest (written before there was one) is not checked;
    files added beside the listed ones (a `best.json`) are not the checkpoint's and are ignored."""
    path = folder / MANIFEST
    if not path.exists():
        return
    listed = read_json(path, dict[str, str], "checkpoint manifest")
    now = _digests(folder)
    for name, digest in listed.items():
        if now.get(name) != digest:
            how = "is missing" if name not in now else "is not the file saved with the others"
            raise DamagedFile(f"the checkpoint in {folder} is torn or damaged: {name} {how}; {advice}")


def recover(out: Path, name: str = FOLDER) -> None:
    """Undo a save cut between its two renames; drop a staging folder a killed save left."""
    final, old = out / name, out / f"{name}.old"
    if old.is_dir() and not final.exists():
        old.rename(final)
    shutil.rmtree(out / f"{name}.partial", ignore_errors=True)


@dataclass
class Progress:
    """``progress.json``: the step reached and one record per step (a loss, or a dict of loss terms)."""

    step: int
    history: list[Any] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.step < 1 or len(self.history) != self.step:
            raise ValueError(f"step {self.step} with {len(self.history)} history records")


@dataclass
class Generators:
    """The random generators a trainer draws from besides torch's global one."""

    numpy: Any = None  # a numpy Generator
    python: random.Random | None = None

    def state(self) -> dict:
        import torch

        return {"torch": torch.get_rng_state(),
                "numpy": self.numpy.bit_generator.state if self.numpy is not None else None,
                "python": self.python.getstate() if self.python is not None else None}

    def restore(self, saved: dict, where: str) -> None:
        import torch

        try:
            torch.set_rng_state(saved["torch"])
            if self.numpy is not None:
                self.numpy.bit_generator.state = saved["numpy"]
            if self.python is not None:
                self.python.setstate(tuple(saved["python"]))
        except (KeyError, TypeError, ValueError, RuntimeError) as err:
            raise DamagedFile(f"{where}: its random-generator states are damaged ({str(err)[:60]})") from None


def save(out: Path, step: int, history: list, optimizer, generators: Generators,
         write_weights: Callable[[Path], None]) -> None:
    """Write the checkpoint of ``step`` as one unit; ``write_weights(folder)`` saves the model into it
    with ``step`` in its header."""
    import torch

    with staged(out) as folder:
        write_weights(folder)
        torch.save({"step": step, "optimizer": optimizer.state_dict(), "rng": generators.state()}, folder / "state.pt")
        files.write_text(folder / "progress.json", jsonsafe.dumps({"step": step, "history": history}) + "\n",
                         "training progress")


@dataclass
class Resumed:
    step: int
    history: list


def resume(out: Path | None, optimizer, generators: Generators, read_weights: Callable[[Path], int]) -> Resumed:
    """The step and history to continue from (step 0 when ``out`` holds no checkpoint).

    ``read_weights(folder)`` loads the saved weights into the model (checking they belong to this run)
    and returns the step in their header; optimizer and generators are restored here.
    """
    if out is None:
        return Resumed(0, [])
    recover(out)
    folder = out / FOLDER
    advice = f"remove {folder} to start over, or use a new --out"
    if not folder.is_dir():
        if (out / "progress.json").exists():  # the layout before checkpoints were one unit: not resumable exactly
            raise DamagedFile(f"{out} holds a checkpoint of an older latentspace (progress.json beside the "
                              "model); use a new --out")
        return Resumed(0, [])
    verify(folder, advice)
    progress = read_json(folder / "progress.json", Progress, "training progress")
    state = conform(load_torch(folder / "state.pt", "optimizer state"), dict, f"{folder / 'state.pt'}")
    weights = read_weights(folder)
    steps = {"progress.json": progress.step, "state.pt": state.get("step"), "weights": weights}
    if len(set(map(repr, steps.values()))) != 1:
        raise DamagedFile(f"the checkpoint in {folder} is torn: its files are of different steps "
                          f"({', '.join(f'{k} {v}' for k, v in steps.items())}); {advice}")
    try:
        optimizer.load_state_dict(state["optimizer"])
    except (KeyError, TypeError, ValueError, RuntimeError, IndexError) as err:
        raise DamagedFile(f"{folder / 'state.pt'}: the optimizer state does not fit this model "
                          f"({' '.join(str(err).split())[:60]}); {advice}") from None
    generators.restore(state.get("rng") or {}, str(folder / "state.pt"))
    return Resumed(progress.step, progress.history)
