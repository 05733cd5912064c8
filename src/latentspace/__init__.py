"""latentspace: compute in the latent space of language models.

The package's names load on first use (PEP 562), so importing a light module — the CLI's help,
`latentspace.errors` — does not import torch and transformers.

The ground floor (one policy a module: errors, atomic files, strict JSON, finiteness, budgets, the
saved-object format, pages, plots, statistics) lives in `latentspace.core`; the layers stand on it.
"""

from __future__ import annotations

import importlib
import sys

from latentspace.core import errors

# public API since the first release: `from latentspace.errors import LatentspaceError` (users catch it)
sys.modules.setdefault("latentspace.errors", errors)

__version__ = "0.1.0"

# public name -> (module, attribute); `load` is `LatentModel.load`
_LAZY = {
    "DEFAULT_MODEL": ("latentspace.model", "DEFAULT_MODEL"),
    "Intervention": ("latentspace.model", "Intervention"),
    "LatentModel": ("latentspace.model", "LatentModel"),
    "LatentState": ("latentspace.model", "LatentState"),
    "LatentspaceError": ("latentspace.core.errors", "LatentspaceError"),
    "Step": ("latentspace.trace", "Step"),
    "Trace": ("latentspace.trace", "Trace"),
}

__all__ = [*_LAZY, "load"]


def __getattr__(name: str):
    if name == "load":
        return __getattr__("LatentModel").load
    if name not in _LAZY:
        raise AttributeError(f"module 'latentspace' has no attribute {name!r}")
    module, attribute = _LAZY[name]
    value = getattr(importlib.import_module(module), attribute)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
