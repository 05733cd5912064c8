"""`latentspace serve` as a user starts it: a process that prints its address and answers."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import httpx

CLI = [sys.executable, "-m", "latentspace.cli.app"]


def _start(tmp_path, *args):
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.Popen([*CLI, "serve", "--model", "tiny", "--data-dir", str(tmp_path / "d"), *args],
                            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env)


def test_serve_prints_its_address_and_answers(tmp_path):
    proc = _start(tmp_path, "--port", "0")
    try:
        banner = ""
        while "http://" not in banner:
            line = proc.stderr.readline()
            assert line, f"the server exited: {proc.wait()}"
            banner += line
        url = re.search(r"http://127\.0\.0\.1:\d+", banner).group(0)
        assert ":0/" not in banner  # the real port, not the one asked for
        with httpx.Client(base_url=url, timeout=30) as http:
            for _ in range(100):
                try:
                    if http.get("/health").status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
            out = http.post("/v1/completions", json={"model": "tiny", "prompt": "ab", "max_tokens": 3}).json()
            assert out["usage"]["completion_tokens"] > 0
            assert "Latent Explorer" in http.get("/").text
    finally:
        proc.terminate()
        proc.wait(30)
    assert (Path(tmp_path) / "d" / "vectors").is_dir()


def test_a_taken_port_is_one_line_and_exit_2(tmp_path):
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(1)
    try:
        proc = _start(tmp_path, "--port", str(sock.getsockname()[1]))
        _, err = proc.communicate(timeout=120)
    finally:
        sock.close()
    assert proc.returncode == 2
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "cannot bind" in lines[0]


def test_client_example_runs_on_tiny():
    script = Path(__file__).resolve().parents[2] / "examples" / "serve_client.py"
    out = subprocess.run([sys.executable, str(script), "--self-serve", "--model", "tiny"], capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "plain:" in out.stdout and "stream:" in out.stdout and out.stdout.count("latent step:") == 4


def test_a_data_dir_in_a_missing_folder_is_refused_before_loading(tmp_path, capsys, monkeypatch):
    from tests.cli.test_cli import run_here

    file = tmp_path / "a-file"
    file.write_text("x")
    for data_dir in (tmp_path / "no" / "such" / "d", file):
        res = run_here(capsys, monkeypatch, "serve", "--model", "tiny", "--data-dir", str(data_dir))
        assert res.returncode == 2 and "--data-dir" in res.stderr and len(res.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "no").exists()
