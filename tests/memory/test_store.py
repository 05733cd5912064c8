"""The persistent store: exact recall, retrieval, crash safety, checksums, models, LRU, bad input."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

import pytest
import torch

from latentspace.errors import LatentspaceError
from latentspace.memory import layout
from latentspace.memory.blobs import CorruptBlob
from latentspace.memory.recall import shift
from latentspace.memory.store import MemoryStore
from latentspace.model import kv
from tests.conftest import tiny_lm

DOCS = ["the red fox lives in the old forest by the river",
        "seven ships sailed north across the cold grey sea",
        "a small bakery sells warm bread every single morning"]


@pytest.fixture
def store(tmp_path):
    return MemoryStore(tmp_path / "mem")


def full_prompt_logits(lm, doc, question):
    text = layout.memory_text(lm, doc) + layout.question_text(lm, question)
    return lm.encode(layout.ids(lm, text, first=True)).logits


def test_recalled_memory_equals_prefilling_the_text(lm, store):
    info = store.add(lm, DOCS[0])
    state = store.load(lm, info.id)
    q = layout.ids(lm, layout.question_text(lm, "where does the fox live?"), first=False)
    recalled = lm.feed(state, q).logits
    assert torch.allclose(recalled, full_prompt_logits(lm, DOCS[0], "where does the fox live?"), atol=1e-5)


def test_recall_survives_a_new_process_and_a_new_wrapper(store):
    lm = tiny_lm("llama", initializer_range=0.3)
    info = store.add(lm, DOCS[1])
    again = MemoryStore(store.root)  # another handle, another model object with the same weights
    other = tiny_lm("llama", initializer_range=0.3)
    answer = again.ask(other, "where did they sail?", [info.id], max_new_tokens=6)
    text = layout.memory_text(lm, DOCS[1]) + layout.question_text(lm, "where did they sail?")
    direct = lm.decode(lm.encode(layout.ids(lm, text, first=True)), max_new_tokens=6).texts[0]
    assert answer.text == direct and answer.memories == [info.id]


def test_search_finds_the_matching_memory(llama, store):
    ids = [store.add(llama, d).id for d in DOCS]
    for doc, expect in zip(DOCS, ids):
        found = store.search(llama, doc, k=3)
        assert found[0][0].id == expect and found[0][1] == pytest.approx(1.0, abs=1e-4)
        assert [s for _, s in found] == sorted((s for _, s in found), reverse=True)


def test_shift_moves_keys_to_later_positions(llama):
    ids = llama.tokenize(DOCS[0])[0]
    moved = shift(llama, llama.encode(ids), 7)
    out = llama.model(input_ids=ids, position_ids=torch.arange(7, 7 + ids.shape[1])[None], use_cache=True)
    for (k_moved, v_moved), (k_there, v_there) in zip(kv.to_tensors(moved.cache), kv.to_tensors(kv.output_cache(out))):
        assert torch.allclose(k_moved, k_there, atol=1e-4) and torch.allclose(v_moved, v_there, atol=1e-4)
    assert int(moved.next_position[0]) == 7 + ids.shape[1]


def test_several_memories_sit_one_after_the_other(llama, store):
    a, b = store.add(llama, DOCS[0]), store.add(llama, DOCS[1])
    state, used = store.recall(llama, [a.id, b.id])
    assert used == [a.id, b.id]
    opening = layout.ids(llama, layout.opening_text(llama), first=True).shape[1]
    assert opening > 0  # the tiny tokenizer has a chat template: the second opening is dropped
    assert state.length == a.slots + b.slots - opening
    assert int(state.next_position[0]) == a.tokens + b.tokens - opening
    assert torch.equal(state.ids[0, a.slots:].cpu(), store.load(llama, b.id).ids[0, opening:].cpu())
    answer = store.ask(llama, "what sailed?", [a.id, b.id], max_new_tokens=4)
    assert answer.memories == [a.id, b.id] and answer.output_tokens > 0


def test_compressed_memory_is_smaller_and_still_answers(llama, store):
    from latentspace.memory.presses import get_press

    plain = store.add(llama, DOCS[2] * 3)
    pressed = store.add(llama, DOCS[2] * 3, press=get_press("knorm", 0.5))
    assert pressed.slots == plain.tokens - plain.tokens // 2 and pressed.bytes < plain.bytes
    assert pressed.press == "knorm@0.5"
    assert store.ask(llama, "what is sold?", [pressed.id], max_new_tokens=3).output_tokens > 0


def test_memory_from_another_model_is_refused(store):
    mine, other = tiny_lm("llama", seed=0), tiny_lm("llama", seed=1)
    info = store.add(mine, DOCS[0])
    with pytest.raises(LatentspaceError, match="saved from .*not the loaded"):
        store.load(other, info.id)
    with pytest.raises(LatentspaceError, match="no memories"):
        store.search(other, "fox")  # retrieval only ever offers this model's memories


def corrupt(store, info):
    path = store.blob_dir / info.blob
    data = bytearray(path.read_bytes())
    data[-5] ^= 0xFF
    path.write_bytes(bytes(data))


def test_corrupted_blob_is_detected_skipped_and_never_loaded(llama, store):
    bad, good = store.add(llama, DOCS[0]), store.add(llama, DOCS[1])
    corrupt(store, bad)
    with pytest.raises(CorruptBlob, match="checksum"):
        store.load(llama, bad.id)
    with pytest.warns(UserWarning, match="checksum"):  # retrieval skips it and answers from the rest
        answer = store.ask(llama, DOCS[0], k=2, max_new_tokens=2)
    assert answer.memories == [good.id]
    report = store.gc()
    assert report["damaged"] == [bad.id] and [i.id for i in store.list()] == [good.id]


def test_lru_budget_evicts_the_least_recently_used(llama, store):
    first = store.add(llama, DOCS[0])
    store.set_budget(int(first.bytes * 2.5))
    second = store.add(llama, DOCS[1])
    store.recall(llama, [first.id])  # first is now the most recently used
    time.sleep(0.01)
    third = store.add(llama, DOCS[2])
    assert {i.id for i in store.list()} == {first.id, third.id}
    assert not (store.blob_dir / second.blob).exists()


WRITER = textwrap.dedent("""
    import sys
    sys.path.insert(0, {tests!r})
    from conftest import tiny_lm
    from latentspace.memory.store import MemoryStore
    lm, store = tiny_lm("llama"), MemoryStore({root!r})
    print("ready", flush=True)
    i = 0
    while True:
        store.add(lm, "document number %d about foxes and rivers " % i * 20)
        i += 1
""")


@pytest.mark.parametrize("delay", [0.05, 0.2, 0.45])
def test_writer_killed_mid_add_leaves_a_consistent_store(store, delay):
    lm = tiny_lm("llama")  # the writer's model
    store.add(lm, DOCS[0])
    script = WRITER.format(tests=os.path.dirname(os.path.dirname(__file__)), root=str(store.root))
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                             env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert child.stdout.readline().strip() == "ready"
    time.sleep(delay)
    child.send_signal(signal.SIGKILL)
    child.wait()
    child.stdout.close()
    infos = store.list()  # readable
    for info in infos:  # every committed memory is complete and loads
        store.load(lm, info.id)
    names = {i.blob for i in infos}
    stray = [p.name for p in store.blob_dir.iterdir() if p.name not in names]
    assert all(p.startswith(".") or p.endswith(".safetensors") for p in stray)
    assert store.gc()["damaged"] == []
    assert {p.name for p in store.blob_dir.iterdir()} == names  # gc swept whatever was half-done
    store.add(lm, DOCS[1])  # and the store takes writes again (the lock died with the writer)


def test_newer_schema_is_refused(llama, store):
    store.add(llama, DOCS[0])
    with sqlite3.connect(store.index_path) as db:
        db.execute("UPDATE settings SET value = '99' WHERE name = 'schema_version'")
    with pytest.raises(LatentspaceError, match="schema version 99"):
        store.list()


def test_bad_input_is_one_clear_error(llama, store, tmp_path):
    with pytest.raises(LatentspaceError, match="empty document"):
        store.add(llama, "   ")
    with pytest.raises(LatentspaceError, match="no memories"):
        store.search(llama, "anything")
    with pytest.raises(LatentspaceError, match="no memory with id"):
        store.load(llama, "nope")
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(LatentspaceError, match="not writable"):
        MemoryStore(blocker).add(llama, DOCS[0])


READER = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {tests!r})
    from conftest import tiny_lm
    from latentspace.memory.store import MemoryStore
    lm, store = tiny_lm("llama"), MemoryStore({root!r})
    print("ready", flush=True)
    seen, deadline = 0, time.monotonic() + 4
    while time.monotonic() < deadline:
        for info in store.list():
            store.load(lm, info.id)  # every listed memory is whole, while the writer keeps adding
            seen += 1
    print(seen, flush=True)
""")


def test_readers_read_while_one_writer_writes(store):
    lm = tiny_lm("llama")
    store.add(lm, DOCS[0])
    script = READER.format(tests=os.path.dirname(os.path.dirname(__file__)), root=str(store.root))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    readers = [subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, env=env) for _ in range(2)]
    for reader in readers:
        assert reader.stdout.readline().strip() == "ready"
    added = 0
    while any(r.poll() is None for r in readers) and added < 200:
        store.add(lm, f"{DOCS[added % 3]} number {added}")
        added += 1
    for reader in readers:
        out, err = reader.communicate(timeout=60)
        assert reader.returncode == 0, err
        assert int(out.strip()) > 0
    assert len(store.list()) == added + 1
