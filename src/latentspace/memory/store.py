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
- one writer at a time (a lock file; a waiting writer says so and gives up after a timeout),
  any number of readers (SQLite WAL);
- a store may be copied or downloaded, so nothing read from it is trusted: every row is checked
  (`index.scan`) and every blob path goes through `blobs.locate`; a row that fails is reported as
  corrupt and never read or deleted, so a hostile index cannot touch a file outside ``blobs/``;
- only `add` creates a store: every other operation on a missing one is an error;
- each memory records the model fingerprint; recalling it with another model is refused;
- an optional size budget evicts the least recently used memories after each add.
"""

from __future__ import annotations

import math
import os
import time
import uuid
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from latentspace.core.errors import LatentspaceError
from latentspace.core.files import check_text
from latentspace.core.saved import check_same, describe
from latentspace.memory import blobs, index, layout
from latentspace.memory.access import StoreAccess
from latentspace.memory.blobs import CorruptBlob
from latentspace.memory.index import Corrupt, MemoryInfo
from latentspace.memory.recall import combine
from latentspace.model import kv
from latentspace.model.state import LatentState, problem

if TYPE_CHECKING:  # the type only: no import at run time
    from latentspace.model.latent_model import LatentModel


MAX_TITLE, MAX_TAG, MAX_TAGS = 1000, 100, 100
BUDGET_FIX = "; set it again with `latentspace memory gc --max-size SIZE` (0 = no budget)"


@dataclass
class Answer:
    text: str
    memories: list[str]  # ids recalled, in order
    prompt_tokens: int  # question tokens read (the memories were not re-read)
    output_tokens: int


class MemoryStore(StoreAccess):
    # -- checking -----------------------------------------------------------------------------
    def _scan(self, db) -> tuple[list[MemoryInfo], list[Corrupt]]:
        """Usable memories and corrupt rows: a row's checks (`index.scan`), then its blob path's."""
        good, bad = index.scan(db, "ORDER BY created")
        usable = []
        for info in good:
            problem = blobs.problem(self.blob_dir, info.blob, info.id)
            if problem is None:
                usable.append(info)
            else:
                bad.append(Corrupt(info.id, problem, info.blob))
        return usable, bad

    def scan(self) -> tuple[list[MemoryInfo], list[Corrupt]]:
        with self._reading() as db:
            return ([], []) if db is None else self._scan(db)

    def corrupt(self) -> list[Corrupt]:
        """Rows that fail their checks (never read nor deleted by the store)."""
        return self.scan()[1]

    # -- writing ------------------------------------------------------------------------------
    def add(self, lm: LatentModel, text: str, *, title: str | None = None, source: str | None = None,
            tags: Sequence[str] = (), press=None, key_layer: int | None = None) -> MemoryInfo:
        """Encode ``text`` once (optionally compressed) and store its cache and retrieval key.

        Everything is checked before anything is written; the blob is then written, then its row,
        and a failure between the two removes the blob: the memory is stored whole or not at all."""
        check_text(text, "document")
        title, tags = check_labels(title, source, tags)
        prompt = layout.memory_text(lm, text)
        key_layer = lm.n_layers // 2 if key_layer is None else key_layer
        if type(key_layer) is not int or not 0 <= key_layer < lm.n_layers:
            raise LatentspaceError(f"key layer {key_layer!r} out of range for {lm.n_layers} layers")
        ids = layout.ids(lm, prompt, first=True)
        state = lm.encode(ids, press=press)
        key = retrieval_key(lm, text, key_layer)
        memory_id = uuid.uuid4().hex[:12]
        tensors = kv.flatten(state.cache) | {"ids": state.ids, "attention_mask": state.attention_mask,
                                             "next_position": state.next_position, "logits": state.logits}
        now = time.time()
        info = MemoryInfo(
            id=memory_id, title=title or _title(text), source=source, tags=tags, created=now, last_used=now,
            model=lm.fingerprint, model_name=lm.name, press=None if press is None else str(press),
            tokens=int(ids.shape[1]), slots=state.length, key_layer=key_layer,
            retrieval_key=key.numpy().tobytes(), blob=blobs.name_for(memory_id), bytes=0, sha256="",
        )
        with self._writing(create=True) as db:
            path = blobs.locate(self.blob_dir, info.blob, info.id)
            info.sha256, info.bytes = blobs.write(path, tensors, {"id": memory_id, "fingerprint": lm.fingerprint})
            try:
                index.insert(db, info)  # the blob is on disk: from this commit on the memory exists
            except BaseException:
                blobs.remove(path)  # no row, no blob: never an orphan
                raise
            self._evict(db, keep=memory_id)
        return info

    def remove(self, memory_id: str) -> MemoryInfo:
        with self._writing() as db:
            info = self._find(*self._scan(db), memory_id)  # under the lock: what we delete is current
            path = blobs.locate(self.blob_dir, info.blob, info.id)
            index.delete(db, info.id)  # the row goes first: no reader can reach a deleted blob
            blobs.remove(path)
        return info

    def set_budget(self, max_bytes: int | None) -> None:
        with self._writing() as db:
            self._set_budget(db, max_bytes)
            self._evict(db, keep=None)

    def _set_budget(self, db, max_bytes: int | None) -> None:
        if max_bytes is not None and (type(max_bytes) is not int or not 0 < max_bytes < 2**63):
            raise LatentspaceError(f"size budget must be a positive number of bytes, got {max_bytes!r}")
        with db:
            db.execute("INSERT OR REPLACE INTO settings VALUES ('max_bytes', ?)", (str(max_bytes or 0),))

    def gc(self, force: bool = False, max_bytes: int | None | bool = False) -> dict:
        """Verify every blob, drop damaged memories and stray files, enforce the budget (``max_bytes``:
        set it first; None removes it; False leaves it).

        Without ``force`` it refuses when the index is missing or empty but blobs are there: every
        blob would look stray, and a store whose index was lost is to be repaired, not emptied.
        Corrupt rows are reported and left alone (their blobs too); links and folders found in
        ``blobs/`` are never followed nor deleted."""
        self._require()
        if not force and not os.path.lexists(self.index_path):
            self._refuse_sweep("has no index.sqlite", set())
        report = {"damaged": [], "stray_files": [], "evicted": [], "corrupt": [], "not_files": []}
        with self._writing() as db:
            good, bad = self._scan(db)
            # a corrupt row keeps its blob (by its stored name, or by the name its id gives): repairable
            referenced = {i.blob for i in good} | {c.blob for c in bad if c.blob} | {blobs.name_for(c.id) for c in bad}
            if not force and not good and not bad:
                self._refuse_sweep("has an empty index", referenced)
            if max_bytes is not False:
                self._set_budget(db, max_bytes)
            report["corrupt"] = [c.as_dict() for c in bad]
            for info in good:
                path = blobs.locate(self.blob_dir, info.blob, info.id)
                try:
                    blobs.read(path, info.sha256)
                except CorruptBlob:
                    index.delete(db, info.id)
                    blobs.remove(path)
                    referenced.discard(info.blob)
                    report["damaged"].append(info.id)
            for entry in self._entries():
                if entry.name in referenced:
                    continue
                if entry.is_symlink() or not entry.is_file(follow_symlinks=False):
                    report["not_files"].append(entry.name)  # a link or a folder: not ours to follow or delete
                    continue
                os.unlink(entry.path)  # half-written temporaries, blobs of rows never committed
                report["stray_files"].append(entry.name)
            report["evicted"] = self._evict(db, keep=None)
        return report

    def _entries(self) -> list[os.DirEntry]:
        if not self.blob_dir.is_dir() or self.blob_dir.is_symlink():
            return []
        with os.scandir(self.blob_dir) as found:
            return sorted(found, key=lambda e: e.name)

    def _refuse_sweep(self, why: str, referenced: set[str]) -> None:
        """Refuse a gc that would delete blobs no index row speaks for (our own temporaries aside)."""
        loose = [e for e in self._entries() if e.name not in referenced and e.is_file(follow_symlinks=False)
                 and not e.is_symlink() and not (e.name.startswith(".") and e.name.endswith(".tmp"))]
        if loose:
            raise LatentspaceError(f"memory store {self.root} {why} but {len(loose)} blob file(s): refusing to "
                                   "delete them (restore the index, or use --force to delete them)")

    def _evict(self, db, keep: str | None) -> list[str]:
        budget = index.setting_int(db, "max_bytes", 0, BUDGET_FIX)
        if budget <= 0:
            return []
        evicted = []
        candidates = sorted(self._scan(db)[0], key=lambda i: i.last_used)
        total = sum(i.bytes for i in candidates)
        for info in candidates:
            if total <= budget:
                break
            if info.id == keep:
                continue
            path = blobs.locate(self.blob_dir, info.blob, info.id)
            index.delete(db, info.id)
            blobs.remove(path)
            total -= info.bytes
            evicted.append(info.id)
        if total > budget:
            warnings.warn(f"memory {keep} alone is larger than the store's budget of {budget} bytes", stacklevel=3)
        return evicted

    # -- reading ------------------------------------------------------------------------------
    def list(self, tags: Sequence[str] = ()) -> list[MemoryInfo]:
        """The usable memories (`corrupt` lists the others)."""
        return [i for i in self.scan()[0] if set(tags) <= set(i.tags)]

    def budget(self) -> int | None:
        with self._reading() as db:
            value = 0 if db is None else index.setting_int(db, "max_bytes", 0, BUDGET_FIX)
        return value if value > 0 else None

    def get(self, memory_id: str) -> MemoryInfo:
        """A memory by id (or by a unique prefix of it); a corrupt one is an error naming why."""
        return self._find(*self.scan(), memory_id)

    def _find(self, good: list[MemoryInfo], bad: list[Corrupt], memory_id: str) -> MemoryInfo:
        if not isinstance(memory_id, str) or not memory_id:
            raise LatentspaceError(f"no memory with id {memory_id!r} in {self.root}")
        matches = [i for i in good if i.id.startswith(memory_id)]
        broken = [c for c in bad if c.id.startswith(memory_id)]
        if len(matches) + len(broken) != 1:
            what = "no memory" if not matches + broken else f"{len(matches) + len(broken)} memories"
            raise LatentspaceError(f"{what} with id {memory_id!r} in {self.root}")
        if broken:
            raise LatentspaceError(f"memory {broken[0].id!r} is corrupt: {broken[0].problem}; left untouched")
        return matches[0]

    def load(self, lm: LatentModel, memory_id: str) -> LatentState:
        """The memory's working state, ready to continue (checksum and model checked first)."""
        return self._load(lm, memory_id)[0]

    def _load(self, lm: LatentModel, memory_id: str) -> tuple[LatentState, MemoryInfo]:
        info = self.get(memory_id)
        check_same(info.model, lm.fingerprint, f"memory {info.id}")
        path = blobs.locate(self.blob_dir, info.blob, info.id)
        t = blobs.read(path, info.sha256, lm.device)
        _check_state(t, info, lm)
        state = LatentState(kv.unflatten(t), t["ids"], t["attention_mask"], t["next_position"], t["logits"],
                            hidden=None, owner=lm)
        return state, info

    def search(self, lm: LatentModel, query: str, k: int = 3) -> list[tuple[MemoryInfo, float]]:
        """The ``k`` memories of this model whose retrieval keys are closest (cosine) to the query's.
        Corrupt rows and unusable keys are skipped with a warning that says why."""
        check_text(query, "query")
        if not query.strip():
            raise LatentspaceError("empty query")
        if type(k) is not int or k < 1:
            raise LatentspaceError(f"k must be at least 1, got {k!r}")
        good, bad = self.scan()
        for c in bad:
            warnings.warn(f"skipped memory {c.id!r}: corrupt ({c.problem})", stacklevel=2)
        mine = [i for i in good if i.model == lm.fingerprint]
        if not mine:
            others = "" if not good else f" made by {describe(lm.fingerprint)} (it holds other models' memories)"
            raise LatentspaceError(f"the memory store {self.root} has no memories{others}; "
                                   "add one with `latentspace memory add FILE`")
        scored = []
        keys: dict[int, torch.Tensor] = {}
        for info in mine:
            if info.key_layer not in keys:
                keys[info.key_layer] = retrieval_key(lm, query, info.key_layer)
            query_key = keys[info.key_layer]
            stored = torch.frombuffer(bytearray(info.retrieval_key), dtype=torch.float32)
            if stored.numel() != query_key.numel() or not bool(torch.isfinite(stored).all()):
                why = (f"{stored.numel()} values, the model's keys have {query_key.numel()}"
                       if stored.numel() != query_key.numel() else "NaN or inf values")
                warnings.warn(f"skipped memory {info.id!r}: its retrieval key has {why}", stacklevel=2)
                continue
            scored.append((info, float(torch.nn.functional.cosine_similarity(stored, query_key, dim=0))))
        if not scored:
            raise LatentspaceError(f"none of the memories in {self.root} has a usable retrieval key")
        return sorted(scored, key=lambda s: -s[1])[:k]

    def recall(self, lm: LatentModel, memory_ids: Sequence[str], skip_damaged: bool = False) -> tuple[LatentState,
               list[str]]:
        """One working memory from several memories, in order (see `memory.recall`)."""
        states, used = [], []
        for memory_id in memory_ids:
            try:
                state, info = self._load(lm, memory_id)
                states.append(state)
                used.append(info.id)
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

    def ask(self, lm: LatentModel, question: str, memory_ids: Sequence[str] = (), k: int = 1,
            max_new_tokens: int = 64, **decode_options) -> Answer:
        """Answer ``question`` from the given memories, or from the ``k`` that match it best."""
        check_text(question, "question")
        q = layout.ids(lm, layout.question_text(lm, question), first=False)  # an empty question fails first
        ids = list(memory_ids) or [info.id for info, _ in self.search(lm, question, k)]
        state, used = self.recall(lm, ids, skip_damaged=not memory_ids)
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


def retrieval_key(lm: LatentModel, text: str, layer: int) -> torch.Tensor:
    """Mean hidden state (``resid_post`` at ``layer``) over the text's tokens, first token left
    out (it is the attention sink: its huge activations would dominate every mean)."""
    ids = torch.tensor([lm.token_ids(text)])  # refuses text over the context and lone surrogates, up front
    if ids.shape[1] == 0:
        raise LatentspaceError("the text has no tokens: it gives no retrieval key")
    hidden = lm.record(ids, [("resid_post", layer)])[("resid_post", layer)][0].float()
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


def check_labels(title, source, tags) -> tuple[str | None, list[str]]:
    """Title, source and tags as they will be stored, or a one-line error before anything is written."""
    if title is not None:
        check_text(title, "title")
        if not title.strip():
            raise LatentspaceError("empty title (leave --title out to use the document's first line)")
        if len(title) > MAX_TITLE:
            raise LatentspaceError(f"title is {len(title)} characters long; at most {MAX_TITLE}")
    if source is not None:
        check_text(source, "source")
    tags = list(tags)
    if len(tags) > MAX_TAGS:
        raise LatentspaceError(f"{len(tags)} tags; at most {MAX_TAGS}")
    for tag in tags:
        check_text(tag, "tag")
        if not tag.strip() or len(tag) > MAX_TAG:
            raise LatentspaceError(f"bad tag {tag!r}: give 1 to {MAX_TAG} characters, not only spaces")
    return title, sorted(set(tags))


def _check_state(t: dict[str, torch.Tensor], info: MemoryInfo, lm: LatentModel) -> None:
    """A blob whose checksum matches can still be hand-made: its tensors must be a memory's, checked
    as every saved state is (`model.state.problem`)."""
    why = problem(t, lm.fingerprint, lm)
    if why is None and len(t["ids"]) != 1:
        why = f"it holds {len(t['ids'])} rows; a memory is one"
    if why is not None:
        raise CorruptBlob(f"memory blob {info.blob} does not hold a memory's tensors: {why}")
