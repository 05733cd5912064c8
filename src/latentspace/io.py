"""Saving latent objects: safetensors + a JSON header carrying the model fingerprint.

Every saved object (states, lenses, probes, vectors...) goes through these two functions, so each
is written atomically (temporary file, then rename) and each load checks the kind and the model.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from latentspace.errors import LatentspaceError
from latentspace.model.fingerprint import check_same


def save_tensors(path: str | Path, tensors: dict[str, torch.Tensor], kind: str, fingerprint: dict,
                 meta: dict | None = None) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    header = {"kind": kind, "fingerprint": json.dumps(fingerprint), "meta": json.dumps(meta or {})}
    tmp = path.with_name(f".{path.name}.tmp")
    save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, str(tmp), metadata=header)
    tmp.replace(path)
    return path


def load_tensors(path: str | Path, kind: str, fingerprint: dict, device: str | torch.device = "cpu",
                 what: str | None = None) -> tuple[dict[str, torch.Tensor], dict]:
    """(tensors, meta) of a saved ``kind``; refuses other kinds, corrupt files and other models."""
    path, what = Path(path), what or kind.replace("_", " ")
    if not path.is_file():
        raise LatentspaceError(f"no saved {what} at {path}")
    try:
        with safe_open(str(path), framework="pt") as f:
            header = f.metadata() or {}
        tensors = load_file(str(path), device=str(device))
    except (SafetensorError, OSError, ValueError) as err:
        raise LatentspaceError(f"cannot read {path.name}: corrupt or truncated safetensors") from err
    if header.get("kind") != kind:
        raise LatentspaceError(f"{path.name} is not a saved {what} (it holds: {header.get('kind', 'unknown')})")
    check_same(json.loads(header["fingerprint"]), fingerprint, what)
    return tensors, json.loads(header.get("meta", "{}"))
