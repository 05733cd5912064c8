"""`latent: {trace: true}` returns the library's own Trace for the same question, strategy and seed."""

from __future__ import annotations

import json

import httpx
import pytest

from latentspace.reason import get_reasoner

STABLE = ("wall_seconds",)  # the only field that may differ: it is a clock reading


def _comparable(trace: dict) -> dict:
    return json.loads(json.dumps({k: v for k, v in trace.items() if k not in STABLE}))


@pytest.mark.parametrize("strategy", ["soft", "continuous", "pause"])
def test_trace_matches_the_library(served, strategy):
    lm = served.lm
    want = get_reasoner(strategy, max_latent_steps=3, max_new_tokens=10).run(lm, "Is a cat a mammal?", seed=3)
    with served.client() as http:
        got = http.post("/v1/chat/completions", json={
            "model": lm.name, "max_tokens": 10, "seed": 3,
            "messages": [{"role": "user", "content": "Is a cat a mammal?"}],
            "latent": {"strategy": strategy, "steps": 3, "trace": True}}).json()
    trace = got["latent"]["trace"]
    assert _comparable(trace) == _comparable(want.to_dict())
    assert trace["latent_steps"] == want.latent_steps > 0
    assert got["choices"][0]["message"]["content"] == want.text
    assert got["usage"]["latent_steps"] == want.latent_steps


def test_streamed_steps_are_the_trace_steps(served):
    lm = served.lm
    body = {"model": lm.name, "max_tokens": 8, "stream": True,
            "messages": [{"role": "user", "content": "Name a colour."}],
            "latent": {"strategy": "soft", "steps": 4, "trace": True}}
    steps, final, text = [], None, ""
    with httpx.Client(base_url=served.url, timeout=60) as http, http.stream("POST", "/v1/chat/completions",
                                                                             json=body) as res:
        assert res.headers["content-type"].startswith("text/event-stream")
        for line in res.iter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            chunk = json.loads(line[6:])
            latent = chunk.get("latent")
            if latent and latent["event"] == "step":
                assert latent["index"] == len(steps)
                steps.append(latent["step"])
            elif latent and latent["event"] == "done":
                final = latent["trace"]
            elif chunk["choices"]:
                text += chunk["choices"][0]["delta"].get("content") or ""
    assert final is not None and steps == final["steps"]
    assert [s["kind"] for s in steps].count("latent") == 4
    assert text == final["text"]


def test_plain_request_trace_records_each_token(served):
    with served.client() as http:
        got = http.post("/v1/completions", json={"model": served.lm.name, "prompt": "xyz", "max_tokens": 6,
                                                 "latent": {"trace": True}}).json()
    trace = got["latent"]["trace"]
    assert trace["latent_steps"] == 0
    assert trace["explicit_tokens"] == got["usage"]["completion_tokens"] == len(trace["steps"])
    assert all(s["top"] and s["entropy"] >= 0 for s in trace["steps"])
