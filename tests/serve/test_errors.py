"""Bad requests get a 4xx JSON error with a message, and the server keeps serving."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from latentspace.reason.base import Reasoner, register
from tests.serve.conftest import running

CHAT = "/v1/chat/completions"


def _ok(http, model):
    res = http.post(CHAT, json={"model": model, "max_tokens": 3, "messages": [{"role": "user", "content": "hi"}]})
    assert res.status_code == 200, res.text
    assert http.get("/health").json()["status"] == "ok"


def _error(res, status: int, needle: str) -> None:
    assert res.status_code == status, res.text
    err = res.json()["error"]
    assert needle in err["message"] and "\n" not in err["message"]
    assert err["type"]


@pytest.mark.parametrize("name, send, status, needle", [
    ("invalid json", dict(content=b'{"model": "x", "messages": [', headers={"content-type": "application/json"}),
     400, "not valid JSON"),
    ("unknown model", dict(json={"model": "nope", "messages": [{"role": "user", "content": "hi"}]}), 404,
     "not served here"),
    ("negative max_tokens", dict(json={"model": "{m}", "max_tokens": -5, "messages": [{"role": "user",
                                                                                     "content": "hi"}]}),
     400, "max_tokens"),
    ("no messages", dict(json={"model": "{m}", "messages": []}), 400, "messages"),
    ("unknown vector", dict(json={"model": "{m}", "messages": [{"role": "user", "content": "hi"}],
                                  "latent": {"steer": [{"id": "nothing-here", "strength": 1}]}}), 404,
     "no steering vector"),
    ("unknown strategy", dict(json={"model": "{m}", "messages": [{"role": "user", "content": "hi"}],
                                    "latent": {"strategy": "telepathy"}}), 400, "telepathy"),
    ("option of the wrong type", dict(json={"model": "{m}", "messages": [{"role": "user", "content": "hi"}],
                                            "latent": {"strategy": "soft", "options": {"top_k": "many"}}}), 400,
     "whole number"),
    ("unbounded compute", dict(json={"model": "{m}", "messages": [{"role": "user", "content": "hi"}],
                                     "latent": {"strategy": "loop", "options": {"repeats": 10**6}}}), 400,
     "between"),
    ("steps past the bound through options", dict(json={"model": "{m}", "messages": [
        {"role": "user", "content": "hi"}], "latent": {"strategy": "soft", "options": {"max_latent_steps": 10**5}}}),
     400, "between"),
    ("a tensor option from JSON", dict(json={"model": "{m}", "messages": [{"role": "user", "content": "hi"}],
                                             "latent": {"strategy": "pause", "options": {"embedding": 1}}}), 400,
     "tensor"),
    ("an option the strategy cannot run with", dict(json={"model": "{m}", "messages": [
        {"role": "user", "content": "hi"}], "latent": {"strategy": "loop", "options": {"start": 1, "end": 50}}}), 400,
     "out of range"),
    ("agents option of the wrong type", dict(json={"model": "{m}", "messages": [{"role": "user", "content": "hi"}],
                                                   "latent": {"strategy": "agents:sequential",
                                                              "options": {"agent_tokens": "8"}}}), 400,
     "whole number"),
    ("too many stop strings", dict(json={"model": "{m}", "messages": [{"role": "user", "content": "hi"}],
                                         "stop": ["a", "b", "c", "d", "e"]}), 400, "at most 4"),
    ("unknown latent field", dict(json={"model": "{m}", "messages": [{"role": "user", "content": "hi"}],
                                        "latent": {"magic": 1}}), 400, "magic"),
    ("pipeline by path", dict(json={"model": "{m}", "messages": [{"role": "user", "content": "hi"}],
                                    "latent": {"strategy": "agents:/etc/passwd"}}), 400, "bad pipeline id"),
    ("unknown memory", dict(json={"model": "{m}", "messages": [{"role": "user", "content": "hi"}],
                                  "latent": {"memories": ["abc123"]}}), 404, "no memory"),
    ("last message not user", dict(json={"model": "{m}", "messages": [{"role": "assistant", "content": "hi"}]}),
     400, "last message"),
    ("too many tokens", dict(json={"model": "{m}", "max_tokens": 10**6, "messages": [{"role": "user",
                                                                                    "content": "hi"}]}),
     400, "limit"),
])
def test_bad_request_is_4xx_and_server_keeps_serving(served, name, send, status, needle):
    if "json" in send:
        send = {**send, "json": {**send["json"], "model": send["json"]["model"].replace("{m}", served.lm.name)}}
    with served.client() as http:
        _error(http.post(CHAT, **send), status, needle)
        _ok(http, served.lm.name)


@register
@dataclass
class Fragile(Reasoner):
    """A strategy that fails inside its run: on a client's option (bad input), or always (a bug)."""

    boom: bool = False
    name = "fragile-test"

    def think(self, lm, state, rows):
        if self.boom:
            raise IndexError("list index out of range")
        if BROKEN["on"]:
            raise KeyError("a bug")
        return state


BROKEN = {"on": False}


def test_a_strategy_failing_on_client_options_is_400_but_a_bug_is_500(served, monkeypatch):
    ask = {"model": served.lm.name, "max_tokens": 3, "messages": [{"role": "user", "content": "hi"}]}
    with served.client() as http:
        bad = http.post(CHAT, json={**ask, "latent": {"strategy": "fragile-test", "options": {"boom": True}}})
        _error(bad, 400, "latent.options")
        monkeypatch.setitem(BROKEN, "on", True)  # no client option: the failure is ours
        for _ in range(5):  # on one kept-alive connection: a 500 must not reset it (Starlette's handler re-raised)
            _error(http.post(CHAT, json={**ask, "latent": {"strategy": "fragile-test"}}), 500, "internal error")
        monkeypatch.setitem(BROKEN, "on", False)
        _ok(http, served.lm.name)


def test_nan_is_refused(served):
    raw = ('{"model": "%s", "messages": [{"role": "user", "content": "hi"}], '
           '"latent": {"strategy": "soft", "options": {"top_p": NaN}}}' % served.lm.name)
    with served.client() as http:
        res = http.post(CHAT, content=raw.encode(), headers={"content-type": "application/json"})
        assert res.status_code == 400 and res.json()["error"]["message"]
        _ok(http, served.lm.name)


def test_body_over_the_limit_is_413(tmp_path):
    with running(tmp_path, max_body_bytes=2000) as r, r.client() as http:
        big = {"model": r.lm.name, "messages": [{"role": "user", "content": "x" * 5000}]}
        _error(http.post(CHAT, json=big), 413, "over the limit")
        # a chunked body (no content-length) is counted as it arrives
        chunks = iter([b'{"model": "m", "messages": [{"role": "user", "content": "', b"y" * 3000, b'"}]}'])
        _error(http.post(CHAT, content=chunks, headers={"content-type": "application/json"}), 413, "over the limit")
        _ok(http, r.lm.name)


def test_api_key_is_required_when_set(tmp_path):
    with running(tmp_path, api_key="s3cret") as r, r.client() as http:
        _error(http.get("/v1/models"), 401, "API key")
        _error(http.get("/v1/models", headers={"Authorization": "Bearer wrong"}), 401, "API key")
        assert http.get("/health").status_code == 200  # health and the page need no key
        assert http.get("/").status_code == 200
        with r.client(headers={"Authorization": "Bearer s3cret"}) as authed:
            assert authed.get("/v1/models").status_code == 200
            _ok(authed, r.lm.name)


def test_openapi_spec_lists_every_route(served):
    with served.client() as http:
        spec = http.get("/openapi.json").json()
    for path in ("/v1/models", "/v1/chat/completions", "/v1/completions", "/v1/lens", "/v1/vectors",
                 "/v1/memories", "/v1/agents/run", "/v1/audit", "/v1/probes", "/health", "/metrics"):
        assert path in spec["paths"]
