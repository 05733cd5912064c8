"""A pipeline runs only on the models the server was started with: one whose agents name another
model is listed as broken and refused (4xx, one line), and the server never loads a model for it."""

from __future__ import annotations

import json
from contextlib import contextmanager

import httpx
import pytest

from latentspace import LatentModel
from tests.conftest import tiny_lm
from tests.serve.conftest import running

CHAT = "/v1/chat/completions"


def agents(*models: str) -> dict:
    """A sequential pipeline with one agent per model (hand-overs between models go as text)."""
    return {"kind": "sequential", "agents": [
        {"name": f"agent{i}", "role": "Think about: {question}", "latent_steps": 1, "model": model}
        for i, model in enumerate(models)]}


@pytest.fixture
def no_loading(monkeypatch):
    """Every model load while the server runs is recorded and fails."""
    loads = []

    def load(cls, spec, *args, **kwargs):
        loads.append(spec)
        raise AssertionError(f"the server loaded {spec!r}")

    monkeypatch.setattr(LatentModel, "load", classmethod(load))
    return loads


def chat(model: str, strategy: str) -> dict:
    return {"model": model, "max_tokens": 2, "messages": [{"role": "user", "content": "hi"}],
            "latent": {"strategy": strategy}}


def one_line(res, needle: str) -> str:
    assert 400 <= res.status_code < 500, res.text
    message = res.json()["error"]["message"]
    assert needle in message and "\n" not in message, message
    return message


def test_a_pipeline_naming_an_unserved_model_is_broken_refused_and_loads_nothing(tmp_path, no_loading):
    with running(tmp_path) as served:
        m = served.lm.name
        folder = served.server.library.pipeline_dir
        (folder / "cross.yaml").write_text(json.dumps(agents(m, "tiny-gpt2")))
        (folder / "elsewhere.json").write_text(json.dumps(agents("tiny-gpt2", "tiny-gpt2")))
        (folder / "own.json").write_text(json.dumps(agents(m, m)))
        with served.client() as http:
            listed = {p["id"]: p for p in http.get("/v1/pipelines").json()["data"]}
            for name in ("cross", "elsewhere"):
                assert listed[name]["usable"] is False and "tiny-gpt2" in listed[name]["problem"], listed[name]
                assert "not served" in listed[name]["problem"]
                run = http.post("/v1/agents/run", json={"question": "hi", "pipeline": name, "max_tokens": 2})
                assert listed[name]["problem"] in one_line(run, "is broken")
                for mode in ("", ":text", ":single"):
                    one_line(http.post(CHAT, json=chat(m, f"agents:{name}{mode}")), "tiny-gpt2")
            assert listed["own"]["usable"] is True
            ran = http.post("/v1/agents/run", json={"question": "hi", "pipeline": "own", "max_tokens": 2})
            assert ran.status_code == 200, ran.text
        assert list(served.server.models) == [m]
    assert no_loading == []


@contextmanager
def two_models(tmp_path):
    from latentspace.serve import ServeConfig, create_app
    from latentspace.serve.background import in_background

    models = [tiny_lm("llama", initializer_range=0.3), tiny_lm("gpt2", initializer_range=0.3)]
    app = create_app(models, ServeConfig(data_dir=tmp_path / "serve-data"))
    with in_background(app) as url, httpx.Client(base_url=url, timeout=60) as http:
        yield app.state.server, http


def test_agents_across_served_models_run_on_the_served_ones(tmp_path, no_loading):
    with two_models(tmp_path) as (server, http):
        (server.library.pipeline_dir / "pair.json").write_text(json.dumps(agents("tiny-llama", "tiny-gpt2")))
        assert {p["id"]: p for p in http.get("/v1/pipelines").json()["data"]}["pair"]["usable"] is True
        ran = http.post("/v1/agents/run", json={"question": "hi", "pipeline": "pair", "max_tokens": 2,
                                                "agent_tokens": 2})
        assert ran.status_code == 200, ran.text
        assert [t["agent"] for t in ran.json()["turns"]] == ["agent0", "agent1"]
        for stream in (False, True):
            res = http.post(CHAT, json={**chat("tiny-gpt2", "agents:pair"), "stream": stream})
            assert res.status_code == 200, res.text
        elsewhere = http.post("/v1/agents/run", json={"question": "hi", "pipeline": "pair", "model": "nosuch"})
        one_line(elsewhere, "runs on tiny-llama, tiny-gpt2")
        # the held workers were released: each model still answers on its own
        for name in ("tiny-llama", "tiny-gpt2"):
            assert http.post(CHAT, json={**chat(name, "direct"), "latent": None}).status_code == 200
    assert no_loading == []
