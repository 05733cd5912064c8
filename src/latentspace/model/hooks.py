"""Record and intervene on canonical sites through removable PyTorch hooks.

One context manager, `HookSession`, owns every hook it registers and removes them all on exit,
also when the body raises. `Handles` is that register-and-always-remove rule on its own, for every
owner of hooks (a session, a press, a layer loop): a registration failing part way leaves no hook.
Interventions never edit a tensor in place: each hook returns a new tensor, so activations the
caller holds (and the model's weights) are never changed.

Positions are *sequence slots*: slot ``p`` is the p-th position of the whole sequence including
the KV cache and any left padding, so an intervention on slots ``>= 12`` keeps applying to every
new token during cached generation. The slot offset of each forward call is read from the cache
handed to the model (a pre-hook on the top module), which also works inside ``generate``.

An intervention may also name its slots by role: ``"prompt"`` is every slot of a forward pass over
an empty cache (a prefill), ``"generated"`` every slot appended after it to a cache (decoded
tokens, latent thoughts). When the session starts on a cache that is already filled, the slots
already in it count as the prompt.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Literal

import torch

from latentspace.core.errors import LatentspaceError
from latentspace.model.sites import LAYER_SITES, SiteMap, check_site

Op = Literal["add", "replace", "project_out", "fn"]
Positions = None | Literal["last"] | Sequence[int]
ROLES = ("prompt", "generated")  # slots named by role, resolved while the model runs


class Handles:
    """Hook handles registered together and removed together.

    ``register(handles)`` takes an iterable that registers one hook per item (a generator that
    yields each ``module.register_forward_hook(...)``) and keeps every handle as soon as it exists:
    if a later registration raises, every hook kept so far is removed before the error propagates.
    ``remove()`` removes them all (calling it again is harmless). As a context manager it removes
    them on exit, also when the body raises::

        with Handles().register(hooks_of(model)):
            model(x)
    """

    def __init__(self) -> None:
        self._held: list[torch.utils.hooks.RemovableHandle] = []

    def register(self, handles: Iterable[torch.utils.hooks.RemovableHandle]) -> Handles:
        try:
            for handle in handles:
                self._held.append(handle)
        except BaseException:
            self.remove()
            raise
        return self

    def remove(self) -> None:
        for handle in self._held:
            handle.remove()
        self._held.clear()

    def __enter__(self) -> Handles:
        return self

    def __exit__(self, *exc: object) -> bool:
        self.remove()
        return False


class StopForward(Exception):
    """Raised inside a forward pass once every requested site is recorded (saves the rest)."""


@dataclass(frozen=True)
class Intervention:
    """Change one site while the model runs.

    op: ``add`` (h + scale·value), ``replace`` (value), ``project_out`` (remove the component of h
    along the direction ``value``), ``fn`` (``value(h) -> h``, any function).
    value: a vector of the hidden size, or one per batch row ``[B, d]``; a callable for ``fn``.
    positions: ``None`` for every slot, absolute sequence slots (a list, a ``range``, or a
    ``slice``: ``slice(12, None)`` = slot 12 onwards), or a role: ``"prompt"`` / ``"generated"``.
    """

    site: str
    layer: int | None = None
    op: Op = "add"
    value: torch.Tensor | Callable[[torch.Tensor], torch.Tensor] | None = None
    positions: Sequence[int] | slice | None = None
    scale: float = 1.0


def check_vector(vector: torch.Tensor, hidden_size: int, what: str = "vector") -> torch.Tensor:
    """A float tensor whose last dimension is the hidden size and whose values are finite."""
    if not torch.is_tensor(vector):
        vector = torch.as_tensor(vector, dtype=torch.float32)
    if vector.shape[-1:] != (hidden_size,):
        raise LatentspaceError(f"{what} has shape {tuple(vector.shape)}; expected last dimension {hidden_size}")
    if not torch.isfinite(vector).all():
        raise LatentspaceError(f"{what} contains NaN or inf")
    return vector


def check_positions(positions, roles: bool = False) -> None:
    """Slots are absolute and non-negative (``-1`` would silently match nothing)."""
    named = isinstance(positions, str)
    if positions is None or (named and (positions == "last" or (roles and positions in ROLES))):
        return
    if isinstance(positions, slice):
        bounds = [b for b in (positions.start, positions.stop) if b is not None]
    elif isinstance(positions, (str, bytes)):
        named = "'last', 'prompt', 'generated'" if roles else "'last'"
        raise LatentspaceError(f"positions must be None, {named}, slots or a slice, not {positions!r}")
    else:
        try:
            bounds = list(positions)  # a list, range, tensor or array of slots
        except TypeError:
            raise LatentspaceError(f"positions must be slots, a slice or a name, not {positions!r}") from None
    if any(int(b) < 0 for b in bounds):
        raise LatentspaceError("positions are absolute sequence slots (>= 0); use 'last' for the last one")


class Recording:
    """What a session recorded: ``rec["resid_post", 3]`` -> tensor ``[batch, positions, d]``."""

    def __init__(self) -> None:
        self._chunks: dict[tuple[str, int | None], list[torch.Tensor]] = defaultdict(list)

    def _add(self, key: tuple[str, int | None], value: torch.Tensor) -> None:
        self._chunks[key].append(value)

    def __getitem__(self, key: tuple[str, int | None] | str) -> torch.Tensor:
        key = (key, None) if isinstance(key, str) else key
        if key not in self._chunks:
            raise KeyError(f"{key} was not recorded; recorded: {sorted(self._chunks, key=str)}")
        chunks = self._chunks[key]
        return chunks[0] if len(chunks) == 1 else torch.cat(chunks, dim=1)

    def keys(self) -> list[tuple[str, int | None]]:
        return list(self._chunks)

    def __contains__(self, key: object) -> bool:
        return key in self._chunks


def unpack_output(output: object) -> torch.Tensor:
    """The hidden states of a module's output (blocks return a tuple, others the tensor)."""
    return output[0] if isinstance(output, tuple) else output


def repack_output(output: object, hidden: torch.Tensor) -> object:
    """``output`` with its hidden states replaced: what a forward hook returns to change them."""
    return (hidden, *output[1:]) if isinstance(output, tuple) else hidden


class HookSession:
    """Context manager that records sites and applies interventions, then removes every hook."""

    def __init__(
        self,
        model: torch.nn.Module,
        sites: SiteMap,
        record: Sequence[tuple[str, int | None]] = (),
        positions: Positions = None,
        interventions: Sequence[Intervention] = (),
        stop_after_last: bool = False,
    ) -> None:
        self.model, self.sites = model, sites
        self.hidden_size = sites.embed.weight.shape[-1]
        for site, layer in record:
            check_site(site, layer, sites.n_layers)
        self.record_keys = [(site, None if layer is None else int(layer)) for site, layer in record]
        check_positions(positions)
        self.positions = positions
        self.interventions = [self._checked(iv) for iv in interventions]
        self.stop_after_last = stop_after_last and not interventions
        self.recording = Recording()
        self.offset = 0
        self.input_length: int | None = None
        self.prompt_end: int | None = None  # first slot that counts as "generated"
        self._handles = Handles()

    def _checked(self, iv: Intervention) -> Intervention:
        check_site(iv.site, iv.layer, self.sites.n_layers)
        if isinstance(iv.positions, str) and iv.positions == "last":
            raise LatentspaceError("interventions take slots, a slice, 'prompt' or 'generated'; not 'last'")
        check_positions(iv.positions, roles=True)
        if iv.op == "fn":
            if not callable(iv.value):
                raise LatentspaceError("an 'fn' intervention needs a callable value")
            return iv
        if iv.op in ("add", "replace", "project_out"):
            return replace(iv, value=check_vector(iv.value, self.hidden_size, f"{iv.op} vector for {iv.site}"))
        raise LatentspaceError(f"unknown intervention op {iv.op!r}; valid: add, replace, project_out, fn")

    # -- registration ------------------------------------------------------------------------
    def __enter__(self) -> Recording:
        self.offset, self.input_length, self.prompt_end = 0, None, None  # a reused session starts afresh
        self._handles.register(self._hooks())
        return self.recording

    def __exit__(self, *exc: object) -> bool:
        self.remove()
        return False

    def remove(self) -> None:
        self._handles.remove()

    def _hooks(self) -> Iterator[torch.utils.hooks.RemovableHandle]:
        yield self.model.register_forward_pre_hook(self._track_offset, with_kwargs=True)
        by_key: dict[tuple[str, int | None], list[Intervention]] = defaultdict(list)
        for iv in self.interventions:
            by_key[(iv.site, None if iv.layer is None else int(iv.layer))].append(iv)
        last = self._last_recorded_key()
        for key in dict.fromkeys([*self.record_keys, *by_key]):
            yield self._register(key, by_key.get(key, []), stop=self.stop_after_last and key == last)

    def _last_recorded_key(self) -> tuple[str, int | None] | None:
        """The site computed last in a forward pass (where early stop is safe)."""
        order = {"resid_pre": 0, "attn_out": 1, "mlp_out": 2, "resid_post": 3}

        def rank(key: tuple[str, int | None]) -> tuple[int, int]:
            site, layer = key
            if site == "embed":
                return (-1, 0)
            if site in LAYER_SITES:
                return (layer, order[site])
            return (self.sites.n_layers + (site == "unembed"), 0)

        return max(self.record_keys, key=rank) if self.record_keys else None

    def _register(self, key: tuple[str, int | None], ivs: list[Intervention],
                  stop: bool) -> torch.utils.hooks.RemovableHandle:
        site, layer = key
        module = self.sites.module(site, layer)
        recording = key in self.record_keys

        def apply(hidden: torch.Tensor) -> torch.Tensor:
            for iv in ivs:
                hidden = self._apply(iv, hidden)
            if recording:
                self.recording._add(key, self._select(hidden).detach().clone())
            if stop:
                raise StopForward
            return hidden

        if site == "resid_pre":

            def pre_hook(mod, args, kwargs):
                if args:
                    return (apply(args[0]), *args[1:]), kwargs
                return args, {**kwargs, "hidden_states": apply(kwargs["hidden_states"])}

            return module.register_forward_pre_hook(pre_hook, with_kwargs=True)

        def post_hook(mod, args, output):
            new = apply(unpack_output(output))
            return repack_output(output, new) if ivs else None

        return module.register_forward_hook(post_hook)

    # -- positions and ops -------------------------------------------------------------------
    def _track_offset(self, module, args, kwargs):
        cache = kwargs.get("cache", kwargs.get("past_key_values"))
        self.offset = cache.get_seq_length() if cache is not None else 0
        inputs = kwargs.get("input_ids")
        inputs = kwargs.get("inputs_embeds") if inputs is None else inputs
        inputs = args[0] if inputs is None and args else inputs
        self.input_length = inputs.shape[1] if torch.is_tensor(inputs) else None
        if self.offset == 0:  # a prefill: a new sequence starts, all of it prompt
            self.prompt_end = self.input_length
        elif self.prompt_end is None:  # the prompt was read before this session began
            self.prompt_end = self.offset

    def _first_slot(self, hidden: torch.Tensor) -> int:
        """Slot of ``hidden[:, 0]``: sites after `logits_to_keep` see only the last positions."""
        if self.input_length is None or hidden.dim() < 3:
            return self.offset
        return self.offset + max(0, self.input_length - hidden.shape[1])

    def _select(self, hidden: torch.Tensor) -> torch.Tensor:
        if self.positions is None:
            return hidden
        if isinstance(self.positions, str) and self.positions == "last":
            return hidden[:, -1:]
        keep = slot_mask(self._first_slot(hidden), hidden.shape[1], self.positions, hidden.device).nonzero().flatten()
        return hidden[:, keep]

    def _apply(self, iv: Intervention, hidden: torch.Tensor) -> torch.Tensor:
        if iv.op == "fn":
            new = iv.value(hidden)
            if not torch.is_tensor(new) or new.shape != hidden.shape:
                got = tuple(new.shape) if torch.is_tensor(new) else type(new).__name__
                raise LatentspaceError(f"'fn' intervention on {iv.site} returned {got}; expected {tuple(hidden.shape)}")
        else:
            value = iv.value.to(hidden.device, hidden.dtype)
            value = value.unsqueeze(1) if value.dim() == 2 else value
            if iv.op == "add":
                new = hidden + iv.scale * value
            elif iv.op == "replace":
                new = value.expand_as(hidden)
            else:
                unit = value / value.norm(dim=-1, keepdim=True).clamp_min(1e-12)
                new = hidden - (hidden * unit).sum(-1, keepdim=True) * unit
        if iv.positions is None:
            return new
        positions = iv.positions
        if isinstance(positions, str):
            end = self.prompt_end if self.prompt_end is not None else self.offset
            positions = slice(0, end) if positions == "prompt" else slice(end, None)
        mask = slot_mask(self._first_slot(hidden), hidden.shape[1], positions, hidden.device)
        return torch.where(mask[None, :, None], new, hidden)


def slot_mask(offset: int, length: int, positions, device) -> torch.Tensor:
    """Boolean ``[length]``: which slots ``offset .. offset+length-1`` are in ``positions``."""
    slots = torch.arange(offset, offset + length, device=device)
    if isinstance(positions, range) and positions.step == 1:
        positions = slice(positions.start, positions.stop)
    if isinstance(positions, slice):
        if positions.step not in (None, 1):
            raise LatentspaceError("slot slices must have step 1")
        start = 0 if positions.start is None else positions.start
        stop = offset + length if positions.stop is None else positions.stop
        return (slots >= start) & (slots < stop)
    return torch.isin(slots, torch.as_tensor(list(positions), device=device))
