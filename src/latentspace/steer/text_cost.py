"""What steering costs the text: perplexity under the unsteered model, and repetition.

Perplexity alone rewards degenerate text (a model predicts "the the the" well), so it is always
reported next to the repetition rate.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:  # the type only: no import at run time
    from latentspace.model.latent_model import LatentModel


def perplexity(lm: LatentModel, prompt_ids: list[list[int]], completions: list[list[int]]) -> float:
    """exp(mean NLL) of the completion tokens given their prompts, read by ``lm`` as it is.

    Call it outside any steering context: the judge must be the unsteered model.
    """
    rows = [(p, c) for p, c in zip(prompt_ids, completions) if c]
    if not rows:
        return float("nan")
    ids, mask = lm.pad([p + c for p, c in rows])
    logp = torch.log_softmax(lm.forward(ids, mask).logits[:, :-1].float(), -1)
    picked = logp.gather(-1, ids[:, 1:, None]).squeeze(-1)  # log p(token t | tokens < t)
    nll, n = 0.0, 0
    for row, (_, c) in enumerate(rows):
        nll -= float(picked[row, -len(c):].sum())
        n += len(c)
    return math.exp(nll / n)


def repetition(completions: list[list[int]], n: int = 3) -> float:
    """Share of token n-grams that repeat an earlier n-gram of the same completion (0 = none)."""
    repeated = total = 0
    for ids in completions:
        seen = set()
        for i in range(len(ids) - n + 1):
            gram = tuple(ids[i : i + n])
            repeated += gram in seen
            seen.add(gram)
            total += 1
    return repeated / total if total else 0.0
