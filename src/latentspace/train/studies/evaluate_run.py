"""Evaluate a finished run folder on other items: a task file (a released test set in the published
ProsQA JSON layout, a JSONL of MNNS questions) converted to the layout the run was trained on.

    result = evaluate_run(Path("runs/table-prosqa-sym-laptop-prosqa/s0/coconut"), "prosqa_test.json")

The run's own tokenizer, recipe, stage and (for CODI) projector are used exactly as its training
evaluation used them, so the same items give the same score whichever way they arrive.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from latentspace.core.errors import LatentspaceError
from latentspace.tasks import Item, get_task, is_task_file, load_items
from latentspace.train.data import encode_examples, picture_options
from latentspace.train.evaluate import EvalResult, evaluate
from latentspace.train.records import read_spec
from latentspace.train.run_folder import load_folder
from latentspace.train.studies.best import model_folder


def run_items(run_dir: Path, task: str | None, n: int | None, seed: int) -> list[Item]:
    """The items to score: the run's test split, a built-in task's, or a file in the run's layout."""
    spec = read_spec(run_dir / "data" / "spec.json")
    trained_on = None if is_task_file(spec.task) else get_task(spec.task)
    hops = None
    if spec.hops is not None:
        from latentspace.tasks.prosqa_sym import parse_hops

        hops = parse_hops(spec.hops)
    if task is None:
        from latentspace.tasks import load_jsonl

        items = load_jsonl(run_dir / "data" / "test.jsonl")
    elif is_task_file(task):
        if trained_on is not None and trained_on.load_file is not None:  # in the run's layout (e.g. symbolic)
            items = trained_on.load_file(task, seed=seed, hops=hops)
        elif trained_on is not None and trained_on.symbolic:
            raise LatentspaceError(f"task {trained_on.name} reads no task files")
        else:
            items = load_items(task)
    else:
        found = get_task(task)
        if trained_on is not None and (found.picture is None) != (trained_on.picture is None):
            raise LatentspaceError(f"{run_dir} was trained on {trained_on.name}; {task} "
                                   f"{'has no pictures' if found.picture is None else 'has pictures'}")
        if trained_on is not None and found.symbolic != trained_on.symbolic:
            raise LatentspaceError(f"{run_dir} was trained on {trained_on.name}; {task} is in another layout")
        items = found.generate(n or 200, seed=seed, **({"hops": hops} if hops and found.hop_filter else {}))
    return items[:n] if n else items


@dataclass
class LoadedRun:
    """A finished run's model, read the way its training evaluation read it."""

    causal_lm: object
    tokenizer: object
    recipe: object
    stage: int  # the stage the checkpoint was trained at: a finished run's last, a paused run's current one
    project: object = None  # CODI's projector
    task: str | None = None  # what the run was trained on (a picture task's items get their pictures)
    module: object = None  # the recipe's module around causal_lm (its patch encoder, the visual recipe's targets)

    @property
    def pictures(self):
        """A picture task's patch encoder (None for text runs)."""
        return getattr(self.module, "pictures", None)

    def check_items(self, items: list[Item]) -> None:
        unknown = self.tokenizer.unk_token_id
        for number, item in enumerate(items):
            ids = self.tokenizer.encode(item.question, add_special_tokens=False)
            if unknown is not None and unknown in ids:
                raise LatentspaceError(f"item {number}: its question has symbols this run never saw "
                                       f"({item.question[:60]!r}); is it in the run's task layout?")

    def evaluate(self, items: list[Item], batch_size: int = 64, **hooks) -> EvalResult:
        """Score ``items``; ``hooks`` are `evaluate`'s audit arguments (limit, observe, edit)."""
        self.check_items(items)
        examples = self.encode(items)
        return evaluate(self.causal_lm, self.tokenizer, self.recipe, items, examples, self.stage, batch_size,
                        project=self.project, pictures=self.pictures, **hooks)

    def encode(self, items: list[Item], need_states: bool = False) -> list:
        """``items`` tokenised as the run's training read them (a picture task's: with their pictures)."""
        return encode_examples(self.tokenizer, items, **picture_options(self.task, need_states))


def load_run(run_dir: Path, options: dict | None = None, weights: Path | None = None) -> LoadedRun:
    """``run_dir``'s selected checkpoint; ``options`` override recipe options at test time (cot2's sample_k).

    ``weights``: another model folder of the run to load instead (a run in progress: its ``checkpoint`` or ``best``).
    """
    # by default the checkpoint the run's own test numbers came from
    loaded = load_folder(weights if weights is not None else model_folder(run_dir), options)
    spec = run_dir / "data" / "spec.json"
    task = read_spec(spec).task if spec.exists() else None
    return LoadedRun(loaded.causal_lm, loaded.tokenizer, loaded.recipe, loaded.state.stage, loaded.project, task,
                     loaded.module.eval())


def evaluate_run(run_dir: Path, task: str | None = None, n: int | None = None, seed: int = 0,
                 batch_size: int = 64, options: dict | None = None) -> EvalResult:
    """Score ``run_dir``'s model; ``options`` override recipe options at test time (cot2's sample_k)."""
    loaded = load_run(run_dir, options)
    return loaded.evaluate(run_items(run_dir, task, n, seed), batch_size)
