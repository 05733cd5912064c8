"""Compress once, ask many: one compressed prefill of a context, several questions answered from it.

The question is never compressed (it is read after the press), and each answer's slots vanish
with the copy of the cache it was decoded on, so every question sees the same compressed context.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from latentspace.memory import layout

if TYPE_CHECKING:  # the type only: no import at run time
    from latentspace.model.latent_model import LatentModel


def ask_many(lm: LatentModel, context: str, questions: Sequence[str], press=None, max_new_tokens: int = 64,
             **decode_options) -> list[str]:
    """Answers to ``questions`` about ``context``, the context read (and pressed) once."""
    questions = [questions] if isinstance(questions, str) else list(questions)
    shared = lm.encode(layout.ids(lm, layout.memory_text(lm, context), True), press=press)
    answers = []
    for question in questions:
        ids = layout.ids(lm, layout.question_text(lm, question), False)
        state = lm.feed(shared.fork(), ids)
        answers.append(lm.decode(state, max_new_tokens=max_new_tokens, **decode_options).texts[0])
    return answers
