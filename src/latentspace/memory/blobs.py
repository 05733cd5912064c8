"""Memory blobs on disk: safetensors bytes, written atomically and durably, read back verified.

Write: `files.atomic_write` (temporary file beside the blob, fsync, rename), then fsync the folder
— a crash leaves the old state or the new one, never half a file under the final name. Read: the
SHA-256 recorded at write time must match before a single tensor is parsed.

Paths: a blob's name comes from the index, which a copied or downloaded store controls. `locate`
is the one door from a name to a path: the name must be its memory's own ``ID.safetensors`` (one
plain component, so never absolute, never ``..``), and what lies there must be a plain file (not
a symbolic link, not a folder). Reading, deleting and sweeping all go through it, so a hostile
index can never make the store read or delete anything outside its ``blobs/`` folder.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from pathlib import Path

import torch
from safetensors.torch import load as load_bytes
from safetensors.torch import save as save_bytes

from latentspace.core import jsonsafe
from latentspace.core.errors import LatentspaceError
from latentspace.core.files import atomic_write
from latentspace.core.finite import check_tensors

KIND = "latent_memory"
SUFFIX = ".safetensors"
# what `MemoryStore.add` writes (uuid hex); the server's ids are a superset without '/' or '..'
SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}")


class CorruptBlob(LatentspaceError):
    """A blob whose bytes no longer match their checksum (or cannot be parsed)."""


class UnsafeBlob(LatentspaceError):
    """An index row whose blob path is not a plain file of its own inside ``blobs/``: never touched."""


def name_for(memory_id: str) -> str:
    return f"{memory_id}{SUFFIX}"


def name_problem(name, memory_id) -> str | None:
    """Why ``name`` is not a blob name the store may use for ``memory_id`` (None when it is)."""
    if not isinstance(name, str) or not name:
        return "its blob path is empty or not text"
    if "\x00" in name:
        return "its blob path holds a NUL byte"
    if os.path.isabs(name):
        return f"its blob path {name!r} is absolute"
    if "/" in name or "\\" in name or name in (".", ".."):
        return f"its blob path {name!r} leaves the store's blobs folder"
    if not isinstance(memory_id, str) or not SAFE_ID.fullmatch(memory_id) or ".." in memory_id:
        return f"its id {memory_id!r} is not a valid memory id"
    if name != name_for(memory_id):
        return f"its blob {name!r} is not named after the memory ({name_for(memory_id)!r} expected)"
    return None


def problem(blob_dir: Path, name, memory_id) -> str | None:
    """Why the store may not touch the blob ``name`` of ``memory_id`` (None when it may). A missing
    blob is no danger (it is damage, which `gc` repairs), so it passes."""
    found = name_problem(name, memory_id)
    if found is not None:
        return found
    path = blob_dir / name
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        mode = stat.S_IFREG
    except OSError as err:
        return f"its blob {name!r} cannot be inspected ({err.strerror})"
    if stat.S_ISLNK(mode):
        return f"its blob {name!r} is a symbolic link"
    if stat.S_ISDIR(mode):
        return f"its blob {name!r} is a folder"
    if not stat.S_ISREG(mode):
        return f"its blob {name!r} is not a plain file"
    if path.resolve().parent != blob_dir.resolve():  # a last guard; true by construction above
        return f"its blob path {name!r} leaves the store's blobs folder"
    return None


def locate(blob_dir: Path, name, memory_id) -> Path:
    """The path of a memory's blob, once `problem` finds nothing wrong with it; `UnsafeBlob` else."""
    found = problem(blob_dir, name, memory_id)
    if found is not None:
        raise UnsafeBlob(f"memory {memory_id!r} is corrupt: {found}; left untouched")
    return blob_dir / name


def write(path: Path, tensors: dict[str, torch.Tensor], header: dict) -> tuple[str, int]:
    """Write ``tensors`` to ``path`` atomically; returns (sha256, size in bytes)."""
    check_tensors(tensors, "refusing to store a memory")
    data = save_bytes({k: v.detach().contiguous().cpu() for k, v in tensors.items()},
                      metadata={"kind": KIND, **{k: jsonsafe.dumps(v) for k, v in header.items()}})
    with atomic_write(path, "memory blob") as tmp:
        tmp.write_bytes(data)
    sync_dir(path.parent)
    return hashlib.sha256(data).hexdigest(), len(data)


def read(path: Path, sha256: str, device: str | torch.device = "cpu") -> dict[str, torch.Tensor]:
    """The tensors of a located blob; O_NOFOLLOW and the fstat check close the gap between
    `locate` and the open (a file swapped for a link in between is still refused)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0))
        with os.fdopen(fd, "rb") as f:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                raise CorruptBlob(f"memory blob {path.name} is not a plain file")
            data = f.read()
    except OSError as err:
        raise CorruptBlob(f"memory blob {path.name} is missing or unreadable ({err.strerror})") from err
    if hashlib.sha256(data).hexdigest() != sha256:
        raise CorruptBlob(f"memory blob {path.name} does not match its checksum (damaged on disk)")
    try:
        tensors = load_bytes(data)
    except Exception as err:  # noqa: BLE001 - safetensors raises several types for damaged headers
        raise CorruptBlob(f"memory blob {path.name} cannot be parsed") from err
    return {k: v.to(device) for k, v in tensors.items()}


def remove(path: Path) -> None:
    """Delete a located blob: unlink never follows a link, and `locate` refused links and folders."""
    path.unlink(missing_ok=True)


def sync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
