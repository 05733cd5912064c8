"""Files in and out, with one behaviour everywhere: check first, write atomically, read as text.

- `check_output` is called *before* any work, so a bad destination fails in one line at once
  instead of after a long computation.
- `atomic_write` writes beside the destination, fsyncs, then renames: a reader sees the old file
  or the new one, never half of one, and any error removes the temporary file.
- `read_text` reads a user's input file as UTF-8 with one-line errors (missing, a folder, binary).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from latentspace.core.errors import LatentspaceError


def check_output(path: str | Path, what: str = "output file", folder: bool = False, inputs: tuple = (),
                 suffix: str | None = None) -> Path:
    """``path`` as a Path once it is certain it can be written; else a one-line error. Creates nothing.

    The destination's folder must exist — a typo in a parent path is an error, not a new tree: a
    file must not be a folder; a folder destination (a run folder) may be missing itself and is
    made by the writer, but must not be a file. Folders that defaults put under ``runs/`` are
    checked by their caller at ``runs/`` itself. ``inputs``: what the command reads, which the output
    must not overwrite — a file (the output may not be it) or a folder (the output may not be inside
    it: a run folder's checkpoint or data); ``suffix``: the extension the written format needs (``.gguf``).
    """
    if not str(path).strip():  # before Path(): Path("") is "."
        raise LatentspaceError(f"{what}: empty path")
    if str(path).startswith("-"):  # `--answers --json`: the option swallowed the next flag as its value
        raise LatentspaceError(f"{what}: {str(path)!r} looks like an option, not a path; give the path after the option "
                               f"(or ./{path} for a name that starts with '-')")
    path = Path(path)
    check_not_input(path, what, inputs)
    if folder and path.exists() and not path.is_dir():
        raise LatentspaceError(f"{what} {path} exists and is not a folder")
    if folder and path.is_dir():
        if not os.access(path, os.W_OK | os.X_OK):
            raise LatentspaceError(f"{what}: folder {path} is not writable")
        return path
    if not folder and path.is_dir():
        raise LatentspaceError(f"{what} {path} is a folder; give a file path")
    if suffix is not None and path.suffix.lower() != suffix:
        raise LatentspaceError(f"{what} {path.name} must end in {suffix} (that is the format written)")
    parent = path.parent
    if not parent.exists():
        raise LatentspaceError(f"{what}: folder {parent} does not exist")
    if not parent.is_dir():
        raise LatentspaceError(f"{what}: {parent} is not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise LatentspaceError(f"{what}: folder {parent} is not writable")
    if path.exists() and not os.access(path, os.W_OK):
        raise LatentspaceError(f"{what} {path} exists and is not writable")
    return path


def check_not_input(path: Path, what: str, inputs: tuple) -> None:
    """Refuse an output that is one of ``inputs`` (a file) or lies inside one (a folder)."""
    for source in inputs:
        if source is None or not Path(source).exists():
            continue
        source = Path(source)
        if source.is_dir():
            # resolved: a symlink or `..` into the folder is the same place; the output need not exist yet
            try:
                inside = path.resolve().is_relative_to(source.resolve())
            except (OSError, RuntimeError):  # a symlink loop: no place to compare, and no file to overwrite
                inside = False
            if inside:
                raise LatentspaceError(f"{what} {path} is inside {source}, which this command reads; write elsewhere")
        elif path.exists() and os.path.samefile(source, path):
            raise LatentspaceError(f"{what} {path} is also the input {source}; write to another file")


@contextlib.contextmanager
def atomic_write(path: str | Path, what: str = "output file") -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path``, on error it is gone.

    The caller writes the temporary path by any means (``save_file``, ``savefig``, ``open``).
    """
    path = check_output(path, what)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        with open(tmp, "rb+") as f:  # the bytes are on disk before the name points at them
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_text(path: str | Path, text: str, what: str = "output file") -> Path:
    """Write ``text`` (UTF-8) atomically; a text that cannot be encoded is refused before writing."""
    data = encode_utf8(text, what)
    with atomic_write(path, what) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_bytes(path: str | Path, data: bytes, what: str = "output file") -> Path:
    with atomic_write(path, what) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def encode_utf8(text: str, what: str = "text") -> bytes:
    """UTF-8 bytes of ``text``; lone surrogates (from a non-UTF-8 argument or a JSON escape) refused."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as err:
        raise LatentspaceError(f"{what} is not valid Unicode (a lone surrogate at character {err.start})") from None


def check_text(text: str, what: str = "text") -> str:
    """``text`` unchanged when it is valid Unicode; a one-line error otherwise."""
    encode_utf8(text, what)
    return text


MAX_INPUT_BYTES = 1 << 30  # an input text file larger than this is a mistake, not a corpus we hold in memory


def read_text(path: str | Path, what: str = "file") -> str:
    """A user's input file as UTF-8 text, or a one-line error saying why it cannot be read."""
    path = Path(path)
    if not path.exists():
        raise LatentspaceError(f"no {what} at {path}")
    if path.is_dir():
        raise LatentspaceError(f"{what} {path} is a folder, not a file")
    if not path.is_file():  # a device or a pipe (/dev/zero) would be read forever
        raise LatentspaceError(f"{what} {path} is not a regular file")
    if path.stat().st_size > MAX_INPUT_BYTES:
        raise LatentspaceError(f"{what} {path.name} is over {MAX_INPUT_BYTES // 2**20} MiB; split it")
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as err:
        raise LatentspaceError(f"{what} {path.name} is not UTF-8 text (byte {err.start})") from None
    except OSError as err:
        raise LatentspaceError(f"cannot read {what} {path}: {err.strerror}") from None
