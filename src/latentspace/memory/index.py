"""The store's SQLite index (WAL): one row per complete memory, plus the store's own settings.

A row is inserted only after its blob is durably on disk, in one transaction, so readers see a
memory whole or not at all. WAL lets several reader processes query while one writer commits.
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path

from latentspace.errors import LatentspaceError

SCHEMA_VERSION = 1
COLUMNS = ("id", "title", "source", "tags", "created", "last_used", "model", "model_name", "press",
           "tokens", "slots", "key_layer", "retrieval_key", "blob", "bytes", "sha256")

CREATE = """
CREATE TABLE IF NOT EXISTS settings (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS memories (
    id TEXT PRIMARY KEY, title TEXT NOT NULL, source TEXT, tags TEXT NOT NULL,
    created REAL NOT NULL, last_used REAL NOT NULL,
    model TEXT NOT NULL,          -- the model fingerprint (JSON), checked on every read
    model_name TEXT NOT NULL, press TEXT, tokens INTEGER NOT NULL, slots INTEGER NOT NULL,
    key_layer INTEGER NOT NULL, retrieval_key BLOB NOT NULL,   -- float32 mean hidden state
    blob TEXT NOT NULL, bytes INTEGER NOT NULL, sha256 TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS memories_last_used ON memories(last_used);
"""


@dataclass
class MemoryInfo:
    """One stored memory (everything but its tensors)."""

    id: str
    title: str
    source: str | None
    tags: list[str]
    created: float
    last_used: float
    model: dict = field(repr=False)
    model_name: str
    press: str | None
    tokens: int
    slots: int
    key_layer: int
    retrieval_key: bytes = field(repr=False)
    blob: str = field(repr=False)
    bytes: int
    sha256: str = field(repr=False)

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in ("id", "title", "source", "tags", "created", "last_used",
                                               "model_name", "press", "tokens", "slots", "bytes")}


def connect(path: Path, readonly: bool, create: bool = False) -> sqlite3.Connection:
    """A connection; ``create`` (the writer only) makes the tables of a new store. Readers never
    write, so they never wait for the writer (WAL)."""
    try:
        if readonly:
            db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
        else:
            db = sqlite3.connect(path, timeout=10)
            db.execute("PRAGMA synchronous=FULL")
            if create and not db.execute("SELECT 1 FROM sqlite_master WHERE name = 'memories'").fetchone():
                db.execute("PRAGMA journal_mode=WAL")  # persistent: set once, when the store is made
                db.executescript(CREATE)
                db.execute("INSERT OR IGNORE INTO settings VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
                db.commit()
    except sqlite3.Error as err:
        raise LatentspaceError(f"cannot open the memory store index {path} ({err})") from err
    version = int(setting(db, "schema_version", "0"))
    if version > SCHEMA_VERSION:
        db.close()
        raise LatentspaceError(f"memory store {path.parent} has schema version {version}, newer than this "
                               f"latentspace supports ({SCHEMA_VERSION}); upgrade latentspace")
    return db


def setting(db: sqlite3.Connection, name: str, default: str | None = None) -> str | None:
    try:
        row = db.execute("SELECT value FROM settings WHERE name = ?", (name,)).fetchone()
    except sqlite3.OperationalError:  # a read-only view of a store whose tables do not exist yet
        return default
    return row[0] if row else default


def rows(db: sqlite3.Connection, where: str = "", args: tuple = ()) -> list[MemoryInfo]:
    try:
        found = db.execute(f"SELECT {', '.join(COLUMNS)} FROM memories {where}", args).fetchall()
    except sqlite3.OperationalError:
        return []
    return [_info(r) for r in found]


def insert(db: sqlite3.Connection, info: MemoryInfo) -> None:
    values = [getattr(info, c) for c in COLUMNS]
    values[COLUMNS.index("tags")] = json.dumps(info.tags)
    values[COLUMNS.index("model")] = json.dumps(info.model, sort_keys=True)
    with db:
        db.execute(f"INSERT INTO memories ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})", values)


def delete(db: sqlite3.Connection, memory_id: str) -> None:
    with db:
        db.execute("DELETE FROM memories WHERE id = ?", (memory_id,))


def touch(db: sqlite3.Connection, ids: list[str]) -> None:
    now = time.time()
    with db:
        db.executemany("UPDATE memories SET last_used = ? WHERE id = ?", [(now, i) for i in ids])


def _info(row: tuple) -> MemoryInfo:
    values = dict(zip(COLUMNS, row))
    values["tags"] = json.loads(values["tags"])
    values["model"] = json.loads(values["model"])
    return MemoryInfo(**values)
