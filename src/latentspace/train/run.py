"""A training run: what it trains (`TrainRun`), the settings it may override and records, and its checks.

Its own module so the helpers of a run (its data, loss, checkpoint) and the commands that build one
import the record without importing the trainer that imports them; only what really trains a run
imports `trainer`.

    run = TrainRun(get_recipe("coconut"), task="prosqa-small", profile=get_profile("quick"), out=Path("runs/c"))
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from latentspace.core import named
from latentspace.core.errors import LatentspaceError
from latentspace.core.limits import MAX_TRAIN_BATCH
from latentspace.tasks import get_task, is_task_file
from latentspace.train.profiles import Profile


@dataclass
class TrainRun:
    recipe: object  # a `Recipe`
    task: str  # a built-in task name or a JSONL file
    profile: Profile
    out: Path
    seed: int = 0
    model: str | None = None  # fine-tune this registry model (its own tokenizer) instead of training from scratch
    eval_batch_size: int = 64
    hops: str | None = None  # path lengths kept, e.g. "3-4" (tasks with a hop filter; default: the profile's)
    extra: dict = field(default_factory=dict)  # profile overrides: batch_size, lr, n_train, ... (RUN_SETTINGS)
    log_with: str | None = None  # an `accelerate` tracker for the curves ("tensorboard": files under out/logs)
    init: Path | None = None  # a finished run whose model a fresh run starts from (`init_from`)
    RANGES: ClassVar[dict] = {"seed": named.between(0, 2**63 - 1),
                              "eval_batch_size": named.between(1, MAX_TRAIN_BATCH)}

    def __post_init__(self) -> None:
        if self.model is None:  # the profile's base model (`full` fine-tunes SmolLM2) unless one is named
            self.model = self.profile.model

    def setting(self, key: str):
        return self.extra.get(key, getattr(self.profile, key))

    @property
    def hop_filter(self) -> str | None:
        return self.hops if self.hops is not None else (self.profile.hops if self.task == self.profile.task else None)


# profile fields a run may override; their ranges are `Profile.RANGES` (one declaration)
RUN_SETTINGS = ("n_train", "n_valid", "n_test", "batch_size", "lr", "weight_decay", "save_every", "eval_every", "select",
                "lr_schedule", "bucket")


def run_settings(run: TrainRun) -> dict:
    # select/eval_every decide which checkpoint is tested (and need validation during training); a schedule
    # other than the constant one is recorded (runs made before schedules existed stay comparable)
    settings = {k: run.setting(k) for k in ("batch_size", "lr", "weight_decay", "dropout", "select", "eval_every")}
    if run.setting("lr_schedule") != "constant":
        settings["lr_schedule"] = run.setting("lr_schedule")
    if run.setting("bucket") != 1:  # batches grouped by length: recorded (runs without it stay comparable)
        settings["bucket"] = run.setting("bucket")
    if run.init is not None:  # started from another run's model: recorded (a table reuses only the same start),
        settings["init"] = str(Path(run.init).resolve())  # resolved: the same run however the path was written
    return settings


def check_settings(settings: dict, owner: str = "run setting") -> None:
    """Refuse run settings that are unknown or out of their declared range, in one line."""
    unknown = sorted(set(settings) - set(RUN_SETTINGS))
    if unknown:
        raise LatentspaceError(f"{owner} {str(unknown[0])[:80]!r} is unknown; run settings: {', '.join(RUN_SETTINGS)}")
    named.check_options(Profile, settings, owner + "s")


TRACKERS = ("tensorboard",)  # trackers that write local files (the others need an account and a network)


def check_tracker(name: str | None) -> None:
    """A tracker we support, whose package is installed; else one line."""
    if name is None:
        return
    if name not in TRACKERS:
        raise LatentspaceError(f"--log-with {str(name)[:40]!r} is unknown; valid: {', '.join(TRACKERS)}")
    from accelerate.utils import is_tensorboard_available

    if not is_tensorboard_available():
        raise LatentspaceError("--log-with tensorboard needs the tensorboard package: "
                               "pip install 'latentspace[tensorboard]'")


def check_run(run: TrainRun) -> None:
    """Every number of a run against its declared range — the recipe's, the run's, the profile's and
    its overrides — before any work, whichever way the run was built (CLI, table, Python)."""
    named.check_options(type(run.recipe), run.recipe.options(), f"recipe {run.recipe.name!r}")
    named.check_options(TrainRun, {"seed": run.seed, "eval_batch_size": run.eval_batch_size}, "train run")
    check_settings(dict(run.extra))
    check_tracker(run.log_with)
    named.check_options(Profile, {k: getattr(run.profile, k) for k in Profile.RANGES}, f"profile {run.profile.name!r}")
    if not isinstance(run.task, str) or not run.task.strip():
        raise LatentspaceError("task: empty name; give a built-in task or a FILE.jsonl")
    spec = None if is_task_file(run.task) else get_task(run.task)  # an unknown name: refused before any folder
    if run.init is not None:
        from latentspace.train.init_from import check_init

        if run.model:
            raise LatentspaceError("--init and --model both name a starting model; give one")
        check_init(run.init, run.out)
    if spec is not None and spec.picture is not None and not run.recipe.reads_pictures:
        from latentspace.train.recipes.base import RECIPES

        readers = ", ".join(name for name, cls in RECIPES.items() if cls.reads_pictures)
        raise LatentspaceError(f"recipe {run.recipe.name} does not read pictures; task {run.task} needs one that "
                               f"does ({readers})")
    if spec is not None and spec.picture is not None and run.model:
        raise LatentspaceError(f"task {run.task} has pictures: train a model from scratch (no --model); a pretrained "
                               "one has no picture encoder")
    if run.hop_filter is not None:
        if spec is None or not spec.hop_filter:
            raise LatentspaceError(f"--hops: task {run.task[:80]!r} has no hop filter (prosqa-sym has)")
        from latentspace.tasks.prosqa_sym import parse_hops

        parse_hops(run.hop_filter)
