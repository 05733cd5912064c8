"""POST /v1/search: one question's sampled thought paths, the majority marked, beside the greedy path."""

from __future__ import annotations

from latentspace.reason import get_reasoner


def test_sampled_paths_vote_and_match_the_library(served):
    body = {"question": "What is 2 plus 3?", "strategy": "soft", "sampler": "noise:0", "samples": 3, "steps": 2,
            "max_tokens": 4}
    with served.client() as http:
        res = http.post("/v1/search", json=body)
        assert res.status_code == 200, res.text
        got = res.json()
        noisy = http.post("/v1/search", json={**body, "sampler": "noise:5", "samples": 4, "seed": 1}).json()
    plain = get_reasoner("soft", max_latent_steps=2, max_new_tokens=4, lens_k=3).run(served.lm, body["question"])
    assert got["greedy"]["answer"] == plain.text.strip()
    assert [p["answer"] for p in got["paths"]] == [plain.text.strip()] * 3  # zero noise: every path is greedy
    assert [p["votes"] for p in got["paths"]] == [3, 3, 3] and [p["selected"] for p in got["paths"]] == [True, False, False]
    assert all(len(p["thoughts"]) == 2 for p in got["paths"])
    assert sum(p["selected"] for p in noisy["paths"]) == 1 and noisy["selected"] is not None
    chosen = next(p for p in noisy["paths"] if p["selected"])
    assert chosen["votes"] == max(p["votes"] for p in noisy["paths"])


def test_bad_searches_are_4xx_with_one_line(served):
    with served.client() as http:
        bad = http.post("/v1/search", json={"question": "hi", "sampler": "gumbel:0"})
        big = http.post("/v1/search", json={"question": "hi", "samples": 64, "max_tokens": 256})
        none = http.post("/v1/search", json={"question": "hi", "samples": 0})
    assert bad.status_code == 400 and "tau" in bad.json()["error"]["message"]
    assert big.status_code == 400 and "budget" in big.json()["error"]["message"]
    assert none.status_code == 400 and "samples" in none.json()["error"]["message"]
