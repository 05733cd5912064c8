"""The latent guard: a bad latent (NaN, exploded, collapsed) is never fed, and the trace says why."""

import torch

from latentspace.reason import get_reasoner
from latentspace.reason.base import Reasoner
from tests.conftest import tiny_lm

QUESTION = "What is 2 plus 3?"


def test_a_zero_latent_stops_thinking_and_the_trace_says_so():
    lm = tiny_lm("llama", initializer_range=0.3)
    trace = get_reasoner("pause", embedding=torch.zeros(lm.hidden_size), max_latent_steps=3,
                         max_new_tokens=2).run(lm, QUESTION)
    assert trace.stop_reason.startswith("latent went bad: collapsed: norm"), trace.stop_reason
    assert trace.latent_steps == 0  # never fed


def test_a_uniform_next_token_distribution_is_a_collapse():
    lm = tiny_lm("llama")  # the least spread logits of the tiny models: still far from uniform
    guard = Reasoner()
    latent = lm.input_embeddings[5]
    real = lm.encode(QUESTION).logits[0]
    assert guard.went_bad(lm, latent, real) is None
    assert "uniform" in guard.went_bad(lm, latent, torch.zeros(lm.vocab_size))
    assert "NaN" in guard.went_bad(lm, latent, torch.full((lm.vocab_size,), float("nan")))
    assert "norm" in guard.went_bad(lm, latent * 1e6)
    assert guard.went_bad(lm, latent * 1e-6).startswith("collapsed")


def test_continuous_stops_on_collapsed_states_instead_of_answering():
    lm = tiny_lm("llama", initializer_range=0.3)
    from latentspace.model.hooks import Intervention

    zero = Intervention("final_norm", None, "fn", lambda h: torch.zeros_like(h))  # a collapsed stream
    with lm.hooks(interventions=[zero]):
        trace = get_reasoner("continuous", max_latent_steps=3, max_new_tokens=2).run(lm, QUESTION)
    assert trace.stop_reason.startswith("latent went bad: collapsed"), trace.stop_reason
