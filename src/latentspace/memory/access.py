"""Opening a memory store: its own files checked (no links), readers' connections, one writer's lock.

A store may be copied or downloaded, so its index, lock and blobs folder are checked to be what they
claim before use; a writer that has to wait for another says so once and gives up after a timeout.
"""

from __future__ import annotations

import fcntl
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from latentspace.core.errors import LatentspaceError
from latentspace.memory import index

LOCK_TIMEOUT = 60.0  # seconds a writer waits for another one before it gives up


class StoreAccess:
    """The store's files: its layout checked, readers' connections, the one writer's lock."""

    def __init__(self, directory: str | Path, lock_timeout: float = LOCK_TIMEOUT, notify=None) -> None:
        self.root = Path(directory).expanduser()
        self.blob_dir = self.root / "blobs"
        self.index_path = self.root / "index.sqlite"
        self.lock_path = self.root / "writer.lock"
        if not (isinstance(lock_timeout, (int, float)) and 0 <= lock_timeout <= 86400):
            raise LatentspaceError(f"lock timeout must be between 0 and 86400 seconds, got {lock_timeout!r}")
        self.lock_timeout = float(lock_timeout)
        self.notify = notify or _to_stderr  # told once when a writer has to wait for another

    def exists(self) -> bool:
        """Whether there is a store here (only `add` makes one)."""
        return self.root.is_dir() and any(os.path.lexists(p) for p in (self.index_path, self.blob_dir))

    def _require(self) -> None:
        if not self.exists():
            raise LatentspaceError(f"no memory store at {self.root}")

    def _check_layout(self) -> None:
        """The store's own files are what they claim: a link could point the index, the lock or the
        blobs folder anywhere on disk."""
        for path in (self.index_path, self.blob_dir, self.lock_path):
            if path.is_symlink():
                raise LatentspaceError(f"memory store {self.root}: {path.name} is a symbolic link; refusing to use it")
        if self.blob_dir.exists() and not self.blob_dir.is_dir():
            raise LatentspaceError(f"memory store {self.root}: blobs is not a folder")
        if self.index_path.exists() and not self.index_path.is_file():
            raise LatentspaceError(f"memory store {self.root}: index.sqlite is not a file")

    # -- opening ------------------------------------------------------------------------------
    @contextmanager
    def _reading(self) -> Iterator:
        if not os.path.lexists(self.index_path):
            yield None
            return
        self._check_layout()
        db = index.connect(self.index_path, readonly=not os.access(self.root, os.W_OK))
        try:
            yield db
        finally:
            db.close()

    @contextmanager
    def _writing(self, create: bool = False) -> Iterator:
        """The single-writer section: the lock is held until the transaction is done. Only ``create``
        (an add) may make a new store."""
        if not create:
            self._require()
        existing = self.root if self.root.exists() else next(p for p in self.root.parents if p.exists())
        if not os.access(existing, os.W_OK) or (self.root.exists() and not self.root.is_dir()):
            raise LatentspaceError(f"memory store directory {self.root} is not writable")
        self._check_layout()
        if create:
            self.blob_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o644)
        try:
            self._lock(fd)
            db = index.connect(self.index_path, readonly=False, create=True)
            try:
                yield db
            finally:
                db.close()
        finally:
            os.close(fd)  # closing releases the lock

    def _lock(self, fd: int) -> None:
        """Take the writer lock; say once that we wait for it, and give up after the timeout."""
        deadline = time.monotonic() + self.lock_timeout
        told = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                pass
            if time.monotonic() >= deadline:
                raise LatentspaceError(f"gave up after {self.lock_timeout:g} s waiting for another writer of the "
                                       f"memory store {self.root} ({self.lock_path.name} is held)")
            if not told:
                self.notify(f"waiting for another writer of the memory store {self.root} "
                            f"(up to {self.lock_timeout:g} s)...")
                told = True
            time.sleep(0.05)


def _to_stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
