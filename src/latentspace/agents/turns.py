"""What every pipeline does around an agent's turn: read prompts, speak, write, record the decoding.

These helpers are shared by the latent layouts (sequential, hierarchical, graph, cross-model) and
their text baselines. They live here, below all of them, so a pipeline imports the way a turn is
read and written without importing another pipeline (`sequential.py` was imported only for them).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch

from latentspace.core.errors import LatentspaceError
from latentspace.model.text import next_turn

if TYPE_CHECKING:  # the type only: no import at run time
    from latentspace.model.latent_model import LatentModel


def prompt_chunk(lm: LatentModel, texts: list[str], chat: bool, first: bool) -> tuple[torch.Tensor, torch.Tensor,
                 list[list[int]]]:
    """Left-padded ids of one prompt per row, the mask, and the unpadded rows.

    With ``chat`` the first chunk is a one-turn chat and later ones continue it (`next_turn`).
    """
    render = (lambda t: lm.chat(t) if first else next_turn(lm, t)) if chat else (lambda t: t)
    return pad_rows(lm, [render(t) for t in texts], add_special_tokens=first and not chat)


def pad_rows(lm: LatentModel, texts: list[str], add_special_tokens: bool):
    """Tokenize rendered texts and left-pad them: (ids, mask, the unpadded rows)."""
    rows = [lm.token_ids(t, add_special_tokens=add_special_tokens) for t in texts]  # checked to fit the context
    if any(not r for r in rows):
        raise LatentspaceError("an agent's prompt is empty")
    ids, mask = lm.pad(rows)
    return ids, mask, rows


def as_questions(questions: str | Sequence[str]) -> list[str]:
    questions = [questions] if isinstance(questions, str) else list(questions)
    if not questions or any(not isinstance(q, str) or not q.strip() for q in questions):
        raise LatentspaceError("empty question")
    return questions


def speak(lm: LatentModel, state, agent_tokens: int, seed: int):
    """What an agent would say from ``state`` (a fork: the memory itself is passed on unchanged)."""
    return lm.decode(state.fork(), max_new_tokens=agent_tokens, seed=seed)


def decoding(max_new_tokens: int) -> dict:
    """The one decoding setting every mode uses (greedy), recorded so comparisons can check it."""
    return {"temperature": 0.0, "top_p": 1.0, "max_new_tokens": max_new_tokens}


def with_notes(prompt: str, notes: str) -> str:
    return f"{prompt}\n\nWhat the other agents wrote:\n{notes}" if notes else prompt


def read_and_write(lm: LatentModel, prompts: list[str], chat: bool, budget: int, seed: int):
    """Encode each prompt from scratch and write; (rows read, decode result, positions per row)."""
    ids, mask, rows = prompt_chunk(lm, prompts, chat, first=True)
    result = lm.decode(lm.encode(ids, attention_mask=mask), max_new_tokens=budget, seed=seed)
    return rows, result, [len(r) + len(t) for r, t in zip(rows, result.token_ids)]
