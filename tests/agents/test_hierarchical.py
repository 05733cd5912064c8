"""Hierarchical pipeline: experts run as one batch and never see each other; the summariser sees all."""

import pytest
import torch

from latentspace.agents import Agent, run_sequential
from latentspace.agents.hierarchical import experts_in_parallel, gather, run_hierarchical
from latentspace.errors import LatentspaceError
from latentspace.model import kv

MATH = Agent("math", "As a mathematician, think about {question}", latent_steps=2)
WORDS = Agent("words", "As a linguist, think about {question}", latent_steps=1)
SUMMARY = Agent("summariser", "Combine the experts and answer {question}")


def expert_block(lm, experts, question, which):
    """Keys of expert ``which``'s real (unmasked) slots in the summariser's memory, layer 0."""
    state, p, _, _ = experts_in_parallel(lm, experts, [question], "Q: {question}", chat=False)
    w = state.length - p
    memory = gather(state, len(experts), p)
    cols = torch.arange(p + which * w, p + (which + 1) * w)
    real = cols[memory.attention_mask[0, cols].bool().cpu()]
    return kv.to_tensors(memory.cache)[0][0][0, :, real], memory


def test_an_expert_is_unchanged_when_another_experts_prompt_changes(llama):
    other = Agent("words", "As a linguist with a much longer role text, consider {question}", latent_steps=3)
    first, memory_a = expert_block(llama, [MATH, WORDS], "two plus two", 0)
    second, memory_b = expert_block(llama, [MATH, other], "two plus two", 0)
    # float noise only (other padding widths change the kernels' shapes); seeing the other expert is O(1)
    assert first.shape[1] > 0 and torch.allclose(first, second, atol=1e-4)
    # the summariser sees all: its next-token logits after reading its prompt differ
    ids = torch.tensor([[5, 6, 7]])
    a = llama.feed(memory_a, ids).logits
    b = llama.feed(memory_b, ids).logits
    assert not torch.allclose(a, b)


def test_one_expert_with_no_steps_equals_the_sequential_pipeline(lm):
    expert = Agent("expert", "Think about {question}")
    hier = run_hierarchical(lm, [expert], SUMMARY, "two plus two", shared="Q: {question}", max_new_tokens=6,
                            chat=False)
    seq = run_sequential(lm, [Agent("shared", "Q: {question}"), expert, SUMMARY], "two plus two",
                         max_new_tokens=6, chat=False)
    assert hier.token_ids == seq.token_ids


def test_batched_hierarchical_equals_each_question_alone(llama):
    questions = ["two plus two", "what colour is the sky on a clear day"]
    batched = run_hierarchical(llama, [MATH, WORDS], SUMMARY, questions, max_new_tokens=5, chat=False)
    for row, q in enumerate(questions):
        alone = run_hierarchical(llama, [MATH, WORDS], SUMMARY, q, max_new_tokens=5, chat=False)
        assert alone.token_ids[0] == batched.token_ids[row], q
    assert [t.agent for t in batched.turns] == ["math", "words", "summariser"]


def test_hierarchical_bad_input(llama):
    with pytest.raises(LatentspaceError, match="at least one expert"):
        run_hierarchical(llama, [], SUMMARY, "q")
    with pytest.raises(LatentspaceError, match="may only use"):
        run_hierarchical(llama, [MATH], SUMMARY, "q", shared="{topic}")
