"""The policy's log-probability of sampled thoughts, recomputed in one teacher-forced pass.

A rollout feeds each thought slot a drawn vector; the model is deterministic given those, so one pass
over ``question [start] slot_1 .. slot_n`` with the drawn vectors in the slots gives, at the position
before each slot, the state the rollout's thought was drawn from — under whatever parameters the
model has now. From it the thought's deterministic input (its *mean*: the state itself for Coconut,
its projection for CODI, the ``<|latent|>`` embedding for pause, the softmax mix for CoT2) and the
sampler scores the draw: the Gaussian log-density for noise, the K tokens' log-probability for MTS.
Coconut reading its thought at the slot itself (``thought_from=slot``) needs a second pass per thought
and is refused.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from latentspace.core.errors import LatentspaceError
from latentspace.model.head import soft_cap
from latentspace.model.latent_model import positions_from_mask
from latentspace.model.markers import LATENT, latent_markers
from latentspace.model.text import left_pad


@dataclass
class ThoughtBatch:
    ids: torch.Tensor  # [R, L] left-padded: question, start marker (if any), one <|latent|> per thought
    attention_mask: torch.Tensor  # [R, L]
    slots: torch.Tensor  # [R, L] bool: thought slots
    fed: torch.Tensor  # [S, d] the vectors the rollout fed, slots in row-major order
    actions: torch.Tensor  # [S, ...] what the sampler scores (drawn vectors, or token ids [S, K])
    latent_id: int  # the <|latent|> token (pause feeds its embedding)

    @property
    def rows(self) -> int:
        return self.ids.shape[0]


def thought_batch(tokenizer, recipe, examples, counts: list[int], fed: list[list[torch.Tensor]],
                  actions: list[list[torch.Tensor]]) -> ThoughtBatch:
    """The teacher-forced layout of rollouts: ``fed[r][t]`` / ``actions[r][t]`` of row r's thought t."""
    if getattr(recipe, "thought_from", "previous") == "slot":
        raise LatentspaceError("RL reads a thought's mean at the position before its slot; this run reads it at the "
                               "slot itself (thought_from=slot), which needs a pass per thought: not supported")
    markers = latent_markers(tokenizer) if recipe.curriculum().markers else None
    latent = tokenizer.convert_tokens_to_ids(LATENT)
    rows = [ex.question + ([markers[0]] if markers else []) + [latent] * n for ex, n in zip(examples, counts)]
    ids, mask = left_pad(rows, tokenizer.pad_token_id)
    slots = torch.zeros_like(ids, dtype=torch.bool)
    for r, n in enumerate(counts):
        if n:
            slots[r, ids.shape[1] - n:] = True
    flat = [v for row, n in zip(fed, counts) for v in row[:n]]
    taken = [a for row, n in zip(actions, counts) for a in row[:n]]
    if not flat:
        raise LatentspaceError("these questions get no thoughts: RL on thoughts has nothing to move")
    return ThoughtBatch(ids, mask, slots, torch.stack(flat), torch.stack(taken), latent)


def slot_means(causal_lm, recipe, project, before: torch.Tensor, latent_id: int):
    """(the thoughts' deterministic inputs ``[S, d]``, their logits ``[S, V]`` or None) from the states
    at the positions before the slots."""
    table = causal_lm.get_input_embeddings().weight
    if recipe.mixes_tokens:
        logits = soft_cap(causal_lm.get_output_embeddings()(before), causal_lm.config)
        return torch.softmax(logits.float(), -1).to(table.dtype) @ table, logits
    if not recipe.feedback:
        return table[latent_id].expand(before.shape[0], -1), None
    return (project(before) if project is not None else before), None


def states_before_slots(causal_lm, batch: ThoughtBatch) -> torch.Tensor:
    """``[S, d]`` last-layer states (after the final norm) at the position before each slot."""
    embeds = causal_lm.get_input_embeddings()(batch.ids)
    embeds = embeds.masked_scatter(batch.slots[..., None].expand_as(embeds), batch.fed.to(embeds.dtype))
    out = causal_lm.base_model(inputs_embeds=embeds, attention_mask=batch.attention_mask,
                               position_ids=positions_from_mask(batch.attention_mask))
    hidden = out.last_hidden_state
    before = torch.zeros_like(batch.slots)
    before[:, :-1] = batch.slots[:, 1:]
    return hidden[before]


def thought_log_probs(causal_lm, recipe, project, sampler, batch: ThoughtBatch, reference=None):
    """(``[R]`` log-probability of each row's thoughts under the model now, ``[R]`` KL to ``reference``'s
    thought distributions — a frozen copy of the supervised model — or None)."""
    parts, row_of, kl = thought_log_prob_parts(causal_lm, recipe, project, sampler, batch, reference)
    logp = torch.zeros(batch.rows, dtype=parts.dtype, device=parts.device).index_add(0, row_of, parts.sum(-1))
    return logp, kl


def thought_log_prob_parts(causal_lm, recipe, project, sampler, batch: ThoughtBatch, reference=None):
    """(``[S, P]`` log-probabilities of every thought's independent parts — its K tokens for MTS, the whole
    draw for noise —, ``[S]`` the row of each thought, ``[R]`` KL to ``reference`` or None)."""
    means, logits = slot_means(causal_lm, recipe, project, states_before_slots(causal_lm, batch), batch.latent_id)
    parts = sampler.log_prob_parts(batch.actions, means, logits, causal_lm.get_input_embeddings().weight)
    row_of = batch.slots.nonzero()[:, 0]
    if reference is None:
        return parts, row_of, None
    with torch.no_grad():
        ref_causal, ref_project = reference
        ref_means, ref_logits = slot_means(ref_causal, recipe, ref_project, states_before_slots(ref_causal, batch),
                                           batch.latent_id)
    kl = sampler.kl(means, logits, ref_means, ref_logits)
    return parts, row_of, torch.zeros(batch.rows, dtype=kl.dtype, device=kl.device).index_add(0, row_of, kl)
