"""A model that has start/end-latent tokens gets its thoughts between them, fed raw."""

import pytest
import torch

from latentspace import LatentModel, LatentspaceError
from latentspace.model.markers import END_LATENT, LATENT, START_LATENT, latent_markers
from latentspace.model.tiny import make_tiny
from latentspace.reason import get_reasoner

QUESTION = "What is two plus two?"


@pytest.fixture
def marked():
    """A tiny model whose tokenizer has the three markers (as the training recipes add them)."""
    model, tok = make_tiny("llama", initializer_range=0.3)
    tok.add_special_tokens({"additional_special_tokens": [START_LATENT, END_LATENT, LATENT]})
    model.resize_token_embeddings(len(tok))
    return LatentModel(model, tok, "tiny-marked")


def test_thoughts_go_between_the_markers_unaligned(marked):
    start, end = latent_markers(marked.tokenizer)
    reasoner = get_reasoner("continuous", max_latent_steps=3, max_new_tokens=6)
    trace = reasoner.run(marked, QUESTION)
    assert trace.meta["markers"] is True and trace.meta["alignment"] == "none"
    # the same by hand: question, <|start-latent|>, three raw last hidden states, <|end-latent|>
    state = marked.encode(reasoner.prompt(marked, QUESTION))
    state = marked.feed(state, torch.tensor([[start]]))
    for _ in range(3):
        state = marked.step(state, state.hidden)
    state = marked.feed(state, torch.tensor([[end]]))
    assert state.latent_slots().sum() == 3
    by_hand = marked.decode(state, 6)
    assert trace.text == by_hand.texts[0]
    assert trace.positions == state.length + len(by_hand.token_ids[0]) - 1


def test_markers_can_be_turned_off_and_are_required_when_on(marked, llama):
    off = get_reasoner("continuous", markers="off", max_latent_steps=2).run(marked, QUESTION)
    assert off.meta["markers"] is False and off.meta["alignment"] == "ridge"
    assert latent_markers(llama.tokenizer) is None
    with pytest.raises(LatentspaceError, match="no <\\|start-latent\\|>"):
        get_reasoner("continuous", markers="on").run(llama, QUESTION)
    with pytest.raises(LatentspaceError, match="markers must be"):
        get_reasoner("continuous", markers="maybe").run(llama, QUESTION)


def test_a_batch_with_markers_equals_one_at_a_time(marked):
    questions = [QUESTION, "Is a cat a mammal? Say why."]
    reasoner = get_reasoner("continuous", max_latent_steps=2, max_new_tokens=5)
    for question, trace in zip(questions, reasoner.run_batch(marked, questions)):
        assert trace.text == reasoner.run(marked, question).text
