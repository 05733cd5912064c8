"""A real server on a loopback port, in a thread of the test process, over tiny models."""

from __future__ import annotations

import socket
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass

import httpx
import pytest

from tests.conftest import tiny_lm


@dataclass
class Running:
    url: str
    app: object
    lm: object

    @property
    def server(self):
        return self.app.state.server

    def client(self, **kw) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=60, **kw)


@contextmanager
def running(tmp_path, lm=None, **config):
    """Serve ``lm`` (default: a tiny llama) until the block ends."""
    import uvicorn

    from latentspace.serve import ServeConfig, create_app

    lm = lm or tiny_lm("llama", initializer_range=0.3)
    app = create_app([lm], ServeConfig(data_dir=tmp_path / "serve-data", **config))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield Running(f"http://127.0.0.1:{sock.getsockname()[1]}", app, lm)
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


@pytest.fixture
def served(tmp_path):
    with running(tmp_path) as r:
        yield r
