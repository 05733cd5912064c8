"""Ways a saved file gets damaged, per format: the catalogue the corruption property test draws from
(`tests/cli/test_damaged.py`) and the sweep counts (`benchmarks/sweep_damaged.py`).

A damage is a name and a function that changes a file (or a folder member) in place; callers apply it
to a copy. Generic damages fit every file (truncated, cut to a few bytes, empty, random bytes of the
same size, deleted); format damages reach inside: each key of a JSON file or of a safetensors
header's JSON fields dropped or retyped, a tensor reshaped, a dataset array of the wrong shape or with
no episodes.
"""

from __future__ import annotations

import json
import math
import random
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class Damage:
    name: str
    apply: Callable[[Path], None]

    def __repr__(self) -> str:  # hypothesis prints drawn values: the name says what was done
        return self.name


def _truncate(fraction: float):
    def apply(path: Path) -> None:
        data = path.read_bytes()
        path.write_bytes(data[: int(len(data) * fraction)])

    return apply


def _random_bytes(path: Path) -> None:
    size = max(64, path.stat().st_size)
    path.write_bytes(random.Random(size).randbytes(size))


def generic(member: str = "") -> list[Damage]:
    """Damages every file can suffer; ``member`` names the file inside a folder (for the report)."""
    at = f"{member}: " if member else ""

    def in_member(fn):
        return (lambda root: fn(root / member)) if member else fn

    return [Damage(f"{at}truncated to half", in_member(_truncate(0.5))),
            Damage(f"{at}cut to 8 bytes", in_member(lambda p: p.write_bytes(p.read_bytes()[:8]))),
            Damage(f"{at}empty", in_member(lambda p: p.write_bytes(b""))),
            Damage(f"{at}random bytes", in_member(_random_bytes)),
            Damage(f"{at}deleted", in_member(lambda p: p.unlink()))]


RETYPES = {"a string": "x", "a list": [1], "null": None, "an object": {"a": 1}, "a negative number": -1,
           "a huge number": 10**30, "true": True}


def _paths(value, prefix=()) -> list[tuple]:
    """Key paths of a JSON value (objects only, two levels deep)."""
    if not isinstance(value, dict) or len(prefix) >= 2:
        return []
    out = []
    for key, sub in value.items():
        out.append((*prefix, key))
        out.extend(_paths(sub, (*prefix, key)))
    return out


def _edit(value, path: tuple, new=None, drop: bool = False):
    value = json.loads(json.dumps(value))
    parent = value
    for key in path[:-1]:
        parent = parent[key]
    if drop:
        del parent[path[-1]]
    else:
        parent[path[-1]] = new
    return value


def json_edits(document) -> list[tuple[str, object]]:
    """(name, edited document) for each key path dropped or retyped (to a type it does not have), and
    whole documents of the wrong shape."""
    edits = [("a list instead of an object", [document]), ("an empty object", {}), ("null", None)]
    for path in _paths(document):
        here = ".".join(map(str, path))
        edits.append((f"{here} dropped", _edit(document, path, drop=True)))
        current = document
        for key in path:
            current = current[key]
        for label, new in RETYPES.items():
            if type(new) is not type(current) and not (isinstance(current, dict) and label == "an object"):
                edits.append((f"{here} as {label}", _edit(document, path, new)))
    return edits


def json_file(path: Path, member: str = "") -> list[Damage]:
    """Generic damages plus every key edit of a JSON file; also text that is not JSON."""
    at = f"{member}: " if member else ""
    document = json.loads(path.read_text())

    def writer(new):
        return lambda root: ((root / member) if member else root).write_text(json.dumps(new))

    edits = [Damage(f"{at}{name}", writer(new)) for name, new in json_edits(document)]
    not_json = Damage(f"{at}not JSON", lambda root: ((root / member) if member else root).write_text("{not json"))
    return generic(member) + [not_json] + edits


# ---- safetensors: the header is an 8-byte length and a JSON object; __metadata__ holds our JSON fields


def read_safetensors(path: Path) -> tuple[dict, bytes]:
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    return json.loads(raw[8:8 + n]), raw[8 + n:]


def rewrite_tensors(path: Path, change) -> None:
    """Rewrite a safetensors file with ``change(tensors)`` applied, its header (kind, fingerprints, meta) kept."""
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    with safe_open(str(path), framework="pt") as f:
        header = f.metadata()
    tensors = load_file(str(path))
    change(tensors)
    save_file(tensors, str(path), metadata=header)


def write_safetensors(path: Path, header: dict, body: bytes) -> None:
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    path.write_bytes(struct.pack("<Q", len(text)) + text + body)


def safetensors_file(path: Path, member: str = "") -> list[Damage]:
    """Generic damages; each key of the header's JSON fields (fingerprint, meta) dropped or retyped;
    the kind changed; one tensor declared with another shape (its bytes no longer fit) or a NaN in it."""
    at = f"{member}: " if member else ""
    header, _ = read_safetensors(path)
    meta = header.get("__metadata__", {})

    def header_edit(change):
        def apply(root: Path) -> None:
            target = (root / member) if member else root
            h, body = read_safetensors(target)
            change(h)
            write_safetensors(target, h, body)

        return apply

    damages = generic(member)
    damages.append(Damage(f"{at}kind changed", header_edit(lambda h: h["__metadata__"].update(kind="other"))))
    for field in sorted(meta):
        if field == "kind":
            continue
        try:
            document = json.loads(meta[field])
        except json.JSONDecodeError:
            continue
        damages.append(Damage(f"{at}header {field} dropped", header_edit(lambda h, f=field: h["__metadata__"].pop(f))))
        damages.append(Damage(f"{at}header {field} not JSON",
                              header_edit(lambda h, f=field: h["__metadata__"].update({f: "{x"}))))
        for name, new in json_edits(document):
            damages.append(Damage(f"{at}header {field}: {name}",
                                  header_edit(lambda h, f=field, n=new: h["__metadata__"].update({f: json.dumps(n)}))))
    tensors = [k for k in header if k != "__metadata__"]
    if tensors:
        first = tensors[0]
        damages.append(Damage(f"{at}tensor {first} declared larger than its bytes",
                              header_edit(lambda h, k=first: h[k].update(shape=[*h[k]["shape"], 2]))))
        # the same bytes under another shape: a loader that checks only the file's integrity takes it
        damages.append(Damage(f"{at}tensor {first} with another rank",
                              header_edit(lambda h, k=first: h[k].update(
                                  shape=[1, *h[k]["shape"]] if len(h[k]["shape"]) < 2 else [math.prod(h[k]["shape"])]))))

        def nan_in_tensor(root: Path, k=first) -> None:
            target = (root / member) if member else root
            h, body = read_safetensors(target)
            start, end = h[k]["data_offsets"]
            if h[k]["dtype"] == "F32" and end - start >= 4:
                body = body[:start] + struct.pack("<f", float("nan")) + body[start + 4:]
            write_safetensors(target, h, body)

        damages.append(Damage(f"{at}NaN in tensor {first}", nan_in_tensor))
    return damages


# ---- world datasets (.npz: meta text + four arrays)


def _rewrite_npz(change):
    def apply(path: Path) -> None:
        with np.load(path, allow_pickle=False) as raw:
            arrays = {k: raw[k] for k in raw.files}
        change(arrays)
        with open(path, "wb") as handle:
            np.savez_compressed(handle, **arrays)

    return apply


def npz_file(path: Path) -> list[Damage]:
    with np.load(path, allow_pickle=False) as raw:
        meta = json.loads(str(raw["meta"]))
        names = [k for k in raw.files if k != "meta"]
    damages = generic()
    for name, new in json_edits(meta):
        damages.append(Damage(f"meta: {name}", _rewrite_npz(lambda a, n=new: a.update(meta=np.array(json.dumps(n))))))
    damages.append(Damage("meta: not JSON", _rewrite_npz(lambda a: a.update(meta=np.array("{x")))))
    damages.append(Damage("meta missing", _rewrite_npz(lambda a: a.pop("meta"))))
    for name in names:
        damages.append(Damage(f"{name} missing", _rewrite_npz(lambda a, k=name: a.pop(k))))
        damages.append(Damage(f"{name} of another shape", _rewrite_npz(lambda a, k=name: a.update({k: a[k][..., :1]}))))
        damages.append(Damage(f"{name} as text", _rewrite_npz(lambda a, k=name: a.update({k: np.array("x")}))))
    damages.append(Damage("zero episodes", _rewrite_npz(lambda a: a.update({k: a[k][:0] for k in names}))))
    damages.append(Damage("NaN in actions", _rewrite_npz(lambda a: a["actions"].__setitem__((0, 0, 0), np.nan))))
    return damages


# ---- folders: every member file, by its format


def folder(root: Path, skip: tuple[str, ...] = ()) -> list[Damage]:
    """Damages to each file of a folder (by suffix), named by the member's path."""
    out = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        member = str(path.relative_to(root))
        if member.startswith(skip):
            continue
        if path.suffix == ".json":
            out += json_file(path, member)
        elif path.suffix == ".safetensors":
            out += safetensors_file(path, member)
        else:
            out += generic(member)
    return out


def for_input(path: Path, skip: tuple[str, ...] = ()) -> list[Damage]:
    """The catalogue for an input: a folder's members, or a file by its suffix."""
    if path.is_dir():
        return folder(path, skip)
    if path.suffix == ".safetensors":
        return safetensors_file(path)
    if path.suffix == ".npz":
        return npz_file(path)
    if path.suffix == ".json":
        return json_file(path)
    return generic()
