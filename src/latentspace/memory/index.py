"""The store's SQLite index (WAL): one row per complete memory, plus the store's own settings.

A row is inserted only after its blob is durably on disk, in one transaction, so readers see a
memory whole or not at all. WAL lets several reader processes query while one writer commits.

Every row read is checked (`scan`): a copied, downloaded or hand-edited index may hold anything,
and one malformed row must not break listing, searching or `gc` of the others. A row that fails
a check is returned as `Corrupt` (its id and the reason), which callers report and never act on.
"""

from __future__ import annotations

import json
import math
import os
import re
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from latentspace.core import jsonsafe
from latentspace.core.errors import LatentspaceError

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


@dataclass
class Corrupt:
    """A row that failed its checks: reported, never read, never deleted (nor its blob)."""

    id: str
    problem: str
    blob: str | None = None  # its blob name when that name is safe: `gc` must not sweep it as stray

    def as_dict(self) -> dict:
        return {"id": self.id, "problem": self.problem}


class _BadText(bytes):
    """A TEXT value that is not UTF-8: kept as bytes so the row is reported instead of the whole
    query failing ("Could not decode to UTF-8")."""


def _text(raw: bytes) -> str | bytes:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return _BadText(raw)


def connect(path: Path, readonly: bool, create: bool = False) -> sqlite3.Connection:
    """A connection; ``create`` (the writer only) makes the tables of a new store. Readers never
    write, so they never wait for the writer (WAL)."""
    db = None
    try:
        if readonly:
            db = sqlite3.connect(_reader_uri(path), uri=True, timeout=10)
        else:
            db = sqlite3.connect(path, timeout=10)
            db.execute("PRAGMA synchronous=FULL")
            if create and not has_table(db):
                db.execute("PRAGMA journal_mode=WAL")  # persistent: set once, when the store is made
                db.executescript(CREATE)
                db.execute("INSERT OR IGNORE INTO settings VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
                db.commit()
        db.text_factory = _text
        version = setting_int(db, "schema_version", 0)
    except (sqlite3.Error, LatentspaceError) as err:
        if db is not None:
            db.close()
        raise LatentspaceError(f"cannot open the memory store index {path} ({err})") from None
    if version > SCHEMA_VERSION:
        db.close()
        raise LatentspaceError(f"memory store {path.parent} has schema version {version}, newer than this "
                               f"latentspace supports ({SCHEMA_VERSION}); upgrade latentspace")
    return db


def _reader_uri(path: Path) -> str:
    """A reader's URI. Even a read-only connection to a WAL database makes its shared-memory file,
    which a folder we cannot write refuses ("attempt to write a readonly database"); with no journal
    left there, the file is all the store holds and no writer can change it: read it as immutable
    (which also leaves the folder exactly as it was)."""
    uri = f"file:{quote(str(path), safe='/')}?mode=ro"
    wal = Path(f"{path}-wal")
    if not os.access(path.parent, os.W_OK) and not (wal.exists() and wal.stat().st_size):
        uri += "&immutable=1"
    return uri


def has_table(db: sqlite3.Connection, name: str = "memories") -> bool:
    return db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)).fetchone() is not None


def setting(db: sqlite3.Connection, name: str, default: str | None = None) -> str | None:
    if not has_table(db, "settings"):  # a read-only view of a store whose tables do not exist yet
        return default
    row = db.execute("SELECT value FROM settings WHERE name = ?", (name,)).fetchone()
    return row[0] if row else default


def setting_int(db: sqlite3.Connection, name: str, default: int, fix: str = "") -> int:
    """An integer setting; a malformed one is a one-line error (never a traceback), ``fix`` its cure."""
    value = setting(db, name)
    if value is None:
        return default
    if not isinstance(value, str) or not re.fullmatch(r"-?\d{1,19}", value.strip()):
        raise LatentspaceError(f"the store's setting {name} is malformed ({value!r}){fix}")
    return int(value)


def scan(db: sqlite3.Connection, where: str = "", args: tuple = ()) -> tuple[list[MemoryInfo], list[Corrupt]]:
    """Every row, checked: (usable memories, corrupt rows)."""
    try:
        if not has_table(db):
            return [], []
        found = db.execute(f"SELECT {', '.join(COLUMNS)} FROM memories {where}", args).fetchall()
    except sqlite3.Error as err:  # a table of another shape, a damaged database
        raise LatentspaceError(f"cannot read the memory store index ({err})") from None
    good, bad = [], []
    for row in found:
        info = _info(row)
        (good if isinstance(info, MemoryInfo) else bad).append(info)
    return good, bad


def insert(db: sqlite3.Connection, info: MemoryInfo) -> None:
    values = [getattr(info, c) for c in COLUMNS]
    values[COLUMNS.index("tags")] = jsonsafe.dumps(info.tags)
    values[COLUMNS.index("model")] = jsonsafe.dumps(info.model, sort_keys=True)
    with db:
        db.execute(f"INSERT INTO memories ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})", values)


def delete(db: sqlite3.Connection, memory_id: str) -> None:
    with db:
        db.execute("DELETE FROM memories WHERE id = ?", (memory_id,))


def touch(db: sqlite3.Connection, ids: list[str]) -> None:
    now = time.time()
    with db:
        db.executemany("UPDATE memories SET last_used = ? WHERE id = ?", [(now, i) for i in ids])


# the type each column must come back as (SQLite keeps whatever a hand-made row put there)
NUMBER, TEXT, MAYBE_TEXT, INT = (int, float), (str,), (str, type(None)), (int,)
TYPES = {"id": TEXT, "title": TEXT, "source": MAYBE_TEXT, "tags": TEXT, "created": NUMBER, "last_used": NUMBER,
         "model": TEXT, "model_name": TEXT, "press": MAYBE_TEXT, "tokens": INT, "slots": INT, "key_layer": INT,
         "retrieval_key": (bytes,), "blob": TEXT, "bytes": INT, "sha256": TEXT}
FINGERPRINT = {"architecture": str, "model_type": str, "n_layers": int, "hidden_size": int, "vocab_size": int,
               "embed_sha256": str}


def _info(row: tuple) -> MemoryInfo | Corrupt:
    values = dict(zip(COLUMNS, row))
    memory_id = values["id"] if type(values["id"]) is str else repr(values["id"])
    problem = _problem(values)
    if problem is not None:
        blob = values["blob"] if type(values["blob"]) is str else None
        return Corrupt(memory_id, problem, blob)
    return MemoryInfo(**values)


def _problem(values: dict) -> str | None:
    """Why a row cannot be used (None when it can); parses its JSON columns in place."""
    for column, types in TYPES.items():
        if type(values[column]) not in types:  # exact types: a _BadText is not text, a bool not a number
            kind = "not UTF-8 text" if isinstance(values[column], _BadText) else f"a {type(values[column]).__name__}"
            return f"its {column} is {kind}"
    for column in ("tags", "model"):
        try:
            values[column] = json.loads(values[column])
        except (json.JSONDecodeError, RecursionError):
            return f"its {column} is not valid JSON"
    tags, model = values["tags"], values["model"]
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        return "its tags are not a list of text"
    if not isinstance(model, dict) or any(type(model.get(k)) is not t for k, t in FINGERPRINT.items()):
        return "its model is not a model fingerprint"
    if len(values["retrieval_key"]) != 4 * model["hidden_size"]:
        return (f"its retrieval key has {len(values['retrieval_key']) / 4:g} values, "
                f"its model's hidden size is {model['hidden_size']}")
    if not 0 <= values["key_layer"] < model["n_layers"]:
        return f"its key layer {values['key_layer']} is outside its model's {model['n_layers']} layers"
    if min(values["tokens"], values["slots"], values["bytes"]) < 0 or not all(
            math.isfinite(values[c]) for c in ("created", "last_used")):
        return "its sizes or times are out of range"
    if not re.fullmatch(r"[0-9a-f]{64}", values["sha256"]):
        return "its checksum is not a SHA-256"
    return None
