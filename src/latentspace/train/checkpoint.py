"""Run-folder state: the checkpoint (written whole or not at all), its resume checks, the metrics log.

A checkpoint is staged beside ``checkpoint/`` and swapped in as one unit (`core.step_checkpoint`:
``checkpoint.partial`` renamed into place, ``checkpoint.old`` kept until it is; `recover_checkpoint`
undoes a cut between the renames); its parameters are checked finite before it is written. Its files
are read back only through `run_folder` (weights, tokenizer), the recipe (its extras), `records`
(``state.json``) and `core.checked` (``optimizer.pt``, ``rng.pt``), so a damaged file stops a resume in
one line.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from latentspace.core import files, finite, jsonsafe
from latentspace.core.checked import DamagedFile, conform, load_torch
from latentspace.core.errors import LatentspaceError
from latentspace.core.step_checkpoint import recover, staged
from latentspace.model.bundled import quiet_hf
from latentspace.train.models import from_scratch
from latentspace.train.records import CheckpointState, read_state
from latentspace.train.run import run_settings
from latentspace.train.run_folder import advising, load_causal_lm

if TYPE_CHECKING:
    from latentspace.train.run import TrainRun

FOLDER = "checkpoint"


def advice(run: TrainRun) -> str:
    """What to do about a checkpoint that cannot be resumed."""
    return f"remove {run.out / FOLDER} or use a new --out"


def load_state(run: TrainRun) -> CheckpointState | None:
    path = run.out / FOLDER / "state.json"
    if not path.exists():
        return None
    with advising(advice(run)):
        state = read_state(path)
    if state.model != run.model:
        raise LatentspaceError(f"{run.out} holds a checkpoint of model {state.model or 'from scratch'}; "
                               f"use a new --out for {run.model or 'from scratch'}")
    if state.settings is not None and state.settings != run_settings(run):
        raise LatentspaceError(f"{run.out} was trained with {state.settings}; use a new --out for {run_settings(run)}")
    if state.recipe != run.recipe.name or with_defaults(run, state.options) != run.recipe.options():
        raise LatentspaceError(f"{run.out} holds a checkpoint of recipe {state.recipe} {state.options}; "
                               f"use a new --out for {run.recipe.name} {run.recipe.options()}")
    return state


def with_defaults(run: TrainRun, options: dict) -> dict:
    """A checkpoint's recipe options with any option added to the recipe since it was saved at its default
    (what the run trained with), as a finished run's table reuse counts them."""
    if not isinstance(options, dict):
        return options
    defaults = type(run.recipe)().options()
    return {**{k: v for k, v in defaults.items() if k not in options}, **options}


def load_model(run: TrainRun, tokenizer, state: CheckpointState | None, base=None):
    if state is None:
        return base if base is not None else from_scratch(run.profile, tokenizer, seed=run.seed)
    with advising(advice(run)):
        return load_causal_lm(run.out / FOLDER)


def rng_states(accelerator) -> list[dict]:
    """Every process's generator states (CPU, and CUDA where there is one), gathered on all ranks."""
    from accelerate.utils import gather_object

    mine = {"cpu": torch.get_rng_state(), "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []}
    return gather_object([mine]) if accelerator.num_processes > 1 else [mine]


def restore_rng(path: Path, accelerator, hint: str = "") -> None:
    with advising(hint):
        # tensors in lists and dicts: loads with weights_only (`load_torch`), no code runs
        states = conform(load_torch(path, "random-generator states"), list[dict[str, Any]],
                         f"random-generator states {path}")
        if len(states) != accelerator.num_processes:
            return  # another process count: batches stay exact; dropout noise is new (it draws per process)
        mine = states[accelerator.process_index]
        try:
            torch.set_rng_state(mine["cpu"])
            if mine.get("cuda") and torch.cuda.is_available():
                torch.cuda.set_rng_state_all(mine["cuda"])
        except (KeyError, TypeError, ValueError, RuntimeError) as err:
            raise DamagedFile(f"random-generator states {path} are damaged ({reason(err)})") from None


def restore_optimizer(path: Path, optimizer, hint: str = "") -> None:
    """The saved optimizer state into ``optimizer`` (of the same model and stage), or one line."""
    with advising(hint):
        saved = load_torch(path, "optimizer state")
        try:
            optimizer.load_state_dict(saved)
        except (KeyError, TypeError, ValueError, RuntimeError, IndexError) as err:
            raise DamagedFile(f"optimizer state {path} does not fit this model ({reason(err)})") from None


def reason(err: BaseException) -> str:
    return " ".join(str(err).split())[:60] or type(err).__name__


def save_checkpoint(run: TrainRun, accelerator, wrapped, optimizer, tokenizer, epoch: int, stage: int,
                    step: int = 0, hint: str = "") -> None:
    """Write the checkpoint folder whole or not at all: staged beside it, then swapped in by renames."""
    module = accelerator.unwrap_model(wrapped)
    finite.check_module(module, step, hint)  # every process: all stop together, none saves NaN
    rngs = rng_states(accelerator)  # a collective: every process takes part
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        with staged(run.out, FOLDER) as staging:  # a checkpoint is either complete or absent
            write_checkpoint(run, module, optimizer, tokenizer, rngs, staging, epoch, stage)
    accelerator.wait_for_everyone()


def write_checkpoint(run: TrainRun, module, optimizer, tokenizer, rngs, staging: Path, epoch: int, stage: int) -> None:
    model = module.causal_lm
    # how to prompt it later, and where its thoughts are read (the `continuous` strategy feeds the previous state)
    model.config.latentspace = {"recipe": run.recipe.name, "layout": "coconut",
                                "thought_from": run.recipe.options().get("thought_from", "previous")}
    with quiet_hf():
        model.save_pretrained(staging)
    tokenizer.save_pretrained(staging)
    run.recipe.save_extras(module, staging)  # the module's own parameters (CODI's projector)
    torch.save(optimizer.state_dict(), staging / "optimizer.pt")
    torch.save(rngs, staging / "rng.pt")
    state = CheckpointState(recipe=run.recipe.name, options=run.recipe.options(), epoch=epoch, stage=stage,
                            task=run.task, profile=run.profile.name, seed=run.seed, model=run.model,
                            settings=run_settings(run))
    files.write_text(staging / "state.json", jsonsafe.dumps(dataclasses.asdict(state), indent=2))


def recover_checkpoint(out: Path) -> None:
    """Undo a save cut between its two renames (the previous checkpoint is kept as ``checkpoint.old``)."""
    recover(out, FOLDER)


def read_metrics(out: Path) -> list[dict]:
    """Rows of ``out/metrics.jsonl`` (written whole, atomically, so a damaged one was edited by hand)."""
    path = out / "metrics.jsonl"
    if not path.exists():
        return []
    try:
        rows = [json.loads(line) for line in files.read_text(path, "metrics file").splitlines() if line.strip()]
    except json.JSONDecodeError as err:
        raise LatentspaceError(f"{path} is damaged at line {err.lineno}; remove it or use a new --out") from None
    if not all(isinstance(r, dict) for r in rows):
        raise LatentspaceError(f"{path} is damaged (a row is not an object); remove it or use a new --out")
    return rows


class MetricsLog:
    """The JSONL of steps, epochs and evaluations, held here and rewritten atomically by `flush`
    (rank 0 writes): the file on disk is always whole, and never has rows past its checkpoint."""

    def __init__(self, path: Path, active: bool, rows: list[dict] | None = None, on_flush=None) -> None:
        self.path, self.active, self.rows = path, active, list(rows or [])
        # on_flush(rows): the rows each flush adds (a tracker sees an epoch once, and only once it is saved)
        self.on_flush, self.sent = on_flush, len(self.rows)
        self.flush()  # a resumed run's file drops the rows of an epoch cut short at once

    def write(self, **row) -> None:
        self.rows.append(row)

    def flush(self) -> None:
        if self.active:
            files.write_text(self.path, "".join(jsonsafe.dumps(r) + "\n" for r in self.rows), "metrics file")
            if self.on_flush is not None and self.sent < len(self.rows):
                self.on_flush(self.rows[self.sent:])
            self.sent = len(self.rows)
