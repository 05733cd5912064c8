"""A `latentspace serve` subprocess for the server benchmarks: start, wait until healthy, read its
memory, stop. Loopback only; the port is chosen by the server (--port 0) and read from its banner."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
CLI = ROOT / ".venv" / "bin" / "latentspace"


@contextmanager
def serving(model: str, data_dir: Path, *extra: str, timeout: float = 300):
    """Yield (base url, pid) of a running server; stop it afterwards."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    cmd = [str(CLI), "serve", "--model", model, "--port", "0", "--data-dir", str(data_dir), *extra]
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env)
    try:
        url = _banner_url(proc, timeout)
        deadline = time.monotonic() + timeout
        while True:
            try:
                if httpx.get(url + "/health", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("the server did not become healthy")
            time.sleep(0.2)
        yield url, proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()


def _banner_url(proc, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line and proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode}")
        sys.stderr.write(line)
        found = re.search(r"http://(127\.0\.0\.1:\d+)/", line)
        if found:
            return f"http://{found.group(1)}"
    raise RuntimeError("the server printed no address")


def rss_mb(pid: int) -> float:
    """Resident memory of a process, MiB (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")
