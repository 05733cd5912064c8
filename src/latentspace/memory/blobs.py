"""Memory blobs on disk: safetensors bytes, written atomically and durably, read back verified.

Write: temporary file in the same folder, fsync, rename, fsync the folder — a crash leaves the
old state or the new one, never half a file under the final name. Read: the SHA-256 recorded at
write time must match before a single tensor is parsed; a damaged blob is never loaded.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import torch
from safetensors.torch import load as load_bytes
from safetensors.torch import save as save_bytes

from latentspace.errors import LatentspaceError

KIND = "latent_memory"


class CorruptBlob(LatentspaceError):
    """A blob whose bytes no longer match their checksum (or cannot be parsed)."""


def write(path: Path, tensors: dict[str, torch.Tensor], header: dict) -> tuple[str, int]:
    """Write ``tensors`` to ``path`` atomically; returns (sha256, size in bytes)."""
    data = save_bytes({k: v.detach().contiguous().cpu() for k, v in tensors.items()},
                      metadata={"kind": KIND, **{k: json.dumps(v) for k, v in header.items()}})
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    sync_dir(path.parent)
    return hashlib.sha256(data).hexdigest(), len(data)


def read(path: Path, sha256: str, device: str | torch.device = "cpu") -> dict[str, torch.Tensor]:
    try:
        data = path.read_bytes()
    except OSError as err:
        raise CorruptBlob(f"memory blob {path.name} is missing or unreadable ({err.strerror})") from err
    if hashlib.sha256(data).hexdigest() != sha256:
        raise CorruptBlob(f"memory blob {path.name} does not match its checksum (damaged on disk)")
    try:
        tensors = load_bytes(data)
    except Exception as err:  # safetensors raises several types for damaged headers
        raise CorruptBlob(f"memory blob {path.name} cannot be parsed") from err
    return {k: v.to(device) for k, v in tensors.items()}


def sync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
