"""An agent's budget is spent by a reasoning strategy (with lens readings), memories are checked
against the model, speaking agents write without changing the memory, and chat turns continue."""

import pytest
import torch

from latentspace.agents import Agent, run_hierarchical, run_sequential
from latentspace.agents.turns import prompt_chunk
from latentspace.errors import LatentspaceError
from latentspace.model.text import next_turn
from tests.conftest import tiny_lm

SOLVER = Agent("solver", "Answer {question}")


@pytest.mark.parametrize("strategy,options", [("continuous", {}), ("continuous", {"alignment": "norm"}),
                                              ("pause", {}), ("soft", {"cold_stop_window": 99})])
def test_a_latent_strategy_spends_the_budget_and_its_steps_carry_lens_readings(llama, strategy, options):
    thinker = Agent("thinker", "Think about {question}", latent_steps=3, strategy=strategy, options=options)
    result = run_sequential(llama, [thinker, SOLVER], ["two plus two", "a longer question here"], max_new_tokens=3,
                            chat=False)
    for row in range(2):
        steps = result.turns[0].thoughts[row]
        assert [s.kind for s in steps] == ["latent"] * 3
        assert all(len(s.top) == 5 and s.entropy is not None and s.norm > 0 for s in steps)
        read = result.turns[0].prompt_tokens[row] + result.turns[1].prompt_tokens[row]
        assert result.positions[row] == read + 3 + len(result.token_ids[row])
    assert result.turns[1].thoughts == [[], []]  # the solver has no budget


def test_experts_with_different_strategies_think_apart(llama):
    soft = Agent("soft", "Softly {question}", 2, "soft", {"cold_stop_window": 99})
    pause = Agent("pause", "Pause on {question}", 1, "pause")
    result = run_hierarchical(llama, [soft, pause], SOLVER, "two plus two", max_new_tokens=2, chat=False)
    assert [len(t.thoughts[0]) for t in result.turns] == [2, 1, 0]
    assert result.turns[1].thoughts[0][0].note == "pause"
    assert result.turns[2].received_from.keys() == {"shared", "soft", "pause"}


def test_agents_refuse_what_cannot_think():
    with pytest.raises(LatentspaceError, match="'direct' does not think in latents; valid: continuous"):
        Agent("a", "{question}", 2, strategy="direct")
    with pytest.raises(LatentspaceError, match="agent 'a': strategy 'soft' has no option 'depth'"):
        Agent("a", "{question}", 2, strategy="soft", options={"depth": 3})
    with pytest.raises(LatentspaceError, match="with latent_steps"):
        Agent("a", "{question}", options={"max_latent_steps": 3})


def test_a_starting_memory_is_read_first_and_shared_by_every_question(llama):
    context = "Context: the sky is green."
    ids, _, _ = prompt_chunk(llama, [context], chat=False, first=True)
    memory = llama.encode(ids)
    questions = ["two plus two", "a longer question here"]
    with_memory = run_sequential(llama, [SOLVER], questions, max_new_tokens=4, chat=False, memory=memory)
    as_agent = run_sequential(llama, [Agent("context", context), SOLVER], questions, max_new_tokens=4, chat=False)
    assert with_memory.token_ids == as_agent.token_ids
    assert with_memory.turns[0].received_from == {"memory": memory.length}
    assert not memory.consumed  # the caller's memory is forked, never advanced
    with pytest.raises(LatentspaceError, match="3 rows for 2 questions"):
        run_sequential(llama, [SOLVER], questions, memory=llama.encode(torch.cat([ids] * 3)), chat=False)


def test_a_memory_from_another_model_is_refused(llama):
    other = tiny_lm("llama", initializer_range=0.3, seed=1)  # same shapes, other weights
    memory = other.encode(torch.tensor([[5, 6, 7]]))
    with pytest.raises(LatentspaceError, match="made by another model"):
        run_sequential(llama, [SOLVER], "two plus two", chat=False, memory=memory)
    with pytest.raises(LatentspaceError, match="made by another model"):
        llama.feed(other.encode(torch.tensor([[5, 6]])), torch.tensor([[8]]))
    same_weights = type(llama)(llama.model, llama.tokenizer, "another wrapper")  # same model, other object
    assert same_weights.feed(llama.encode(torch.tensor([[5, 6]])), torch.tensor([[8]])).length == 3


def test_a_speaking_agent_writes_but_passes_on_its_memory(llama):
    quiet = [Agent("planner", "Plan {question}", 2), SOLVER]
    loud = [Agent("planner", "Plan {question}", 2, speaks=True), SOLVER]
    a = run_sequential(llama, quiet, "two plus two", max_new_tokens=4, chat=False)
    b = run_sequential(llama, loud, "two plus two", max_new_tokens=4, agent_tokens=3, chat=False)
    assert a.token_ids == b.token_ids  # what it said is not in the memory
    assert a.turns[0].texts is None and len(b.turns[0].token_ids[0]) <= 3
    assert b.output_tokens == a.output_tokens + len(b.turns[0].token_ids[0])


def test_later_agents_continue_the_conversation(smollm2):
    turn = next_turn(smollm2, "Check the plan")
    assert turn.startswith("<|im_end|>") and "system" not in turn and turn.endswith("assistant\n")
    assert "Check the plan" in turn


def test_on_a_model_with_latent_markers_only_thinking_rows_get_the_markers():
    from latentspace import LatentModel
    from latentspace.model.markers import END_LATENT, LATENT, START_LATENT
    from latentspace.model.tiny import make_tiny

    model, tok = make_tiny("llama", initializer_range=0.3)
    tok.add_special_tokens({"additional_special_tokens": [START_LATENT, END_LATENT, LATENT]})
    model.resize_token_embeddings(len(tok))
    marked = LatentModel(model, tok, "tiny-marked")
    one = Agent("one", "First {question}", 2)
    two = Agent("two", "Second {question}", 1, options={"alignment": "norm"})  # another group: thinks apart
    mixed = run_hierarchical(marked, [one, two], SOLVER, "two plus two", max_new_tokens=2, chat=False)
    alone = run_hierarchical(marked, [two], SOLVER, "two plus two", max_new_tokens=2, chat=False)
    # expert two thinks exactly as it does alone: no marker pair left in its row by expert one's group
    for x, y in zip(mixed.turns[1].thoughts[0], alone.turns[0].thoughts[0], strict=True):
        assert [t for t, _ in x.top] == [t for t, _ in y.top]
        assert [p for _, p in x.top] == pytest.approx([p for _, p in y.top], abs=1e-4)
    assert [len(t.thoughts[0]) for t in mixed.turns] == [2, 1, 0]
