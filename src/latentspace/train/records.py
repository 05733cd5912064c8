"""The JSON records of a run folder, each declared once here and read only through `core.checked`.

    RUN/data/spec.json             DataSpec        the splits' task, seed and sizes (written last: data complete)
    RUN/checkpoint/state.json      CheckpointState the recipe, options, epoch and settings of the weights beside it
    RUN/best/best.json             BestRecord      which epoch the kept best-validation checkpoint is
    RUN/summary.json               RunSummary      the finished run's test numbers (written last: run done)

The writers build these dataclasses and the readers conform to them, so a record that was truncated,
edited or copied from another version is one `DamagedFile` line naming the file and the key — never a
KeyError in the table or the trainer. Keys added after the first runs were made have defaults, so
those runs still read.
"""

from __future__ import annotations

import dataclasses
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from latentspace.core.checked import DamagedFile, read_json


@dataclass
class DataSpec:
    task: str
    seed: int
    n_train: int
    n_valid: int
    n_test: int
    hops: str | None = None  # only written with a hop filter: folders made before hop filters still match

    def to_dict(self) -> dict:
        return {k: v for k, v in dataclasses.asdict(self).items() if not (k == "hops" and v is None)}


@dataclass
class CheckpointState:
    recipe: str
    options: dict[str, Any]
    epoch: int
    stage: int
    task: str | None = None
    profile: str | None = None
    seed: int | None = None
    model: str | None = None  # the registry model fine-tuned; None: trained from scratch
    settings: dict[str, Any] | None = None  # absent in runs made before settings were recorded

    def __post_init__(self) -> None:
        if self.epoch < 0 or self.stage < 0:
            raise ValueError(f"epoch {self.epoch} and stage {self.stage} must be at least 0")


@dataclass
class BestRecord:
    epoch: int
    valid_accuracy: float
    accuracy: float


@dataclass
class Selected:
    """The summary's record of the checkpoint that answered the test split (``select: best``)."""

    epoch: int
    valid_accuracy: float


@dataclass
class RunSummary:
    recipe: str
    task: str
    profile: str
    seed: int
    options: dict[str, Any]
    test_accuracy: float
    test_n: int
    test_correct: int
    positions: float
    seconds_per_answer: float
    train_seconds: float
    epoch_seconds: float
    settings: dict[str, Any] | None = None
    sizes: dict[str, Any] | None = None
    final_stage: int | None = None
    selected: Selected | str = "last"  # "last" in runs made before best-checkpoint selection

    def __post_init__(self) -> None:
        if isinstance(self.selected, str) and self.selected != "last":
            raise ValueError(f"selected is {self.selected[:20]!r}, not 'last' or a checkpoint record")
        if not 0 <= self.test_accuracy <= 1:
            raise ValueError(f"test_accuracy {self.test_accuracy} is not between 0 and 1")
        if not 0 <= self.test_correct <= self.test_n:
            raise ValueError(f"test_correct {self.test_correct} is not between 0 and test_n {self.test_n}")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def typical_epoch_seconds(rows: list[dict]) -> float:
    """The median epoch's wall time in a run's log: an epoch spent paused (a job stopped for a CI run,
    a machine shared for a while) would move the mean by hours, the median not at all."""
    seconds = [r["seconds"] for r in rows if r.get("kind") == "epoch"]
    return statistics.median(seconds) if seconds else 0.0


def read_spec(path: Path) -> DataSpec:
    return read_json(path, DataSpec, "run data spec")


def read_state(path: Path) -> CheckpointState:
    return read_json(path, CheckpointState, "checkpoint state")


def read_best(path: Path) -> BestRecord:
    return read_json(path, BestRecord, "best checkpoint record")


def read_summary(path: Path) -> RunSummary:
    return read_json(path, RunSummary, "run summary")


def with_advice(err: Exception, advice: str) -> DamagedFile:
    """``err`` (already one line naming the file) with what to do about it."""
    return DamagedFile(f"{err}; {advice}" if advice else str(err))
