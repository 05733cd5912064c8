"""What a press sees of one attention layer right after a prefill pass wrote into its cache.

The queries are recomputed from the attention module's own input (its projection, per-head
norm and rotary embedding), only for the few positions a press asks about — the pass itself is
never changed. This file is the only press code that knows how attention modules are built.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from latentspace.core.errors import LatentspaceError


@dataclass
class LayerView:
    """One layer's cache after the pass; slots ``start:`` are the ones this pass added.

    keys, values: ``[B, kv_heads, L, head_dim]`` (rotary already applied to the keys).
    mask: ``[B, L]`` 1 for real slots, 0 for padding.
    hidden: ``[B, n, d]`` the attention module's input for the new slots (None after the fact).
    """

    layer: int
    keys: torch.Tensor
    values: torch.Tensor
    start: int
    mask: torch.Tensor
    module: torch.nn.Module = field(repr=False)
    hidden: torch.Tensor | None = field(default=None, repr=False)
    rotary: tuple[torch.Tensor, torch.Tensor] | None = field(default=None, repr=False)
    next_position: torch.Tensor | None = None  # [B] position the next token will get
    rotary_at: object = field(default=None, repr=False)  # positions [B, P] -> (cos, sin), or None

    def future_rotation(self, horizon: int) -> tuple[torch.Tensor, torch.Tensor] | None:
        """``(cos, sin)`` ``[B, head_dim]`` averaged over the next ``horizon`` positions (None
        without rotary): the rotation a future query gets, on average."""
        if self.rotary_at is None or self.next_position is None:
            return None
        positions = self.next_position[:, None] + torch.arange(horizon, device=self.next_position.device)
        cos, sin = self.rotary_at(positions)
        return cos.float().mean(1), sin.float().mean(1)

    @property
    def new_keys(self) -> torch.Tensor:
        return self.keys[:, :, self.start:]

    @property
    def new_values(self) -> torch.Tensor:
        return self.values[:, :, self.start:]

    @property
    def new_mask(self) -> torch.Tensor:
        return self.mask[:, self.start:]

    @property
    def n_new(self) -> int:
        return self.keys.shape[2] - self.start

    @property
    def kv_heads(self) -> int:
        return self.keys.shape[1]

    def queries(self, last: int | None = None, rotated: bool = True) -> torch.Tensor:
        """``[B, heads, m, head_dim]``: the queries of the last ``m`` new slots, as attention saw
        them (``rotated=False``: before the rotary embedding)."""
        if self.hidden is None:
            raise LatentspaceError("this press needs the queries, which exist only during a prefill; "
                                   "use a key-only press (knorm, keydiff, streaming) on a finished state")
        m = self.n_new if last is None else min(last, self.n_new)
        rotary = None if self.rotary is None or not rotated else tuple(t[:, -m:] for t in self.rotary)
        return _queries(self.module, self.hidden[:, -m:].contiguous(), rotary, self.keys.shape[-1])

    def scaling(self) -> float:
        scale = getattr(self.module, "scaling", None)
        return float(scale) if scale is not None else self.keys.shape[-1] ** -0.5

    def attention(self, last: int | None = None, queries: torch.Tensor | None = None,
                  first: int | None = None) -> torch.Tensor:
        """``[B, heads, m, L]``: softmax attention of the last ``m`` new slots (or of ``queries``
        sitting at slots ``first:first+m``) over the whole cache, causal and with padding masked —
        what those queries attended to in the pass."""
        q = self.queries(last) if queries is None else queries
        m, total = q.shape[2], self.keys.shape[2]
        first = total - m if first is None else first
        keys = self.keys.repeat_interleave(q.shape[1] // self.kv_heads, dim=1)
        logits = torch.matmul(q.float(), keys.float().transpose(-1, -2)) * self.scaling()
        query_slot = torch.arange(first, first + m, device=q.device)
        causal = torch.arange(total, device=q.device)[None, :] <= query_slot[:, None]  # [m, L]
        allowed = causal[None, None] & (self.mask[:, None, None, :] > 0)
        return logits.masked_fill(~allowed, float("-inf")).softmax(-1).nan_to_num(0.0)


def _queries(module, hidden: torch.Tensor, rotary, head_dim: int) -> torch.Tensor:
    batch, m, _ = hidden.shape
    if hasattr(module, "q_proj"):  # Llama, Mistral, Qwen, Gemma, OLMo-2 ...
        q = module.q_proj(hidden)
        norm = getattr(module, "q_norm", None)
        if norm is not None and norm.weight.numel() == q.shape[-1]:  # OLMo-2 norms the whole projection
            q, norm = norm(q), None
        q = q.view(batch, m, -1, head_dim)
        q = (norm(q) if norm is not None else q).transpose(1, 2)
        return q if rotary is None else rotate(q, *(t[:, None].to(q.dtype) for t in rotary))
    if hasattr(module, "c_attn"):  # GPT-2: fused qkv, absolute positions (no rotary)
        q = module.c_attn(hidden)[..., : module.embed_dim]
        return q.view(batch, m, -1, head_dim).transpose(1, 2)
    raise LatentspaceError(f"presses that read queries do not know the attention module {type(module).__name__}; "
                           "use a key-only press (knorm, keydiff, streaming, surprisal)")


def rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """The rotary embedding (rotate-half convention, what HF models use)."""
    return x * cos + _rotate_half(x) * sin


def _rotate_half(x: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return torch.cat([-x[..., half:], x[..., :half]], dim=-1)
