"""Build a registered dataclass by name with options — strategies, recipes — with one-line errors."""

from __future__ import annotations

import dataclasses
import math

from latentspace.errors import LatentspaceError


def make_named(registry: dict[str, type], name: str, kind: str, options: dict):
    """``registry[name](**options)``; an unknown name or option names the valid ones, and a value of
    the wrong type (text for a number, from ``--set`` or a request body) is refused in one line."""
    if name not in registry:
        raise LatentspaceError(f"unknown {kind} {name!r}; valid: {', '.join(sorted(registry))}")
    fields = {f.name: f for f in dataclasses.fields(registry[name])}
    unknown = [k for k in options if k not in fields]
    if unknown:
        raise LatentspaceError(f"{kind} {name!r} has no option {unknown[0]!r}; options: {', '.join(fields)}")
    for key, value in options.items():
        problem = type_problem(fields[key], value)
        if problem:
            raise LatentspaceError(f"{kind} {name!r}: option {key} {problem}, got {value!r}"[:300])
    return registry[name](**options)


def type_problem(field: dataclasses.Field, value) -> str | None:
    """Why ``value`` cannot fill ``field`` (simple annotated kinds only), else None."""
    text = field.type if isinstance(field.type, str) else getattr(field.type, "__name__", str(field.type))
    kinds = [part.strip() for part in text.split("|")]
    if value is None:
        return None if "None" in kinds or field.default is None else "must not be null"
    if "Tensor" in text and not hasattr(value, "shape"):
        return "must be a tensor (set it from Python)"
    base = next((k for k in kinds if k != "None"), "")
    is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if base == "bool" and not isinstance(value, bool):
        return "must be true or false"
    if base == "int" and not (isinstance(value, int) and not isinstance(value, bool)):
        return "must be a whole number"
    if base == "float" and not (is_number and not math.isnan(value)):  # inf can mean "no limit"; NaN never
        return "must be a number"
    if base == "str" and not isinstance(value, str):
        return "must be text"
    if base.startswith("tuple[str") and not (isinstance(value, str) or (
            isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value))):
        return "must be a list of text"
    return None
