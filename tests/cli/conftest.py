"""Shared by the CLI's property tests: `prepared`, good input files of every saved format, made once."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.test_cli import run_here

SURROGATE = "\udcff"  # what Python makes of a non-UTF-8 argv byte


@pytest.fixture(scope="session")
def prepared(tmp_path_factory):
    """Good input files made once (a vector, a lens, a store...), and bad ones to swap in."""
    return make_inputs(tmp_path_factory.mktemp("hostile-inputs"))


def make_inputs(root: Path) -> dict:
    """Every saved format the project writes, made by its own command into ``root`` (also used by
    benchmarks/sweep_damaged.py), plus bad files of each plain kind."""
    f = {}
    f["pairs"] = root / "pairs.jsonl"
    f["pairs"].write_text("\n".join(json.dumps({"positive": f"good thing {i}", "negative": f"bad thing {i}"})
                                    for i in range(4)))
    f["text"] = root / "doc.txt"
    f["text"].write_text("Project notes\nthe red fox lives in the old forest by the river\n" * 3)
    f["prompts"] = root / "prompts.txt"
    f["prompts"].write_text("hello\nhow are you\n")
    f["probe_data"] = root / "probe.jsonl"
    f["probe_data"].write_text("\n".join(json.dumps({"text": f"{w} {i}", "label": w}) for i in range(6) for w in "ab"))
    f["probe_numbers"] = root / "numbers.jsonl"
    f["probe_numbers"].write_text("\n".join(json.dumps({"text": f"n {i}", "label": i * 1e30}) for i in range(12)))
    f["config"] = root / "run.yaml"
    f["config"].write_text("epochs: 1\nn_train: 4\n")
    f["task_file"] = root / "task.jsonl"
    f["task_file"].write_text("\n".join(json.dumps({"question": f"{i}+1=?", "answer": str(i + 1)}) for i in range(4)))
    f["pipeline"] = root / "pipe.yaml"
    f["pipeline"].write_text("agents:\n  - name: a\n    role: think\n  - name: b\n    role: answer\n")
    (root / "empty.txt").write_text("")
    (root / "not_utf8.txt").write_bytes(b"caf\xe9 \xff\xfe\n")
    (root / "binary.bin").write_bytes(bytes(range(256)) * 4)
    (root / "folder").mkdir()
    f.update(empty=root / "empty.txt", not_utf8=root / "not_utf8.txt", binary=root / "binary.bin",
             folder=root / "folder", missing=root / "missing.txt", missing_dir=root / "nodir" / "sub" / "x.txt",
             surrogate_name=root / f"x{SURROGATE}.txt", dev_null=Path("/dev/null"), blank=" ",
             wrong_kind=f["prompts"])

    capsys = _Capture()

    def run(*args):
        out = _invoke(list(map(str, args)), capsys)
        assert out.returncode == 0, (args, out.stderr)
        return out

    f["vector"] = root / "v.safetensors"
    run("steer", "train", "--pairs", f["pairs"], "-m", "tiny", "--layers", "1", "--out", f["vector"])
    f["gguf"] = root / "v.gguf"
    run("steer", "export-gguf", f["vector"], f["gguf"], "-m", "tiny")
    f["lens"] = root / "lens.safetensors"
    run("lens", "train", "-m", "tiny", "--out", f["lens"], "--steps", "1", "--text", f["text"], "--seq-len", "8")
    f["probe"] = root / "probe.safetensors"
    run("probe", "fit", "--data", f["probe_data"], "-m", "tiny", "--out", f["probe"])
    f["working_memory"] = root / "wm.safetensors"
    run("agents", "hi", "-m", "tiny", "-n", "1", "--agent-tokens", "1", "--raw", "--save-memory", f["working_memory"])
    f["mnns_run"] = root / "mnns_run"
    run("train", "run", "cot2", "--profile", "smoke-mnns", "--out", f["mnns_run"], "--quiet")
    f["bridge_map"] = root / "map.safetensors"
    run("bridge", "fit", "-s", "tiny", "-r", "tiny-gpt2", "--texts", "2", "--tokens", "8", "--out", f["bridge_map"])
    f["fuser_run"] = root / "fuser_run"
    run("bridge", "train", "-s", "tiny", "-r", "tiny-gpt2", "--examples", "4", "--steps", "2", "--batch-size", "2",
        "--hidden", "4", "--out", f["fuser_run"])
    f["world_data"] = root / "world.npz"
    run("world", "data", "--out", f["world_data"], "--episodes", "4", "--steps", "6", "--size", "16")
    f["world_run"] = root / "world_run"
    run("world", "train", "--data", f["world_data"], "--out", f["world_run"], "--steps", "2", "--batch-size", "2")
    f["world_model"] = f["world_run"] / "model.safetensors"
    f["store"] = root / "store"
    added = run("memory", "add", f["text"], "-m", "tiny", "--store", f["store"], "--json")
    f["memory_id"] = json.loads(added.stdout)["id"]
    return f


class _Capture:
    """Stands in for capsys in the module fixture (capsys itself is per test)."""

    def readouterr(self):
        return "", ""


def _invoke(args, capsys, monkeypatch=None):
    """`run_here` with a module-scope fallback: the real capsys/monkeypatch in tests."""
    import contextlib
    import io
    import sys
    from types import SimpleNamespace

    if monkeypatch is not None:
        return run_here(capsys, monkeypatch, *args)
    from latentspace.cli.app import main

    out, err = io.StringIO(), io.StringIO()
    old = sys.argv
    sys.argv = ["latentspace", *args]
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main()
                code = 0
            except SystemExit as exit_:
                code = exit_.code or 0
    finally:
        sys.argv = old
    return SimpleNamespace(returncode=code, stdout=out.getvalue(), stderr=err.getvalue())


