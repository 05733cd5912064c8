"""A real server on a loopback port, in a thread of the test process, over tiny models."""

from __future__ import annotations

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
    from latentspace.serve import ServeConfig, create_app
    from latentspace.serve.background import in_background

    lm = lm or tiny_lm("llama", initializer_range=0.3)
    app = create_app([lm], ServeConfig(data_dir=tmp_path / "serve-data", **config))
    with in_background(app) as url:
        yield Running(url, app, lm)


@pytest.fixture
def served(tmp_path):
    with running(tmp_path) as r:
        yield r
