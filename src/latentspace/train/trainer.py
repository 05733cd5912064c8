"""The trainer: one loop for every recipe, on `accelerate` (one CPU process to many GPUs unchanged).

    run = TrainRun(get_recipe("coconut"), task="prosqa-small", profile=get_profile("quick"), out=Path("runs/c"))
    summary = train(run)

Data are generated once per run folder (``data/*.jsonl``) and reused; the tokenizer is built from
them and saved (`rundata`). Each epoch's sequences come from the recipe at that epoch's stage,
shuffled by (seed, epoch), and the RNG state is checkpointed, so a resumed run sees exactly the
batches it would have seen. ``batch_size`` is the *global* batch: with k processes each takes a
contiguous k-th of every batch, and the loss is normalised by the global count of labelled tokens,
so k processes compute the same update as one (`distributed`). The optimizer is re-created when the
stage changes (Coconut's rule, harmless elsewhere) unless the recipe keeps one.
After every epoch a checkpoint (safetensors + config + tokenizer + optimizer + state) is written
atomically (`checkpoint`); at the end of each stage the model is evaluated on the validation split.

Nothing non-finite is trained on or kept (`latentspace.core.finite`): a NaN/inf loss stops the run at
that step naming the learning rate, parameters are checked before every save and on resume, so a
diverged run leaves its last good checkpoint (or none) and never a NaN one. Every setting is
checked against its declared range (`check_run`) before any file is made.

This file holds the epoch loop and the summary; the run itself (`TrainRun`, its settings and checks)
is in `run`, its data in `rundata`, the distributed loss and optimizer in `distributed`, the run
folder's state in `checkpoint`, the kept best checkpoint in `selection`; every file of it is read back
through `run_folder` (the model folder), the recipe (its extras) and `records` (its JSON records), so
a damaged one stops the run in one line naming it.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass

import torch

from latentspace.core import files, finite, jsonsafe, step_checkpoint
from latentspace.core.errors import LatentspaceError
from latentspace.model.markers import END_LATENT, LATENT, START_LATENT
from latentspace.train.checkpoint import (MetricsLog, advice, load_model, load_state, read_metrics, recover_checkpoint,
                                           restore_optimizer, restore_rng, save_checkpoint)
from latentspace.train.data import encode_examples, picture_options
from latentspace.train.distributed import (batch_shard, batch_tokens, check_update, global_loss, new_optimizer,
                                           report_loss, scheduled_lr)
from latentspace.train.curves import tracker_sink
from latentspace.train.evaluate import evaluate
from latentspace.train.latent_forward import use_lean
from latentspace.train.progress import TrainProgress
from latentspace.train.records import CheckpointState, RunSummary, Selected, typical_epoch_seconds
from latentspace.train.run import TrainRun, check_run, run_settings
from latentspace.train.run_folder import advising, load_causal_lm
from latentspace.train.rundata import check_lengths, epoch_batches, prepare_data, prepare_tokenizer
from latentspace.train.selection import best_accuracy, keep_best, selected
from latentspace.train.sequences import MarkerIds


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
    tracking = {}
    if run.log_with:
        from accelerate.utils import ProjectConfiguration

        tracking = {"log_with": run.log_with,
                    "project_config": ProjectConfiguration(project_dir=str(run.out), logging_dir=str(run.out / "logs"))}
    accelerator = Accelerator(cpu=not cuda, mixed_precision=run.profile.mixed_precision if cuda else "no", **tracking)
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
                                      need_targets=run.recipe.needs_targets and name == "train",
                                      **picture_options(run.task, run.recipe.needs_states and name == "train"))
                for name, items in splits.items()}
    model = load_model(run, tokenizer, state, base)
    if state:  # after the weights' own checks (their fault named first): files whole but not saved together
        step_checkpoint.verify(run.out / "checkpoint", advice(run))
    check_lengths(examples, run.recipe, model)
    module = run.recipe.module(model)
    if not state and run.init is not None:  # a fresh run started from another run's model (`init_from`)
        from latentspace.train.init_from import start_from

        start_from(run.init, model, module, tokenizer)
    if not state:  # a fresh run fits what its recipe derives from the data (the same in every process)
        run.recipe.prepare(module, examples["train"])
    if run.model is None:  # built from scratch here: its training passes may skip HF's per-call machinery
        use_lean(module, model)
    if state:  # parameters outside the HF model (CODI's projector); finite, like the weights (`run_folder`)
        with advising(advice(run)):
            run.recipe.load_extras(module, run.out / "checkpoint")
    wrapped = accelerator.prepare(module)
    weights = run.recipe.loss_weights()
    start_epoch = state.epoch + 1 if state else 0
    # rows of an epoch cut short are trained again, so only those up to the checkpoint are kept
    kept = [r for r in read_metrics(run.out) if r.get("epoch", -1) <= state.epoch] if state else []
    log = MetricsLog(run.out / "metrics.jsonl", accelerator.is_main_process, kept)
    if run.log_with:  # the curves also go to the tracker, each epoch once it is saved
        accelerator.init_trackers(run.recipe.name, config=tracker_config(run))
        log.on_flush = tracker_sink(accelerator)
    if until_epoch is not None and until_epoch < start_epoch:
        return {"paused_after_epoch": start_epoch - 1}
    per_epoch = -(-len(examples["train"]) // run.setting("batch_size"))
    last_epoch = run.recipe.epochs if until_epoch is None else min(run.recipe.epochs, until_epoch + 1)
    bar = TrainProgress(progress and accelerator.is_main_process, per_epoch * max(0, last_epoch - start_epoch),
                        run.recipe.name)
    setup = Setup(run, accelerator, wrapped, weights, log, tokenizer, markers, splits, examples, bar)
    try:
        with bar:
            return run_epochs(setup, state, start_epoch, until_epoch)
    finally:
        if run.log_with:
            accelerator.end_training()


def tracker_config(run: TrainRun) -> dict:
    """The run's hyperparameters as a tracker shows them (scalars only)."""
    values = {"recipe": run.recipe.name, "task": run.task, "profile": run.profile.name, "seed": run.seed,
              **{f"option/{k}": v for k, v in run.recipe.options().items()},
              **{f"setting/{k}": v for k, v in run_settings(run).items()}}
    return {k: v for k, v in values.items() if isinstance(v, (bool, int, float, str))}


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
        resets = run.recipe.resets_optimizer()
        if optimizer is None or (resets and stage != optimizer_stage):
            optimizer = new_optimizer(run, wrapped, accelerator)
            # a resumed run takes its saved optimizer back unless that one belonged to an earlier stage
            if state and epoch == start_epoch and (state.stage == stage or not resets):
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
            for group in optimizer.param_groups:  # the run's schedule (constant unless `lr_schedule` says)
                group["lr"] = scheduled_lr(run, epoch * len(batches) + number, run.recipe.epochs * len(batches))
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
                              run.eval_batch_size, project=run.recipe.projector_of(module), pictures=getattr(module, "pictures", None))
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
        run.recipe.load_extras(best, folder)
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
                          run.eval_batch_size, project=run.recipe.projector_of(module), pictures=getattr(module, "pictures", None))
        epochs = [r for r in setup.log.rows if r["kind"] == "epoch"]
        summary = RunSummary(
            recipe=run.recipe.name, task=run.task, profile=run.profile.name, seed=run.seed,
            options=run.recipe.options(), settings=run_settings(run),
            sizes={k: run.setting(k) for k in ("n_train", "n_valid", "n_test", "layers", "hidden", "heads")},
            test_accuracy=result.accuracy, test_n=result.n, test_correct=sum(r["correct"] for r in result.rows),
            positions=result.positions, seconds_per_answer=result.seconds_per_item, final_stage=stage,
            train_seconds=sum(r["seconds"] for r in epochs),
            epoch_seconds=typical_epoch_seconds(epochs),
            selected=Selected(chosen.epoch, chosen.valid_accuracy) if chosen else "last").to_dict()
        files.write_text(run.out / "test_answers.jsonl", "".join(jsonsafe.dumps(r) + "\n" for r in result.rows))
        files.write_text(run.out / "summary.json", jsonsafe.dumps(summary, indent=2))  # last: marks the run done
    accelerator.wait_for_everyone()
    return summary
