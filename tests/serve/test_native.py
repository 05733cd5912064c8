"""latentspace's own routes: lens, steering vectors, memories, agents (objects by id, never by path)."""

from __future__ import annotations

from latentspace.lens.logit_lens import logit_lens

CHAT = "/v1/chat/completions"
PAIRS = [{"positive": f"I love this {w}, it is wonderful", "negative": f"I hate this {w}, it is awful"}
         for w in ("song", "film", "city", "meal", "book", "game")]


def test_lens_is_layers_by_positions_and_equals_the_library(served):
    lm = served.lm
    with served.client() as http:
        got = http.post("/v1/lens", json={"text": "The cat sat", "k": 3}).json()
    want = logit_lens(lm, "The cat sat", k=3)[0].to_dict(lm.tokenizer)
    assert got["layers"] == list(range(lm.n_layers)) and got["n_layers"] == lm.n_layers
    assert len(got["top_tokens"]) == lm.n_layers and len(got["top_tokens"][0]) == len(got["positions"])
    assert got["top_tokens"] == want["top_tokens"] and got["tokens"] == want["tokens"]


def test_lens_refuses_a_layer_out_of_range(served):
    with served.client() as http:
        res = http.post("/v1/lens", json={"text": "hi", "layers": [99]})
    assert res.status_code == 400 and "out of range" in res.json()["error"]["message"]


def test_vector_lifecycle_create_use_delete(served):
    lm = served.lm
    ask = {"model": lm.name, "max_tokens": 8, "messages": [{"role": "user", "content": "How was your day?"}]}
    with served.client() as http:
        made = http.post("/v1/vectors", json={"id": "mood", "pairs": PAIRS, "layers": [0, 1]})
        assert made.status_code == 201, made.text
        assert made.json()["layers"] == [0, 1]
        assert [v["id"] for v in http.get("/v1/vectors").json()["data"]] == ["mood"]
        plain = http.post(CHAT, json=ask).json()["choices"][0]["message"]["content"]
        steered = http.post(CHAT, json={**ask, "latent": {"steer": [{"id": "mood", "strength": 40}]}}).json()
        zero = http.post(CHAT, json={**ask, "latent": {"steer": [{"id": "mood", "strength": 0}]}}).json()
        assert steered["choices"][0]["message"]["content"] != plain
        assert zero["choices"][0]["message"]["content"] == plain
        assert http.delete("/v1/vectors/mood").json()["deleted"] is True
        assert http.delete("/v1/vectors/mood").status_code == 404
        gone = http.post(CHAT, json={**ask, "latent": {"steer": [{"id": "mood", "strength": 1}]}})
        assert gone.status_code == 404


def test_vector_ids_cannot_escape_the_data_dir(served):
    with served.client() as http:
        res = http.post("/v1/vectors", json={"id": "../evil", "pairs": PAIRS})
        assert res.status_code == 400
        assert http.delete("/v1/vectors/..%2Fevil").status_code in (400, 404)
    assert not (served.server.library.root.parent / "evil.safetensors").exists()


def test_vector_from_too_few_pairs_is_refused(served):
    with served.client() as http:
        res = http.post("/v1/vectors", json={"id": "x", "pairs": PAIRS[:1]})
    assert res.status_code == 400 and "at least 2" in res.json()["error"]["message"]


def test_memory_add_search_answer_delete(served):
    lm = served.lm
    with served.client() as http:
        added = http.post("/v1/memories", json={"text": "The code word is heliotrope.", "title": "code"})
        assert added.status_code == 201, added.text
        memory_id = added.json()["id"]
        assert [m["id"] for m in http.get("/v1/memories").json()["data"]] == [memory_id]
        found = http.post("/v1/memories/search", json={"query": "code word", "k": 1}).json()["data"]
        assert found[0]["id"] == memory_id
        answer = http.post(CHAT, json={"model": lm.name, "max_tokens": 8, "messages": [
            {"role": "user", "content": "What is the code word?"}], "latent": {"memories": [memory_id]}}).json()
        store = served.server.library.memory
        want = store.ask(lm, "What is the code word?", [memory_id], max_new_tokens=8)
        assert answer["choices"][0]["message"]["content"] == want.text
        assert answer["latent"]["memories"] == [memory_id]
        assert http.delete(f"/v1/memories/{memory_id[:4]}").status_code == 404  # exact ids only
        assert http.delete(f"/v1/memories/{memory_id}").json()["deleted"] is True
        assert http.get("/v1/memories").json()["data"] == []


def test_agents_run_shows_who_passed_what(served):
    with served.client() as http:
        out = http.post("/v1/agents/run", json={"question": "What is 2 plus 3?", "max_tokens": 6}).json()
        pipelines = [p["id"] for p in http.get("/v1/pipelines").json()["data"]]
    assert "sequential" in pipelines and "hierarchical" in pipelines
    names = [t["agent"] for t in out["turns"]]
    assert names == ["planner", "critic", "refiner", "solver"]
    assert out["turns"][0]["received_slots"] == 0 and out["turns"][1]["received_slots"] > 0
    assert out["turns"][1]["received_from"]  # slots of the memory, by the agent that made them
    assert len(out["turns"][0]["thoughts"]) == 4 and isinstance(out["answer"], str)


def test_agents_strategy_inside_a_chat_completion(served):
    with served.client() as http:
        out = http.post(CHAT, json={"model": served.lm.name, "max_tokens": 6, "messages": [
            {"role": "user", "content": "What is 2 plus 3?"}], "latent": {"strategy": "agents:sequential",
                                                                           "trace": True}}).json()
    assert out["latent"]["strategy"] == "agents:sequential:latent"
    assert out["latent"]["latent_steps"] == 12  # three thinking agents, four thoughts each


def test_hierarchical_agents_inside_a_chat_completion(served):
    # its experts think as rows of their own batch: the server must not take them for requests
    with served.client() as http:
        res = http.post(CHAT, json={"model": served.lm.name, "max_tokens": 6, "stream": True, "messages": [
            {"role": "user", "content": "What is 2 plus 3?"}], "latent": {"strategy": "agents:hierarchical",
                                                                           "trace": True}})
    assert res.status_code == 200 and '"event": "done"' in res.text and res.text.rstrip().endswith("[DONE]")


def test_audit_one_question_reads_each_thought_and_answers_without_it(served):
    with served.client() as http:
        out = http.post("/v1/audit", json={"question": "What is 2 plus 3?", "steps": 2, "max_tokens": 4,
                                           "answer": "5"}).json()
        bad = http.post("/v1/audit", json={"question": "hi", "strategy": "nosuch"})
        many = http.post("/v1/audit", json={"question": "hi", "steps": 99})
    assert out["strategy"] == "continuous" and [t["thought"] for t in out["thoughts"]] == [1, 2]
    first = out["thoughts"][0]
    assert len(first["lens"]) == 5 and first["norm"] > 0 and isinstance(first["answer_noised"], str)
    assert isinstance(out["answer"], str) and out["correct"] in (True, False)
    assert bad.status_code == 400 and "nosuch" in bad.json()["error"]["message"]
    assert many.status_code in (400, 422)


def test_audit_reads_a_library_probe_at_every_thought_and_refuses_another_models(served, tmp_path):
    import torch

    from latentspace.lens.probes import fit_linear

    lm = served.lm
    probes = tmp_path / "serve-data" / "probes"
    x = torch.randn(12, lm.hidden_size)
    labels = ["low", "high"] * 6
    fit_linear(x, labels, "classification").save(probes / "level.safetensors", lm.fingerprint,
                                                 {"site": "resid_post", "layer": 1, "position": "last"})
    fit_linear(x, labels, "classification").save(probes / "alien.safetensors", dict(lm.fingerprint, embed_sha256="0" * 16),
                                                 {"site": "thought", "thought": 1})
    (probes / "junk.safetensors").write_bytes(b"not a probe")
    with served.client() as http:
        listed = {p["id"]: p for p in http.get("/v1/probes").json()["data"]}
        out = http.post("/v1/audit", json={"question": "What is 2 plus 3?", "steps": 2, "max_tokens": 4,
                                           "probe": "level"})
        alien = http.post("/v1/audit", json={"question": "hi", "steps": 1, "max_tokens": 2, "probe": "alien"})
        junk = http.post("/v1/audit", json={"question": "hi", "steps": 1, "max_tokens": 2, "probe": "junk"})
        missing = http.post("/v1/audit", json={"question": "hi", "steps": 1, "max_tokens": 2, "probe": "nosuch"})
    assert listed["level"]["usable"] and listed["level"]["layer"] == 1 and not listed["junk"]["usable"]
    assert out.status_code == 200, out.text
    assert [t["probe"] for t in out.json()["thoughts"]] and all(t["probe"] in ("low", "high") for t in out.json()["thoughts"])
    assert alien.status_code == 400 and "saved from" in alien.json()["error"]["message"]
    assert junk.status_code == 400 and missing.status_code == 404
