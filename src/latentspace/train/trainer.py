"""The trainer: one loop for every recipe, on `accelerate` (one CPU process to many GPUs unchanged).

    run = TrainRun(get_recipe("coconut"), task="prosqa-small", profile=get_profile("quick"), out=Path("runs/c"))
    summary = train(run)

Data are generated once per run folder (``data/*.jsonl``) and reused; the tokenizer is built from
them and saved. Each epoch's sequences come from the recipe at that epoch's stage, shuffled by
(seed, epoch), and the RNG state is checkpointed, so a resumed run sees exactly the batches it
would have seen. ``batch_size`` is the *global* batch: with k processes each takes a contiguous
k-th of every batch, and the loss is normalised by the global count of labelled tokens, so k
processes compute the same update as one. The optimizer is re-created when the stage changes (Coconut's rule, harmless elsewhere).
After every epoch a checkpoint (safetensors + config + tokenizer + optimizer + state) is written
atomically; at the end of each stage the model is evaluated on the validation split.
"""

from __future__ import annotations

import json
import random
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from latentspace.errors import LatentspaceError
from latentspace.model.bundled import quiet_hf
from latentspace.model.markers import END_LATENT, LATENT, START_LATENT
from latentspace.tasks import Item, get_task, is_task_file, load_items
from latentspace.train.data import TokenizedExample, encode_examples, split_items
from latentspace.train.evaluate import evaluate
from latentspace.train.models import from_scratch, with_markers
from latentspace.train.profiles import Profile
from latentspace.train.progress import TrainProgress
from latentspace.train.sequences import Batch, MarkerIds
from latentspace.train.vocab import word_tokenizer


@dataclass
class TrainRun:
    recipe: object  # a `Recipe`
    task: str  # a built-in task name or a JSONL file
    profile: Profile
    out: Path
    seed: int = 0
    model: str | None = None  # fine-tune this registry model (its own tokenizer) instead of training from scratch
    eval_batch_size: int = 64
    extra: dict = field(default_factory=dict)  # profile overrides: batch_size, lr, n_train, ...

    def setting(self, key: str):
        return self.extra.get(key, getattr(self.profile, key))


def train(run: TrainRun, progress: bool = True, until_epoch: int | None = None) -> dict:
    """Train (or resume) ``run``; returns the summary also written to ``out/summary.json``.

    ``until_epoch`` stops after that epoch's checkpoint (a resumable pause; the summary is then
    ``{"paused_after_epoch": n}``).
    """
    from accelerate import Accelerator
    from accelerate.utils import set_seed

    accelerator = Accelerator(cpu=not torch.cuda.is_available())
    set_seed(run.seed)
    run.out.mkdir(parents=True, exist_ok=True)
    splits = prepare_data(run, accelerator)
    state = load_state(run)  # first: a checkpoint of another recipe or model is the clearest refusal
    tokenizer, base = prepare_tokenizer(run, splits, accelerator)
    markers = MarkerIds(*tokenizer.convert_tokens_to_ids([START_LATENT, LATENT, END_LATENT]))
    examples = {name: encode_examples(tokenizer, items, need_steps=run.recipe.needs_steps and name == "train")
                for name, items in splits.items()}
    model = load_model(run, tokenizer, state, base)
    module = run.recipe.module(model)
    extras = run.out / "checkpoint" / "extras.safetensors"
    if state and extras.exists():  # parameters outside the HF model (CODI's projector)
        from safetensors.torch import load_file

        module.load_state_dict(load_file(extras), strict=False)
    wrapped = accelerator.prepare(module)
    weights = run.recipe.loss_weights()
    log = MetricsLog(run.out / "metrics.jsonl", accelerator.is_main_process)
    start_epoch = state["epoch"] + 1 if state else 0
    if state and accelerator.is_main_process:
        drop_metrics_after(run.out, state["epoch"])  # rows of an epoch cut short are trained again
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


def run_epochs(setup: Setup, state: dict | None, start_epoch: int, until_epoch: int | None) -> dict:
    run, accelerator, wrapped, weights, log = setup.run, setup.accelerator, setup.wrapped, setup.weights, setup.log
    tokenizer, markers, splits, examples, bar = setup.tokenizer, setup.markers, setup.splits, setup.examples, setup.bar
    optimizer, optimizer_stage = None, None
    for epoch in range(start_epoch, run.recipe.epochs):
        stage = run.recipe.stage(epoch)
        if optimizer is None or stage != optimizer_stage:
            optimizer = new_optimizer(run, wrapped, accelerator)
            if state and state["stage"] == stage and epoch == start_epoch:
                optimizer.load_state_dict(torch.load(run.out / "checkpoint" / "optimizer.pt", weights_only=True))
            optimizer_stage = stage
        if state and epoch == start_epoch:
            restore_rng(run.out / "checkpoint" / "rng.pt", accelerator)
        batches = epoch_batches(run, examples["train"], epoch, markers, tokenizer.pad_token_id)
        epoch_started, epoch_tokens = time.perf_counter(), 0
        wrapped.train()
        for number, batch in enumerate(batches):
            started = time.perf_counter()
            local = batch_shard(batch, accelerator)
            loss = global_loss(wrapped, local, weights, accelerator)
            accelerator.backward(loss)
            optimizer.step()
            optimizer.zero_grad()
            tokens = batch_tokens(batch)
            epoch_tokens += tokens
            value = report_loss(loss, accelerator)  # a collective: every process calls it, every step
            speed = tokens / (time.perf_counter() - started)
            log.write(kind="step", epoch=epoch, stage=stage, step=number, loss=value, tokens_per_s=speed)
            bar.step(epoch, stage, value, speed)
        log.write(kind="epoch", epoch=epoch, stage=stage, seconds=time.perf_counter() - epoch_started,
                  tokens=epoch_tokens, processes=accelerator.num_processes)
        save_checkpoint(run, accelerator, wrapped, optimizer, tokenizer, epoch, stage)
        last_of_stage = epoch == run.recipe.epochs - 1 or run.recipe.stage(epoch + 1) != stage
        if last_of_stage and accelerator.is_main_process:
            module = accelerator.unwrap_model(wrapped)
            result = evaluate(module.causal_lm, tokenizer, run.recipe, splits["valid"], examples["valid"], stage,
                              run.eval_batch_size, project=getattr(module, "project", None))
            log.write(kind="eval", split="valid", epoch=epoch, stage=stage, accuracy=result.accuracy,
                      positions=result.positions)
            bar.evaluated(result.accuracy)
        if until_epoch is not None and epoch >= until_epoch:
            return {"paused_after_epoch": epoch}
    return finish(setup)


# -- data -------------------------------------------------------------------------------------
def prepare_data(run: TrainRun, accelerator) -> dict[str, list[Item]]:
    """The run's splits, generated once into ``out/data`` and read back on every later call."""
    folder = run.out / "data"
    spec = {"task": run.task, "seed": run.seed, **{k: run.setting(k) for k in ("n_train", "n_valid", "n_test")}}
    if accelerator.is_main_process and not (folder / "spec.json").exists():
        n = spec["n_train"] + spec["n_valid"] + spec["n_test"]
        items = load_items(run.task)[:n] if is_task_file(run.task) else get_task(run.task).generate(n, seed=run.seed)
        if len(items) < spec["n_valid"] + 2:
            raise LatentspaceError(f"{run.task} gives {len(items)} items: too few for {spec['n_valid']} validation "
                                   "items plus training and test ones (lower n_valid)")
        test_size = min(spec["n_test"], len(items) - spec["n_valid"] - 1)
        train_items, valid, test = split_items(items, spec["n_valid"], test_size, seed=run.seed)
        folder.mkdir(parents=True, exist_ok=True)
        for name, split in (("train", train_items), ("valid", valid), ("test", test)):
            (folder / f"{name}.jsonl").write_text("".join(json.dumps(i.to_dict()) + "\n" for i in split))
        (folder / "spec.json").write_text(json.dumps(spec))
    accelerator.wait_for_everyone()
    saved = json.loads((folder / "spec.json").read_text())
    if saved != spec:
        raise LatentspaceError(f"{folder} holds data made for {saved}; use a new --out for {spec}")
    return {name: [Item(**row) for row in map(json.loads, (folder / f"{name}.jsonl").read_text().splitlines())]
            for name in ("train", "valid", "test")}


def prepare_tokenizer(run: TrainRun, splits: dict[str, list[Item]], accelerator):
    """(tokenizer, base model or None): a word-level vocabulary of the data, or the registry model's own."""
    base = None
    if run.model:
        base, tokenizer = with_markers(run.model)
    else:
        texts = [t for items in splits.values() for i in items for t in (i.question, i.answer, *i.steps)]
        tokenizer = word_tokenizer(texts)
    saved = run.out / "checkpoint"
    if (saved / "tokenizer.json").exists():
        from transformers import AutoTokenizer

        # the loaded tokenizer: its vocabulary includes added tokens (the markers), unlike the file's model part
        if AutoTokenizer.from_pretrained(saved).get_vocab() != tokenizer.get_vocab():
            raise LatentspaceError(f"the checkpoint in {run.out} was trained with another tokenizer")
    return tokenizer, base


def epoch_batches(run: TrainRun, examples: list[TokenizedExample], epoch: int, markers: MarkerIds,
                  pad_id: int) -> list:
    """The epoch's global batches, the same for the same (seed, epoch) — what makes resume exact."""
    rng = random.Random(run.seed * 100_003 + epoch)
    sequences = [run.recipe.sequence(ex, epoch, markers, rng) for ex in examples]
    rng.shuffle(sequences)
    size = run.setting("batch_size")
    return [run.recipe.batch(sequences[i:i + size], pad_id, markers.latent) for i in range(0, len(sequences), size)]


def batch_shard(batch, accelerator):
    """This process's rows of a global batch (contiguous slices)."""
    rows = torch.arange(batch.size).tensor_split(accelerator.num_processes)[accelerator.process_index]
    return batch.shard(rows).to(accelerator.device)


def batch_tokens(batch) -> int:
    parts = [batch] if isinstance(batch, Batch) else [b for b in vars(batch).values() if isinstance(b, Batch)]
    return sum(int(b.attention_mask.sum()) for b in parts)


def global_loss(wrapped, local, weights: dict[str, float], accelerator) -> torch.Tensor:
    """Each loss part summed here, divided by its *global* count, times the number of processes
    (DDP averages gradients), then weighted: every process count gives one process's update."""
    total = 0.0
    for name, (summed, count) in wrapped(local, parts=True).items():
        everywhere = accelerator.reduce(torch.tensor(float(count), device=accelerator.device), reduction="sum")
        total = total + weights[name] * summed / everywhere.clamp_min(1.0) * accelerator.num_processes
    return total


def report_loss(loss: torch.Tensor, accelerator) -> float:
    """The global mean loss of the step (the local value undoes the process-count factor)."""
    return float(accelerator.reduce(loss.detach(), reduction="sum")) / accelerator.num_processes


def new_optimizer(run: TrainRun, wrapped, accelerator):
    optimizer = torch.optim.AdamW(wrapped.parameters(), lr=run.setting("lr"), weight_decay=run.setting("weight_decay"))
    return accelerator.prepare_optimizer(optimizer)


# -- checkpoints --------------------------------------------------------------------------------
def load_state(run: TrainRun) -> dict | None:
    path = run.out / "checkpoint" / "state.json"
    if not path.exists():
        return None
    state = json.loads(path.read_text())
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
    return {k: run.setting(k) for k in ("batch_size", "lr", "weight_decay", "dropout")}


def load_model(run: TrainRun, tokenizer, state: dict | None, base=None):
    if state is None:
        return base if base is not None else from_scratch(run.profile, tokenizer, seed=run.seed)
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(run.out / "checkpoint", dtype=torch.float32)


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


def save_checkpoint(run: TrainRun, accelerator, wrapped, optimizer, tokenizer, epoch: int, stage: int) -> None:
    rngs = rng_states(accelerator)  # a collective: every process takes part
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        staging = run.out / "checkpoint.partial"
        shutil.rmtree(staging, ignore_errors=True)
        model = accelerator.unwrap_model(wrapped).causal_lm
        model.config.latentspace = {"recipe": run.recipe.name, "layout": "coconut"}  # how to prompt it later
        with quiet_hf():
            model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        extras = {k: v.detach().contiguous() for k, v in accelerator.unwrap_model(wrapped).state_dict().items()
                  if "causal_lm." not in k}
        if extras:
            from safetensors.torch import save_file

            save_file(extras, staging / "extras.safetensors")
        torch.save(optimizer.state_dict(), staging / "optimizer.pt")
        torch.save(rngs, staging / "rng.pt")
        state = {"recipe": run.recipe.name, "options": run.recipe.options(), "epoch": epoch, "stage": stage,
                 "task": run.task, "profile": run.profile.name, "seed": run.seed, "model": run.model,
                 "settings": run_settings(run)}
        (staging / "state.json").write_text(json.dumps(state, indent=2))
        final = run.out / "checkpoint"
        shutil.rmtree(final, ignore_errors=True)
        staging.rename(final)  # a checkpoint is either complete or absent
    accelerator.wait_for_everyone()


def finish(setup: Setup) -> dict:
    run, accelerator, wrapped, tokenizer = setup.run, setup.accelerator, setup.wrapped, setup.tokenizer
    splits, examples = setup.splits, setup.examples
    summary = {}
    if accelerator.is_main_process:
        stage = run.recipe.stage(run.recipe.epochs - 1)
        module = accelerator.unwrap_model(wrapped)
        result = evaluate(module.causal_lm, tokenizer, run.recipe, splits["test"], examples["test"], stage,
                          run.eval_batch_size, project=getattr(module, "project", None))
        epochs = [r for r in read_metrics(run.out) if r["kind"] == "epoch"]
        summary = {"recipe": run.recipe.name, "task": run.task, "profile": run.profile.name, "seed": run.seed,
                   "options": run.recipe.options(), "settings": run_settings(run),
                   "sizes": {k: run.setting(k) for k in ("n_train", "n_valid", "n_test", "layers", "hidden", "heads")},
                   "test_accuracy": result.accuracy, "test_n": result.n,
                   "test_correct": sum(r["correct"] for r in result.rows), "positions": result.positions,
                   "seconds_per_answer": result.seconds_per_item, "final_stage": stage,
                   "train_seconds": sum(r["seconds"] for r in epochs),
                   "epoch_seconds": sum(r["seconds"] for r in epochs) / max(1, len(epochs))}
        (run.out / "summary.json").write_text(json.dumps(summary, indent=2))
        (run.out / "test_answers.jsonl").write_text("".join(json.dumps(r) + "\n" for r in result.rows))
    accelerator.wait_for_everyone()
    return summary


def read_metrics(out: Path) -> list[dict]:
    path = out / "metrics.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []


def drop_metrics_after(out: Path, epoch: int) -> None:
    rows = read_metrics(out)
    kept = [r for r in rows if r.get("epoch", -1) <= epoch]
    if len(kept) != len(rows):
        (out / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in kept))


class MetricsLog:
    """Append-only JSONL of steps and evaluations (rank 0 writes)."""

    def __init__(self, path: Path, active: bool) -> None:
        self.path, self.active = path, active

    def write(self, **row) -> None:
        if self.active:
            with self.path.open("a", encoding="utf-8") as f:
                f.write(json.dumps(row) + "\n")
