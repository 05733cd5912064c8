"""Read what was saved, trusting nothing: one validating mechanism every loader uses.

A saved file can be truncated, edited by hand, copied from another version or be random bytes.
Whatever it holds, its loader either returns values of the declared shape or raises one
`LatentspaceError` that names the file and the fault — never a KeyError or a traceback deep inside
the code that trusted it.

- `conform(value, schema, where)`: ``value`` checked against a schema written as Python types —
  ``int``, ``float`` (finite), ``str``, ``bool``, ``list[X]``, ``dict[str, X]``, ``X | None``, ``Any``
  or a dataclass (a JSON object with exactly its fields; the dataclass is built). Fault messages
  carry the path inside the value: ``progress.json: history[3].loss: expected a number, found 'x'``.
- `read_json(path, schema, what)`: a JSON file parsed strictly (no NaN) and conformed.
- `load_torch(path, what)`: a ``torch.save`` file loaded with ``weights_only`` (no code runs), any
  damage one line.

The schemas are dataclasses and annotations the project already writes, so a format is declared
once, next to the code that writes it.
"""

from __future__ import annotations

import dataclasses
import json
import math
import types
import typing
from pathlib import Path
from typing import Any

from latentspace.core.errors import LatentspaceError


class DamagedFile(LatentspaceError):
    """A saved file that cannot be what its reader expects (one line: the file and the fault)."""


def _found(value) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text[:40]}" if not isinstance(value, (dict, list)) else type(value).__name__


def _name(schema) -> str:
    names = {int: "an integer", float: "a number", str: "a string", bool: "true or false", dict: "an object",
             list: "a list"}
    if schema in names:
        return names[schema]
    if dataclasses.is_dataclass(schema):
        return "an object"
    return str(schema).replace("typing.", "")


def conform(value, schema, where: str, complete: bool = False):
    """``value`` as ``schema`` declares it (dataclasses built, ints given as floats where floats are
    declared); anything else raises `DamagedFile` naming ``where``. ``complete``: every dataclass field
    must be there, defaults or not (for what the project always writes whole, e.g. a saved configuration)."""
    if schema is Any or schema is object:
        return value
    origin, args = typing.get_origin(schema), typing.get_args(schema)
    if origin in (typing.Union, types.UnionType):
        for option in args:  # None first if allowed: `X | None` with null is None
            if option is type(None) and value is None:
                return None
        faults = []
        for option in (a for a in args if a is not type(None)):
            try:
                return conform(value, option, where, complete)
            except DamagedFile as err:
                faults.append(str(err))
        raise DamagedFile(faults[0] if len(faults) == 1 else f"{where}: expected {_name(schema)}, found {_found(value)}")
    if dataclasses.is_dataclass(schema):
        return _dataclass(value, schema, where, complete)
    if schema is bool:
        if not isinstance(value, bool):
            raise DamagedFile(f"{where}: expected {_name(bool)}, found {_found(value)}")
        return value
    if schema is int:
        if not isinstance(value, int) or isinstance(value, bool):
            raise DamagedFile(f"{where}: expected {_name(int)}, found {_found(value)}")
        return value
    if schema is float:
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise DamagedFile(f"{where}: expected {_name(float)}, found {_found(value)}")
        if not math.isfinite(value):
            raise DamagedFile(f"{where}: {value} is not a finite number")
        return float(value)
    if schema is str:
        if not isinstance(value, str):
            raise DamagedFile(f"{where}: expected {_name(str)}, found {_found(value)}")
        return value
    if schema is list or origin is list:
        if not isinstance(value, list):
            raise DamagedFile(f"{where}: expected {_name(list)}, found {_found(value)}")
        return [conform(v, args[0], f"{where}[{i}]", complete) for i, v in enumerate(value)] if args else value
    if schema is dict or origin is dict:
        if not isinstance(value, dict):
            raise DamagedFile(f"{where}: expected {_name(dict)}, found {_found(value)}")
        if not args:
            return value
        return {conform(k, args[0], f"{where} key"): conform(v, args[1], f"{where}.{k}", complete)
                for k, v in value.items()}
    raise TypeError(f"conform: unsupported schema {schema!r}")  # a programming error, not a damaged file


def _dataclass(value, schema, where: str, complete: bool):
    if not isinstance(value, dict):
        raise DamagedFile(f"{where}: expected {_name(schema)}, found {_found(value)}")
    fields = {f.name: f for f in dataclasses.fields(schema) if f.init}
    unknown = sorted(str(k) for k in value if k not in fields)
    if unknown:
        raise DamagedFile(f"{where}: unknown key {unknown[0][:40]!r} (expected: {', '.join(fields)})")
    hints = typing.get_type_hints(schema)
    built = {}
    for name, f in fields.items():
        if name not in value:
            if complete or (f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING):
                raise DamagedFile(f"{where}: no {name!r}")
            continue
        built[name] = conform(value[name], hints[name], f"{where}.{name}", complete)
    try:
        return schema(**built)
    except (TypeError, ValueError) as err:  # the dataclass's own checks (__post_init__)
        raise DamagedFile(f"{where}: {' '.join(str(err).split())[:120]}") from None


def _refuse_constant(name: str):
    raise ValueError(f"non-standard JSON constant {name}")


def parse_json(text: str, where: str):
    """``text`` as strict JSON (RFC 8259: no NaN/Infinity); a fault names ``where`` and the line."""
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as err:
        raise DamagedFile(f"{where} is damaged: not valid JSON (line {err.lineno}: {err.msg})") from None
    except (ValueError, RecursionError) as err:
        raise DamagedFile(f"{where} is damaged: {' '.join(str(err).split())[:80] or 'too deeply nested'}") from None


def read_json(path: str | Path, schema=Any, what: str = "file"):
    """The JSON file at ``path`` conformed to ``schema``; missing, unreadable or damaged -> one line."""
    from latentspace.core.files import read_text

    path = Path(path)
    return conform(parse_json(read_text(path, what), f"{what} {path}"), schema, f"{what} {path}")


def load_torch(path: str | Path, what: str = "file"):
    """A ``torch.save`` file, loaded without running code; missing or damaged -> one line."""
    import pickle
    import zipfile

    import torch

    path = Path(path)
    if not path.is_file():
        raise DamagedFile(f"{what} {path} is missing")
    try:
        return torch.load(path, weights_only=True, map_location="cpu")
    except (RuntimeError, EOFError, OSError, ValueError, pickle.UnpicklingError, zipfile.BadZipFile,
            AttributeError, KeyError, IndexError, TypeError) as err:
        reason = " ".join(str(err).split())[:80] or type(err).__name__
        raise DamagedFile(f"{what} {path} is damaged or truncated ({reason})") from None
