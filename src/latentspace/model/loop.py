"""Depth expansion without training: run a contiguous block of layers several times per pass.

`LayerLoop` is a context manager (hooks, always removed) that, after block ``end`` has run,
re-applies blocks ``start..end`` ``repeats - 1`` more times with the same arguments each block
received (attention mask, rotary embeddings...), optionally interpolating
``h <- (1 - alpha) h + alpha f(h)``. Re-running a block would append to a KV cache again, so
loops need forward passes without a cache (full recompute).
"""

from __future__ import annotations


from latentspace.errors import LatentspaceError
from latentspace.model.hooks import _repack, _unpack
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
        self._handles: list = []

    def __enter__(self) -> LayerLoop:
        try:
            for i in range(self.start, self.end + 1):
                self._handles.append(self.sites.layers[i].register_forward_pre_hook(self._capture(i), with_kwargs=True))
            self._handles.append(self.sites.layers[self.end].register_forward_hook(self._loop))
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> bool:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()
        return False

    def _capture(self, index: int):
        def hook(module, args, kwargs):
            if not self._running:
                if kwargs.get("cache") is not None or kwargs.get("past_key_values") is not None:
                    raise LatentspaceError("layer loops need a forward pass without a KV cache")
                self._calls[index] = (args[1:], kwargs)

        return hook

    def _loop(self, module, args, output):
        if self._running or self.repeats == 1:
            return None
        hidden = _unpack(output)
        self._running = True
        try:
            for _ in range(self.repeats - 1):
                x = hidden
                for i in range(self.start, self.end + 1):
                    rest, kwargs = self._calls[i]
                    x = _unpack(self.sites.layers[i](x, *rest, **kwargs))
                hidden = x if self.alpha == 1 else (1 - self.alpha) * hidden + self.alpha * x
        finally:
            self._running = False
        return _repack(output, hidden)
