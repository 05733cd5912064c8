"""Training data: task items split by seed and tokenised into question / steps / answer pieces.

The text of an item is Coconut's layout, ``question\n step1\n step2\n ... ### answer<eos>``, kept
as separate token lists so a curriculum can drop or replace steps without re-tokenising.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from latentspace.errors import LatentspaceError
from latentspace.tasks import Item


@dataclass(frozen=True)
class TokenizedExample:
    question: list[int]  # the question and its newline
    steps: list[list[int]]  # each step and its newline
    answer: list[int]  # "### answer" and EOS


def split_items(items: list[Item], valid: int, test: int, seed: int = 0) -> tuple[list[Item], list[Item], list[Item]]:
    """(train, valid, test): a shuffled split, the same for the same seed."""
    if valid < 0 or test < 0:
        raise LatentspaceError(f"split sizes must not be negative (valid {valid}, test {test})")
    if valid + test >= len(items):
        raise LatentspaceError(f"{len(items)} items cannot give {valid} valid + {test} test and a train set")
    order = list(range(len(items)))
    random.Random(seed).shuffle(order)
    picked = [items[i] for i in order]
    return picked[valid + test:], picked[:valid], picked[valid:valid + test]


def encode_examples(tokenizer, items: list[Item], need_steps: bool = False) -> list[TokenizedExample]:
    """Tokenise items; ``need_steps`` refuses items without steps (curricula replace steps)."""
    out = []
    for number, item in enumerate(items):
        if need_steps and not item.steps:
            raise LatentspaceError(f"item {number} has no steps; this recipe's curriculum needs reasoning steps")
        encode = lambda text: tokenizer.encode(text, add_special_tokens=False)  # noqa: E731
        out.append(TokenizedExample(
            question=encode(item.question + "\n"),
            steps=[encode(step + "\n") for step in item.steps],
            answer=encode("### " + item.answer) + [tokenizer.eos_token_id],
        ))
    return out
