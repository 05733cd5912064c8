"""Which blocks a steering method reads or acts on: the default span and the user's choice, checked.

Training (`train.py`) and ablation/clamping (`apply.py`) both resolve layers the same way; this
module holds that one rule below both, so applying a vector no longer imports the trainer.
"""

from __future__ import annotations

from collections.abc import Iterable

from latentspace.core.errors import LatentspaceError

Layers = Iterable[int] | int | str | None


def default_layers(n_layers: int) -> list[int]:
    """The middle half of the network, where concept directions are usually clearest.

    Never block 0 when there is another (llama.cpp cannot steer it, so such a vector would not export).
    """
    start = max(1, n_layers // 4) if n_layers > 1 else 0
    return list(range(start, max(start + 1, (3 * n_layers) // 4)))


def resolve_layers(layers: Layers, n_layers: int) -> list[int] | str:
    if layers is None:
        return default_layers(n_layers)
    if isinstance(layers, str):
        if layers != "best":
            raise LatentspaceError(f"layers must be ints, a range or 'best', not {layers!r}")
        return "best"
    layers = [layers] if isinstance(layers, int) else [int(x) for x in layers]
    if not layers:
        raise LatentspaceError("no layers chosen")
    bad = [x for x in layers if not 0 <= x < n_layers]
    if bad:
        raise LatentspaceError(f"layer {bad[0]} out of range: valid 0..{n_layers - 1}")
    return sorted(set(layers))
