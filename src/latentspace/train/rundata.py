"""The run's data: its splits (made once into ``out/data``), its tokenizer, the length check, each epoch's batches.

The splits are generated (or read from the task file) once per run folder and read back on every
later call, so a resumed run trains on the same items; ``spec.json`` is written last and marks the
data complete. The tokenizer is the data's own vocabulary (symbolic for symbolic tasks) or the
registry model's, and must match a checkpoint's. An epoch's batches depend only on (seed, epoch).
"""

from __future__ import annotations

import dataclasses
import json
import random
from typing import TYPE_CHECKING

from latentspace.core import files, jsonsafe
from latentspace.core.errors import LatentspaceError
from latentspace.tasks import Item, get_task, is_task_file, load_items
from latentspace.train.data import TokenizedExample, split_items
from latentspace.train.models import with_markers
from latentspace.train.records import DataSpec, read_spec
from latentspace.train.run_folder import advising, load_tokenizer
from latentspace.train.sequences import LatentSequence, MarkerIds
from latentspace.train.vocab import symbol_tokenizer, word_tokenizer

if TYPE_CHECKING:
    from latentspace.train.run import TrainRun


def prepare_data(run: TrainRun, accelerator) -> dict[str, list[Item]]:
    """The run's splits, generated once into ``out/data`` and read back on every later call."""
    folder = run.out / "data"
    spec = {"task": run.task, "seed": run.seed, **{k: run.setting(k) for k in ("n_train", "n_valid", "n_test")}}
    hops = {}
    if run.hop_filter is not None:  # only then in the spec: folders made before hop filters still match
        from latentspace.tasks.prosqa_sym import parse_hops

        spec["hops"], hops = run.hop_filter, {"hops": parse_hops(run.hop_filter)}
    if accelerator.is_main_process and not (folder / "spec.json").exists():
        n = spec["n_train"] + spec["n_valid"] + spec["n_test"]
        items = (load_items(run.task)[:n] if is_task_file(run.task)
                 else get_task(run.task).generate(n, seed=run.seed, **hops))
        if len(items) < spec["n_valid"] + 2:
            raise LatentspaceError(f"{run.task} gives {len(items)} items: too few for {spec['n_valid']} validation "
                                   "items plus training and test ones (lower n_valid)")
        test_size = min(spec["n_test"], len(items) - spec["n_valid"] - 1)
        train_items, valid, test = split_items(items, spec["n_valid"], test_size, seed=run.seed)
        folder.mkdir(parents=True, exist_ok=True)  # the run folder too: made only once its data exist
        for name, split in (("train", train_items), ("valid", valid), ("test", test)):
            files.write_text(folder / f"{name}.jsonl", "".join(jsonsafe.dumps(i.to_dict()) + "\n" for i in split))
        files.write_text(folder / "spec.json", jsonsafe.dumps(spec))  # last: it marks the data complete
    accelerator.wait_for_everyone()
    with advising(f"remove {folder} or use a new --out"):
        saved = read_spec(folder / "spec.json").to_dict()
    if saved != DataSpec(**spec).to_dict():
        raise LatentspaceError(f"{folder} holds data made for {saved}; use a new --out for {spec}")
    try:
        return {name: [Item(**row) for row in map(json.loads, files.read_text(folder / f"{name}.jsonl",
                                                                               "data file").splitlines())]
                for name in ("train", "valid", "test")}
    except (ValueError, TypeError):  # edited or damaged by hand: say so instead of a traceback
        raise LatentspaceError(f"{folder} holds damaged data files; remove the folder or use a new --out") from None


def prepare_tokenizer(run: TrainRun, splits: dict[str, list[Item]], accelerator):
    """(tokenizer, base model or None): a word-level vocabulary of the data, or the registry model's own."""
    base = None
    if run.model:
        base, tokenizer = with_markers(run.model)
    else:
        texts = [t for items in splits.values() for i in items for t in (i.question, i.answer, *i.steps)]
        spec = None if is_task_file(run.task) else get_task(run.task)
        make = symbol_tokenizer if spec and spec.symbolic else word_tokenizer
        extra = spec.vocabulary if spec else ()
        if spec and spec.picture is not None:  # its pictures' placeholders (`vision.prefix`)
            from latentspace.vision.prefix import PICTURE

            extra = (*extra, PICTURE)
        tokenizer = make(texts, extra=extra)
    saved = run.out / "checkpoint"
    if (saved / "state.json").exists():  # a checkpoint to resume: its tokenizer must be this one
        with advising(f"remove {saved} or use a new --out"):
            kept = load_tokenizer(saved)
        # the loaded tokenizer: its vocabulary includes added tokens (the markers), unlike the file's model part
        if kept.get_vocab() != tokenizer.get_vocab():
            raise LatentspaceError(f"the checkpoint in {run.out} was trained with another tokenizer")
    return tokenizer, base


def check_lengths(examples: dict[str, list[TokenizedExample]], recipe, model) -> None:
    """Refuse up front an item longer than the model's context (its thoughts and markers counted),
    instead of an index error deep in a forward pass."""
    limit = getattr(model.config, "n_positions", None) or getattr(model.config, "max_position_embeddings", None)
    if not limit:
        return
    for name, split in examples.items():
        for number, ex in enumerate(split):
            longest = len(ex.question) + sum(map(len, ex.steps)) + len(ex.answer) + recipe.thoughts_at(ex, 2**31) + 2
            if longest > limit:
                raise LatentspaceError(f"{name} item {number} needs up to {longest} positions, more than the "
                                       f"model's {limit}; shorten the items or use fewer thoughts")


def epoch_batches(run: TrainRun, examples: list[TokenizedExample], epoch: int, markers: MarkerIds,
                  tokenizer) -> list:
    """The epoch's global batches, the same for the same (seed, epoch) — what makes resume exact."""
    rng = random.Random(run.seed * 100_003 + epoch)
    view = None if is_task_file(run.task) else get_task(run.task).epoch_view
    if view is not None:  # e.g. prosqa-sym's edges in a new order every epoch
        examples = [dataclasses.replace(ex, question=view(ex.question, tokenizer, rng)) for ex in examples]
    sequences = [run.recipe.sequence(ex, epoch, markers, rng) for ex in examples]
    rng.shuffle(sequences)
    groups = by_length(sequences, run.setting("batch_size"), run.setting("bucket"), rng)
    return [run.recipe.batch(group, tokenizer.pad_token_id, markers.latent) for group in groups]


def sequence_length(sequence) -> int:
    """Positions a recipe's training sequence takes (CoT2 and CODI pair it with targets or a teacher)."""
    if isinstance(sequence, LatentSequence):
        return len(sequence.ids)
    return max(len(part.ids) for part in sequence if isinstance(part, LatentSequence))


def by_length(sequences: list, size: int, window: int, rng: random.Random) -> list[list]:
    """The epoch's batches of ``size``: with ``window`` > 1, each run of ``window`` batches' worth of the
    (shuffled) sequences is sorted by length before it is cut, and the batches are then shuffled.

    Every sequence is in the epoch once, as before; only which ones share a batch changes — and with
    it the padding, which a batch of mixed lengths pays for in every layer. ``window`` 1 keeps the
    batches exactly as drawn (and consumes no randomness: runs without bucketing are unchanged).
    """
    if window == 1:
        return [sequences[i:i + size] for i in range(0, len(sequences), size)]
    span, groups = size * window, []
    for start in range(0, len(sequences), span):
        chunk = sorted(sequences[start:start + span], key=sequence_length)  # stable: ties keep the shuffle
        groups += [chunk[i:i + size] for i in range(0, len(chunk), size)]
    rng.shuffle(groups)
    return groups
