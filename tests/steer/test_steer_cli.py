"""`latentspace steer ...` on the tiny model: files written, JSON clean, bad input exit 2.

One test runs the CLI as a subprocess (as a user does); the rest call the same entry point in this
process, which checks the same exit codes and output without paying the import time each call.
"""

import json
import sys

import pytest
import torch

from tests.cli.test_cli import run as run_subprocess
from tests.cli.test_cli import run_here


@pytest.fixture
def run(capsys, monkeypatch):
    return lambda *args: run_here(capsys, monkeypatch, *args)


@pytest.fixture
def pairs_file(tmp_path):
    f = tmp_path / "pairs.jsonl"
    rows = [{"positive": f"good thing {i}", "negative": f"bad thing {i}"} for i in range(4)]
    f.write_text("\n".join(json.dumps(r) for r in rows))
    return f


def test_train_as_a_subprocess_writes_the_vector_and_clean_json(tmp_path, pairs_file):
    vec = tmp_path / "v.safetensors"
    out = run_subprocess("steer", "train", "--pairs", str(pairs_file), "--model", "tiny", "--layers", "best",
                         "--out", str(vec), "--json")
    assert out.returncode == 0, out.stderr
    info = json.loads(out.stdout)
    assert len(info["layers"]) == 1 and len(info["layer_scores"]) == 2 and vec.is_file()


def test_train_apply_eval_export_import_on_tiny(tmp_path, pairs_file, run):
    vec = tmp_path / "v.safetensors"
    out = run("steer", "train", "--pairs", str(pairs_file), "--model", "tiny", "--method", "pca_center",
              "--layers", "1", "--out", str(vec), "--json")
    assert out.returncode == 0, out.stderr
    info = json.loads(out.stdout)
    assert info["layers"] == [1] and info["method"] == "pca_center" and info["n_pairs"] == 4 and vec.is_file()

    out = run("steer", "apply", str(vec), "hello", "--model", "tiny", "-s", "30", "-n", "6", "--raw", "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["steered"] != data["unsteered"]  # a strong vector changes a random model's text

    png = tmp_path / "sweep.png"
    out = run("steer", "eval", str(vec), "--model", "tiny", "--strengths", "-5,5", "-n", "4", "--png", str(png), "--json")
    assert out.returncode == 0, out.stderr
    points = json.loads(out.stdout)["points"]
    assert [p["strength"] for p in points] == [None, -5.0, 5.0] and points[0]["perplexity_ratio"] == 1.0
    assert png.stat().st_size > 0

    gguf = tmp_path / "v.gguf"
    assert run("steer", "export-gguf", str(vec), str(gguf), "--model", "tiny").returncode == 0
    back = tmp_path / "back.safetensors"
    assert run("steer", "import-gguf", str(gguf), str(back), "--model", "tiny").returncode == 0
    from safetensors.torch import load_file

    assert torch.equal(load_file(str(vec))["layer.1"], load_file(str(back))["layer.1"])

    out = run("generate", "hello", "--model", "tiny", "-n", "6", "--steer", str(gguf), "--strength", "30", "--json")
    assert out.returncode == 0, out.stderr
    plain = run("generate", "hello", "--model", "tiny", "-n", "6", "--json")
    assert json.loads(out.stdout)["text"] != json.loads(plain.stdout)["text"]
    out = run("think", "hello", "--model", "tiny", "--mode", "pause", "--steps", "2", "-n", "3",
              "--steer", str(vec), "--json")
    assert out.returncode == 0, out.stderr


def test_layers_all_and_a_vector_from_a_probe(tmp_path, pairs_file, run):
    vec = tmp_path / "all.safetensors"
    out = run("steer", "train", "--pairs", str(pairs_file), "--model", "tiny", "--layers", "all", "--out", str(vec),
              "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["layers"] == [0, 1]
    data = tmp_path / "labels.jsonl"
    data.write_text("\n".join(json.dumps({"text": f"{w} thing {i}", "label": w}) for w in ("good", "bad")
                              for i in range(6)))
    probe = tmp_path / "probe.safetensors"
    assert run("probe", "fit", "--data", str(data), "--model", "tiny", "--layers", "1", "--out", str(probe),
               "--json").returncode == 0
    from_probe = tmp_path / "from_probe.safetensors"
    out = run("steer", "train", "--from-probe", str(probe), "--positive", "good", "--model", "tiny",
              "--out", str(from_probe), "--json")
    assert out.returncode == 0, out.stderr
    info = json.loads(out.stdout)
    assert info["layers"] == [1] and info["method"] == "probe" and info["positive_class"] == "good"
    out = run("steer", "train", "--pairs", str(pairs_file), "--from-probe", str(probe), "--model", "tiny",
              "--out", str(from_probe))
    assert out.returncode == 2 and "exactly one of --pairs" in out.stderr


def test_steering_example_runs_on_tiny():
    import subprocess
    from pathlib import Path

    script = Path(__file__).resolve().parents[2] / "examples" / "steering.py"
    out = subprocess.run([sys.executable, str(script), "--model", "tiny"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "GGUF round trip exact: True" in out.stdout and "steered pause answer:" in out.stdout


def test_concepts_lists_the_builtins(run):
    out = run("steer", "concepts", "--json")
    assert out.returncode == 0, out.stderr
    names = {c["name"]: c["pairs"] for c in json.loads(out.stdout)["concepts"]}
    assert names["sentiment"] == 50


def test_bad_steering_input_is_one_line_exit_2(tmp_path, pairs_file, run):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"positive": "a", "negative": "b"}\n{"positive": "a"\n')
    one = tmp_path / "one.jsonl"
    one.write_text('{"positive": "a", "negative": "b"}\n')
    nan = tmp_path / "nan.safetensors"
    from safetensors.torch import save_file

    from tests.conftest import tiny_lm

    fingerprint = json.dumps(tiny_lm("llama").fingerprint)  # the registry's "tiny" is the same model
    save_file({"layer.1": torch.full((64,), float("nan"))}, str(nan),
              metadata={"kind": "steering_vector", "fingerprint": fingerprint, "meta": "{}"})
    small = tmp_path / "small.gguf"
    import gguf as gguf_lib
    import numpy as np

    w = gguf_lib.GGUFWriter(str(small), "controlvector")
    w.add_string("controlvector.model_hint", "llama")
    w.add_tensor("direction.1", np.zeros(10, dtype=np.float32))
    w.write_header_to_file(), w.write_kv_data_to_file(), w.write_tensors_to_file(), w.close()
    junk = tmp_path / "junk.gguf"
    junk.write_bytes(b"GGUF but not really")
    v = tmp_path / "v.safetensors"
    cases = [
        (["steer", "train", "--pairs", str(bad), "--model", "tiny", "--out", str(v)], "bad.jsonl:2: not JSON"),
        (["steer", "train", "--pairs", str(one), "--model", "tiny", "--out", str(v)], "holds 1 pair"),
        (["steer", "train", "--pairs", str(pairs_file), "--model", "tiny", "--layers", "7", "--out", str(v)],
         "layer 7 out of range"),
        (["steer", "train", "--pairs", str(pairs_file), "--model", "tiny", "--method", "svd", "--out", str(v)],
         "unknown steering method 'svd'"),
        (["steer", "apply", str(tmp_path / "missing.safetensors"), "hi", "--model", "tiny"], "no saved steering vector"),
        (["steer", "apply", str(junk), "hi", "--model", "tiny"], "cannot read junk.gguf"),
        (["steer", "apply", str(nan), "hi", "--model", "tiny"], "NaN or inf"),
        (["steer", "apply", str(small), "hi", "--model", "tiny"], "directions of size [10]; the model's is 64"),
        (["steer", "eval", str(v), "--model", "tiny", "--strengths", "a,b"], "--strengths 'a,b'"),
        (["generate", "hi", "--model", "tiny", "--strength", "2"], "--strength and --steer-positions need --steer"),
    ]
    for args, message in cases:
        out = run(*args)
        assert out.returncode == 2, (args, out.stderr)
        assert message in out.stderr, (args, out.stderr)
        assert len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr
    assert not v.exists()  # nothing half-written


def test_files_in_and_out_are_checked_before_the_work(tmp_path, pairs_file, run):
    from safetensors.torch import save_file

    from latentspace.steer import SteeringVector
    from tests.conftest import tiny_lm

    lm = tiny_lm("llama")
    fingerprint = json.dumps(lm.fingerprint)
    v = tmp_path / "v.safetensors"
    SteeringVector({1: torch.ones(64)}, lm.fingerprint).save(v)
    bad_meta = tmp_path / "meta.safetensors"
    save_file({"layer.1": torch.ones(64)}, str(bad_meta),
              metadata={"kind": "steering_vector", "fingerprint": fingerprint, "meta": "{not json"})
    bad_key = tmp_path / "key.safetensors"
    save_file({"weights": torch.ones(64)}, str(bad_key), metadata={"kind": "steering_vector", "fingerprint": fingerprint})
    binary = tmp_path / "binary.jsonl"
    binary.write_bytes(b"\xff\xfe{}")
    folder = tmp_path / "folder"
    folder.mkdir()
    cases = [
        (["steer", "apply", str(bad_meta), "hi", "--model", "tiny"], "meta header is not valid JSON"),
        (["steer", "apply", str(bad_key), "hi", "--model", "tiny"], "not a layer.N direction"),
        (["steer", "export-gguf", str(v), str(folder), "--model", "tiny"], "is a folder"),
        (["steer", "import-gguf", str(v), str(folder), "--model", "tiny"], "is a folder"),
        (["steer", "eval", str(v), "--model", "tiny", "--png", str(tmp_path / "no" / "such" / "x.png")], "does not exist"),
        (["steer", "eval", str(v), "--model", "tiny", "--strengths", "nan"], "finite numbers"),
        (["steer", "eval", str(v), "--model", "tiny", "--prompts", str(binary)], "not UTF-8"),
        (["steer", "train", "--pairs", str(binary), "--model", "tiny", "--out", str(tmp_path / "o.safetensors")],
         "not UTF-8"),
        (["steer", "train", "--pairs", str(pairs_file), "--model", "tiny", "--out", str(folder / "a" / "b" / "c.safetensors")],
         "does not exist"),
        (["steer", "apply", str(v), "hi", "--model", "tiny", "--strength", "nan"], "--strength"),
    ]
    for args, message in cases:
        out = run(*args)
        assert out.returncode == 2, (args, out)
        assert message in out.stderr and len(out.stderr.strip().splitlines()) == 1, (args, out.stderr)
    assert list(folder.iterdir()) == []  # no .NAME.tmp left behind
    gguf_file = tmp_path / "v.gguf"
    out = run("steer", "export-gguf", str(v), str(gguf_file), "--model", "tiny", "--json")
    assert out.returncode == 0 and json.loads(out.stdout)["layers"] == [1], out
    out = run("steer", "import-gguf", str(gguf_file), str(tmp_path / "back.safetensors"), "--model", "tiny", "--json")
    assert out.returncode == 0 and json.loads(out.stdout)["layers"] == [1], out
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
