"""Persistent latent memory: encode a document once, recall its KV cache in any later process.

    store = MemoryStore("notes")                  # a directory: index.sqlite + blobs/
    info = store.add(lm, text, press=get_press("knorm", 0.5), tags=["paper"])
    store.search(lm, "what does the paper measure?", k=3)
    store.ask(lm, "What does the paper measure?")  # retrieves, recalls, answers

Safety, by construction:
- a memory's blob is written atomically and fsynced *before* its index row is committed, so a
  writer killed at any moment leaves each memory complete or absent (`gc` sweeps stray files);
- every blob has a SHA-256 checked before it is parsed: a damaged one is skipped with a warning
  during retrieval (an error when asked for by id) and never loaded;
- one writer at a time (a lock file), any number of readers (SQLite WAL);
- each memory records the model fingerprint; recalling it with another model is refused;
- an optional size budget evicts the least recently used memories after each add.
"""

from __future__ import annotations

import fcntl
import math
import os
import time
import uuid
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch

from latentspace.errors import LatentspaceError
from latentspace.memory import blobs, index, layout
from latentspace.memory.blobs import CorruptBlob
from latentspace.memory.index import MemoryInfo
from latentspace.memory.recall import combine
from latentspace.model import kv
from latentspace.model.fingerprint import check_same, describe
from latentspace.model.state import LatentState


@dataclass
class Answer:
    text: str
    memories: list[str]  # ids recalled, in order
    prompt_tokens: int  # question tokens read (the memories were not re-read)
    output_tokens: int


class MemoryStore:
    def __init__(self, directory: str | Path) -> None:
        self.root = Path(directory).expanduser()
        self.blob_dir = self.root / "blobs"
        self.index_path = self.root / "index.sqlite"

    # -- opening ------------------------------------------------------------------------------
    @contextmanager
    def _reading(self) -> Iterator:
        if not self.index_path.exists():
            yield None
            return
        db = index.connect(self.index_path, readonly=not os.access(self.root, os.W_OK))
        try:
            yield db
        finally:
            db.close()

    @contextmanager
    def _writing(self) -> Iterator:
        """The single-writer section: the lock is held until the transaction is done."""
        existing = self.root if self.root.exists() else next(p for p in self.root.parents if p.exists())
        if not os.access(existing, os.W_OK) or (self.root.exists() and not self.root.is_dir()):
            raise LatentspaceError(f"memory store directory {self.root} is not writable")
        self.blob_dir.mkdir(parents=True, exist_ok=True)
        with open(self.root / "writer.lock", "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            db = index.connect(self.index_path, readonly=False, create=True)
            try:
                yield db
            finally:
                db.close()
                fcntl.flock(lock, fcntl.LOCK_UN)

    # -- writing ------------------------------------------------------------------------------
    def add(self, lm, text: str, *, title: str | None = None, source: str | None = None,
            tags: Sequence[str] = (), press=None, key_layer: int | None = None) -> MemoryInfo:
        """Encode ``text`` once (optionally compressed) and store its cache and retrieval key."""
        prompt = layout.memory_text(lm, text)
        key_layer = lm.n_layers // 2 if key_layer is None else key_layer
        if not 0 <= key_layer < lm.n_layers:
            raise LatentspaceError(f"key layer {key_layer} out of range for {lm.n_layers} layers")
        ids = layout.ids(lm, prompt, first=True)
        state = lm.encode(ids, press=press)
        key = retrieval_key(lm, text, key_layer)
        memory_id = uuid.uuid4().hex[:12]
        tensors = kv.flatten(state.cache) | {"ids": state.ids, "attention_mask": state.attention_mask,
                                             "next_position": state.next_position, "logits": state.logits}
        with self._writing() as db:
            sha, size = blobs.write(self.blob_dir / f"{memory_id}.safetensors", tensors,
                                    {"id": memory_id, "fingerprint": lm.fingerprint})
            now = time.time()
            info = MemoryInfo(
                id=memory_id, title=title or _title(text), source=source, tags=sorted(set(tags)), created=now,
                last_used=now, model=lm.fingerprint, model_name=lm.name, press=None if press is None else str(press),
                tokens=int(ids.shape[1]), slots=state.length, key_layer=key_layer,
                retrieval_key=key.numpy().tobytes(), blob=f"{memory_id}.safetensors", bytes=size, sha256=sha,
            )
            index.insert(db, info)  # the blob is on disk: from this commit on the memory exists
            self._evict(db, keep=memory_id)
        return info

    def remove(self, memory_id: str) -> MemoryInfo:
        info = self.get(memory_id)
        with self._writing() as db:
            index.delete(db, info.id)  # the row goes first: no reader can reach a deleted blob
            (self.blob_dir / info.blob).unlink(missing_ok=True)
        return info

    def set_budget(self, max_bytes: int | None) -> None:
        if max_bytes is not None and max_bytes <= 0:
            raise LatentspaceError(f"size budget must be positive, got {max_bytes}")
        with self._writing() as db:
            with db:
                db.execute("INSERT OR REPLACE INTO settings VALUES ('max_bytes', ?)", (str(max_bytes or 0),))
            self._evict(db, keep=None)

    def gc(self) -> dict:
        """Verify every blob, drop damaged memories and stray files, enforce the budget."""
        report = {"damaged": [], "stray_files": [], "evicted": []}
        with self._writing() as db:
            referenced = set()
            for info in index.rows(db):
                try:
                    blobs.read(self.blob_dir / info.blob, info.sha256)
                    referenced.add(info.blob)
                except CorruptBlob:
                    index.delete(db, info.id)
                    (self.blob_dir / info.blob).unlink(missing_ok=True)
                    report["damaged"].append(info.id)
            for path in self.blob_dir.iterdir():
                if path.name not in referenced:  # half-written temporaries, blobs of rows never committed
                    path.unlink(missing_ok=True)
                    report["stray_files"].append(path.name)
            report["evicted"] = self._evict(db, keep=None)
        return report

    def _evict(self, db, keep: str | None) -> list[str]:
        budget = int(index.setting(db, "max_bytes", "0") or 0)
        if not budget:
            return []
        evicted = []
        candidates = sorted(index.rows(db), key=lambda i: i.last_used)
        total = sum(i.bytes for i in candidates)
        for info in candidates:
            if total <= budget:
                break
            if info.id == keep:
                continue
            index.delete(db, info.id)
            (self.blob_dir / info.blob).unlink(missing_ok=True)
            total -= info.bytes
            evicted.append(info.id)
        if total > budget:
            warnings.warn(f"memory {keep} alone is larger than the store's budget of {budget} bytes", stacklevel=3)
        return evicted

    # -- reading ------------------------------------------------------------------------------
    def list(self, tags: Sequence[str] = ()) -> list[MemoryInfo]:
        with self._reading() as db:
            found = [] if db is None else index.rows(db, "ORDER BY created")
        return [i for i in found if set(tags) <= set(i.tags)]

    def budget(self) -> int | None:
        with self._reading() as db:
            value = None if db is None else int(index.setting(db, "max_bytes", "0") or 0)
        return value or None

    def get(self, memory_id: str) -> MemoryInfo:
        """A memory by id (or by a unique prefix of it)."""
        matches = [i for i in self.list() if i.id.startswith(memory_id)] if memory_id else []
        if len(matches) != 1:
            what = "no memory" if not matches else f"{len(matches)} memories"
            raise LatentspaceError(f"{what} with id {memory_id!r} in {self.root}")
        return matches[0]

    def load(self, lm, memory_id: str) -> LatentState:
        """The memory's working state, ready to continue (checksum and model checked first)."""
        info = self.get(memory_id)
        check_same(info.model, lm.fingerprint, f"memory {info.id}")
        t = blobs.read(self.blob_dir / info.blob, info.sha256, lm.device)
        return LatentState(kv.unflatten(t), t["ids"], t["attention_mask"], t["next_position"], t["logits"],
                           hidden=None, owner=lm)

    def search(self, lm, query: str, k: int = 3) -> list[tuple[MemoryInfo, float]]:
        """The ``k`` memories of this model whose retrieval keys are closest (cosine) to the query's."""
        if not query or not query.strip():
            raise LatentspaceError("empty query")
        if k < 1:
            raise LatentspaceError(f"k must be at least 1, got {k}")
        mine = [i for i in self.list() if i.model == lm.fingerprint]
        if not mine:
            others = "" if not self.list() else f" made by {describe(lm.fingerprint)} (it holds other models' memories)"
            raise LatentspaceError(f"the memory store {self.root} has no memories{others}; "
                                   "add one with `latentspace memory add FILE`")
        scored = []
        keys: dict[int, torch.Tensor] = {}
        for info in mine:
            if info.key_layer not in keys:
                keys[info.key_layer] = retrieval_key(lm, query, info.key_layer)
            stored = torch.frombuffer(bytearray(info.retrieval_key), dtype=torch.float32)
            scored.append((info, float(torch.nn.functional.cosine_similarity(stored, keys[info.key_layer], dim=0))))
        return sorted(scored, key=lambda s: -s[1])[:k]

    def recall(self, lm, memory_ids: Sequence[str], skip_damaged: bool = False) -> tuple[LatentState, list[str]]:
        """One working memory from several memories, in order (see `memory.recall`)."""
        states, used = [], []
        for memory_id in memory_ids:
            try:
                states.append(self.load(lm, memory_id))
                used.append(self.get(memory_id).id)
            except CorruptBlob as err:
                if not skip_damaged:
                    raise
                warnings.warn(f"skipped: {err}", stacklevel=2)
        if not states:
            raise LatentspaceError("none of the memories could be recalled")
        opening = layout.ids(lm, layout.opening_text(lm), first=True)[0]
        opening = opening[: _common_prefix(opening, states[0].ids[0])]
        self._touch(used)
        return (states[0] if len(states) == 1 else combine(lm, states, opening)), used

    def ask(self, lm, question: str, memory_ids: Sequence[str] = (), k: int = 1,
            max_new_tokens: int = 64, **decode_options) -> Answer:
        """Answer ``question`` from the given memories, or from the ``k`` that match it best."""
        ids = list(memory_ids) or [info.id for info, _ in self.search(lm, question, k)]
        state, used = self.recall(lm, ids, skip_damaged=not memory_ids)
        q = layout.ids(lm, layout.question_text(lm, question), first=False)
        out = lm.decode(lm.feed(state, q), max_new_tokens=max_new_tokens, **decode_options)
        return Answer(out.texts[0], used, int(q.shape[1]), out.n_tokens)

    def _touch(self, memory_ids: list[str]) -> None:
        if not os.access(self.root, os.W_OK):
            return  # a read-only store still answers; it just cannot keep its LRU order
        with self._reading() as db:
            if db is not None:
                index.touch(db, memory_ids)

    def size(self) -> int:
        return sum(i.bytes for i in self.list())


def retrieval_key(lm, text: str, layer: int) -> torch.Tensor:
    """Mean hidden state (``resid_post`` at ``layer``) over the text's tokens, first token left
    out (it is the attention sink: its huge activations would dominate every mean)."""
    ids = lm.tokenizer(text, return_tensors="pt", add_special_tokens=False)["input_ids"]
    limit = lm.max_positions or ids.shape[1]
    hidden = lm.record(ids[:, :limit], [("resid_post", layer)])[("resid_post", layer)][0].float()
    vector = hidden[1:].mean(0) if len(hidden) > 1 else hidden[0]
    if not torch.isfinite(vector).all() or math.isclose(float(vector.norm()), 0.0):
        raise LatentspaceError("the text gives no usable retrieval key (non-finite or zero hidden states)")
    return vector.cpu()


def _title(text: str) -> str:
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    return line[:60] + ("…" if len(line) > 60 else "")


def _common_prefix(a: torch.Tensor, b: torch.Tensor) -> int:
    n = min(len(a), len(b))
    differ = (a[:n].cpu() != b[:n].cpu()).nonzero()
    return int(differ[0]) if len(differ) else n
