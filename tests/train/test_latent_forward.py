"""The n+1-pass forward equals a naive full recomputation per thought."""

import pytest
import torch

from latentspace.model.tiny import make_tiny
from latentspace.train.data import TokenizedExample
from latentspace.train.latent_forward import LatentLM, shifted_loss
from latentspace.train.sequences import CurriculumConfig, MarkerIds, build_sequence, collate

M = MarkerIds(start=3, latent=5, end=4)


def _batch(stage):
    config = CurriculumConfig(max_stage=3, thoughts_per_step=2)
    examples = [TokenizedExample([40, 41, 42], [[50, 51], [52], [53, 54]], [60, 2]),
                TokenizedExample([43, 44, 45, 46, 47], [[55, 56, 57], [58]], [61, 2]),
                TokenizedExample([48], [[59]], [62, 63, 2])]
    return collate([build_sequence(e, stage, config, M) for e in examples], pad_id=0, latent_id=M.latent)


def _naive(model, batch, thought_from="previous"):
    """Recompute the whole prefix from scratch for every thought (what the n+1 passes avoid)."""
    embeds = model.get_input_embeddings()(batch.ids)
    for column in sorted(set(batch.latent.nonzero()[:, 1].tolist())):
        end = column + (thought_from == "slot")  # "slot": read the slot itself, its input a zero vector
        read = embeds.clone()
        read[:, column] = 0
        out = model.base_model(inputs_embeds=read[:, :end], attention_mask=batch.attention_mask[:, :end],
                               position_ids=batch.position_ids[:, :end])
        fed = out.last_hidden_state[:, -1]
        embeds = embeds.clone()
        embeds[batch.latent[:, column], column] = fed[batch.latent[:, column]]
    out = model.base_model(inputs_embeds=embeds, attention_mask=batch.attention_mask, position_ids=batch.position_ids)
    logits = model.get_output_embeddings()(out.last_hidden_state)
    return shifted_loss(logits, batch.labels), logits


@pytest.mark.parametrize("thought_from", ["previous", "slot"])
@pytest.mark.parametrize("family", ["llama", "gpt2"])
@pytest.mark.parametrize("stage", [0, 1, 4])
def test_n_plus_one_passes_equal_naive_recomputation(family, stage, thought_from):
    # float64: a random model amplifies float32 rounding ~2x per fed-back thought; the comparison
    # is about the computation, so keep rounding out of it
    model, _ = make_tiny(family, initializer_range=0.3)
    model = model.double()
    batch = _batch(stage)
    loss, logits = LatentLM(model, thought_from=thought_from)(batch)
    naive_loss, naive_logits = _naive(model, batch, thought_from)
    real = batch.attention_mask.bool()
    assert torch.allclose(logits[real], naive_logits[real], atol=1e-5)
    assert abs(loss.item() - naive_loss.item()) < 1e-5
    if stage:
        assert batch.latent.any()


def test_gradients_flow_through_the_chain_of_thoughts():
    model, _ = make_tiny("llama", initializer_range=0.3, tie_word_embeddings=False)
    batch = _batch(2)
    loss, _ = LatentLM(model)(batch)
    loss.backward()
    grad = model.get_input_embeddings().weight.grad
    # the latent token's embedding is never used (every slot is overwritten by a fed-back state)
    assert grad[M.latent].abs().sum() == 0 and grad[40].abs().sum() > 0
    # the answer's loss reaches the question through the fed-back states: cut them and it changes
    model.zero_grad()
    LatentLM(model, backprop_thoughts=False)(batch)[0].backward()
    assert not torch.allclose(model.get_input_embeddings().weight.grad[40], grad[40])


def test_pause_as_thought_keeps_the_latent_embedding_and_trains_it():
    model, _ = make_tiny("llama", initializer_range=0.3)
    batch = _batch(2)
    loss, logits = LatentLM(model, feedback=False)(batch)
    plain = model(input_ids=batch.ids, attention_mask=batch.attention_mask, position_ids=batch.position_ids)
    assert torch.allclose(logits, plain.logits, atol=1e-5)
    loss.backward()
    assert model.get_input_embeddings().weight.grad[M.latent].abs().sum() > 0


@pytest.mark.parametrize("thought_from", ["previous", "slot"])
def test_evaluation_feeds_the_thoughts_training_fed(thought_from):
    # the test-time path (LatentModel steps, the recipe's thought_inputs) must compute the same thoughts as
    # the training forward, or a run is tested on a computation it never learned
    from latentspace.model.latent_model import LatentModel
    from latentspace.train.recipes import get_recipe

    model, tok = make_tiny("gpt2", initializer_range=0.3)
    model = model.double()
    recipe = get_recipe("coconut", latent_markers=False, thought_from=thought_from)
    question, n = [40, 41, 42, 43], 3
    batch = collate([build_sequence(TokenizedExample(question, [[50], [51], [52]], [60, 2]), n,
                                    recipe.curriculum(), M)], pad_id=0, latent_id=M.latent)
    with torch.no_grad():
        logits, _ = recipe.module(model).run(batch)
    lm = LatentModel(model, tok, "trained")
    state = lm.encode(torch.tensor([question]))
    for _ in range(n):
        state = lm.step(state, recipe.thought_inputs(lm, state, M.latent))
    after_thoughts = len(question) + n - 1  # the position whose output reads the answer's first token
    assert torch.allclose(state.logits[0].double(), logits[0, after_thoughts], atol=1e-6)
