"""A C2C-style cache fuser: the sharer's keys and values enrich the receiver's, both models frozen.

Per receiver layer l (paired with sharer layer m(l) by relative depth) and separately for keys and
values, a small MLP reads [sharer K/V at the aligned slot ; receiver K/V] and proposes a change of
the receiver's K/V; a second head gives one weight per receiver KV head (sigmoid), and a scalar
gate per layer decides whether the layer is fused at all:

    K'_l = K_l + gate_l · weight_l · proj_l([K^sharer_m(l) ; K_l])

The gate is a Gumbel-sigmoid of a learnt logit while training (its temperature annealed towards 0,
so it ends near 0 or 1) and hard at inference (open iff its logit > 0). Closed everywhere, the
fused receiver *is* the receiver alone — the tests check the logits are equal.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

from latentspace.bridge.hidden_map import check_pair
from latentspace.core import saved
from latentspace.core.errors import LatentspaceError

KIND = "bridge_fuser"


@dataclass(frozen=True)
class FuserShape:
    """What a fuser is built for: per side, KV heads and head size; the layer pairing; the MLP width."""

    sharer_heads: int
    sharer_head_dim: int
    receiver_heads: int
    receiver_head_dim: int
    pairs: tuple[tuple[int, int], ...]  # (sharer layer, receiver layer), one per fused receiver layer
    hidden: int = 256
    gate_init: float = 3.0  # the gates start open (P(open) 0.95 under the Gumbel noise): a closed gate gives no gradient


class Projector(nn.Module):
    def __init__(self, sharer_dim: int, receiver_dim: int, heads: int, hidden: int) -> None:
        super().__init__()
        self.heads = heads
        self.mlp = nn.Sequential(nn.Linear(sharer_dim + receiver_dim, hidden), nn.GELU(),
                                 nn.Linear(hidden, receiver_dim))
        self.head_weight = nn.Linear(sharer_dim + receiver_dim, heads)
        nn.init.zeros_(self.mlp[-1].weight)  # starts as no change: training moves away from the receiver alone
        nn.init.zeros_(self.mlp[-1].bias)

    def forward(self, sharer: torch.Tensor, receiver: torch.Tensor) -> torch.Tensor:
        """``sharer`` ``[B, T, Hs*ds]``, ``receiver`` ``[B, T, Hr*dr]`` -> the change ``[B, T, Hr*dr]``."""
        x = torch.cat([sharer, receiver], -1)
        change = self.mlp(x)
        weight = torch.sigmoid(self.head_weight(x))  # [B, T, Hr]
        b, t, _ = change.shape
        return (change.view(b, t, self.heads, -1) * weight[..., None]).view(b, t, -1)


class CacheFuser(nn.Module):
    def __init__(self, shape: FuserShape) -> None:
        super().__init__()
        self.shape = shape
        ds, dr = shape.sharer_heads * shape.sharer_head_dim, shape.receiver_heads * shape.receiver_head_dim
        self.keys = nn.ModuleList(Projector(ds, dr, shape.receiver_heads, shape.hidden) for _ in shape.pairs)
        self.values = nn.ModuleList(Projector(ds, dr, shape.receiver_heads, shape.hidden) for _ in shape.pairs)
        self.gate_logits = nn.Parameter(torch.full((len(shape.pairs),), float(shape.gate_init)))

    def gates(self, temperature: float | None = None) -> torch.Tensor:
        """Soft Gumbel-sigmoid gates while training (``temperature``), hard 0/1 gates when None."""
        if temperature is None:
            return (self.gate_logits > 0).to(self.gate_logits.dtype)
        u = torch.rand_like(self.gate_logits).clamp(1e-6, 1 - 1e-6)
        return torch.sigmoid((self.gate_logits + torch.log(u) - torch.log1p(-u)) / temperature)

    def forward(self, sharer_kv, receiver_kv, temperature: float | None = None, gates: torch.Tensor | None = None):
        """Fused per-layer (K, V) of the receiver. ``sharer_kv``: per *sharer* layer (K, V) already
        gathered at the receiver's slots ``[B, Hs, T, ds]``; ``receiver_kv``: per receiver layer."""
        gates = self.gates(temperature) if gates is None else gates
        fused = list(receiver_kv)
        for i, (s, r) in enumerate(self.shape.pairs):
            (ks, vs), (kr, vr) = sharer_kv[s], receiver_kv[r]
            fused[r] = (kr + gates[i] * self._change(self.keys[i], ks, kr),
                        vr + gates[i] * self._change(self.values[i], vs, vr))
        return fused

    @staticmethod
    def _change(projector: Projector, sharer: torch.Tensor, receiver: torch.Tensor) -> torch.Tensor:
        b, hr, t, dr = receiver.shape
        flat_s = sharer.permute(0, 2, 1, 3).reshape(b, t, -1).to(receiver.dtype)
        flat_r = receiver.permute(0, 2, 1, 3).reshape(b, t, -1)
        return projector(flat_s, flat_r).view(b, t, hr, dr).permute(0, 2, 1, 3)

    def parameter_count(self) -> int:
        return sum(p.numel() for p in self.parameters())

    # -- files ----------------------------------------------------------------------------------
    def save(self, path: str | Path, sharer: dict, receiver: dict, meta: dict | None = None) -> Path:
        shape = {**asdict(self.shape), "pairs": [list(p) for p in self.shape.pairs]}
        return saved.save_tensors(path, dict(self.state_dict()), KIND, receiver,
                               {**(meta or {}), "shape": shape, "sharer_fingerprint": sharer})

    @classmethod
    def load(cls, path: str | Path, sharer: dict, receiver: dict) -> tuple[CacheFuser, dict]:
        check_pair(path, KIND, "cache fuser", sharer, receiver)
        tensors, meta = saved.load_tensors(path, KIND, receiver, what="cache fuser")
        try:
            raw = dict(meta["shape"])
            shape = FuserShape(**{**raw, "pairs": tuple(tuple(int(v) for v in p) for p in raw["pairs"])})
            fuser = cls(shape)
            fuser.load_state_dict(tensors)
        except (KeyError, TypeError, ValueError, RuntimeError) as err:
            raise LatentspaceError(f"{Path(path).name}: malformed cache fuser ({str(err)[:80]})") from None
        meta.pop("sharer_fingerprint", None)
        return fuser.eval(), meta


def fuser_shape(sharer_kv, receiver_kv, pairs, hidden: int = 256) -> FuserShape:
    """The shape fitting two models' caches (read from one prefill of each)."""
    (ks, _), (kr, _) = sharer_kv[0], receiver_kv[0]
    return FuserShape(ks.shape[1], ks.shape[3], kr.shape[1], kr.shape[3], tuple(tuple(p) for p in pairs), hidden)
