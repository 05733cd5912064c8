"""POST /v1/audit is bounded by the work it implies (runs × passes per run), not only field by field:
the largest request within the budget runs, one just over it is a 400 naming the budget and the fix."""

from __future__ import annotations

from latentspace.serve.schemas import AUDIT_WORK, AuditOne


def largest_tokens(steps: int) -> int:
    """The most max_tokens the budget accepts with ``steps``."""
    return AUDIT_WORK // (1 + 2 * steps) - steps


def test_the_budget_counts_every_run_and_its_passes():
    assert AuditOne(question="q", steps=2, max_tokens=4).work() == 5 * 6  # intact + cut and noised per thought
    for steps in range(1, 17):
        tokens = largest_tokens(steps)
        if tokens > 256:
            continue  # the field's own limit binds first
        assert AuditOne(question="q", steps=steps, max_tokens=tokens).over_budget() is None
        assert AuditOne(question="q", steps=steps, max_tokens=tokens + 1).over_budget()


def test_an_over_budget_audit_is_one_line_and_one_at_the_budget_runs(served):
    steps = 16
    tokens = largest_tokens(steps)
    with served.client() as http:
        over = http.post("/v1/audit", json={"question": "What is 2 plus 3?", "steps": steps, "max_tokens": 256,
                                            "k": 20})
        just_over = http.post("/v1/audit", json={"question": "hi", "steps": steps, "max_tokens": tokens + 1})
        at = http.post("/v1/audit", json={"question": "What is 2 plus 3?", "steps": steps, "max_tokens": tokens,
                                          "k": 20})
    for res in (over, just_over):
        assert res.status_code == 400, res.text
        error = res.json()["error"]
        assert error["code"] == "audit_too_large" and "\n" not in error["message"]
        assert f"budget of {AUDIT_WORK}" in error["message"] and f"max_tokens at most {tokens}" in error["message"]
    assert at.status_code == 200, at.text
    assert 1 <= len(at.json()["thoughts"]) <= steps
