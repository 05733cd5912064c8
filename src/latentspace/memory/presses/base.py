"""Press: compress the KV cache a prefill writes, keeping the top (1 - ratio) slots per head.

A press is a small dataclass with one scoring function (one file each). `Pressing` applies it
to a pass through forward hooks on every attention layer: the hook sees the layer's cache right
after the pass wrote into it (and the layer's input, from which queries are recomputed), scores
the slots this pass added, and once the pass is over each layer keeps its best slots. Scoring
happens during the pass; the cache is cut once at the end (peak memory is that of an ordinary
prefill). The pass's own outputs are never changed — compression only affects what later
tokens can attend to, exactly as in kvpress.

Slots keep their positions: rotary is already in the keys and `LatentState.next_position`
still counts every token read, so text after a compressed context gets the positions it would
have had. In a left-padded batch every row keeps ``len - int(ratio * len)`` of its own slots;
shorter rows fill up with masked padding so the rows stay aligned.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, TYPE_CHECKING

import torch

from latentspace.core.errors import LatentspaceError
from latentspace.core.named import between
from latentspace.memory.presses.view import LayerView
from latentspace.model import kv
from latentspace.model.hooks import Handles, unpack_output
from latentspace.model.sites import rotary_module as model_rotary

if TYPE_CHECKING:  # the type only: no import at run time
    from latentspace.model.latent_model import LatentModel


SLOTS = between(0, 1_000_000)  # counts of slots a press keeps (sinks, windows): at most a long context


def check_kernel(kernel: int, name: str) -> None:
    """A pooling kernel is odd (an even one shifts the pooled scores by a slot) and small."""
    if kernel % 2 == 0:
        raise LatentspaceError(f"press {name!r}: kernel must be odd, got {kernel}")


def rotary_module(lm: LatentModel):
    """The model's rotary embedding module (None for absolute-position models like GPT-2)."""
    return model_rotary(lm.model)


@dataclass
class SequenceView:
    """What a position-level press sees once the whole pass is over (the same for every layer)."""

    ids: torch.Tensor | None  # [B, n] tokens of the new slots (None for latent vectors)
    mask: torch.Tensor  # [B, n]
    start: int  # slots held before the pass
    logprobs: object = field(repr=False, default=None)  # callable -> [B, n] log p(token | before), or None


@dataclass
class Press:
    """Base: ``ratio`` is the fraction of each row's new slots to drop, in [0, 1)."""

    ratio: float = 0.5
    name: ClassVar[str] = ""
    per_layer: ClassVar[bool] = True  # False: one score per position for every layer (`score_positions`)
    needs_logprobs: ClassVar[bool] = False
    probe: ClassVar[bool] = False  # True: `score` runs on a pass over `probe_ids` read after the slots
    RANGES: ClassVar[dict] = {"ratio": between(0, 1)}  # 1 itself is refused by `check_ratio`: keep a slot

    def __post_init__(self) -> None:
        check_ratio(self.ratio)

    def score(self, view: LayerView) -> torch.Tensor:
        """``[B, kv_heads, n]``: how much each new slot deserves to stay (higher is kept)."""
        raise NotImplementedError

    def score_positions(self, seq: SequenceView) -> torch.Tensor:
        """``[B, n]`` for position-level presses."""
        raise NotImplementedError

    def on_pass(self, lm: LatentModel, cache, old_mask: torch.Tensor, new_mask: torch.Tensor, ids: torch.Tensor | None,
                next_position: torch.Tensor | None = None) -> Pressing:
        """The hook object the model runs one pass inside (the press owns its hooks; the model layer
        knows no press): see `Pressing`."""
        return Pressing(lm, self, cache, old_mask, new_mask, ids, next_position)

    def select(self, scores: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Which slots stay: ``(index [B, H, k], kept_mask [B, k])`` — see `keep_top`."""
        return keep_top(scores, mask, self.ratio)

    def __str__(self) -> str:
        return f"{self.name}@{self.ratio:g}"


def check_ratio(ratio: float) -> None:
    if isinstance(ratio, bool) or not isinstance(ratio, (int, float)) or not 0 <= ratio < 1:
        raise LatentspaceError(f"compression ratio must be in [0, 1), got {ratio!r}")


def kept_count(real: torch.Tensor, ratio: float) -> torch.Tensor:
    """Slots a row of ``real`` tokens keeps: at least one of a non-empty row."""
    return real - (real.double() * ratio).floor().long()


def keep_top(scores: torch.Tensor, mask: torch.Tensor, ratio: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Per row and head, the top ``kept_count`` real slots by score, in their original order.

    Rows that keep fewer than the longest row start with padding slots (left padding stays left),
    identical in every head, so one ``[B, k]`` mask serves all heads and layers.
    """
    batch, heads, n = scores.shape
    real = mask.sum(1).long()
    keep = kept_count(real, ratio)
    k = int(keep.max()) if batch else 0
    index = torch.zeros(batch, heads, k, dtype=torch.long, device=scores.device)
    kept_mask = torch.zeros(batch, k, dtype=mask.dtype, device=mask.device)
    for b in range(batch):
        real_slots = mask[b].nonzero().flatten().to(scores.device)
        pads = (mask[b] == 0).nonzero().flatten().to(scores.device)[: k - int(keep[b])]
        s = scores[b][:, real_slots].float()
        if torch.isnan(s).any():
            raise LatentspaceError("a press produced NaN scores")
        top = s.topk(int(keep[b]), dim=-1).indices.sort(-1).values
        index[b] = torch.cat([pads.expand(heads, -1), real_slots[top]], -1)
        kept_mask[b, k - int(keep[b]):] = 1
    return index, kept_mask


class Pressing:
    """Context manager around one forward pass that appends slots ``start:`` to ``cache``.

    After the pass, `finish()` cuts every layer's new slots to the press's choice and returns the
    ``(kept_mask [B, k], kept_ids [B, k] or None when heads kept different slots)``.
    """

    def __init__(self, lm: LatentModel, press: Press, cache, old_mask: torch.Tensor, new_mask: torch.Tensor,
                 ids: torch.Tensor | None, next_position: torch.Tensor | None = None) -> None:
        self.lm, self.press, self.cache, self.start = lm, press, cache, old_mask.shape[1]
        self.full_mask, self.new_mask, self.ids = torch.cat([old_mask, new_mask], 1), new_mask, ids
        self.next_position = next_position
        self._rotary = rotary_module(lm)
        self.scores: dict[int, torch.Tensor] = {}
        self.final: torch.Tensor | None = None
        self._handles = Handles()
        self._inputs: dict[int, tuple] = {}

    def __enter__(self) -> Pressing:
        self._handles.register(self._hooks())  # a registration failing part way leaves no hook behind
        return self

    def __exit__(self, *exc: object) -> bool:
        self._handles.remove()
        self._inputs.clear()
        return False

    def _hooks(self):
        if self.press.per_layer and not self.press.probe:
            yield from self._attention_hooks()
        if self.press.needs_logprobs:
            yield self.lm.sites.final_norm.register_forward_hook(self._keep_final)

    def _attention_hooks(self):
        """Each attention layer's input (captured) and, right after it ran, its new slots scored."""
        for i in range(self.lm.n_layers):
            attn = self.lm.sites.module("attn_out", i)
            yield attn.register_forward_pre_hook(self._capture(i), with_kwargs=True)
            yield attn.register_forward_hook(self._score(i))

    def _capture(self, i: int):
        def hook(module, args, kwargs):
            hidden = args[0] if args else kwargs["hidden_states"]
            self._inputs[i] = (hidden.detach(), kwargs.get("position_embeddings"))
        return hook

    def _score(self, i: int):
        def hook(module, args, output):
            if i not in self._inputs:  # a layer run again (looped layers): `finish` refuses the pass
                return
            hidden, rotary = self._inputs.pop(i)
            layer = self.cache.layers[i]
            view = LayerView(i, layer.keys, layer.values, self.start, self._mask(layer), module, hidden, rotary,
                             self.next_position, self._rotary_at(hidden))
            with torch.no_grad():
                self.scores[i] = self.press.score(view).float()
        return hook

    def _mask(self, layer) -> torch.Tensor:
        extra = layer.keys.shape[2] - self.full_mask.shape[1]  # probe slots, during a probe pass
        if not extra:
            return self.full_mask
        return torch.cat([self.full_mask, self.full_mask.new_ones(len(self.full_mask), extra)], 1)

    def _rotary_at(self, hidden: torch.Tensor):
        if self._rotary is None:
            return None
        return lambda positions: self._rotary(hidden, positions)

    def _probe(self) -> None:
        """Read the press's probe text after the pass, score the pass's slots with the probe's
        attention, then cut the probe out of the cache again."""
        probe = self.press.probe_ids(self.lm).to(self.lm.device)
        batch, m = len(self.full_mask), probe.shape[1]
        ids = probe.expand(batch, -1)
        mask = torch.cat([self.full_mask, self.full_mask.new_ones(batch, m)], 1)
        positions = self.next_position[:, None] + torch.arange(m, device=self.lm.device)
        held = self.full_mask.shape[1]
        with self:
            self._handles.register(self._attention_hooks())
            self.lm.forward(ids, mask, position_ids=positions, cache=self.cache, logits_to_keep=1)
        kv.cut_in_place(self.cache, held)
        for i, scores in self.scores.items():
            self.scores[i] = scores[..., : held - self.start]

    def _keep_final(self, module, args, output):
        self.final = unpack_output(output).detach()

    def logprobs(self) -> torch.Tensor:
        """``[B, n]``: log p(token_t | tokens before t) for the new slots (0 where unknown)."""
        if self.final is None or self.ids is None:
            return torch.zeros(self.new_mask.shape, device=self.new_mask.device)
        out = torch.zeros(self.ids.shape, device=self.ids.device)
        for s in range(0, self.ids.shape[1] - 1, 256):  # [chunk, vocab] logits at a time
            e = min(s + 256, self.ids.shape[1] - 1)
            logp = self.lm.head(self.final[:, s:e], normed=True).float().log_softmax(-1)
            out[:, s + 1:e + 1] = logp.gather(-1, self.ids[:, s + 1:e + 1, None]).squeeze(-1)
        return out

    def finish(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        layers = self.cache.layers
        if len(layers) != self.lm.n_layers:
            raise LatentspaceError("presses cannot compress a pass that loops layers (the loop strategy); "
                                   "use another strategy or no press")
        if self.press.probe:
            self._probe()
        if self.press.per_layer:
            if len(self.scores) != len(self.lm.sites.layers):
                raise LatentspaceError("the press saw only part of the pass (an early stop?)")
            choices = [self.press.select(self.scores[i], self.new_mask) for i in range(len(layers))]
        else:
            seq = SequenceView(self.ids, self.new_mask, self.start, self.logprobs)
            with torch.no_grad():
                scores = self.press.score_positions(seq).float()
            heads = layers[0].keys.shape[1]
            choice = self.press.select(scores[:, None].expand(-1, heads, -1), self.new_mask)
            choices = [choice] * len(layers)
        return apply_choices(self.cache, self.start, choices, self.ids)


def apply_choices(cache, start: int, choices: list, ids: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Cut each cache layer's slots ``start:`` to its choice; ``(kept_mask, kept_ids or None)``.

    Kept ids are known only when every head of every layer kept the same slots."""
    for i, (index, _) in enumerate(choices):
        kv.keep_slots_in_place(cache, i, start, index)
    kept_mask = choices[0][1]
    first = choices[0][0][:, :1]
    same = all(torch.equal(ix, ix[:, :1].expand_as(ix)) and torch.equal(ix[:, :1], first) for ix, _ in choices)
    kept_ids = ids[:, start:].gather(1, first[:, 0].to(ids.device)) if same and ids is not None else None
    return kept_mask, kept_ids
