"""`latentspace memory ...` end to end on the tiny model, and every bad input as one line + exit 2."""

import json
import sqlite3

import pytest

from tests.steer.test_steer_cli import run as run_cli  # noqa: F401 (the in-process CLI fixture)


@pytest.fixture
def doc(tmp_path):
    f = tmp_path / "doc.txt"
    f.write_text("Project notes\nthe red fox lives in the old forest by the river\n")
    return f


def test_add_list_search_ask_rm_gc(tmp_path, doc, run_cli):
    store = ["--store", str(tmp_path / "mem")]
    out = run_cli("memory", "add", str(doc), "--model", "tiny", "--tag", "notes", "--press", "knorm", "--ratio", "0.5",
                  "--json", *store)
    assert out.returncode == 0, out.stderr
    added = json.loads(out.stdout)
    assert added["title"] == "Project notes" and added["tags"] == ["notes"] and added["slots"] < added["tokens"]
    listed = json.loads(run_cli("memory", "list", "--json", *store).stdout)
    assert [m["id"] for m in listed["memories"]] == [added["id"]]
    found = json.loads(run_cli("memory", "search", "fox in the forest", "--model", "tiny", "--json", *store).stdout)
    assert found[0]["id"] == added["id"] and -1 <= found[0]["score"] <= 1
    asked = json.loads(run_cli("memory", "ask", "where is the fox?", "--model", "tiny", "-n", "4", "--json",
                               *store).stdout)
    assert asked["memories"] == [added["id"]] and asked["output_tokens"] > 0
    report = json.loads(run_cli("memory", "gc", "--max-size", "10MB", "--json", *store).stdout)
    assert report["budget"] == 10_000_000 and report["damaged"] == []
    assert run_cli("memory", "rm", added["id"][:6], *store).returncode == 0
    assert json.loads(run_cli("memory", "list", "--json", *store).stdout)["memories"] == []


def test_generate_and_think_take_a_press(run_cli):
    out = run_cli("generate", "hello there", "--model", "tiny", "-n", "3", "--press", "snapkv", "--ratio", "0.5",
                  "--max-cache", "16", "--json")
    assert out.returncode == 0 and json.loads(out.stdout)["tokens"] == 3
    out = run_cli("think", "two plus two", "--model", "tiny", "--mode", "continuous", "--steps", "2",
                  "-n", "3", "--press", "tova", "--json")
    assert out.returncode == 0, out.stderr


@pytest.mark.parametrize("args, message", [
    (["--press", "knorm", "--ratio", "1.0"], "not in the range 0<=x<1"),
    (["--press", "knorm", "--ratio", "-0.2"], "not in the range 0<=x<1"),
    (["--press", "knorm", "--ratio", "nan"], "not in the range 0<=x<1"),
    (["--press", "knorm:7"], "ratio must be"),
    (["--press", "knorm:0.3", "--ratio", "0.2"], "already carries its ratio"),
    (["--ratio", "0.5"], "--ratio needs --press"),
    (["--press", "zip"], "unknown press 'zip'"),
])
def test_bad_press_options(tmp_path, doc, run_cli, args, message):
    out = run_cli("memory", "add", str(doc), "--model", "tiny", "--store", str(tmp_path / "m"), *args)
    assert out.returncode == 2 and message in out.stderr and len(out.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "m" / "blobs").exists() or not list((tmp_path / "m" / "blobs").iterdir())


def test_bad_store_input(tmp_path, doc, run_cli):
    empty = tmp_path / "empty.txt"
    empty.write_text("  \n")
    cases = [
        (["memory", "add", str(empty), "--model", "tiny", "--store", str(tmp_path / "m")], "empty document"),
        (["memory", "add", str(tmp_path / "missing.txt"), "--model", "tiny"], "no document file at"),
        (["memory", "search", "fox", "--model", "tiny", "--store", str(tmp_path / "none")], "no memory store at"),
        (["memory", "ask", "fox?", "--model", "tiny", "--store", str(tmp_path / "none")], "no memory store at"),
        (["memory", "add", str(doc), "--model", "tiny", "--store", str(doc)], "is not a folder"),
        (["memory", "rm", "abc", "--store", str(tmp_path / "none")], "no memory store at"),
        (["memory", "gc", "--max-size", "lots", "--store", str(tmp_path / "m")], "bad size"),
    ]
    for args, message in cases:
        out = run_cli(*args)
        assert out.returncode == 2 and message in out.stderr, (args, out.stderr)


def test_newer_schema_is_one_line(tmp_path, doc, run_cli):
    store = tmp_path / "m"
    assert run_cli("memory", "add", str(doc), "--model", "tiny", "--store", str(store)).returncode == 0
    with sqlite3.connect(store / "index.sqlite") as db:
        db.execute("UPDATE settings SET value = '7' WHERE name = 'schema_version'")
    out = run_cli("memory", "list", "--store", str(store))
    assert out.returncode == 2 and "schema version 7" in out.stderr


def test_the_default_store_is_made_by_the_first_add(tmp_path, doc, run_cli, monkeypatch):
    """The README's `memory add notes.txt` on a fresh machine: no --store, no store yet."""
    home = tmp_path / "fresh" / "home"  # not even the home exists: its parents are made too
    monkeypatch.setenv("LATENTSPACE_HOME", str(home))
    out = run_cli("memory", "add", str(doc), "--model", "tiny", "--json")
    assert out.returncode == 0, out.stderr
    added = json.loads(out.stdout)
    assert (home / "memory" / "index.sqlite").is_file()
    listed = json.loads(run_cli("memory", "list", "--json").stdout)
    assert listed["store"] == str(home / "memory") and [m["id"] for m in listed["memories"]] == [added["id"]]


def test_an_empty_home_has_no_memories_and_no_error(tmp_path, run_cli, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("LATENTSPACE_HOME", str(home))
    out = run_cli("memory", "list")
    assert out.returncode == 0 and "no memories in" in out.stdout, out.stderr
    listed = json.loads(run_cli("memory", "list", "--json").stdout)
    assert listed == {"store": str(home / "memory"), "memories": [], "corrupt": [], "bytes": 0, "budget": None}
    report = run_cli("memory", "gc", "--json")
    assert report.returncode == 0 and json.loads(report.stdout)["damaged"] == [], report.stderr
    for args, message in [(["search", "fox", "-m", "tiny"], "no memories in"), (["ask", "fox?", "-m", "tiny"],
                          "no memories in"), (["rm", "abc"], "no memory with id 'abc'")]:
        out = run_cli("memory", *args)
        assert out.returncode == 2 and message in out.stderr and len(out.stderr.strip().splitlines()) == 1, out.stderr
    assert not home.exists()  # reading an empty home makes nothing
