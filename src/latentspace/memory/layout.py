"""How a memory and a question are laid out as text, so a stored memory is an exact prefix.

A chat model reads one user turn ``document + "\\n" + question``. The memory is everything up to
the question (the chat opening, the document and the newline); the question part closes the
turn and opens the assistant's. Prefilling the two parts one after the other is prefilling the
whole turn, so a recalled memory answers exactly like re-reading the document.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from latentspace.core.errors import LatentspaceError
from latentspace.core.files import check_text
from latentspace.model.text import has_chat, split_turn

if TYPE_CHECKING:  # the type only: no import at run time
    from latentspace.model.latent_model import LatentModel

MARK = "\x00QUESTION\x00"


def chat_layout(lm: LatentModel) -> bool:
    return has_chat(lm.tokenizer)


def memory_text(lm: LatentModel, document: str) -> str:
    check_text(document, "document")  # every memory's text passes here: a lone surrogate stops here
    if not document or not document.strip():
        raise LatentspaceError("empty document: nothing to remember")
    return split_turn(lm, document, MARK, chat_layout(lm))[0] + ("" if chat_layout(lm) else "\n")


def opening_text(lm: LatentModel) -> str:
    """What every memory starts with before its document (the chat opening; nothing for raw)."""
    if not chat_layout(lm):
        return ""
    whole = memory_text(lm, MARK)
    return whole[: whole.index(MARK)]


def question_text(lm: LatentModel, question: str) -> str:
    check_text(question, "question")
    if not question or not question.strip():
        raise LatentspaceError("empty question")
    if not chat_layout(lm):
        return f"Question: {question}\nAnswer:"
    return split_turn(lm, "document", MARK, True)[1].replace(MARK, question, 1)


def ids(lm: LatentModel, text: str, first: bool) -> torch.Tensor:
    """``[1, n]`` ids; the first chunk of a raw (non-chat) model gets the tokenizer's BOS."""
    out = lm.tokenizer(text, return_tensors="pt", add_special_tokens=first and not chat_layout(lm))
    return out["input_ids"].to(lm.device)
