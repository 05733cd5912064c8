"""Beam search over thought steps, scored by a latent reward model.

Per question: start from the encoded question; at each thought step every beam is expanded into
``expand`` candidates (the first is the deterministic thought, the rest the sampler's draws), every
candidate is stepped and its prefix scored by the reward model, and the ``width`` best prefixes are
kept (the first step expands the question alone into ``width × expand``, so every step scores the
same N candidates). The best full path is decoded greedily. Ties go to the lower index, so width 1
with a constant reward follows the deterministic thoughts exactly: beam search can only leave the
greedy path where the reward model prefers another.
"""

from __future__ import annotations

import torch

from latentspace.core.errors import LatentspaceError
from latentspace.model.latent_model import LatentModel
from latentspace.model.markers import LATENT, latent_markers
from latentspace.model.samplers import ThoughtSampler
from latentspace.model.text import left_pad
from latentspace.search.features import prefix_features
from latentspace.tasks import Item
from latentspace.train.data import encode_examples
from latentspace.train.evaluate import same_answer


def beam_search(loaded, items: list[Item], sampler: ThoughtSampler, rm, width: int = 4, expand: int = 4,
                seed: int = 0, max_new_tokens: int = 96, batch_size: int = 16) -> list[dict]:
    """One row per item (``extracted``, ``correct``, ``text``, ``thoughts``), as `evaluate` gives them."""
    if width < 1 or expand < 1:
        raise LatentspaceError(f"beam width and expansion must be ≥ 1, got {width} and {expand}")
    if sampler.name == "dropout":
        raise LatentspaceError("beam search draws candidates side by side; MC-dropout cannot spare the "
                               "deterministic one (use mts or noise)")
    if sampler.needs_logits and not loaded.recipe.mixes_tokens:
        raise LatentspaceError(f"{sampler.name} samples token-mixture thoughts; a {loaded.recipe.name} thought is a "
                               "fed-back state (use noise:SIGMA)")
    loaded.check_items(items)
    examples = encode_examples(loaded.tokenizer, items)
    lm = LatentModel(loaded.causal_lm.eval(), loaded.tokenizer, "trained")
    generator = torch.Generator().manual_seed(seed)
    counts = [loaded.recipe.thoughts_at(ex, loaded.stage) for ex in examples]
    rows: list[dict | None] = [None] * len(items)
    for count in sorted(set(counts)):  # one thought count per batch: every beam steps together
        same = [i for i, c in enumerate(counts) if c == count]
        for first in range(0, len(same), batch_size):
            chunk = same[first:first + batch_size]
            for i, row in zip(chunk, _search(lm, loaded, [examples[i] for i in chunk], count, sampler, rm, width,
                                              expand, generator, max_new_tokens)):
                found = loaded.recipe.answer_in(row["text"])
                rows[i] = {"question": items[i].question, "answer": items[i].answer, **row, "extracted": found,
                           "correct": same_answer(found, items[i].answer)}
    return rows


@torch.no_grad()
def _search(lm, loaded, examples, count: int, sampler, rm, width: int, expand: int, generator, max_new_tokens: int):
    recipe, tokenizer = loaded.recipe, loaded.tokenizer
    markers = latent_markers(tokenizer) if recipe.curriculum().markers else None
    latent_id = tokenizer.convert_tokens_to_ids(LATENT)
    ids, mask = left_pad([ex.question + ([markers[0]] if markers else []) for ex in examples], tokenizer.pad_token_id)
    state = lm.encode(ids, attention_mask=mask)
    questions, beams = len(examples), 1  # beams per question; rows are question-major
    scores = torch.zeros(questions)
    for step in range(count):
        mean = recipe.thought_inputs(lm, state, latent_id, loaded.project, generator)
        mean = mean.expand(state.batch_size, -1) if mean.dim() == 1 else mean
        fan = expand * (width if step == 0 else 1)
        logits = state.logits.repeat_interleave(fan, 0) if recipe.mixes_tokens else None
        drawn = sampler.draw(mean.repeat_interleave(fan, 0), logits, lm.input_embeddings, generator).vectors
        vectors = drawn.view(-1, fan, drawn.shape[-1]).clone()
        vectors[:, 0] = mean  # candidate 0 of every beam: its deterministic thought
        vectors = vectors.view(-1, drawn.shape[-1])
        stepped = lm.step(state.pick_rows(torch.arange(state.batch_size).repeat_interleave(fan)), vectors)
        scores = rm(prefix_features(stepped.hidden, vectors, step + 1)).view(questions, beams * fan)
        keep = min(width, beams * fan)
        top = torch.stack([torch.tensor(sorted(range(beams * fan), key=lambda c: (-float(s[c]), c))[:keep])
                           for s in scores])  # stable: ties keep the lower index
        scores = scores.gather(1, top)
        picked = (torch.arange(questions)[:, None] * beams * fan + top).flatten()
        state, beams = stepped.pick_rows(picked), keep
    best = torch.arange(questions) * beams + (scores.argmax(1) if count else 0)
    state = state.pick_rows(best if count else torch.arange(questions))
    if markers:
        state = lm.feed(state, torch.full((questions, 1), markers[1]))
    result = lm.decode(state, max_new_tokens)
    return [{"text": text, "thoughts": count, "positions": count + len(generated)}
            for text, generated in zip(result.texts, result.token_ids)]
