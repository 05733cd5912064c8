"""Graph pipelines: a chain is the sequential pipeline, a star the hierarchical one, siblings never
see each other, a reader gets each upstream block once, and cycles are refused by name."""

import pytest

from latentspace.agents import Agent, run_hierarchical, run_sequential
from latentspace.agents.graph import run_graph
from latentspace.agents.pipelines import from_dict, run
from latentspace.errors import LatentspaceError

A = Agent("a", "Plan {question}", latent_steps=2)
B = Agent("b", "Check {question}", latent_steps=1)
C = Agent("c", "Answer {question}")


def test_a_chain_is_the_sequential_pipeline(lm):
    questions = ["two plus two", "a longer question here"]
    graph = run_graph(lm, [A, B, C], {"b": ["a"], "c": ["b"]}, questions, max_new_tokens=5, chat=False)
    chain = run_sequential(lm, [A, B, C], questions, max_new_tokens=5, chat=False)
    assert graph.token_ids == chain.token_ids and graph.positions == chain.positions
    assert [t.received_slots for t in graph.turns] == [t.received_slots for t in chain.turns]


def test_a_star_is_the_hierarchical_pipeline(llama):
    graph = run_graph(llama, [A, B, C], {"c": ["a", "b"]}, "two plus two", shared="Q: {question}",
                      max_new_tokens=5, chat=False)
    star = run_hierarchical(llama, [A, B], C, "two plus two", shared="Q: {question}", max_new_tokens=5, chat=False)
    assert graph.token_ids == star.token_ids
    a, b = graph.turns[0].prompt_tokens[0] + 2, graph.turns[1].prompt_tokens[0] + 1  # each block: role + thoughts
    assert graph.turns[2].received_from == {"shared": star.turns[-1].received_from["shared"], "a": a, "b": b}


def test_siblings_do_not_see_each_other_and_a_reader_gets_each_block_once(llama):
    reads = {"solver": ["plan"], "checker": ["plan"], "final": ["solver", "checker"]}
    plan = Agent("plan", "Plan {question}", 2)
    checker = Agent("checker", "Check the plan for {question}", 1)
    final = Agent("final", "Answer {question}")
    one = run_graph(llama, [plan, Agent("solver", "Solve {question}", 1), checker, final], reads, "two plus two",
                    max_new_tokens=4, chat=False)
    two = run_graph(llama, [plan, Agent("solver", "Solve it with far more words {question}", 3), checker, final],
                    reads, "two plus two", max_new_tokens=4, chat=False)
    check_one, check_two = (next(t for t in r.turns if t.agent == "checker") for r in (one, two))
    assert [s.top for s in check_one.thoughts[0]] == [s.top for s in check_two.thoughts[0]]
    last = one.turns[-1]
    assert set(last.received_from) == {"plan", "solver", "checker"}  # the plan once, not once per reader
    assert last.received_slots == sum(last.received_from.values())


@pytest.mark.parametrize("spec,message", [
    ({"kind": "graph", "agents": [{"name": "a", "role": "x", "reads": ["b"]}, {"name": "b", "role": "y", "reads": ["a"]},
                                  {"name": "c", "role": "z", "reads": ["a"]}]}, "in a cycle: a → b → a"),
    ({"kind": "graph", "agents": [{"name": "a", "role": "x", "reads": ["a"]}]}, "in a cycle: a → a"),
    ({"kind": "graph", "agents": [{"name": "a", "role": "x"}, {"name": "b", "role": "y"}]},
     "exactly one agent must be read by no one .* found 2: a, b"),
    ({"kind": "graph", "agents": [{"name": "a", "role": "x", "reads": ["ghost"]}]}, "reads 'ghost', which is not"),
    ({"kind": "graph", "agents": [{"name": "a", "role": "x", "reads": [3]}]}, "'reads' is a list of agent names"),
    ({"kind": "sequential", "agents": [{"name": "a", "role": "x", "reads": ["b"]}]}, "unknown agent field"),
])
def test_bad_graphs_are_named(spec, message):
    with pytest.raises(LatentspaceError, match=message):
        from_dict(spec, "g.yaml")


def test_every_mode_runs_a_graph_spec(llama):
    pipeline = from_dict({"kind": "graph", "shared": "Q: {question}", "agents": [
        {"name": "solver", "role": "Solve {question}", "reads": ["plan"]},
        {"name": "plan", "role": "Plan {question}", "latent_steps": 1}]}, "g.yaml")
    assert [a.name for a in pipeline.agents] == ["plan", "solver"]  # put in reading order
    for mode in ("latent", "text", "single"):
        result = run(llama, pipeline, ["two plus two", "one more"], mode, max_new_tokens=3, agent_tokens=2,
                     chat=False)
        assert len(result.texts) == 2 and result.mode.startswith(mode)
    text = run(llama, pipeline, "two plus two", "text", max_new_tokens=3, agent_tokens=2, chat=False)
    notes = f"\n\nWhat the other agents wrote:\nplan: {text.turns[0].texts[0].strip()}\n"
    solver_prompt = llama.tokenizer(f"Q: two plus two\nSolve two plus two{notes}")["input_ids"]
    assert text.turns[1].prompt_tokens[0] == len(solver_prompt)  # it read the plan's notes
