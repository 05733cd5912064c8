"""The model layer: loading, canonical sites, hooks, latent stepping, KV utilities, alignment.

Its names load on first use (PEP 562), so importing a light submodule (`latentspace.model.names`)
does not import torch and transformers.
"""

from __future__ import annotations

import importlib

# public name -> (module, attribute)
_LAZY = {
    "DEFAULT_MODEL": ("latentspace.model.names", "DEFAULT_MODEL"),
    "REGISTRY": ("latentspace.model.registry", "REGISTRY"),
    "Intervention": ("latentspace.model.hooks", "Intervention"),
    "LatentModel": ("latentspace.model.latent_model", "LatentModel"),
    "LatentState": ("latentspace.model.state", "LatentState"),
    "Recording": ("latentspace.model.hooks", "Recording"),
    "StopForward": ("latentspace.model.hooks", "StopForward"),
}

__all__ = ["DEFAULT_MODEL", "REGISTRY", "Intervention", "LatentModel", "LatentState", "Recording", "StopForward"]


def __getattr__(name: str):
    if name not in _LAZY:  # AttributeError lets `from latentspace.model import kv` fall back to the submodule
        raise AttributeError(f"module 'latentspace.model' has no attribute {name!r}")
    module, attribute = _LAZY[name]
    value = getattr(importlib.import_module(module), attribute)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})  # a name already loaded is listed once
