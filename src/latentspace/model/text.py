"""Chat text, in one place: whether a model has a chat template, a one-turn chat, and the turns that
continue a conversation in progress (agents reading on top of another's memory, a memory and the
question asked of it). A template that behaves oddly is handled here, for every package. Also the
one left padding of token id rows (`LatentModel.pad` and training's evaluation use it)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:  # the type only: no import at run time
    from latentspace.model.latent_model import LatentModel

MARK = "\u2063agent-turn\u2063"  # an invisible separator no role or document text contains


def has_chat(tokenizer) -> bool:
    """Whether the tokenizer renders chats (a base model has no template: its text stays plain)."""
    return bool(getattr(tokenizer, "chat_template", None))


def chat(tokenizer, user: str, system: str | None = None) -> str:
    """The prompt text of a one-turn chat, ending where the assistant starts speaking."""
    if not has_chat(tokenizer):
        return user  # base models: plain text
    messages = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": user}]
    return tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)


def next_turn(lm: LatentModel, text: str) -> str:
    """Chat text that closes the assistant turn in progress and opens a new one for ``text``.

    An agent reading on top of another's memory continues the same conversation: the previous
    agent's turn (its prompt and thoughts) is closed, the new role arrives as a user turn, and the
    assistant speaks next — no second system prompt mid-memory. Derived from the model's own
    template; a template that does not extend this way gets a fresh one-turn chat instead.
    """
    tok = lm.tokenizer
    if not has_chat(tok):
        return text
    before = [{"role": "user", "content": "?"}, {"role": "assistant", "content": MARK}]
    try:
        closed = tok.apply_chat_template(before, tokenize=False)
        full = tok.apply_chat_template(before + [{"role": "user", "content": text}], tokenize=False,
                                       add_generation_prompt=True)
    except Exception:  # templates that refuse this conversation shape
        return lm.chat(text)
    if MARK not in closed or not full.startswith(closed):
        return lm.chat(text)
    return closed[closed.index(MARK) + len(MARK):] + full[len(closed):]


def split_turn(lm: LatentModel, head: str, tail: str, chat: bool) -> tuple[str, str]:
    """``head`` and ``tail`` as one user message, cut where ``tail`` starts: (opening, rest).

    The shared prefix of a hierarchical pipeline opens the user turn; each expert's chunk ends it
    with the expert's role and opens the assistant turn the expert thinks in — so every expert reads
    exactly the one-turn chat ``head + "\\n" + tail`` (its text baseline reads the same). A memory
    and its question are cut the same way.
    """
    if not chat:
        return head, tail  # raw chunks follow each other as they are, as in the sequential pipeline
    whole = lm.chat(f"{head}\n{MARK}")
    if MARK not in whole:
        return lm.chat(head), next_turn(lm, tail)  # a template that rewrites messages: two turns
    cut = whole.index(MARK)
    return whole[:cut], whole[cut:].replace(MARK, tail, 1)


def left_pad(rows: Sequence[Sequence[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(ids, attention_mask)`` ``[B, T]`` of id rows, padded on the left (the last tokens align)."""
    width = max(len(r) for r in rows)
    ids = torch.tensor([[pad_id] * (width - len(r)) + list(r) for r in rows], dtype=torch.long)
    mask = torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in rows], dtype=torch.long)
    return ids, mask
