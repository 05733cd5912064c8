"""A store is data someone else may have made: hostile index rows are reported and never acted on.

Each test builds a real store, then edits its index the way a copied or downloaded store could,
and checks that nothing outside ``blobs/`` is read or deleted and every command still works.
"""

import os
import sqlite3
import threading
import time

import pytest

from latentspace.errors import LatentspaceError
from latentspace.memory import index
from latentspace.memory.store import MemoryStore

DOC = "the red fox lives in the old forest by the river"


@pytest.fixture
def store(tmp_path):
    return MemoryStore(tmp_path / "mem")


@pytest.fixture
def victim(tmp_path):
    path = tmp_path / "victim.txt"
    path.write_text("precious")
    return path


def add_row(store, memory_id="evil0000", **changes):
    """A copy of the store's first row under a new id, with ``changes`` (raw SQLite values)."""
    with sqlite3.connect(store.index_path) as db:
        row = dict(zip(index.COLUMNS, db.execute(f"SELECT {', '.join(index.COLUMNS)} FROM memories").fetchone()))
        row |= {"id": memory_id, "blob": f"{memory_id}.safetensors", **changes}
        db.execute(f"INSERT INTO memories VALUES ({', '.join('?' * len(row))})", list(row.values()))
    return memory_id


def hostile_blobs(tmp_path, victim):
    """Blob paths a hostile index may hold, each reaching the victim file outside the store."""
    link = tmp_path / "mem" / "blobs" / "evil3.safetensors"
    link.symlink_to(victim)
    return {"evil1": os.path.relpath(victim, tmp_path / "mem" / "blobs"), "evil2": str(victim),
            "evil3": "evil3.safetensors"}


def test_rows_pointing_outside_are_reported_and_never_deleted(llama, store, tmp_path, victim):
    good = store.add(llama, DOC)
    for memory_id, blob in hostile_blobs(tmp_path, victim).items():
        add_row(store, memory_id, blob=blob)
    corrupt = {c.id: c.problem for c in store.corrupt()}
    assert set(corrupt) == {"evil1", "evil2", "evil3"}
    assert "leaves the store" in corrupt["evil1"] and "absolute" in corrupt["evil2"]
    assert "symbolic link" in corrupt["evil3"]
    assert [i.id for i in store.list()] == [good.id]  # the good memory still lists and loads
    for memory_id in corrupt:
        with pytest.raises(LatentspaceError, match="corrupt.*left untouched"):
            store.remove(memory_id)
        with pytest.raises(LatentspaceError, match="corrupt"):
            store.load(llama, memory_id)
    report = store.gc()
    assert {c["id"] for c in report["corrupt"]} == set(corrupt) and report["damaged"] == []
    assert victim.read_text() == "precious"
    assert (store.blob_dir / "evil3.safetensors").is_symlink()  # the link itself is left too
    assert {c.id for c in store.corrupt()} == set(corrupt)  # rows untouched, still reported
    store.remove(good.id)
    assert victim.read_text() == "precious"


def test_gc_refuses_a_missing_or_empty_index_unless_forced(llama, store):
    info = store.add(llama, DOC)
    blob = store.blob_dir / info.blob
    store.index_path.unlink()
    for extra in ("-wal", "-shm"):
        store.index_path.with_name(store.index_path.name + extra).unlink(missing_ok=True)
    with pytest.raises(LatentspaceError, match="no index.sqlite but 1 blob"):
        store.gc()
    assert blob.exists() and not store.index_path.exists()
    with sqlite3.connect(store.index_path) as db:  # an index with no rows: the same refusal
        db.executescript(index.CREATE)
    with pytest.raises(LatentspaceError, match="empty index"):
        store.gc()
    assert blob.exists()
    assert store.gc(force=True)["stray_files"] == [info.blob] and not blob.exists()


def test_links_and_folders_in_blobs_are_left_alone(llama, store, victim):
    store.add(llama, DOC)
    (store.blob_dir / "folder").mkdir()
    (store.blob_dir / "folder" / "inside").write_text("x")
    (store.blob_dir / "link").symlink_to(victim)
    (store.blob_dir / ".half.tmp").write_text("x")
    report = store.gc()
    assert report["not_files"] == ["folder", "link"] and report["stray_files"] == [".half.tmp"]
    assert (store.blob_dir / "folder" / "inside").exists() and victim.read_text() == "precious"


@pytest.mark.parametrize("changes, problem", [
    ({"model": "{not json"}, "model is not valid JSON"),
    ({"tags": "[1, 2"}, "tags is not valid JSON"),
    ({"tags": '"one"'}, "tags are not a list"),
    ({"model": "[]"}, "not a model fingerprint"),
    ({"retrieval_key": b"\x00" * 12}, "retrieval key has 3 values"),
    ({"tokens": "many"}, "tokens is a str"),
    ({"title": b"t\xe9"}, "title is not UTF-8 text"),
    ({"key_layer": 99}, "key layer 99"),
    ({"sha256": "abc"}, "checksum"),
    ({"id": "../../x", "blob": "../../x.safetensors"}, "leaves the store"),
])
def test_a_malformed_row_is_reported_and_the_rest_still_work(llama, store, changes, problem):
    good = store.add(llama, DOC)
    add_row(store, **changes)
    with sqlite3.connect(store.index_path) as db:  # raw bytes in a TEXT column, as a foreign tool may write
        db.execute("UPDATE memories SET title = CAST(X'74E9' AS TEXT) WHERE title = X'74E9'")
    (corrupt,) = store.corrupt()
    assert problem in corrupt.problem
    assert [i.id for i in store.list()] == [good.id]
    with pytest.warns(UserWarning, match="corrupt"):
        assert [i.id for i, _ in store.search(llama, DOC)] == [good.id]
    report = store.gc()
    assert [c["id"] for c in report["corrupt"]] == [corrupt.id] and report["damaged"] == []
    assert report["stray_files"] == []  # a corrupt row's own blob (if safe) is kept for repair


def test_a_hand_made_blob_with_a_matching_checksum_is_refused(llama, store):
    import hashlib

    from safetensors.torch import save
    import torch

    info = store.add(llama, DOC)
    data = save({"x": torch.zeros(2)})
    (store.blob_dir / info.blob).write_bytes(data)
    with sqlite3.connect(store.index_path) as db:
        db.execute("UPDATE memories SET sha256 = ?", (hashlib.sha256(data).hexdigest(),))
    with pytest.raises(LatentspaceError, match="does not hold a memory"):
        store.load(llama, info.id)


def test_add_with_a_bad_title_or_tag_writes_nothing(llama, store):
    for kwargs in ({"title": "t\udce9"}, {"title": "  "}, {"tags": [""]}, {"tags": ["\ud800"]}, {"source": "\udcff"}):
        with pytest.raises(LatentspaceError):
            store.add(llama, DOC, **kwargs)
    with pytest.raises(LatentspaceError, match="not valid Unicode"):
        store.add(llama, "doc \udce9")
    assert not store.root.exists()  # validation comes before anything is created


def test_a_failed_index_write_removes_its_blob(llama, store, monkeypatch):
    store.add(llama, DOC)

    def broken(db, info):
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(index, "insert", broken)
    with pytest.raises(sqlite3.OperationalError):
        store.add(llama, DOC)
    assert len(list(store.blob_dir.iterdir())) == 1 and len(store.list()) == 1  # no orphan blob


def test_only_add_creates_a_store(llama, tmp_path):
    missing = MemoryStore(tmp_path / "typo")
    for call in (missing.gc, lambda: missing.remove("abc"), lambda: missing.set_budget(10)):
        with pytest.raises(LatentspaceError, match="no memory store at"):
            call()
    assert missing.list() == [] and not missing.root.exists()


def test_a_waiting_writer_says_so_and_gives_up(llama, store):
    import fcntl

    store.add(llama, DOC)
    told = []
    waiting = MemoryStore(store.root, lock_timeout=0.3, notify=told.append)
    with open(store.lock_path, "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another writer holds the store
        started = time.monotonic()
        with pytest.raises(LatentspaceError, match="gave up after 0.3 s waiting for another writer"):
            waiting.gc()
        assert 0.3 <= time.monotonic() - started < 3
        assert len(told) == 1 and "waiting for another writer" in told[0]
        release = threading.Timer(0.2, fcntl.flock, (lock, fcntl.LOCK_UN))
        release.start()
        assert MemoryStore(store.root, lock_timeout=5, notify=told.append).gc()["damaged"] == []
        release.join()


def test_gc_keeps_the_blob_of_a_row_whose_path_was_mangled(llama, store):
    info = store.add(llama, DOC)
    with sqlite3.connect(store.index_path) as db:
        db.execute("UPDATE memories SET blob = '../elsewhere'")
    report = store.gc()
    assert [c["id"] for c in report["corrupt"]] == [info.id] and report["stray_files"] == []
    assert (store.blob_dir / info.blob).exists()  # the row can still be repaired by hand
