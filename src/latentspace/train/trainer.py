"""The trainer: one loop for every recipe, on `accelerate` (one CPU process to many GPUs unchanged).

    run = TrainRun(get_recipe("coconut"), task="prosqa-small", profile=get_profile("quick"), out=Path("runs/c"))
    summary = train(run)

Data are generated once per run folder (``data/*.jsonl``) and reused; the tokenizer is built from
them and saved (`rundata`). Each epoch's sequences come from the recipe at that epoch's stage,
shuffled by (seed, epoch), and the RNG state is checkpointed, so a resumed run sees exactly the
batches it would have seen. ``batch_size`` is the *global* batch: with k processes each takes a
contiguous k-th of every batch, and the loss is normalised by the global count of labelled tokens,
so k processes compute the same update as one (`distributed`). The optimizer is re-created when the
stage changes (Coconut's rule, harmless elsewhere).
After every epoch a checkpoint (safetensors + config + tokenizer + optimizer + state) is written
atomically (`checkpoint`); at the end of each stage the model is evaluated on the validation split.

Nothing non-finite is trained on or kept (`latentspace.finite`): a NaN/inf loss stops the run at
that step naming the learning rate, parameters are checked before every save and on resume, so a
diverged run leaves its last good checkpoint (or none) and never a NaN one. Every setting is
checked against its declared range (`check_run`) before any file is made.

This file holds the run (`TrainRun`, its checks), the epoch loop and the summary; the run's data
are in `rundata`, the distributed loss and optimizer in `distributed`, the run folder's state in
`checkpoint`; every file of it is read back through `run_folder` (the model folder) and `records`
(its JSON records), so a damaged one stops the run in one line naming it.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import torch

from latentspace import files, finite, jsonsafe, named
from latentspace.core import step_checkpoint
from latentspace.errors import LatentspaceError
from latentspace.model.markers import END_LATENT, LATENT, START_LATENT
from latentspace.tasks import get_task, is_task_file
from latentspace.train.best import best_accuracy, keep_best, selected
from latentspace.train.checkpoint import (MetricsLog, advice, load_model, load_state, read_metrics, recover_checkpoint,
                                           restore_optimizer, restore_rng, run_settings, save_checkpoint)
from latentspace.train.data import encode_examples
from latentspace.train.distributed import (batch_shard, batch_tokens, check_update, global_loss, new_optimizer,
                                           report_loss)
from latentspace.train.evaluate import evaluate
from latentspace.train.profiles import Profile
from latentspace.train.progress import TrainProgress
from latentspace.train.records import CheckpointState, RunSummary, Selected
from latentspace.train.run_folder import advising, load_causal_lm, load_extras
from latentspace.train.rundata import check_lengths, epoch_batches, prepare_data, prepare_tokenizer
from latentspace.train.sequences import MarkerIds


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
    RANGES: ClassVar[dict] = {"seed": named.between(0, 2**63 - 1), "eval_batch_size": named.between(1, 65_536)}

    def __post_init__(self) -> None:
        if self.model is None:  # the profile's base model (`full` fine-tunes SmolLM2) unless one is named
            self.model = self.profile.model

    def setting(self, key: str):
        return self.extra.get(key, getattr(self.profile, key))

    @property
    def hop_filter(self) -> str | None:
        return self.hops if self.hops is not None else (self.profile.hops if self.task == self.profile.task else None)


# profile fields a run may override; their ranges are `Profile.RANGES` (one declaration)
RUN_SETTINGS = ("n_train", "n_valid", "n_test", "batch_size", "lr", "weight_decay", "save_every", "eval_every", "select")


def check_settings(settings: dict, owner: str = "run setting") -> None:
    """Refuse run settings that are unknown or out of their declared range, in one line."""
    unknown = sorted(set(settings) - set(RUN_SETTINGS))
    if unknown:
        raise LatentspaceError(f"{owner} {str(unknown[0])[:80]!r} is unknown; run settings: {', '.join(RUN_SETTINGS)}")
    named.check_options(Profile, settings, owner + "s")


def check_run(run: TrainRun) -> None:
    """Every number of a run against its declared range — the recipe's, the run's, the profile's and
    its overrides — before any work, whichever way the run was built (CLI, table, Python)."""
    named.check_options(type(run.recipe), run.recipe.options(), f"recipe {run.recipe.name!r}")
    named.check_options(TrainRun, {"seed": run.seed, "eval_batch_size": run.eval_batch_size}, "train run")
    check_settings(dict(run.extra))
    named.check_options(Profile, {k: getattr(run.profile, k) for k in Profile.RANGES}, f"profile {run.profile.name!r}")
    if not isinstance(run.task, str) or not run.task.strip():
        raise LatentspaceError("task: empty name; give a built-in task or a FILE.jsonl")
    spec = None if is_task_file(run.task) else get_task(run.task)  # an unknown name: refused before any folder
    if run.hop_filter is not None:
        if spec is None or not spec.hop_filter:
            raise LatentspaceError(f"--hops: task {run.task[:80]!r} has no hop filter (prosqa-sym has)")
        from latentspace.tasks.prosqa_sym import parse_hops

        parse_hops(run.hop_filter)


def lr_hint(run: TrainRun) -> str:
    """The setting a divergence most likely comes from, as the error names it."""
    return f"lr={run.setting('lr'):g}"


def train(run: TrainRun, progress: bool = True, until_epoch: int | None = None) -> dict:
    """Train (or resume) ``run``; returns the summary also written to ``out/summary.json``.

    ``until_epoch`` stops after that epoch's checkpoint (a resumable pause; the summary is then
    ``{"paused_after_epoch": n}``).
    """
    from accelerate import Accelerator

    check_run(run)
    if until_epoch is not None and not 0 <= until_epoch < 2**31:
        raise LatentspaceError(f"until_epoch must be at least 0, got {until_epoch}")
    if run.out.exists() and not run.out.is_dir():  # the CLI checked --out already; the Python API may nest freely
        raise LatentspaceError(f"run folder {run.out} exists and is not a folder")
    fresh = not run.out.exists()
    cuda = torch.cuda.is_available()
    accelerator = Accelerator(cpu=not cuda, mixed_precision=run.profile.mixed_precision if cuda else "no")
    try:
        return prepare_and_run(run, accelerator, progress, until_epoch)
    except LatentspaceError:
        # a run refused or diverged in a folder this call made leaves nothing behind; a folder that
        # existed keeps its last good checkpoint (and a kill keeps everything, for the resume)
        if fresh and accelerator.is_main_process:
            shutil.rmtree(run.out, ignore_errors=True)
        raise


def prepare_and_run(run: TrainRun, accelerator, progress: bool, until_epoch: int | None) -> dict:
    from accelerate.utils import set_seed

    set_seed(run.seed)
    recover_checkpoint(run.out)
    splits = prepare_data(run, accelerator)
    state = load_state(run)  # first: a checkpoint of another recipe or model is the clearest refusal
    tokenizer, base = prepare_tokenizer(run, splits, accelerator)
    markers = MarkerIds(*tokenizer.convert_tokens_to_ids([START_LATENT, LATENT, END_LATENT]))
    examples = {name: encode_examples(tokenizer, items, need_steps=run.recipe.needs_steps and name == "train",
                                      need_targets=run.recipe.needs_targets and name == "train")
                for name, items in splits.items()}
    model = load_model(run, tokenizer, state, base)
    if state:  # after the weights' own checks (their fault named first): files whole but not saved together
        step_checkpoint.verify(run.out / "checkpoint", advice(run))
    check_lengths(examples, run.recipe, model)
    module = run.recipe.module(model)
    if state:  # parameters outside the HF model (CODI's projector); finite, like the weights (`run_folder`)
        with advising(advice(run)):
            load_extras(module, run.out / "checkpoint")
    wrapped = accelerator.prepare(module)
    weights = run.recipe.loss_weights()
    start_epoch = state.epoch + 1 if state else 0
    # rows of an epoch cut short are trained again, so only those up to the checkpoint are kept
    kept = [r for r in read_metrics(run.out) if r.get("epoch", -1) <= state.epoch] if state else []
    log = MetricsLog(run.out / "metrics.jsonl", accelerator.is_main_process, kept)
    if until_epoch is not None and until_epoch < start_epoch:
        return {"paused_after_epoch": start_epoch - 1}
    per_epoch = -(-len(examples["train"]) // run.setting("batch_size"))
    last_epoch = run.recipe.epochs if until_epoch is None else min(run.recipe.epochs, until_epoch + 1)
    bar = TrainProgress(progress and accelerator.is_main_process, per_epoch * max(0, last_epoch - start_epoch),
                        run.recipe.name)
    setup = Setup(run, accelerator, wrapped, weights, log, tokenizer, markers, splits, examples, bar)
    with bar:
        return run_epochs(setup, state, start_epoch, until_epoch)


@dataclass
class Setup:
    """Everything an epoch loop needs, built once by `train`."""

    run: TrainRun
    accelerator: object
    wrapped: object  # the recipe's module, prepared by accelerate
    weights: dict
    log: MetricsLog
    tokenizer: object
    markers: MarkerIds
    splits: dict
    examples: dict
    bar: TrainProgress


def run_epochs(setup: Setup, state: CheckpointState | None, start_epoch: int, until_epoch: int | None) -> dict:
    run, accelerator, wrapped, weights, log = setup.run, setup.accelerator, setup.wrapped, setup.weights, setup.log
    tokenizer, markers, splits, examples, bar = setup.tokenizer, setup.markers, setup.splits, setup.examples, setup.bar
    optimizer, optimizer_stage = None, None
    hint = lr_hint(run)
    final_stage = run.recipe.stage(run.recipe.epochs - 1)
    keeping_best = run.setting("select") == "best"
    with advising(f"remove {run.out / 'best'} or use a new --out"):
        best = best_accuracy(run.out) if keeping_best else -1.0
    for epoch in range(start_epoch, run.recipe.epochs):
        stage = run.recipe.stage(epoch)
        if optimizer is None or stage != optimizer_stage:
            optimizer = new_optimizer(run, wrapped, accelerator)
            if state and state.stage == stage and epoch == start_epoch:
                restore_optimizer(run.out / "checkpoint" / "optimizer.pt", optimizer, advice(run))
            optimizer_stage = stage
        if state and epoch == start_epoch:
            restore_rng(run.out / "checkpoint" / "rng.pt", accelerator, advice(run))
        batches = epoch_batches(run, examples["train"], epoch, markers, tokenizer)
        epoch_started, epoch_tokens = time.perf_counter(), 0
        wrapped.train()
        for number, batch in enumerate(batches):
            started = time.perf_counter()
            local = batch_shard(batch, accelerator)
            loss = global_loss(wrapped, local, weights, accelerator)
            value = report_loss(loss, accelerator)  # a collective: every process calls it, every step
            # the global value, so every process stops at the same step (before the update it would poison)
            finite.check_loss(value, epoch * len(batches) + number + 1, hint)
            accelerator.backward(loss)
            optimizer.step()
            optimizer.zero_grad()
            tokens = batch_tokens(batch)
            epoch_tokens += tokens
            speed = tokens / (time.perf_counter() - started)
            log.write(kind="step", epoch=epoch, stage=stage, step=number, loss=value, tokens_per_s=speed)
            bar.step(epoch, stage, value, speed)
        seconds = time.perf_counter() - epoch_started
        check_update(wrapped, batches[-1], weights, accelerator, (epoch + 1) * len(batches) + 1, hint)
        log.write(kind="epoch", epoch=epoch, stage=stage, seconds=seconds,
                  tokens=epoch_tokens, processes=accelerator.num_processes)
        last_of_stage = epoch == run.recipe.epochs - 1 or run.recipe.stage(epoch + 1) != stage
        pausing = until_epoch is not None and epoch >= until_epoch
        every, improved = run.setting("eval_every"), False
        if (last_of_stage or (every and (epoch + 1) % every == 0)) and accelerator.is_main_process:
            module = accelerator.unwrap_model(wrapped)
            result = evaluate(module.causal_lm, tokenizer, run.recipe, splits["valid"], examples["valid"], stage,
                              run.eval_batch_size, project=getattr(module, "project", None))
            log.write(kind="eval", split="valid", epoch=epoch, stage=stage, accuracy=result.accuracy,
                      positions=result.positions)
            bar.evaluated(result.accuracy)
            # only the final stage's thoughts are the ones tested
            improved = keeping_best and stage == final_stage and result.accuracy > best
            best = max(best, result.accuracy) if improved else best
        if accelerator.num_processes > 1:  # every process saves when rank 0's validation improved
            from accelerate.utils import broadcast_object_list

            improved = broadcast_object_list([improved])[0]
        if improved or last_of_stage or pausing or (epoch + 1) % run.setting("save_every") == 0:
            save_checkpoint(run, accelerator, wrapped, optimizer, tokenizer, epoch, stage,
                            step=(epoch + 1) * len(batches), hint=hint)
            log.flush()  # after the checkpoint: the file never has rows of an epoch it cannot resume from
            if improved and accelerator.is_main_process:
                keep_best(run.out, epoch, best)
        if until_epoch is not None and epoch >= until_epoch:
            return {"paused_after_epoch": epoch}
    return finish(setup)


def best_module(run: TrainRun, module):
    """The recipe's module holding the kept best checkpoint's weights (a copy: training's is untouched)."""
    import copy

    folder = run.out / "best"
    best = copy.deepcopy(module)
    with advising(f"remove {folder} or use a new --out"):
        saved = load_causal_lm(folder)  # the one check of a model folder (`run_folder`)
        try:
            best.causal_lm.load_state_dict(saved.state_dict())  # into the copy: its device, its dtype
        except RuntimeError:
            raise LatentspaceError(f"{folder} does not hold this run's model") from None
        load_extras(best, folder)
    return best.eval()


def finish(setup: Setup) -> dict:
    run, accelerator, wrapped, tokenizer = setup.run, setup.accelerator, setup.wrapped, setup.tokenizer
    splits, examples = setup.splits, setup.examples
    summary = {}
    if accelerator.is_main_process:
        stage = run.recipe.stage(run.recipe.epochs - 1)
        module = accelerator.unwrap_model(wrapped)
        chosen = selected(run.out) if run.setting("select") == "best" else None
        if chosen is not None:  # the best validation checkpoint answers the test split
            module = best_module(run, module)
        result = evaluate(module.causal_lm, tokenizer, run.recipe, splits["test"], examples["test"], stage,
                          run.eval_batch_size, project=getattr(module, "project", None))
        epochs = [r for r in setup.log.rows if r["kind"] == "epoch"]
        summary = RunSummary(
            recipe=run.recipe.name, task=run.task, profile=run.profile.name, seed=run.seed,
            options=run.recipe.options(), settings=run_settings(run),
            sizes={k: run.setting(k) for k in ("n_train", "n_valid", "n_test", "layers", "hidden", "heads")},
            test_accuracy=result.accuracy, test_n=result.n, test_correct=sum(r["correct"] for r in result.rows),
            positions=result.positions, seconds_per_answer=result.seconds_per_item, final_stage=stage,
            train_seconds=sum(r["seconds"] for r in epochs),
            epoch_seconds=sum(r["seconds"] for r in epochs) / max(1, len(epochs)),
            selected=Selected(chosen.epoch, chosen.valid_accuracy) if chosen else "last").to_dict()
        files.write_text(run.out / "test_answers.jsonl", "".join(jsonsafe.dumps(r) + "\n" for r in result.rows))
        files.write_text(run.out / "summary.json", jsonsafe.dumps(summary, indent=2))  # last: marks the run done
    accelerator.wait_for_everyone()
    return summary
