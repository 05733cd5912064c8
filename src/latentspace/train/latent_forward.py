"""Coconut's training forward: n+1 passes over a batch, each reusing the KV cache of the last.

A thought's input is the last-layer hidden state at the slot before it, so thoughts must be
computed one after another. Pass 0 runs everything before the first thought; pass p runs the
p-th thought's slot (now holding the fed-back state); the last pass runs the rest of the sequence.
Every pass appends to one KV cache, so the work is one forward over the sequence plus n small
passes — not n full recomputations. Gradients flow through the fed-back states (backprop through
the chain of thoughts), as in the paper.

`LatentLM` wraps a causal LM as one module so `accelerate`/DDP sees a single forward per step.
"""

from __future__ import annotations

import torch
from torch import nn

from latentspace.core.errors import LatentspaceError
from latentspace.model import kv, lean_gpt2
from latentspace.model.head import soft_cap
from latentspace.train.sequences import Batch, IGNORE
from latentspace.vision.prefix import fill_pictures

THOUGHT_SOURCES = ("previous", "slot")  # where a continuous thought is read (see `LatentLM`)


class LeanSwitch:
    """A training module whose passes may run through `lean_gpt2` instead of HF's GPT-2 code.

    Off by default; the trainer turns it on for models it builds from scratch (`use_lean`), never for
    pretrained ones (those are always run through Hugging Face's own code).
    """

    lean: bool = False

    def backbone(self, causal_lm: nn.Module, embeds, attention_mask, position_ids, cache=None, layers: bool = False):
        """The base model's output (``last_hidden_state`` after the final norm, ``hidden_states``)."""
        if self.lean:
            return lean_gpt2.forward(causal_lm.transformer, embeds, attention_mask, position_ids, cache, layers)
        cached = {kv.cache_kwarg(causal_lm.base_model): cache, "use_cache": True} if cache is not None else {}
        return causal_lm.base_model(inputs_embeds=embeds, attention_mask=attention_mask, position_ids=position_ids,
                                    output_hidden_states=layers, **cached)


def use_lean(module: nn.Module, causal_lm: nn.Module) -> bool:
    """Switch every `LeanSwitch` part of ``module`` to the lean forward when ``causal_lm`` allows it."""
    on = lean_gpt2.supports(causal_lm)
    for part in module.modules():
        if isinstance(part, LeanSwitch):
            part.lean = on
    return on


class LatentLM(LeanSwitch, nn.Module):
    """A causal LM whose ``<|latent|>`` slots are filled with its own fed-back hidden states.

    With ``feedback=False`` the slots keep the ``<|latent|>`` token's own (trained) embedding:
    the paper's "pause as thought" control — the same curriculum without continuous thoughts,
    computed in one pass since no slot depends on an earlier one. ``project`` (CODI's projector)
    maps each fed-back state before it becomes the next input.

    ``thought_from``: "previous" feeds the state at the position before the slot (Coconut's paper);
    "slot" feeds the state the slot itself gets when its input is a zero vector — one probe pass
    whose cache entry is then dropped, as CoT2's authors compute their MNNS Coconut baseline.
    """

    def __init__(self, causal_lm: nn.Module, feedback: bool = True, backprop_thoughts: bool = True,
                 project: nn.Module | None = None, thought_from: str = "previous",
                 pictures: nn.Module | None = None, picture_id: int | None = None) -> None:
        super().__init__()
        if thought_from not in THOUGHT_SOURCES:
            raise LatentspaceError(f"unknown thought_from {thought_from!r}; valid: {', '.join(THOUGHT_SOURCES)}")
        # backprop_thoughts=False: truncated backprop, each fed-back state treated as a constant
        self.causal_lm, self.feedback, self.backprop_thoughts = causal_lm, feedback, backprop_thoughts
        self.project, self.thought_from = project, thought_from
        # tasks with pictures: the encoder whose tokens fill the `vision.PICTURE` placeholders (trained with
        # the model), and the placeholder's id
        self.pictures, self.picture_id = pictures, picture_id

    def embed(self, batch: Batch) -> torch.Tensor:
        """The batch's input embeddings, its pictures' tokens in their placeholder columns."""
        embeds = self.causal_lm.get_input_embeddings()(batch.ids)
        if batch.images is None:
            return embeds
        if self.pictures is None or self.picture_id is None:
            raise LatentspaceError("this batch has pictures but the model has no picture encoder; train it on a "
                                   "task with pictures from the start")
        return fill_pictures(embeds, batch.ids, self.picture_id, self.pictures(batch.images))

    def head(self, hidden: torch.Tensor) -> torch.Tensor:
        return soft_cap(self.causal_lm.get_output_embeddings()(hidden), self.causal_lm.config)

    def _pass(self, embeds, batch: Batch, start: int, end: int, cache, layers: bool = False):
        out = self.backbone(self.causal_lm, embeds[:, start:end], batch.attention_mask[:, :end],
                            batch.position_ids[:, start:end], cache, layers)
        return out.last_hidden_state, (out.hidden_states if layers else None)  # last: after the final norm

    def _probe(self, embeds, batch: Batch, column: int, cache) -> torch.Tensor:
        """The last-layer state at ``column`` read with a zero input there; the cache keeps no trace of it."""
        blank = torch.cat([embeds[:, :column], torch.zeros_like(embeds[:, column:column + 1])], 1)
        hidden, _ = self._pass(blank, batch, column, column + 1, cache)
        kv.cut_in_place(cache, column)
        return hidden[:, -1]

    def run(self, batch: Batch, layers: bool = False):
        """(logits ``[B, T, V]``, the last pass's per-layer states and its first column, or None).

        The last pass holds everything after the thoughts — where an answer starts.
        """
        hidden, states, start = self.last_states(batch, layers)
        return self.head(hidden), (states, start)

    def last_states(self, batch: Batch, layers: bool = False, embeds: torch.Tensor | None = None,
                    columns: list[int] | None = None):
        """(last-layer states ``[B, T, width]``, the last pass's per-layer states, its first column).

        ``embeds`` / ``columns``: the inputs and the slots fed back, when a caller has filled some slots
        itself (the visual recipe's gradual stage 2: later slots hold their targets); by default every slot.
        """
        embeds = self.embed(batch) if embeds is None else embeds
        if columns is None:
            columns = latent_columns(batch) if self.feedback else []
        cache, start, hiddens = kv.new_cache(), 0, []
        for column in columns:
            hidden, _ = self._pass(embeds, batch, start, column, cache)
            hiddens.append(hidden)
            source = hidden[:, -1] if self.thought_from == "previous" else self._probe(embeds, batch, column, cache)
            thought = source if self.backprop_thoughts else source.detach()
            thought = self.project(thought) if self.project is not None else thought
            filled = torch.where(batch.latent[:, column][:, None], thought, embeds[:, column])
            embeds = torch.cat([embeds[:, :column], filled[:, None], embeds[:, column + 1:]], 1)  # no in-place
            start = column
        hidden, states = self._pass(embeds, batch, start, batch.ids.shape[1], cache, layers)
        hiddens.append(hidden)
        return torch.cat(hiddens, 1), states, start

    def forward(self, batch: Batch, parts: bool = False):
        """(loss, logits) — or, with ``parts``, ``{"ce": (summed loss, labelled tokens)}`` for the trainer."""
        if parts and batch.size == 0:
            return empty_parts(self, ["ce"])
        logits, _ = self.run(batch)
        if parts:
            return {"ce": summed_loss(logits, batch.labels)}
        return shifted_loss(logits, batch.labels), logits


def picture_parts(causal_lm: nn.Module) -> dict:
    """A model built for a picture task (its config names ``picture_token_id``) gets a patch encoder of its
    width — saved and loaded as the recipe module's extras; any other model: nothing."""
    picture_id = getattr(causal_lm.config, "picture_token_id", None)
    if picture_id is None:
        return {}
    from latentspace.vision.patches import PatchEncoder

    return {"pictures": PatchEncoder(width=causal_lm.get_input_embeddings().embedding_dim), "picture_id": int(picture_id)}


def latent_columns(batch: Batch) -> list[int]:
    """Columns of the thought slots: contiguous from a column shared by every row (see `collate`)."""
    counts = batch.latent.sum(1)
    n = int(counts.max()) if counts.numel() else 0
    if n == 0:
        return []
    first = int(batch.latent.any(0).nonzero()[0])
    expected = torch.zeros_like(batch.latent)
    for row, count in enumerate(counts.tolist()):
        expected[row, first:first + count] = True
    if not torch.equal(expected, batch.latent):
        raise LatentspaceError("thought slots must be contiguous and start in one column; build batches with collate()")
    return list(range(first, first + n))


def shifted_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Next-token cross-entropy over the labelled positions."""
    return nn.functional.cross_entropy(logits[:, :-1].flatten(0, 1).float(), labels[:, 1:].flatten(),
                                       ignore_index=IGNORE)


def summed_loss(logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, int]:
    """(summed next-token cross-entropy, labelled tokens): the trainer normalises globally."""
    summed = nn.functional.cross_entropy(logits[:, :-1].flatten(0, 1).float(), labels[:, 1:].flatten(),
                                         ignore_index=IGNORE, reduction="sum")
    return summed, int((labels[:, 1:] != IGNORE).sum())


def empty_parts(module: nn.Module, names: list[str]) -> dict:
    """Zero losses tied to every parameter: a process whose share of the last batch is empty still
    takes part in DDP's gradient sync (with zero gradients) instead of crashing or hanging it."""
    zero = sum(p.sum() for p in module.parameters()) * 0.0
    return {name: (zero, 0) for name in names}
