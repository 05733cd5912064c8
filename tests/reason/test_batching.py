"""A batch answers every question exactly as it would be answered alone."""

from dataclasses import dataclass

import pytest
import torch

from latentspace.reason import REGISTRY, get_reasoner
from latentspace.reason.pause import Pause

# different lengths, so the batch is left-padded
QUESTIONS = ["What is two plus two?", "Is a cat a mammal? Say why in one sentence.", "Name a colour."]

# options per strategy (short budgets); every registered strategy runs, one missing here with its defaults
OPTIONS = {
    "direct": {},
    "cot": {"max_new_tokens": 10},
    "continuous": {"alignment": "norm", "max_latent_steps": 3, "max_new_tokens": 6},
    "soft": {"max_latent_steps": 4, "max_new_tokens": 6},
    "switch": {"max_latent_steps": 3, "max_explicit_steps": 3, "max_new_tokens": 6},
    "pause": {"max_latent_steps": 2, "max_new_tokens": 6},
    "loop": {"start": 0, "end": 1, "repeats": 2, "max_new_tokens": 6},
    "optimize": {"max_latent_steps": 2, "opt_steps": 2, "max_new_tokens": 6},
}
STRATEGIES = [(name, OPTIONS.get(name, {})) for name in sorted(REGISTRY)]


def test_every_options_entry_names_a_registered_strategy():
    assert sorted(set(OPTIONS) - set(REGISTRY)) == []


def _same(batched, alone):
    assert batched.text == alone.text
    assert [(s.kind, s.token, s.top[0][0]) for s in batched.steps] == [(s.kind, s.token, s.top[0][0])
                                                                      for s in alone.steps]
    assert batched.positions == alone.positions
    assert batched.stop_reason == alone.stop_reason


@pytest.mark.parametrize("name,options", STRATEGIES, ids=[s[0] for s in STRATEGIES])
def test_batched_equals_one_at_a_time(lm, name, options):
    reasoner = get_reasoner(name, **options)
    batched = reasoner.run_batch(lm, QUESTIONS)
    assert len(batched) == 3 and all(t.meta["batch"] == 3 for t in batched)
    for question, trace in zip(QUESTIONS, batched):
        _same(trace, reasoner.run(lm, question))


@dataclass
class _BadForCats(Pause):
    """Pause whose second thought goes NaN for the question about cats only."""

    def latent_step(self, lm, state, vectors, rows, previous=None, note="", tokens=None):
        vectors = vectors.expand(state.batch_size, -1).clone()
        for row, trace in enumerate(rows.traces):
            if "cat" in trace.prompt and trace.latent_steps == 1:
                vectors[row] = float("nan")
        return super().latent_step(lm, state, vectors, rows, previous, note, tokens)


def test_a_row_that_stops_early_drops_out_while_the_others_think_on(lm):
    reasoner = _BadForCats(max_latent_steps=4, max_new_tokens=6)
    batched = reasoner.run_batch(lm, QUESTIONS)
    assert [t.latent_steps for t in batched] == [4, 1, 4]
    assert batched[1].stop_reason.startswith("latent went bad: NaN")
    for question, trace in zip(QUESTIONS, batched):
        _same(trace, reasoner.run(lm, question))
        assert all(s.entropy == s.entropy for s in trace.steps)  # no NaN leaked into any row


def test_stepping_only_some_rows_keeps_the_others_unchanged(llama):
    state = llama.encode(QUESTIONS)
    before_logits, before_position = state.logits.clone(), state.next_position.clone()
    rows = torch.tensor([True, False, True])
    stepped = llama.step(state, llama.input_embeddings[70], rows=rows)
    assert torch.equal(stepped.logits[1], before_logits[1]) and not torch.equal(stepped.logits[0], before_logits[0])
    assert stepped.next_position.tolist() == (before_position + rows.long()).tolist()
    assert stepped.latent_slots()[:, -1].tolist() == [True, False, True]
