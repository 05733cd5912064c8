"""`latentspace memory ...` against hostile stores and input: exit 2 with one line, nothing touched
outside the store, nothing created by a command that only reads or repairs, nothing printed raw."""

import fcntl
import io
import json
import os
import sqlite3
import sys
from types import SimpleNamespace

import pytest

from tests.memory.test_store_hostile import add_row, hostile_blobs
from tests.steer.test_steer_cli import run as run_cli  # noqa: F401 (the in-process CLI fixture)

ANSI = "\x1b[31mRED\x1b[0m\x07 [bold]x[/bold] \u202eevil"


@pytest.fixture
def doc(tmp_path):
    f = tmp_path / "doc.txt"
    f.write_text("Project notes\nthe red fox lives in the old forest by the river\n")
    return f


@pytest.fixture
def made(tmp_path, doc, run_cli):
    """A store holding one memory whose title carries terminal escapes."""
    root = tmp_path / "mem"
    out = run_cli("memory", "add", str(doc), "-m", "tiny", "--store", str(root), "--title", ANSI, "--tag", ANSI,
                  "--json")
    assert out.returncode == 0, out.stderr
    return SimpleNamespace(root=root, store=["--store", str(root)], id=json.loads(out.stdout)["id"],
                           blob_dir=root / "blobs", index_path=root / "index.sqlite")


def one_line_error(out, message):
    return out.returncode == 2 and message in out.stderr and len(out.stderr.strip().splitlines()) == 1


def test_cli_never_deletes_outside_the_store(tmp_path, made, run_cli):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    for memory_id, blob in hostile_blobs(tmp_path, victim).items():
        add_row(made, memory_id, blob=blob)
    for memory_id in ("evil1", "evil2", "evil3"):
        out = run_cli("memory", "rm", memory_id, *made.store)
        assert one_line_error(out, "left untouched"), out.stderr
        out = run_cli("memory", "ask", "where?", "-m", "tiny", "--memory", memory_id, *made.store)
        assert one_line_error(out, "corrupt"), out.stderr
    out = run_cli("memory", "gc", "--json", *made.store)
    assert out.returncode == 0, out.stderr
    assert {c["id"] for c in json.loads(out.stdout)["corrupt"]} == {"evil1", "evil2", "evil3"}
    listed = run_cli("memory", "list", *made.store)
    assert listed.returncode == 0 and listed.stdout.count("corrupt") == 3
    assert run_cli("memory", "rm", made.id, *made.store).returncode == 0
    assert victim.read_text() == "precious"


def test_cli_gc_on_a_lost_index_needs_force(made, run_cli):
    made.index_path.unlink()
    for extra in ("-wal", "-shm"):
        made.index_path.with_name(made.index_path.name + extra).unlink(missing_ok=True)
    blobs = sorted(p.name for p in made.blob_dir.iterdir())
    out = run_cli("memory", "gc", *made.store)
    assert one_line_error(out, "refusing to delete them"), out.stderr
    assert sorted(p.name for p in made.blob_dir.iterdir()) == blobs == [f"{made.id}.safetensors"]
    out = run_cli("memory", "gc", "--force", "--json", *made.store)
    assert out.returncode == 0 and json.loads(out.stdout)["stray_files"] == blobs
    assert list(made.blob_dir.iterdir()) == []


def test_cli_gc_survives_a_folder_and_a_malformed_row(made, run_cli):
    (made.blob_dir / "folder").mkdir()
    add_row(made, "badmodel", model="{oops")
    out = run_cli("memory", "gc", *made.store)
    assert out.returncode == 0, out.stderr
    assert "corrupt rows: 1" in out.stdout and "not a file, left alone: blobs/folder" in out.stdout
    listed = json.loads(run_cli("memory", "list", "--json", *made.store).stdout)
    assert [m["id"] for m in listed["memories"]] == [made.id]
    assert listed["corrupt"] == [{"id": "badmodel", "problem": "its model is not valid JSON"}]
    found = run_cli("memory", "search", "fox", "-m", "tiny", "--json", *made.store)
    assert found.returncode == 0 and [m["id"] for m in json.loads(found.stdout)] == [made.id]
    assert "warning: skipped memory 'badmodel'" in found.stderr


def test_titles_are_never_printed_raw(made, run_cli):
    outputs = [run_cli("memory", "list", *made.store).stdout,
               run_cli("memory", "search", "fox", "-m", "tiny", *made.store).stdout,
               run_cli("memory", "rm", made.id, *made.store).stdout]
    for text in outputs:
        assert "\x1b" not in text and "\x07" not in text and "\u202e" not in text
        assert "\\x1b" in text
    assert "[bold]x[/bold]" in outputs[2]  # rich markup in a title is shown, not applied


def test_json_keeps_the_real_title(made, run_cli):
    listed = json.loads(run_cli("memory", "list", "--json", *made.store).stdout)
    assert listed["memories"][0]["title"] == ANSI and listed["memories"][0]["tags"] == [ANSI]


@pytest.mark.parametrize("command", [["gc"], ["gc", "--force"], ["list"], ["rm", "abc"],
                                     ["search", "fox", "-m", "tiny"], ["ask", "fox?", "-m", "tiny"]])
def test_commands_on_a_missing_store_create_nothing(tmp_path, run_cli, command):
    typo = tmp_path / "typo"
    out = run_cli("memory", *command, "--store", str(typo))
    assert one_line_error(out, f"no memory store at {typo}"), out.stderr
    assert not typo.exists()


@pytest.mark.parametrize("args, message", [
    (["--title", ""], "empty title"),
    (["--tag", " "], "bad tag"),
    (["--title", "x" * 1001], "at most 1000"),
    (["--store", ""], "--store: empty path"),
])
def test_add_with_bad_labels_writes_nothing(tmp_path, doc, run_cli, args, message):
    root = tmp_path / "m"
    out = run_cli("memory", "add", str(doc), "-m", "tiny", "--store", str(root), *args)
    assert one_line_error(out, message), out.stderr
    assert not root.exists()


def test_add_reads_only_utf8(tmp_path, run_cli, monkeypatch):
    binary = tmp_path / "bin.txt"
    binary.write_bytes(b"caf\xe9 \xff\xfe")
    root = tmp_path / "m"
    assert one_line_error(run_cli("memory", "add", str(binary), "-m", "tiny", "--store", str(root)), "not UTF-8")
    assert one_line_error(run_cli("memory", "add", str(tmp_path), "-m", "tiny", "--store", str(root)), "is a folder")
    monkeypatch.setattr(sys, "stdin", SimpleNamespace(buffer=io.BytesIO(b"\xff\xfe oops")))
    assert one_line_error(run_cli("memory", "add", "-", "-m", "tiny", "--store", str(root)), "stdin is not UTF-8")
    assert not root.exists()


HOSTILE_OPTIONS = [
    (["gc", "--max-size", "..."], "bad size"),
    (["gc", "--max-size", "1.2.3MB"], "bad size"),
    (["gc", "--max-size", "9" * 400], "too large"),
    (["gc", "--max-size", "0.5"], "less than one byte"),
    (["search", "fox", "-m", "tiny", "-k", str(10**30)], "-k"),
    (["search", "   ", "-m", "tiny"], "empty query"),
    (["ask", "", "-m", "tiny"], "empty question"),
    (["ask", "where?", "-m", "tiny", "--memory", ""], "no memory with id ''"),
    (["ask", "where?", "-m", "tiny", "-n", "0"], "--max-tokens"),
    (["rm", ""], "no memory with id ''"),
]


def test_hostile_options_are_one_line(made, run_cli):
    for args, message in HOSTILE_OPTIONS:  # one store for all: each case is a refusal, not a change
        out = run_cli("memory", *args, *made.store)
        assert one_line_error(out, message), (args, out.stderr)
    assert run_cli("memory", "list", "--json", *made.store).returncode == 0


def test_a_waiting_writer_says_so_then_gives_up(made, run_cli):
    with open(made.root / "writer.lock", "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        out = run_cli("memory", "gc", "--lock-timeout", "0.2", *made.store)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 2 and "waiting for another writer" in lines[0] and "gave up after 0.2 s" in lines[1]


def test_a_symlinked_index_is_refused(tmp_path, made, run_cli):
    elsewhere = tmp_path / "elsewhere.sqlite"
    os.replace(made.index_path, elsewhere)
    made.index_path.symlink_to(elsewhere)
    for command in (["list"], ["gc"]):
        out = run_cli("memory", *command, *made.store)
        assert one_line_error(out, "index.sqlite is a symbolic link"), out.stderr
    with sqlite3.connect(elsewhere) as db:
        assert db.execute("SELECT count(*) FROM memories").fetchone() == (1,)


@pytest.fixture
def read_only(made, monkeypatch):
    """``made`` with its folder made read-only (chmod -R a-w). Root ignores permissions, so for root
    the store's folders also report themselves unwritable, as they would to anyone else."""
    (made.root / "writer.lock").unlink()  # a reader must not make it again
    paths = [made.root, made.blob_dir, made.index_path, *made.blob_dir.iterdir()]
    modes = {p: p.stat().st_mode for p in paths}
    for p in paths:
        p.chmod(modes[p] & ~0o222)
    if os.geteuid() == 0:
        real = os.access
        inside = {str(made.root), str(made.blob_dir)}
        monkeypatch.setattr(os, "access", lambda path, mode, **kw: False if mode & os.W_OK and str(path) in inside
                            else real(path, mode, **kw))
    yield made
    for p in reversed(paths):
        p.chmod(modes[p])


def test_a_read_only_store_can_be_read(read_only, run_cli):
    before = sorted(p.name for p in read_only.root.rglob("*"))
    listed = run_cli("memory", "list", "--json", *read_only.store)
    assert listed.returncode == 0, listed.stderr
    assert [m["id"] for m in json.loads(listed.stdout)["memories"]] == [read_only.id]
    found = run_cli("memory", "search", "fox", "-m", "tiny", "--json", *read_only.store)
    assert found.returncode == 0 and json.loads(found.stdout)[0]["id"] == read_only.id, found.stderr
    asked = run_cli("memory", "ask", "where is the fox?", "-m", "tiny", "-n", "2", "--json", *read_only.store)
    assert asked.returncode == 0 and json.loads(asked.stdout)["memories"] == [read_only.id], asked.stderr
    # no lock, no SQLite journal or shared-memory file: the folder is exactly as it was
    assert sorted(p.name for p in read_only.root.rglob("*")) == before
    assert one_line_error(run_cli("memory", "rm", read_only.id, *read_only.store), "is not writable")
