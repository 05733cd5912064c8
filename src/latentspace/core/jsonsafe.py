"""JSON the project writes is always valid JSON (RFC 8259): no ``NaN``, no ``Infinity``.

Python's `json` writes ``NaN``/``Infinity`` by default, which strict parsers reject. Here a
non-finite float becomes ``null`` (an infinite option means "no limit", so null reads right),
tensors and other objects become their text, and ``allow_nan=False`` proves nothing slipped by.
"""

from __future__ import annotations

import json
import math


def finite(data):
    """``data`` with every non-finite float replaced by None (recursively through dicts/lists)."""
    if isinstance(data, float):
        return data if math.isfinite(data) else None
    if isinstance(data, dict):
        return {(k if isinstance(k, str) else str(k)): finite(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [finite(v) for v in data]
    if data is None or isinstance(data, (str, int, bool)):
        return data
    if hasattr(data, "tolist") and callable(data.tolist):  # tensors, numpy scalars and arrays
        return finite(data.tolist())
    return str(data)


def dumps(data, **kwargs) -> str:
    """`json.dumps` that always produces strict JSON."""
    kwargs.pop("default", None)
    return json.dumps(finite(data), allow_nan=False, **kwargs)
