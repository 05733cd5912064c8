"""Evaluate a trained model the way it was trained: question, thoughts, then greedy text.

Thoughts are computed with `LatentModel` (the same stepping every reasoning strategy uses): the
question, ``<|start-latent|>``, n fed-back states (or, for pause-as-thought, n ``<|latent|>``
embeddings), ``<|end-latent|>``, then greedy decoding. The answer is what `Recipe.answer_in` reads:
the text after the last ``###`` (a recipe trained without it: the text's last symbol), compared
like Coconut compares it (case, commas and the final stop ignored).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from latentspace.core.errors import LatentspaceError
from latentspace.model.latent_model import LatentModel
from latentspace.model.markers import LATENT, latent_markers
from latentspace.model.samplers import ThoughtSampler
from latentspace.model.thoughts import think
from latentspace.tasks import Item, normalise
from latentspace.train.data import TokenizedExample
from latentspace.train.vocab import words
from latentspace.model.text import left_pad


# (thought index, the state it is computed from, its input vectors [B, d], the rows' item indices)
ThoughtHook = Callable[[int, object, torch.Tensor, range], object]


@dataclass
class EvalResult:
    accuracy: float
    n: int
    positions: float  # mean thoughts + generated tokens per answer (the paper's "generated tokens")
    seconds_per_item: float
    rows: list[dict] = field(default_factory=list)


def evaluate(causal_lm, tokenizer, recipe, items: list[Item], examples: list[TokenizedExample], stage: int,
             batch_size: int = 32, max_new_tokens: int = 96, project=None, seed: int = 0,
             limit: int | None = None, edit: ThoughtHook | None = None,
             observe: ThoughtHook | None = None, sampler: ThoughtSampler | None = None,
             finished: Callable[[object, range], None] | None = None,
             drawn: Callable[[int, object, range], None] | None = None,
             pictures: torch.nn.Module | None = None) -> EvalResult:
    """Accuracy and positions on ``items``; ``project`` maps fed-back states (CODI's projector).

    For audits (`latentspace.audit`): ``limit`` cuts every item's thoughts after that many;
    ``observe(i, state, vectors, rows)`` sees thought i's input ``[B, d]`` and the state it was
    computed from (``rows``: the batch's item indices); ``edit`` (same arguments) returns the
    vectors to feed instead.

    ``sampler`` (`latentspace.model.samplers`) makes every thought random: it draws around the
    deterministic input (a token-mixture recipe also hands it the logits it mixes), seeded by ``seed``,
    so the same seed gives the same paths. Repeat an item in ``items`` to draw several paths of it.
    ``finished(state, rows)`` sees the state after the last thought, where the answer is read from;
    ``drawn(i, draw, rows)`` each of thought i's draws (`samplers.Drawn`: the action RL scores).
    ``pictures``: a picture task's encoder; its tokens fill each prompt's `vision.PICTURE` placeholders.
    """
    if sampler is not None and getattr(recipe, "sample_k", 0):
        raise LatentspaceError("the run's sample_k and a sampler both randomise the thoughts; give one")
    lm = LatentModel(causal_lm.eval(), tokenizer, "trained")
    markers = latent_markers(tokenizer) if recipe.curriculum().markers else None
    latent_id = tokenizer.convert_tokens_to_ids(LATENT)
    rows, started = [], time.perf_counter()
    generator = torch.Generator().manual_seed(seed)  # multi-token sampling (cot2 sample_k) is reproducible

    def inputs(state, i, rows_here):
        vectors = recipe.thought_inputs(lm, state, latent_id, project, generator)
        vectors = vectors.expand(state.batch_size, -1) if vectors.dim() == 1 else vectors
        if sampler is not None:
            logits = state.logits if recipe.mixes_tokens else None
            draw = sampler.draw(vectors, logits, lm.input_embeddings, generator)
            if drawn is not None:
                drawn(i, draw, rows_here)
            vectors = draw.vectors
        if observe is not None:
            observe(i, state, vectors, rows_here)
        return vectors if edit is None else edit(i, state, vectors, rows_here)

    step_context = (lambda: sampler.stepping(causal_lm)) if sampler is not None else None
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)  # MC-dropout draws from torch's own generator: repeatable, the caller's untouched
        for first in range(0, len(examples), batch_size):
            chunk = examples[first:first + batch_size]
            prompts = [ex.question + ([markers[0]] if markers else []) for ex in chunk]
            ids, mask = left_pad(prompts, tokenizer.pad_token_id)
            state = lm.encode(ids, attention_mask=mask, inputs_embeds=picture_embeds(lm, tokenizer, ids, chunk, pictures))
            thoughts = torch.tensor([recipe.thoughts_at(ex, stage) for ex in chunk])
            if limit is not None:
                thoughts = thoughts.clamp(max=limit)
            rows_here = range(first, first + len(chunk))
            state = think(lm, state, thoughts, lambda state, i: inputs(state, i, rows_here), markers=markers,
                          opened=True, step_context=step_context)
            if finished is not None:
                finished(state, rows_here)
            result = lm.decode(state, max_new_tokens)
            for item, text, generated, n in zip(items[first:first + batch_size], result.texts, result.token_ids,
                                                thoughts.tolist()):
                found = recipe.answer_in(text)
                rows.append({"question": item.question, "answer": item.answer, "text": text, "extracted": found,
                             "correct": same_answer(found, item.answer),
                             "positions": n + len(generated), "thoughts": n})
    seconds = (time.perf_counter() - started) / max(1, len(rows))
    n = len(rows)
    return EvalResult(sum(r["correct"] for r in rows) / max(1, n), n,
                      sum(r["positions"] for r in rows) / max(1, n), seconds, rows)


def picture_embeds(lm: LatentModel, tokenizer, ids: torch.Tensor, chunk: list[TokenizedExample],
                   pictures: torch.nn.Module | None) -> torch.Tensor | None:
    """The prompts' input embeddings with their pictures' tokens in place, or None for text prompts."""
    if all(ex.picture is None for ex in chunk):
        return None
    if pictures is None or any(ex.picture is None for ex in chunk):
        raise LatentspaceError("these prompts have pictures: evaluate them with the run's picture encoder, every "
                               "prompt with its picture")
    from latentspace.vision.prefix import PICTURE, fill_pictures

    images = torch.stack([torch.as_tensor(ex.picture, dtype=torch.float32) for ex in chunk]).to(lm.device)
    ids = ids.to(lm.device)
    with torch.no_grad():
        embeds = lm.model.get_input_embeddings()(ids)
        return fill_pictures(embeds, ids, tokenizer.convert_tokens_to_ids(PICTURE), pictures(images))


def same_answer(found: str | None, answer: str) -> bool:
    """Equal up to case, commas, the final stop and spacing between word pieces (a word-level
    tokenizer decodes "-5" as "- 5")."""
    return found is not None and words(normalise(found)) == words(normalise(answer))
