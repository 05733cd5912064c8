"""Build a registered dataclass by name with options — strategies, recipes, presses — checked.

Every option's type comes from its annotation and its allowed values from the class's declared
``RANGES`` (inherited and merged along the class hierarchy). The CLI (``--set``) and the server
(a request's ``options``) both build through `make_named`, so one declaration bounds both.
"""

from __future__ import annotations

import dataclasses
import math
from typing import NamedTuple

from latentspace.core.errors import LatentspaceError


class Range(NamedTuple):
    """Allowed numeric values: ``lo <= x <= hi`` (``lo < x`` when ``open_lo``); None = no bound."""

    lo: float | None = None
    hi: float | None = None
    open_lo: bool = False

    def problem(self, value) -> str | None:
        if isinstance(value, int) and abs(value) > 2**63:  # beyond any float limit we declare; math.* would overflow
            return f"must be {self.describe()}"
        low_ok = self.lo is None or (value > self.lo if self.open_lo else value >= self.lo)
        high_ok = self.hi is None or value <= self.hi
        finite_ok = math.isfinite(value) or (value > 0 and self.hi == math.inf)  # inf only where it means "no limit"
        if not finite_ok:
            return f"must be finite ({self.describe()})"
        return None if low_ok and high_ok else f"must be {self.describe()}"

    def describe(self) -> str:
        parts = []
        if self.lo is not None:
            parts.append(f"{'above' if self.open_lo else 'at least'} {self.lo:g}")
        if self.hi is not None:
            parts.append("at most inf (no limit)" if self.hi == math.inf else f"at most {self.hi:g}")
        return " and ".join(parts) or "a number"


def between(lo: float | None, hi: float | None) -> Range:
    return Range(lo, hi)


def above(lo: float, hi: float | None = None) -> Range:
    return Range(lo, hi, open_lo=True)


def declared(cls) -> tuple[dict[str, Range], dict[str, tuple]]:
    """(ranges, choices) of ``cls``: its own ``RANGES``/``CHOICES`` over its bases'."""
    ranges: dict[str, Range] = {}
    choices: dict[str, tuple] = {}
    for klass in reversed(cls.__mro__):
        ranges.update(vars(klass).get("RANGES", {}))
        choices.update(vars(klass).get("CHOICES", {}))
    return ranges, choices


def make_named(registry: dict[str, type], name: str, kind: str, options: dict):
    """``registry[name](**options)``; an unknown name or option names the valid ones, and a value of
    the wrong type or out of its declared range (from ``--set`` or a request body) is one line."""
    if not isinstance(name, str) or name not in registry:
        raise LatentspaceError(f"unknown {kind} {str(name)[:80]!r}; valid: {', '.join(sorted(registry))}")
    check_options(registry[name], options, f"{kind} {name!r}")
    return registry[name](**options)


def check_options(cls, options: dict, owner: str) -> None:
    """Refuse unknown options, wrong types and out-of-range values of dataclass ``cls``."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = [k for k in options if k not in fields]
    if unknown:
        raise LatentspaceError(f"{owner} has no option {str(unknown[0])[:80]!r}; options: {', '.join(fields)}")
    ranges, choices = declared(cls)
    for key, value in options.items():
        problem = type_problem(fields[key], value) or value_problem(ranges.get(key), choices.get(key), value)
        if problem:
            shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
            raise LatentspaceError(f"{owner}: option {key} {problem}, got {shown}")


def value_problem(allowed: Range | None, choices: tuple | None, value) -> str | None:
    if value is None:
        return None
    if choices is not None and isinstance(value, str) and value not in choices:
        return f"must be one of {', '.join(map(str, choices))}"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if allowed is not None:
            return allowed.problem(value)
        if isinstance(value, float) and math.isinf(value):
            return "must be finite"
    return None


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
    if base == "float" and not (is_number and (isinstance(value, int) or not math.isnan(value))):  # inf can mean "no limit"; NaN never
        return "must be a number"
    if base == "str" and not isinstance(value, str):
        return "must be text"
    if base.startswith("tuple[str") and not (isinstance(value, str) or (
            isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value))):
        return "must be a list of text"
    return None


def undeclared_numbers(cls) -> list[str]:
    """Numeric fields of ``cls`` with no declared range (a test keeps this list empty)."""
    ranges, _ = declared(cls)
    out = []
    for f in dataclasses.fields(cls):
        text = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
        base = next((k.strip() for k in text.split("|") if k.strip() != "None"), "")
        if base in ("int", "float") and f.name not in ranges:
            out.append(f.name)
    return out
