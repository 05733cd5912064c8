"""The CLI as a user runs it: a subprocess, exit codes, one-line errors, clean --json."""

import json
import os
import subprocess
import sys

import pytest


def run(*args, env=None):
    cmd = [sys.executable, "-m", "latentspace.cli.app", *args]
    return subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **(env or {})}, timeout=300)


def test_models_json_lists_the_registry():
    out = run("models", "--json")
    assert out.returncode == 0, out.stderr
    names = [m["name"] for m in json.loads(out.stdout)["models"]]
    assert names[0] == "smollm2-135m" and "tiny" in names and "gemma3-270m" in names


def test_info_json_on_tiny():
    out = run("info", "tiny", "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["layers"] == 2 and data["sites"]["resid_post"] == "model.layers.0"
    assert set(data["fingerprint"]) >= {"architecture", "embed_sha256"}


def test_generate_json_on_tiny():
    out = run("generate", "hello", "--model", "tiny", "-n", "5", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["tokens"] == 5


@pytest.mark.parametrize(
    "args,message",
    [
        (["info", "nosuchmodel"], "unknown model 'nosuchmodel'"),
        (["info", "someone/some-model"], "HF_HUB_OFFLINE"),
        (["generate", "  ", "--model", "tiny"], "empty prompt"),
        (["info", "/definitely/not/here.gguf"], "GGUF file not found"),
        (["models", "--clear", "tiny"], "--clear takes a bundled model name"),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(args, message):
    out = run(*args)
    assert out.returncode == 2
    assert message in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr


def test_tour_on_tiny_writes_report(tmp_path):
    out = run("tour", "--model", "tiny", "--out", str(tmp_path / "tour"), "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert [s["title"] for s in data["sections"]][:3] == ["Generation", "Next-token distribution",
                                                         "Hidden-state norms per layer"]
    html = (tmp_path / "tour" / "index.html").read_text()
    assert "data:image/png;base64" in html and (tmp_path / "tour" / "layer_norms.png").stat().st_size > 1000


def test_quickstart_example_runs_on_tiny():
    from pathlib import Path

    script = Path(__file__).resolve().parents[2] / "examples" / "quickstart.py"
    out = subprocess.run([sys.executable, str(script), "--model", "tiny"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "answer after two thoughts:" in out.stdout
