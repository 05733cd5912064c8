"""The sequential latent pipeline: exact memory hand-over, batching, and what each policy keeps."""

import pytest
import torch

from latentspace.agents import Agent, hand_over, run_sequential
from latentspace.agents.turns import prompt_chunk
from latentspace.errors import LatentspaceError
from latentspace.model.state import LATENT_ID

PLANNER = Agent("planner", "Plan how to answer: {question}")
SOLVER = Agent("solver", "Now answer: {question}")


def test_zero_steps_full_memory_equals_one_model_reading_all_prompts(lm):
    question = "what is two plus two"
    result = run_sequential(lm, [PLANNER, Agent("critic", "Check the plan for {question}"), SOLVER], question,
                            policy="full", max_new_tokens=6, chat=False)
    rows = [prompt_chunk(lm, [a.prompt(question)], chat=False, first=i == 0)[2][0]
            for i, a in enumerate([PLANNER, Agent("critic", "Check the plan for {question}"), SOLVER])]
    single = lm.decode(lm.encode(torch.tensor([sum(rows, [])])), max_new_tokens=6)
    assert result.token_ids == single.token_ids
    assert [t.received_slots for t in result.turns] == [0, len(rows[0]), len(rows[0]) + len(rows[1])]
    assert result.processed_positions == sum(map(len, rows)) + len(single.token_ids[0])


def test_batched_pipeline_equals_each_question_alone(llama):
    agents = [Agent("planner", "Plan: {question}", latent_steps=2), Agent("solver", "Answer {question}", 1)]
    questions = ["two plus two", "what is the capital of a country far away"]  # different lengths: padding
    batched = run_sequential(llama, agents, questions, max_new_tokens=5, chat=False)
    for row, q in enumerate(questions):
        alone = run_sequential(llama, agents, q, max_new_tokens=5, chat=False)
        assert alone.token_ids[0] == batched.token_ids[row], q


def test_policies_keep_exactly_the_slots_they_claim(llama):
    agent = Agent("thinker", "Think about {question}", latent_steps=3)
    ids, mask, rows = prompt_chunk(llama, [agent.prompt("a"), agent.prompt("a longer one")], chat=False, first=True)
    state = llama.encode(ids, attention_mask=mask)
    turn_start = state.length
    ids2, mask2, _ = prompt_chunk(llama, ["next", "next agent"], chat=False, first=False)
    state = llama.feed(state, ids2, mask=mask2)
    for _ in range(3):
        state = llama.step(state, llama.align(state.hidden))
    total = state.length
    latent = hand_over(state.fork(), "latent", turn_start)
    assert latent.length == 3 and bool((latent.ids == LATENT_ID).all()) and latent.cache.get_seq_length() == 3
    last = hand_over(state.fork(), "last", turn_start)
    assert last.length == total - turn_start and torch.equal(last.ids, state.ids[:, turn_start:])
    assert last.cache.get_seq_length() == total - turn_start
    assert torch.equal(last.next_position, state.next_position)  # new slots continue after the old ones
    full = hand_over(state, "full", turn_start)
    assert full is state


def test_bad_pipelines_are_refused(llama):
    with pytest.raises(LatentspaceError, match="at least one agent"):
        run_sequential(llama, [], "q")
    with pytest.raises(LatentspaceError, match="may only use \\{question\\}"):
        Agent("x", "Use {context}")
    with pytest.raises(LatentspaceError, match="unknown transfer policy 'some'"):
        run_sequential(llama, [SOLVER], "q", policy="some")
    with pytest.raises(LatentspaceError, match="would pass an empty memory"):
        run_sequential(llama, [PLANNER, SOLVER], "q", policy="latent", chat=False)
    with pytest.raises(LatentspaceError, match="latent_steps must be >= 0"):
        Agent("x", "{question}", latent_steps=-1)
