"""Depth expansion without training: run a contiguous block of layers several times per pass.

`LayerLoop` is a context manager (hooks, always removed) that, after block ``end`` has run,
re-applies blocks ``start..end`` ``repeats - 1`` more times with the same arguments each block
received (attention mask, rotary embeddings...), optionally interpolating
``h <- (1 - alpha) h + alpha f(h)``.

KV-cached passes work too: every extra application of a block writes its keys and values to
cache slots of its own (after the model's layers), so repetition r of block i attends to
repetition r's keys at earlier positions — what a full recompute of the sequence computes, at the
cost of one position per token instead of the whole sequence. This relies on the attention
modules' ``layer_idx`` (how transformers picks a cache slot), lent to the extra slot for the
duration of the block's call and always restored; a model whose layers hold no ``layer_idx``
is looped without a cache only.
"""

from __future__ import annotations

from contextlib import contextmanager

from latentspace.core.errors import LatentspaceError
from latentspace.model import kv
from latentspace.model.hooks import Handles, repack_output, unpack_output
from latentspace.model.sites import SiteMap, check_site


class LayerLoop:
    def __init__(self, sites: SiteMap, start: int, end: int, repeats: int = 2, alpha: float = 1.0) -> None:
        check_site("resid_post", start, sites.n_layers)
        check_site("resid_post", end, sites.n_layers)
        if start > end or repeats < 1 or not 0 < alpha <= 1:
            raise LatentspaceError("a layer loop needs start <= end, repeats >= 1 and 0 < alpha <= 1")
        self.sites, self.start, self.end, self.repeats, self.alpha = sites, start, end, repeats, alpha
        self._calls: dict[int, tuple[tuple, dict]] = {}
        self._running = False
        self._handles = Handles()

    def __enter__(self) -> LayerLoop:
        self._handles.register(self._hooks())
        return self

    def __exit__(self, *exc: object) -> bool:
        self._handles.remove()
        return False

    def _hooks(self):
        for i in range(self.start, self.end + 1):
            yield self.sites.layers[i].register_forward_pre_hook(self._capture(i), with_kwargs=True)
        yield self.sites.layers[self.end].register_forward_hook(self._loop)

    def _capture(self, index: int):
        def hook(module, args, kwargs):
            if not self._running:
                cache = kv.find_cache(args, kwargs)
                if cache is not None and self.repeats > 1:
                    self._check_cache(module, index, cache)
                self._calls[index] = (args[1:], kwargs)

        return hook

    def _check_cache(self, layer, index: int, cache) -> None:
        if not _slot_holders(layer):
            raise LatentspaceError(f"layer {index} of this model holds no layer_idx to give its extra "
                                   "applications cache slots: loop it without a KV cache")
        if not kv.holds_slot(cache, self._slot(self.end, self.repeats - 1)):
            raise LatentspaceError("a layer loop needs a cache that grows extra layers "
                                   "(latentspace.model.kv.new_cache()), or no cache")
        # every extra slot must hold the positions its layer holds: a cache filled without this loop
        # (or with another block or repeat count) would leave them short and attend to nothing
        held = kv.slot_length(cache, index)
        signature = (self.start, self.end, self.repeats, self.alpha)
        made_by = getattr(cache, "_latentspace_loop", None) if held else signature
        if made_by not in (None, signature) or any(
                kv.slot_length(cache, self._slot(index, r)) != held for r in range(1, self.repeats)):
            raise LatentspaceError("this KV cache was not filled under the same layer loop: encode the prompt "
                                   "inside the loop, with the same block, repeats and alpha")
        cache._latentspace_loop = signature  # what filled it, checked when it is extended

    def _slot(self, index: int, repeat: int) -> int:
        """Cache slot of the ``repeat``-th extra application (1-based) of block ``index``."""
        width = self.end - self.start + 1
        return self.sites.n_layers + (repeat - 1) * width + (index - self.start)

    def _loop(self, module, args, output):
        if self._running or self.repeats == 1:
            return None
        hidden = unpack_output(output)
        self._running = True
        try:
            for repeat in range(1, self.repeats):
                x = hidden
                for i in range(self.start, self.end + 1):
                    rest, kwargs = self._calls[i]
                    with _lent_slot(self.sites.layers[i], self._slot(i, repeat)):
                        x = unpack_output(self.sites.layers[i](x, *rest, **kwargs))
                hidden = x if self.alpha == 1 else (1 - self.alpha) * hidden + self.alpha * x
        finally:
            self._running = False
        return repack_output(output, hidden)


def _slot_holders(layer) -> list:
    """The modules of ``layer`` that name its cache slot (attention modules' ``layer_idx``)."""
    return [m for m in layer.modules() if isinstance(getattr(m, "layer_idx", None), int)]


@contextmanager
def _lent_slot(layer, slot: int):
    holders = _slot_holders(layer)
    saved = [m.layer_idx for m in holders]
    try:
        for m in holders:
            m.layer_idx = slot
        yield
    finally:
        for m, value in zip(holders, saved):
            m.layer_idx = value
