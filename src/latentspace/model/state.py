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
        return cls(
            cache=kv.unflatten(tensors),
            ids=tensors["ids"],
            attention_mask=tensors["attention_mask"],
            next_position=tensors["next_position"],
            logits=tensors["logits"],
            hidden=tensors.get("hidden"),
            owner=fingerprint,
        )
