"""Pipelines run as bench strategies: every task suite works with them, costs per question."""

import json

import pytest

from latentspace.agents.pipelines import load_pipeline, run
from latentspace.bench import jobs, run_grid
from latentspace.errors import LatentspaceError
from latentspace.reason import Reasoner, get_reasoner
from latentspace.strategies import get_strategy, is_pipeline


def test_a_pipeline_strategy_reports_each_questions_tokens_and_positions(llama):
    strategy = get_strategy("agents:hierarchical:text", max_new_tokens=3, agent_tokens=2, chat=False)
    questions = ["two plus two", "a longer question here"]
    traces = strategy.run_batch(llama, questions)
    direct = run(llama, load_pipeline("hierarchical"), questions, "text", 3, 2, chat=False)
    for row, trace in enumerate(traces):
        assert trace.text == direct.texts[row] and trace.positions == direct.positions[row]
        assert trace.explicit_tokens == direct.row_output_tokens(row)  # experts' notes + the answer
        assert trace.meta["decoding"]["agent_tokens"] == 2 and trace.strategy == "agents:hierarchical:text"
    latent = get_strategy("agents:sequential", max_new_tokens=3, chat=False).run(llama, "two plus two")
    assert latent.latent_steps == 12 and latent.meta["mode"] == "latent"  # 3 agents x 4 thoughts
    assert all(s.top for s in latent.steps if s.kind == "latent")  # each thought keeps its lens reading


def test_bench_runs_pipelines_next_to_strategies(llama, tmp_path):
    grid = jobs(["arithmetic"], ["direct", "agents:sequential:latent", "agents:sequential:single"], [0], 2)
    out = tmp_path / "rows.jsonl"
    options = {"direct": {"max_new_tokens": 3, "chat": False},
               "agents:sequential:latent": {"max_new_tokens": 3, "chat": False},
               "agents:sequential:single": {"max_new_tokens": 3, "chat": False}}
    assert run_grid(llama, grid, out, options) == 6
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    latent = [r for r in rows if r["strategy"] == "agents:sequential:latent"]
    assert len(latent) == 2 and all(r["latent_steps"] == 12 and r["positions"] > 12 for r in latent)


@pytest.mark.parametrize("name,options,message", [
    ("agents:", {}, "write agents:PIPELINE"),
    ("agents:ring:latent", {}, "no pipeline 'ring'"),
    ("agents:sequential:text", {"max_latent_steps": 2}, "has no option 'max_latent_steps'"),
])
def test_bad_pipeline_strategies(name, options, message):
    with pytest.raises(LatentspaceError, match=message):
        get_strategy(name, **options)


def test_one_resolver_above_reason_and_agents():
    assert isinstance(get_strategy("soft", top_k=2), Reasoner) and get_strategy("soft", top_k=2) == get_reasoner("soft", top_k=2)
    assert is_pipeline("agents:sequential") and not is_pipeline("soft") and not is_pipeline(None)
    pipeline = get_strategy("agents:sequential:text")
    assert pipeline.batch_key() is None and pipeline.max_latent_steps == 0 and pipeline.prompt(None, "q") == "q"
    assert get_strategy("direct", max_new_tokens=3).batch_key() is not None  # greedy reasoners batch together
    assert get_strategy("direct", answer_temperature=0.5).batch_key() is None
    with pytest.raises(LatentspaceError, match="get_strategy"):  # the reason layer knows no agents
        get_reasoner("agents:sequential")
