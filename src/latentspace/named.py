"""Build a registered dataclass by name with options — strategies, recipes — with one-line errors."""

from __future__ import annotations

import dataclasses

from latentspace.errors import LatentspaceError


def make_named(registry: dict[str, type], name: str, kind: str, options: dict):
    """``registry[name](**options)``; an unknown name or option names the valid ones."""
    if name not in registry:
        raise LatentspaceError(f"unknown {kind} {name!r}; valid: {', '.join(sorted(registry))}")
    fields = [f.name for f in dataclasses.fields(registry[name])]
    unknown = [k for k in options if k not in fields]
    if unknown:
        raise LatentspaceError(f"{kind} {name!r} has no option {unknown[0]!r}; options: {', '.join(fields)}")
    return registry[name](**options)
