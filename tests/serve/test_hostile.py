"""Hostile but realistic requests and data files: always a 4xx with one line, never a 500, and
every byte of JSON the server emits is strict RFC 8259 (no NaN, no Infinity)."""

from __future__ import annotations

import json
import math
import sqlite3

import pytest
import torch
from safetensors.torch import save_file

from latentspace.agents.pipelines import BUILTIN
from latentspace.serve.errors import error_type
from latentspace.serve.jsonio import StrictJSON
from tests.serve.conftest import running

CHAT, COMPLETE = "/v1/chat/completions", "/v1/completions"
PAIRS = [{"positive": f"I love this {w}, it is wonderful", "negative": f"I hate this {w}, it is awful"}
         for w in ("song", "film", "city")]


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """One server for the tests that only send requests (starting one per case costs seconds)."""
    with running(tmp_path_factory.mktemp("hostile")) as r:
        yield r


def strict(text: str):
    """``json.loads`` that refuses NaN/Infinity, as strict parsers (JavaScript's, Go's) do."""
    def refuse(constant):
        raise ValueError(f"not JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


def strict_body(res):
    """The response parsed strictly: a JSON body, or every ``data:`` event of a stream."""
    if not res.headers.get("content-type", "").startswith("text/event-stream"):
        return strict(res.text)
    events = [e.removeprefix("data: ") for e in res.text.split("\n\n") if e.strip()]
    assert events[-1] == "[DONE]", res.text[-300:]
    return [strict(e) for e in events[:-1]]


def raw(http, path, text: str):
    """POST a body exactly as written (escapes like \\ud800 and Infinity reach the server as sent)."""
    return http.post(path, content=text.encode(), headers={"content-type": "application/json"})


def one_line_error(res, status: int, needle: str = "") -> dict:
    assert res.status_code == status, res.text
    err = strict(res.text)["error"]
    assert needle in err["message"] and "\n" not in err["message"], err
    return err


def ask(model: str, chat: bool, **extra) -> dict:
    text = {"messages": [{"role": "user", "content": "hi"}]} if chat else {"prompt": "hi"}
    return {"model": model, "max_tokens": 3, **text, **extra}


# -- strict JSON out ----------------------------------------------------------------------------
@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("path", [CHAT, COMPLETE])
@pytest.mark.parametrize("infinity", ["Infinity", "1e999"])
def test_infinite_options_with_a_trace_are_strict_json(shared, path, stream, infinity):
    body = json.dumps(ask(shared.lm.name, path == CHAT, stream=stream,
                          latent={"strategy": "continuous", "steps": 2, "trace": True,
                                  "options": {"max_norm_ratio": "INF"}})).replace('"INF"', infinity)
    with shared.client() as http:
        res = raw(http, path, body)
    assert res.status_code == 200, res.text
    parsed = strict_body(res)
    if stream:
        done = [e for e in parsed if e.get("latent", {}).get("event") == "done"][0]
        assert done["latent"]["trace"]["strategy"] == "continuous"
        assert any(e.get("latent", {}).get("event") == "step" for e in parsed)
        assert "Infinity" not in res.text
    else:
        assert parsed["latent"]["trace"]["latent_steps"] >= 0


def test_every_route_answers_strict_json(served):
    m = served.lm.name
    with served.client() as http:
        made = http.post("/v1/vectors", json={"id": "mood", "pairs": PAIRS, "layers": [0]})
        assert made.status_code == 201, made.text
        responses = [
            made, http.get("/health"), http.get("/v1/models"), http.get("/v1/vectors"), http.get("/v1/pipelines"),
            http.get("/v1/concepts"), http.get("/v1/memories"), http.get("/openapi.json"),
            http.post("/v1/lens", json={"text": "The cat", "k": 2}),
            http.post(CHAT, json=ask(m, True, latent={"steer": [{"id": "mood", "strength": 2}], "trace": True})),
            http.post(COMPLETE, json=ask(m, False, stream=True, stream_options={"include_usage": True},
                                         latent={"strategy": "soft", "steps": 2, "trace": True})),
            http.post("/v1/agents/run", json={"question": "hi", "max_tokens": 2, "agent_tokens": 2}),
            http.post(CHAT, json={"model": "nope", "messages": []}),  # errors are JSON too
            http.post(COMPLETE, json=ask(m, False, stream=True, latent={"steer": [{"id": "gone"}]})),
            http.delete(CHAT), http.get("/nope"),
        ]
    for res in responses:
        strict_body(res)


def test_the_response_class_makes_anything_strict():
    body = StrictJSON({"inf": math.inf, "nan": math.nan, "t": torch.tensor([1.0, math.inf]), "s": "\ud800"}).body
    assert strict(body.decode()) == {"inf": None, "nan": None, "t": [1.0, None], "s": "\ud800"}


# -- what no field may hold -------------------------------------------------------------------
SURROGATE = "\\ud800"  # as a client's JSON escapes it: a lone surrogate once parsed


@pytest.mark.parametrize("path, body, where", [
    (CHAT, '{"model": "M", "messages": [{"role": "user", "content": "a\\ud800b"}]}', "messages.0.content"),
    (CHAT, '{"model": "M", "messages": [{"role": "user", "content": [{"type": "text", "text": "\\ud800"}]}]}',
     "messages.0.content.0.text"),
    (CHAT, '{"model": "M", "messages": [{"role": "user", "content": "hi"}], "stop": ["\\udfff"]}', "stop.0"),
    (COMPLETE, '{"model": "M", "prompt": "\\ud800"}', "prompt"),
    (COMPLETE, '{"model": "M", "prompt": "hi", "latent": {"options": {"\\ud800": 1}}}', "a key in latent.options"),
    (COMPLETE, '{"model": "M", "prompt": "hi", "user": "\\ud800"}', "user"),  # even a field we ignore
    (COMPLETE, '{"model": "M", "prompt": "hi", "tools": [{"a\\nb": "\\ud800"}]}', "tools.0.a\\nb"),
    ("/v1/lens", '{"text": "\\ud800"}', "text"),
    ("/v1/memories", '{"text": "fine", "title": "\\ud800"}', "title"),
])
def test_a_lone_surrogate_anywhere_is_400(shared, path, body, where):
    with shared.client() as http:
        err = one_line_error(raw(http, path, body.replace('"M"', f'"{shared.lm.name}"')), 400, "lone surrogate")
        assert err["message"].startswith(where)
        assert http.post(CHAT, json=ask(shared.lm.name, True)).status_code == 200


@pytest.mark.parametrize("body, needle", [
    ('{"model": "M", "prompt": "hi", "temperature": NaN}', "NaN"),
    ('{"model": "M", "prompt": "hi", "latent": {"strategy": "soft", "options": {"top_p": NaN}}}', "NaN"),
    ('{"model": "M", "prompt": "hi", "temperature": Infinity}', "finite"),
    ('{"model": "M", "prompt": "hi", "latent": {"steer": [{"id": "v", "strength": 1e999}]}}', "finite"),
    ('{"model": "M", "prompt": "hi", "seed": 1%s}' % ("0" * 40), "out of range"),
    ('{"model": "M", "prompt": "hi", "max_tokens": 1%s}' % ("0" * 400), "out of range"),
    ('{"model": "M", "prompt": "hi", "latent": {"strategy": "soft", "options": {"top_p": 1%s}}}' % ("0" * 400),
     "out of range"),
    ('{"model": "M", "prompt": "hi", "seed": 9%s}' % ("9" * 5000), "cannot be read"),
    ('{"model": "M", "prompt": "hi", "tools": %s%s}' % ("[" * 100, "]" * 100), "nested deeper"),
    ('{"model": "M", "prompt": "hi", "tools": %s%s}' % ("[" * 5000, "]" * 5000), "nested deeper"),
    ('{"model": "M", "prompt": "hi", "latent": {"strategy": "soft", "options": {"top_k": [1]}}}', "numbers"),
    ('{"model": "M", "prompt": "hi", "latent": {"strategy": "soft", "options": {"top_k": "5"}}}', "whole number"),
    ('{"model": "M", "prompt": "hi", "latent": {"options": []}}', "dictionary"),
    ('{"model": "M", "prompt": ""}', "empty"),
    ('{"model": "", "prompt": "hi"}', "model"),
    ('{"model": "M", "prompt": "hi", "latent": {"memories": ["\\u202e..%00"]}}', "bad memory id"),
])
def test_hostile_values_are_400(shared, body, needle):
    with shared.client() as http:
        one_line_error(raw(http, COMPLETE, body.replace('"M"', f'"{shared.lm.name}"')), 400, needle)


def test_invalid_utf8_body_is_400(shared):
    with shared.client() as http:
        res = http.post(COMPLETE, content=b'{"model": "m", "prompt": "\xff\xfe"}',
                        headers={"content-type": "application/json"})
        one_line_error(res, 400)


@pytest.mark.parametrize("path, chat", [(CHAT, True), (COMPLETE, False)])
@pytest.mark.parametrize("strategy, stream", [(None, False), ("soft", False), (None, True), ("soft", True)])
def test_text_longer_than_the_context_is_4xx(shared, path, chat, strategy, stream):
    long = "hello " * 3000  # the tiny model reads 1024 positions
    body = ({"messages": [{"role": "user", "content": long}]} if chat else {"prompt": long})
    with shared.client() as http:  # a stream too: it fails before its first token, so with a real status
        res = http.post(path, json={"model": shared.lm.name, "max_tokens": 3, "stream": stream, **body,
                                    "latent": {"strategy": strategy}})
        assert 400 <= res.status_code < 500, res.text
        one_line_error(res, res.status_code)


# -- objects the server lists can be used -----------------------------------------------------
def test_broken_vector_files_are_listed_broken_and_refused(served):
    folder = served.server.library.vector_dir
    save_file({"layer.0": torch.zeros(64)}, str(folder / "nometa.safetensors"))
    save_file({"layer.0": torch.zeros(64)}, str(folder / "badmeta.safetensors"),
              metadata={"kind": "steering_vector", "fingerprint": "{not json", "meta": "{"})
    save_file({"layer.0": torch.zeros(64)}, str(folder / "halfprint.safetensors"),
              metadata={"kind": "steering_vector", "fingerprint": "{}", "meta": "{}"})
    (folder / "binary.safetensors").write_bytes(b"\x00\xff" * 64)
    (folder / "folder.safetensors").mkdir()
    with served.client() as http:
        assert http.post("/v1/vectors", json={"id": "good", "pairs": PAIRS, "layers": [0]}).status_code == 201
        listed = {v["id"]: v for v in strict(http.get("/v1/vectors").text)["data"]}
        assert listed["good"]["usable"] is True and listed["good"]["problem"] is None
        broken = ["nometa", "badmeta", "halfprint", "binary", "folder"]
        for vector_id in broken:
            assert listed[vector_id]["usable"] is False and listed[vector_id]["problem"], listed[vector_id]
        assert "fingerprint" in listed["nometa"]["problem"] and "safetensors" in listed["binary"]["problem"]
        for vector_id in broken:
            for stream in (False, True):  # refused before a stream starts: a real status, not an event
                res = http.post(COMPLETE, json=ask(served.lm.name, False, stream=stream,
                                                   latent={"steer": [{"id": vector_id, "strength": 1}]}))
                err = one_line_error(res, 400, "is broken")
                assert listed[vector_id]["problem"] in err["message"]
        ok = http.post(COMPLETE, json=ask(served.lm.name, False, latent={"steer": [{"id": "good"}]}))
        assert ok.status_code == 200, ok.text


def test_broken_pipeline_files_are_listed_broken_and_refused(served):
    folder = served.server.library.pipeline_dir
    (folder / "binary.yaml").write_bytes(b"\x00\xff\xfe" * 30)
    (folder / "latin1.json").write_bytes('{"kind": "sequential", "agents": "caf\xe9"}'.encode("latin-1"))
    (folder / "malformed.yaml").write_text("agents: [: : :\n")
    (folder / "alist.yaml").write_text("- 1\n- 2\n")
    (folder / "mine.json").write_text(json.dumps(BUILTIN["sequential"]))
    m = served.lm.name
    with served.client() as http:
        listed = {p["id"]: p for p in strict(http.get("/v1/pipelines").text)["data"]}
        assert listed["mine"]["usable"] is True and listed["sequential"]["usable"] is True
        for name in ("binary", "latin1", "malformed", "alist"):
            assert listed[name]["usable"] is False and listed[name]["problem"], listed[name]
            one_line_error(http.post("/v1/agents/run", json={"question": "hi", "pipeline": name, "max_tokens": 2}),
                           400, "is broken")
            one_line_error(http.post(CHAT, json=ask(m, True, latent={"strategy": f"agents:{name}"})), 400, "is broken")
        assert "UTF-8" in listed["binary"]["problem"]
        ran = http.post("/v1/agents/run", json={"question": "hi", "pipeline": "mine", "max_tokens": 2,
                                                "agent_tokens": 2})
        assert ran.status_code == 200, ran.text


def test_a_corrupt_memory_row_is_listed_broken_and_refused(served):
    m = served.lm.name
    with served.client() as http:
        made = http.post("/v1/memories", json={"text": "the red fox lives in the forest"})
        assert made.status_code == 201, made.text
        memory_id = made.json()["id"]
        store = served.server.library.memory
        with sqlite3.connect(store.index_path) as db:
            db.execute("UPDATE memories SET blob = '../../outside.safetensors' WHERE id = ?", (memory_id,))
        listed = {e["id"]: e for e in strict(http.get("/v1/memories").text)["data"]}
        assert listed[memory_id]["usable"] is False and listed[memory_id]["problem"]
        one_line_error(http.post(CHAT, json=ask(m, True, latent={"memories": [memory_id]})), 400, "is broken")


# -- keys and error types ---------------------------------------------------------------------
@pytest.mark.parametrize("header", ["Bearer s3cret", "bearer s3cret", "BEARER  s3cret", "bEaReR s3cret"])
def test_the_bearer_scheme_is_case_insensitive(tmp_path, header):
    with running(tmp_path, api_key="s3cret") as r, r.client() as http:
        assert http.get("/v1/models", headers={"Authorization": header}).status_code == 200
        one_line_error(http.get("/v1/models", headers={"Authorization": "Basic s3cret"}), 401, "API key")
        one_line_error(http.get("/v1/models", headers={"Authorization": "bearer wrong"}), 401, "API key")


def test_a_405_is_the_clients_error(shared):
    with shared.client() as http:
        for res in (http.delete(CHAT), http.get(COMPLETE), http.put("/v1/lens", json={})):
            assert one_line_error(res, 405)["type"] == "invalid_request_error"
    assert error_type(418) == error_type(422) == "invalid_request_error"
    assert error_type(404) == "not_found_error" and error_type(500) == error_type(503) == "server_error"
