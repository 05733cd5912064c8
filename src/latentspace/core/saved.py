"""The saved-object format: safetensors + a JSON header carrying the model's fingerprint.

Latent objects (KV caches, steering vectors, lenses, maps) only mean something in the model that made
them, so everything saved carries `fingerprint(model)` and every load checks it (`check_same`).
Every saved object (states, lenses, probes, vectors...) goes through `save_tensors`/`load_tensors`, so each
is written atomically (`files.atomic_write`), each is checked finite on save *and* on load, and
each load checks the kind and the model and turns any malformed header into one line.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from latentspace.core import jsonsafe
from latentspace.core.checked import DamagedFile, conform
from latentspace.core.errors import LatentspaceError
from latentspace.core.files import atomic_write
from latentspace.core.finite import check_tensors


def fingerprint(model: torch.nn.Module) -> dict:
    """A model's identity: architecture, sizes and a hash of the input-embedding matrix."""
    config = model.config.get_text_config()
    weight = model.get_input_embeddings().weight.detach().to("cpu", torch.float32).contiguous()
    digest = hashlib.sha256(weight.numpy().tobytes()).hexdigest()[:16]
    return {
        "architecture": type(model).__name__,
        "model_type": config.model_type,
        "n_layers": config.num_hidden_layers,
        "hidden_size": config.hidden_size,
        "vocab_size": weight.shape[0],
        "embed_sha256": digest,
    }


def describe(fp: dict) -> str:
    """One short line naming a fingerprint."""
    return (
        f"{fp['model_type']} {fp['n_layers']} layers d={fp['hidden_size']} "
        f"vocab={fp['vocab_size']} emb={fp['embed_sha256'][:8]}"
    )


FIELDS = ("architecture", "model_type", "n_layers", "hidden_size", "vocab_size", "embed_sha256")


@dataclass
class Fingerprint:
    """What a saved model fingerprint holds (`fingerprint` writes it)."""

    architecture: str
    model_type: str
    n_layers: int
    hidden_size: int
    vocab_size: int
    embed_sha256: str


def saved_fingerprint(saved, what: str = "object") -> dict:
    """``saved`` once it is a whole fingerprint (every field, of its type); else one line."""
    try:
        conform(saved, Fingerprint, "fingerprint", complete=True)
    except DamagedFile as err:
        raise DamagedFile(f"this {what} carries an incomplete model fingerprint (not written by latentspace?): "
                          f"{err}") from None
    return saved


def check_same(saved: dict, current: dict, what: str = "object") -> None:
    """Refuse to load a latent object made by another model, naming both."""
    saved_fingerprint(saved, what)
    if saved != current:
        raise LatentspaceError(f"this {what} was saved from [{describe(saved)}], not the loaded [{describe(current)}]")


def save_tensors(path: str | Path, tensors: dict[str, torch.Tensor], kind: str, fingerprint: dict,
                 meta: dict | None = None) -> Path:
    what = kind.replace("_", " ")
    check_tensors(tensors, f"refusing to save a {what}")
    header = {"kind": kind, "fingerprint": jsonsafe.dumps(fingerprint), "meta": jsonsafe.dumps(meta or {})}
    with atomic_write(path, f"{what} file") as tmp:
        save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, str(tmp), metadata=header)
    return Path(path)


def read_header(path: str | Path, what: str) -> dict:
    """The safetensors metadata of ``path`` (one-line errors for a missing or corrupt file)."""
    path = Path(path)
    if not path.is_file():
        raise LatentspaceError(f"no saved {what} at {path}")
    try:
        with safe_open(str(path), framework="pt") as f:
            return f.metadata() or {}
    except (SafetensorError, OSError, ValueError) as err:
        raise LatentspaceError(f"cannot read {path.name}: corrupt or truncated safetensors") from err


def header_json(header: dict, key: str, path: str | Path, default=None):
    """A JSON field of a header, parsed; absent -> ``default``; malformed -> a one-line error."""
    if key not in header:
        if default is not None:
            return default
        raise LatentspaceError(f"{Path(path).name}: no {key} in its header (not written by latentspace?)")
    try:
        return json.loads(header[key])
    except (json.JSONDecodeError, TypeError):
        raise LatentspaceError(f"{Path(path).name}: its {key} header is not valid JSON") from None


def load_tensors(path: str | Path, kind: str, fingerprint: dict, device: str | torch.device = "cpu",
                 what: str | None = None) -> tuple[dict[str, torch.Tensor], dict]:
    """(tensors, meta) of a saved ``kind``; refuses other kinds, corrupt files and other models."""
    path, what = Path(path), what or kind.replace("_", " ")
    header = read_header(path, what)
    if header.get("kind") != kind:
        raise LatentspaceError(f"{path.name} is not a saved {what} (it holds: {header.get('kind', 'unknown')})")
    saved = header_json(header, "fingerprint", path)
    if not isinstance(saved, dict):
        raise LatentspaceError(f"{path.name}: its fingerprint header is not a mapping")
    check_same(saved, fingerprint, what)
    meta = header_json(header, "meta", path, default={})
    if not isinstance(meta, dict):
        raise LatentspaceError(f"{path.name}: its meta header is not a mapping")
    return read_tensors(path, device), meta


def load_state(module, tensors: dict[str, torch.Tensor], path: str | Path, what: str):
    """``tensors`` loaded into ``module``: every key present, no other, each of the module's shape; else one line."""
    own = module.state_dict()
    missing, extra = sorted(set(own) - set(tensors)), sorted(set(tensors) - set(own))
    if missing or extra:
        raise DamagedFile(f"{Path(path).name}: not a {what} of this shape ("
                          f"{'no ' + missing[0] if missing else 'an unexpected ' + extra[0]})")
    for key, value in own.items():
        if tensors[key].shape != value.shape:
            raise DamagedFile(f"{Path(path).name}: {key} is {list(tensors[key].shape)}, a {what} here needs "
                              f"{list(value.shape)}")
    module.load_state_dict(tensors)
    return module


def read_tensors(path: str | Path, device: str | torch.device = "cpu") -> dict[str, torch.Tensor]:
    """The tensors of a safetensors file whose header was checked: corrupt, truncated or non-finite -> one line."""
    path = Path(path)
    try:
        tensors = load_file(str(path), device=str(device))
    except (SafetensorError, OSError, ValueError, RuntimeError) as err:
        raise LatentspaceError(f"cannot read {path.name}: corrupt or truncated safetensors") from err
    check_tensors(tensors, f"{path.name} is unusable")
    return tensors
