"""LatentState: everything needed to continue a batch of sequences from where they stopped.

A state is *consumed* when `LatentModel.step/feed/decode` advances it (the KV cache is extended in
place, which is what makes stepping cheap). Using a consumed state raises; call `fork()` first
to branch (e.g. to ask several questions from one encoded context).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import torch
from latentspace.core.errors import LatentspaceError
from latentspace.core.saved import load_tensors, save_tensors
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

    def pick_rows(self, index: torch.Tensor) -> LatentState:
        """A state of rows ``index`` (repeats allowed: beams, samples); consumes this one."""
        self.check_usable()
        dev = index.to(self.ids.device)
        self.consumed = True
        return replace(self, cache=kv.select_batch(self.cache, index), ids=self.ids[dev],
                       attention_mask=self.attention_mask[dev], next_position=self.next_position[dev],
                       logits=self.logits[dev], hidden=None if self.hidden is None else self.hidden[dev],
                       consumed=False)

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
    def load(cls, path: str | Path, fingerprint: dict, device: torch.device | str = "cpu",
             model=None) -> LatentState:
        """Load a saved state for the model with ``fingerprint`` (refused for any other model).

        Every tensor is checked against the others and the fingerprint's sizes (a hand-edited or
        damaged file would otherwise fail mid-forward with "Sizes of tensors must match");
        ``model``, the `LatentModel` it is loaded for, adds its vocabulary and attention heads."""
        tensors, _ = load_tensors(path, "latent_state", fingerprint, device, what="state")
        why = problem(tensors, fingerprint, model)
        if why is not None:
            raise LatentspaceError(f"{Path(path).name}: not a usable saved state: {why}")
        return cls(
            cache=kv.unflatten(tensors),
            ids=tensors["ids"],
            attention_mask=tensors["attention_mask"],
            next_position=tensors["next_position"],
            logits=tensors["logits"],
            hidden=tensors.get("hidden"),
            owner=fingerprint,
        )


class _Fault(Exception):
    """What is wrong with a saved state's tensors (reported by `problem`)."""


def problem(tensors: dict[str, torch.Tensor], fingerprint: dict, model=None) -> str | None:
    """Why ``tensors`` (a saved state's, or a memory blob's) cannot be a state of the model with
    ``fingerprint`` (and ``model``, when given): their parts must agree with each other and with
    the model. None when they can."""
    try:
        _check_parts(tensors, fingerprint, model)
    except _Fault as fault:
        return str(fault)
    return None


def _check_parts(tensors: dict[str, torch.Tensor], fingerprint: dict, model) -> None:
    missing = [k for k in ("ids", "attention_mask", "next_position", "logits") if k not in tensors]
    if missing:
        raise _Fault(f"it has no {missing[0]!r}")
    ids, mask, position, logits = (tensors[k] for k in ("ids", "attention_mask", "next_position", "logits"))
    if ids.dim() != 2 or mask.shape != ids.shape or ids.is_floating_point() or mask.is_floating_point():
        raise _Fault(f"its ids {tuple(ids.shape)} and mask {tuple(mask.shape)} must be integer [batch, slots] "
                     "of one shape")
    batch, slots = ids.shape
    if not bool(((mask == 0) | (mask == 1)).all()):
        raise _Fault("its attention mask holds values other than 0 and 1")
    vocab = fingerprint.get("vocab_size")
    if ids.numel() and (int(ids.min()) < PRESSED_ID or (type(vocab) is int and int(ids.max()) >= vocab)):
        raise _Fault(f"its ids run from {int(ids.min())} to {int(ids.max())}, outside the model's vocabulary")
    if position.shape != (batch,) or position.is_floating_point():
        raise _Fault(f"its next positions {tuple(position.shape)} must be {batch} integer(s), one per row")
    # every slot read took a position (a press keeps fewer slots than it read, never more)
    if bool((position < mask.sum(1)).any()):
        raise _Fault(f"its next positions {position.tolist()} are fewer than the slots its mask holds")
    width = None if model is None else model.vocab_size
    if logits.dim() != 2 or len(logits) != batch or (width is not None and logits.shape[1] != width):
        raise _Fault(f"its logits {tuple(logits.shape)} are not [{batch}, {width or 'vocabulary'}]")
    hidden = tensors.get("hidden")
    size = fingerprint.get("hidden_size")
    if hidden is not None and (hidden.dim() != 2 or len(hidden) != batch
                               or (type(size) is int and hidden.shape[1] != size)):
        raise _Fault(f"its hidden state {tuple(hidden.shape)} is not [{batch}, {size}]")
    _check_cache(tensors, batch, slots, fingerprint, model)


def _check_cache(tensors, batch: int, slots: int, fingerprint: dict, model) -> None:
    """One keys and one values tensor per layer of the model, each ``[batch, heads, slots, head dim]``,
    the same heads and head size in every layer. Every layer holds every slot: our caches are full
    `DynamicCache`s (`kv.new_cache`), and a press keeps as many slots in each layer."""
    names = {k for k in tensors if k.startswith("kv.")}
    layers = fingerprint.get("n_layers")
    n = layers if type(layers) is int else len(names) // 2
    expected = {f"kv.{i}.{part}" for i in range(n) for part in "kv"}
    if names != expected:
        odd = sorted(names - expected) or sorted(expected - names)
        what = "an unexpected" if names - expected else "no"
        raise _Fault(f"its cache has {what} {odd[0]!r} (the model has {n} layers: kv.0.k ... kv.{n - 1}.v)")
    heads = _heads(model)
    first = {}
    for i in range(n):
        for part in "kv":
            t = tensors[f"kv.{i}.{part}"]
            if t.dim() != 4 or t.shape[0] != batch:
                raise _Fault(f"cache kv.{i}.{part} has shape {tuple(t.shape)}, not [{batch}, heads, {slots}, "
                             f"head dim] ({batch} row(s) of {slots} slots, as its mask)")
            if t.shape[2] != slots:
                raise _Fault(f"the saved cache holds {t.shape[2]} slots but its mask {slots} (cache kv.{i}.{part} "
                             f"has shape {tuple(t.shape)})")
            shape = first.setdefault(part, (t.shape[1], t.shape[3]))
            if (t.shape[1], t.shape[3]) != shape:
                raise _Fault(f"cache kv.{i}.{part} has {t.shape[1]} heads of {t.shape[3]}, layer 0's "
                             f"{shape[0]} of {shape[1]}")
            if heads is not None and part == "k" and (t.shape[1], t.shape[3]) != heads:
                raise _Fault(f"cache kv.{i}.k has {t.shape[1]} heads of {t.shape[3]}; the model's attention "
                             f"has {heads[0]} of {heads[1]}")
        if tensors[f"kv.{i}.k"].shape[1] != tensors[f"kv.{i}.v"].shape[1]:
            raise _Fault(f"cache layer {i}'s keys and values have different numbers of heads")


def _heads(model) -> tuple[int, int] | None:
    """(key/value heads, head size) of ``model``'s attention per its config, or None when the config
    does not say (then only the file's own consistency is checked)."""
    config = getattr(model, "config", None)
    try:
        attention = config.num_attention_heads
        kv_heads = getattr(config, "num_key_value_heads", None) or attention
        size = getattr(config, "head_dim", None) or config.hidden_size // attention
    except (AttributeError, TypeError, ZeroDivisionError):
        return None
    return (kv_heads, size) if all(type(x) is int and x > 0 for x in (kv_heads, size)) else None
