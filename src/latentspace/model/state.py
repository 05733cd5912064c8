"""LatentState: everything needed to continue a batch of sequences from where they stopped.

A state is *consumed* when `LatentModel.step/feed/decode` advances it (the KV cache is extended in
place, which is what makes stepping cheap). Using a consumed state raises; call `fork()` first
to branch (e.g. to ask several questions from one encoded context).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import torch
from latentspace.errors import LatentspaceError
from latentspace.io import load_tensors, save_tensors
from latentspace.model import kv

LATENT_ID = -1  # marks sequence slots filled by a continuous vector rather than a token
PRESSED_ID = -2  # a slot a press kept per head: which token it holds differs from head to head


@dataclass
class LatentState:
    """A batch of left-padded sequences held in a KV cache.

    ids: ``[B, T]`` token id per slot (``LATENT_ID`` for latent slots, pad id where masked).
    attention_mask: ``[B, T]`` 1 for real slots, 0 for left padding.
    next_position: ``[B]`` position id the next slot will get (pads do not count).
    logits: ``[B, vocab]`` next-token logits after the last slot.
    hidden: ``[B, d]`` last-layer hidden state (after the final norm) at the last slot, or None.
    """

    cache: object
    ids: torch.Tensor
    attention_mask: torch.Tensor
    next_position: torch.Tensor
    logits: torch.Tensor
    hidden: torch.Tensor | None
    consumed: bool = field(default=False, repr=False)
    # the LatentModel that made it (or, once loaded, its fingerprint): feeding a state to another
    # model is refused — keys computed by one model mean nothing to another's attention
    owner: object = field(default=None, repr=False, compare=False)

    @property
    def batch_size(self) -> int:
        return self.ids.shape[0]

    @property
    def length(self) -> int:
        """Sequence slots held, padding included."""
        return self.ids.shape[1]

    def check_usable(self) -> None:
        if self.consumed:
            raise LatentspaceError("this LatentState was already advanced; call state.fork() before branching")

    def fork(self) -> LatentState:
        """An independent copy (the KV cache is cloned)."""
        self.check_usable()
        return replace(self, cache=kv.clone(self.cache), consumed=False)

    def latent_slots(self) -> torch.Tensor:
        """Boolean ``[B, T]``: slots filled by continuous vectors."""
        return self.ids == LATENT_ID

    # -- persistence ---------------------------------------------------------------------------
    def save(self, path: str | Path, fingerprint: dict, meta: dict | None = None) -> Path:
        """safetensors with a JSON header carrying the model fingerprint; written atomically."""
        self.check_usable()
        tensors = kv.flatten(self.cache)
        tensors.update(ids=self.ids, attention_mask=self.attention_mask, next_position=self.next_position,
                       logits=self.logits)
        if self.hidden is not None:
            tensors["hidden"] = self.hidden
        return save_tensors(path, tensors, "latent_state", fingerprint, meta)

    @classmethod
    def load(cls, path: str | Path, fingerprint: dict, device: torch.device | str = "cpu") -> LatentState:
        """Load a saved state for the model with ``fingerprint`` (refused for any other model)."""
        tensors, _ = load_tensors(path, "latent_state", fingerprint, device, what="state")
        _check_shapes(tensors, Path(path).name)
        return cls(
            cache=kv.unflatten(tensors),
            ids=tensors["ids"],
            attention_mask=tensors["attention_mask"],
            next_position=tensors["next_position"],
            logits=tensors["logits"],
            hidden=tensors.get("hidden"),
            owner=fingerprint,
        )


def _check_shapes(tensors: dict[str, torch.Tensor], name: str) -> None:
    """A saved state's parts must agree (a cache shorter than its mask would fail mid-forward)."""
    missing = [k for k in ("ids", "attention_mask", "next_position", "logits") if k not in tensors]
    if missing:
        raise LatentspaceError(f"{name}: saved state has no {missing[0]!r}")
    ids, mask = tensors["ids"], tensors["attention_mask"]
    if ids.dim() != 2 or mask.shape != ids.shape or ids.is_floating_point() or mask.is_floating_point():
        raise LatentspaceError(f"{name}: saved state's ids {tuple(ids.shape)} and mask {tuple(mask.shape)} "
                               "must be integer [batch, slots] of one shape")
    batch, slots = ids.shape
    if tensors["next_position"].shape != (batch,) or tensors["logits"].dim() != 2 or len(tensors["logits"]) != batch:
        raise LatentspaceError(f"{name}: saved state's positions or logits do not match its batch of {batch}")
    hidden = tensors.get("hidden")
    if hidden is not None and (hidden.dim() != 2 or len(hidden) != batch):
        raise LatentspaceError(f"{name}: saved state's hidden state does not match its batch of {batch}")
    layers = sorted(k for k in tensors if k.startswith("kv."))
    if not layers:
        raise LatentspaceError(f"{name}: saved state holds no cache")
    # every layer holds every slot, except sliding-window layers (Gemma 3), which keep only the last ones
    for key in layers:
        t = tensors[key]
        if t.dim() != 4 or t.shape[0] != batch or t.shape[2] > slots:
            raise LatentspaceError(f"{name}: cache {key} has shape {tuple(t.shape)}; the mask holds {batch} row(s) "
                                   f"of {slots} slots")
    longest = max(tensors[key].shape[2] for key in layers)
    if longest != slots:
        raise LatentspaceError(f"{name}: the saved cache holds {longest} slots but its mask {slots}; "
                               "the file is inconsistent")
