"""Run-folder state: the checkpoint (written whole or not at all), its resume checks, the metrics log.

A checkpoint is staged beside ``checkpoint/`` and swapped in by two renames (`recover_checkpoint`
undoes a cut between them); its parameters are checked finite before it is written and before a
run resumes from it, so a diverged run never leaves a NaN checkpoint to resume.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from safetensors import SafetensorError

from latentspace import files, finite, jsonsafe
from latentspace.errors import LatentspaceError
from latentspace.model.bundled import quiet_hf
from latentspace.train.models import from_scratch

if TYPE_CHECKING:
    from latentspace.train.trainer import TrainRun


def read_json(path: Path, what: str = "run file"):
    """A JSON file the trainer wrote; damaged -> a one-line error naming it."""
    try:
        return json.loads(files.read_text(path, what))
    except json.JSONDecodeError:
        raise LatentspaceError(f"{path} is damaged (not valid JSON); remove it or use a new --out") from None


def load_state(run: TrainRun) -> dict | None:
    path = run.out / "checkpoint" / "state.json"
    if not path.exists():
        return None
    state = read_json(path, "checkpoint state")
    types = {"recipe": str, "options": dict, "epoch": int, "stage": int}
    if not isinstance(state, dict) or any(not isinstance(state.get(k), t) or isinstance(state.get(k), bool)
                                          for k, t in types.items()):
        raise LatentspaceError(f"{path} is damaged (not a checkpoint state); remove {path.parent} or use a new --out")
    if state.get("model") != run.model:
        raise LatentspaceError(f"{run.out} holds a checkpoint of model {state.get('model') or 'from scratch'}; "
                               f"use a new --out for {run.model or 'from scratch'}")
    if state.get("settings", run_settings(run)) != run_settings(run):
        raise LatentspaceError(f"{run.out} was trained with {state['settings']}; use a new --out for {run_settings(run)}")
    if state["recipe"] != run.recipe.name or state["options"] != run.recipe.options():
        raise LatentspaceError(f"{run.out} holds a checkpoint of recipe {state['recipe']} {state['options']}; "
                               f"use a new --out for {run.recipe.name} {run.recipe.options()}")
    return state


def run_settings(run: TrainRun) -> dict:
    # select/eval_every decide which checkpoint is tested (and need validation during training)
    return {k: run.setting(k) for k in ("batch_size", "lr", "weight_decay", "dropout", "select", "eval_every")}


def load_model(run: TrainRun, tokenizer, state: dict | None, base=None):
    if state is None:
        return base if base is not None else from_scratch(run.profile, tokenizer, seed=run.seed)
    from transformers import AutoModelForCausalLM

    try:
        with quiet_hf():  # no weight-loading bar: stderr stays one line when the checkpoint is refused
            return AutoModelForCausalLM.from_pretrained(run.out / "checkpoint", dtype=torch.float32)
    except (OSError, ValueError, RuntimeError, SafetensorError) as err:  # a damaged or incomplete checkpoint
        reason = " ".join(str(err).split())[:120] or type(err).__name__
        raise LatentspaceError(f"the checkpoint in {run.out} cannot be loaded ({reason}); remove "
                               f"{run.out / 'checkpoint'} or use a new --out") from None


def rng_states(accelerator) -> list[dict]:
    """Every process's generator states (CPU, and CUDA where there is one), gathered on all ranks."""
    from accelerate.utils import gather_object

    mine = {"cpu": torch.get_rng_state(), "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []}
    return gather_object([mine]) if accelerator.num_processes > 1 else [mine]


def restore_rng(path: Path, accelerator) -> None:
    states = torch.load(path, weights_only=False)
    if len(states) != accelerator.num_processes:
        return  # another process count: batches stay exact; dropout noise is new (it draws per process)
    mine = states[accelerator.process_index]
    torch.set_rng_state(mine["cpu"])
    if mine["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(mine["cuda"])


def save_checkpoint(run: TrainRun, accelerator, wrapped, optimizer, tokenizer, epoch: int, stage: int,
                    step: int = 0, hint: str = "") -> None:
    """Write the checkpoint folder whole or not at all: staged beside it, then swapped in by renames."""
    module = accelerator.unwrap_model(wrapped)
    finite.check_module(module, step, hint)  # every process: all stop together, none saves NaN
    rngs = rng_states(accelerator)  # a collective: every process takes part
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        staging, final, old = (run.out / name for name in ("checkpoint.partial", "checkpoint", "checkpoint.old"))
        shutil.rmtree(staging, ignore_errors=True)
        try:
            write_checkpoint(run, module, optimizer, tokenizer, rngs, staging, epoch, stage)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        shutil.rmtree(old, ignore_errors=True)
        if final.exists():
            final.rename(old)
        staging.rename(final)  # a checkpoint is either complete or absent (`recover_checkpoint` undoes a cut here)
        shutil.rmtree(old, ignore_errors=True)
    accelerator.wait_for_everyone()


def write_checkpoint(run: TrainRun, module, optimizer, tokenizer, rngs, staging: Path, epoch: int, stage: int) -> None:
    model = module.causal_lm
    model.config.latentspace = {"recipe": run.recipe.name, "layout": "coconut"}  # how to prompt it later
    with quiet_hf():
        model.save_pretrained(staging)
    tokenizer.save_pretrained(staging)
    extras = {k: v.detach().contiguous() for k, v in module.state_dict().items() if "causal_lm." not in k}
    if extras:
        from safetensors.torch import save_file

        save_file(extras, staging / "extras.safetensors")
    torch.save(optimizer.state_dict(), staging / "optimizer.pt")
    torch.save(rngs, staging / "rng.pt")
    state = {"recipe": run.recipe.name, "options": run.recipe.options(), "epoch": epoch, "stage": stage,
             "task": run.task, "profile": run.profile.name, "seed": run.seed, "model": run.model,
             "settings": run_settings(run)}
    files.write_text(staging / "state.json", jsonsafe.dumps(state, indent=2))


def recover_checkpoint(out: Path) -> None:
    """Undo a save cut between its two renames (the previous checkpoint is kept as ``checkpoint.old``)."""
    final, old = out / "checkpoint", out / "checkpoint.old"
    if old.is_dir() and not final.exists():
        old.rename(final)
    shutil.rmtree(out / "checkpoint.partial", ignore_errors=True)


def usable_checkpoint(out: Path, module) -> None:
    """Refuse to resume from a checkpoint holding NaN/inf (one written before the finiteness checks)."""
    name = finite.bad_tensor(dict(module.named_parameters()))
    if name is not None:
        raise LatentspaceError(f"the checkpoint in {out} is unusable: parameter {name} is NaN or inf; "
                               f"remove {out / 'checkpoint'} or use a new --out")


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

    def __init__(self, path: Path, active: bool, rows: list[dict] | None = None) -> None:
        self.path, self.active, self.rows = path, active, list(rows or [])
        self.flush()  # a resumed run's file drops the rows of an epoch cut short at once

    def write(self, **row) -> None:
        self.rows.append(row)

    def flush(self) -> None:
        if self.active:
            files.write_text(self.path, "".join(jsonsafe.dumps(r) + "\n" for r in self.rows), "metrics file")
