"""Training data: task items split by seed and tokenised into question / steps / answer pieces.

The text of an item is Coconut's layout, ``question\n step1\n step2\n ... ### answer<eos>``, kept
as separate token lists so a curriculum can drop or replace steps without re-tokenising.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from latentspace.core.errors import LatentspaceError
from latentspace.tasks import Item


def split_items(items: list[Item], valid: int, test: int, seed: int = 0) -> tuple[list[Item], list[Item], list[Item]]:
    """(train, valid, test): a shuffled split, the same for the same seed.

    Items that share ``meta["group"]`` (MNNS: the permutations of one digit multiset) land on one
    side: whole groups are dealt, validation first, until each split has at least its size.
    """
    if valid < 0 or test < 0:
        raise LatentspaceError(f"split sizes must not be negative (valid {valid}, test {test})")
    if valid + test >= len(items):
        raise LatentspaceError(f"{len(items)} items cannot give {valid} valid + {test} test and a train set")
    keys = [item.meta.get("group", f"item {i}") if isinstance(item.meta, dict) else f"item {i}"
            for i, item in enumerate(items)]
    groups: dict = {}
    for item, key in zip(items, keys):
        groups.setdefault(str(key), []).append(item)
    order = list(groups)
    random.Random(seed).shuffle(order)
    test_items, valid_items, train_items = [], [], []
    for key in order:
        side = valid_items if len(valid_items) < valid else test_items if len(test_items) < test else train_items
        side.extend(groups[key])
    if not train_items:
        raise LatentspaceError(f"{len(items)} items in {len(groups)} groups leave no training set after "
                               f"{valid} valid + {test} test")
    return train_items, valid_items, test_items


@dataclass(frozen=True)
class TokenizedExample:
    question: list[int]  # the question and its newline
    steps: list[list[int]]  # each step and its newline
    answer: list[int]  # "### answer" and EOS
    plain_answer: list[int] = field(default_factory=list)  # the answer and EOS, no marker (a recipe's answer_marker off)
    # CoT2's target sets, one token id per step: whole traces (the gold one first) or per-step sets
    traces: list[list[int]] = field(default_factory=list)
    step_sets: list[list[int]] = field(default_factory=list)
    picture: object = None  # a task with pictures (vsp): the question's [3, H, W] image; text tasks: None
    states: object = None  # the pictures after each step [steps, 3, H, W], for recipes that need them (visual)


def picture_options(task: str | None, need_states: bool = False) -> dict:
    """`encode_examples`' picture arguments for ``task`` (a built-in task with pictures: vsp); {} for any
    other task or a task file. ``need_states``: also each step's picture (a recipe's targets)."""
    from latentspace.tasks import get_task, is_task_file

    if task is None or is_task_file(task):
        return {}
    spec = get_task(task)
    if spec.picture is None:
        return {}
    return {"picture": spec.picture, "picture_tokens": spec.picture_tokens,
            **({"states": spec.states} if need_states else {})}


def encode_examples(tokenizer, items: list[Item], need_steps: bool = False,
                    need_targets: bool = False, picture=None, picture_tokens: int = 0,
                    states=None) -> list[TokenizedExample]:
    """Tokenise items; ``need_steps`` refuses items without steps (curricula replace steps),
    ``need_targets`` items without CoT2 target sets (``meta["traces"]`` or ``meta["frontier"]``).

    A task with pictures passes ``picture`` (item -> its ``[3, H, W]`` image) and how many patch tokens
    the encoder makes: the question then starts with that many `vision.PICTURE` placeholders; ``states``
    (item -> the picture after each step) keeps those pictures too (`picture_options` gives all three)."""
    out = []
    encode = lambda text: tokenizer.encode(text, add_special_tokens=False)  # noqa: E731
    placeholders = []
    if picture is not None:
        from latentspace.vision.prefix import PICTURE

        picture_id = tokenizer.convert_tokens_to_ids(PICTURE)
        if picture_tokens < 1 or picture_id is None or picture_id == tokenizer.unk_token_id:
            raise LatentspaceError(f"pictures need a tokenizer with {PICTURE} and at least one picture token")
        placeholders = [picture_id] * picture_tokens
    for number, item in enumerate(items):
        if need_steps and not item.steps:
            raise LatentspaceError(f"item {number} has no steps; this recipe's curriculum needs reasoning steps")
        traces, sets = (target_sets(encode, item, number) if need_targets else ([], []))
        out.append(TokenizedExample(
            question=placeholders + encode(item.question + "\n"),
            picture=picture(item) if picture is not None else None,
            states=states(item) if states is not None else None,
            steps=[encode(step + "\n") for step in item.steps],
            answer=encode("### " + item.answer) + [tokenizer.eos_token_id],
            plain_answer=encode(item.answer) + [tokenizer.eos_token_id],
            traces=traces, step_sets=sets,
        ))
    return out


def answer_of(text: str) -> str | None:
    """The text after the last ``###``, or None when the model never wrote one."""
    return text.rsplit("###", 1)[1].strip() if "###" in text else None


def target_sets(encode, item: Item, number: int) -> tuple[list[list[int]], list[list[int]]]:
    """(traces, per-step sets) of an item as token ids, one token per step — or a one-line error."""
    meta = item.meta if isinstance(item.meta, dict) else {}
    found = meta.get("traces") or meta.get("frontier")
    if not found:
        raise LatentspaceError(f"item {number} has no target traces (meta 'traces' or 'frontier'); the cot2 recipe "
                               "needs them, as does coconut's frontier_weight: use a task that makes them (mnns, "
                               "prosqa-sym)")

    def one(symbol) -> int:
        ids = encode(str(symbol))
        if len(ids) != 1:
            raise LatentspaceError(f"item {number}: target {str(symbol)[:40]!r} is {len(ids)} tokens; cot2 mixes "
                                   "one token per step (use a symbolic task: mnns, prosqa-sym)")
        return ids[0]

    rows = [[one(s) for s in row] for row in found]
    steps = [one(s) for s in item.steps]
    if "traces" in meta:
        if any(len(t) != len(steps) + 1 for t in rows) or rows[0][:-1] != steps:
            raise LatentspaceError(f"item {number}: its traces must hold each step and the answer, the gold one first")
        return [t[:-1] for t in rows], []
    if len(rows) != len(steps) or any(not row for row in rows):
        raise LatentspaceError(f"item {number}: its frontier needs one non-empty set per step")
    return [steps], rows  # the gold path is the one trace (what a budget of 1 trains on)
