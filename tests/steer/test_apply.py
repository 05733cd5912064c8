"""Applying vectors: exact no-ops at strength 0, hooks always removed, ablation/clamp exact, and
KV-cached generation steered exactly like a full re-run of the growing sequence."""

import pytest
import torch

from latentspace.errors import LatentspaceError
from latentspace.reason import REGISTRY, get_reasoner
from latentspace.steer import SteeringVector, ablate, clamp, steer

PROMPT = "the quick brown fox"


def hook_count(lm) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in lm.model.modules())


def random_vector(lm, layers=None, scale=6.0, seed=0) -> SteeringVector:
    g = torch.Generator().manual_seed(seed)
    layers = range(lm.n_layers) if layers is None else layers
    return SteeringVector({i: scale * torch.randn(lm.hidden_size, generator=g) for i in layers}, lm.fingerprint)


def logits(lm, text=PROMPT):
    ids, mask = lm.tokenize(text)
    return lm.forward(ids, mask).logits


def test_strength_zero_leaves_logits_identical_and_hooks_are_removed(lm):
    vec = random_vector(lm)
    plain, before = logits(lm), hook_count(lm)
    with vec.apply(lm, strength=0.0):
        assert hook_count(lm) > before
        assert torch.equal(logits(lm), plain)
    assert hook_count(lm) == before
    with vec.apply(lm, strength=1.0):
        assert not torch.allclose(logits(lm), plain)  # the test above could fail: steering does act
    assert torch.equal(logits(lm), plain)


def test_hooks_are_removed_after_an_exception(llama):
    vec, before = random_vector(llama), hook_count(llama)
    with pytest.raises(RuntimeError, match="boom"):
        with vec.apply(llama, 2.0):
            raise RuntimeError("boom")
    assert hook_count(llama) == before
    with pytest.raises(RuntimeError):
        with ablate(llama, vec.select(0)):
            raise RuntimeError("boom")
    assert hook_count(llama) == before


def test_ablation_zeroes_the_projection_at_every_hooked_layer(lm):
    direction = random_vector(lm, [0], scale=1.0)[0]
    unit = direction / direction.norm()
    sites = [("resid_post", i) for i in range(lm.n_layers)]
    ids, mask = lm.tokenize(["a longer prompt here", "short"])
    with lm.hooks(record=sites) as plain:
        lm.forward(ids, mask)
    assert all(float((plain[s] @ unit).abs().max()) > 1e-3 for s in sites)  # there was something to remove
    with ablate(lm, direction):
        with lm.hooks(record=sites) as rec:
            lm.forward(ids, mask)
    for s in sites:
        assert float((rec[s] @ unit).abs().max()) < 1e-5, s


def test_ablation_with_a_multi_layer_vector_and_bad_layers(llama):
    vec = random_vector(llama, [0, 1], scale=1.0)
    with ablate(llama, vec):
        with llama.hooks(record=[("resid_post", 0), ("resid_post", 1)]) as rec:
            llama.forward(*llama.tokenize(PROMPT))
    for layer in (0, 1):
        unit = vec[layer] / vec[layer].norm()
        assert float((rec["resid_post", layer] @ unit).abs().max()) < 1e-5
    with pytest.raises(LatentspaceError, match="no layers chosen"):
        ablate(llama, vec.select(0), layers=[])
    with pytest.raises(LatentspaceError, match="already says its layers"):
        ablate(llama, vec, layers=[0])
    with pytest.raises(LatentspaceError, match="layer 4 out of range"):
        ablate(llama, vec.select(0), layers=[4])


def test_generated_positions_when_the_prompt_was_read_before_steering(llama):
    """A state encoded outside the context: its slots count as prompt, new ones as generated."""
    vec, n = random_vector(llama, scale=3.0), 6
    prompt_len = llama.tokenize(PROMPT)[0].shape[1]
    state = llama.encode(PROMPT)
    session = vec.apply(llama, 1.0, positions="generated")
    with session:
        late = llama.decode(state, max_new_tokens=n).token_ids[0]
    with vec.apply(llama, 1.0, positions=slice(prompt_len, None)):
        explicit = llama.decode(llama.encode(PROMPT), max_new_tokens=n).token_ids[0]
    assert late == explicit
    with session:  # the same session reused: it starts afresh, not with the old boundary
        again = llama.decode(llama.encode(PROMPT), max_new_tokens=n).token_ids[0]
    assert again == explicit


def test_clamp_sets_the_coordinate(llama):
    vec = random_vector(llama, [1], scale=1.0)
    unit = vec[1] / vec[1].norm()
    with clamp(llama, vec, 3.5):
        with llama.hooks(record=[("resid_post", 1)]) as rec:
            llama.forward(*llama.tokenize(PROMPT))
    assert torch.allclose(rec["resid_post", 1] @ unit, torch.full((1, rec["resid_post", 1].shape[1]), 3.5), atol=1e-4)


def greedy_without_cache(lm, prompt, n):
    """Greedy decoding that re-runs the whole sequence each step (no KV cache at all)."""
    ids, _ = lm.tokenize(prompt)
    out = []
    for _ in range(n):
        nxt = int(lm.forward(ids).logits[0, -1].argmax())
        out.append(nxt)
        ids = torch.cat([ids, torch.tensor([[nxt]])], 1)
    return out


@pytest.mark.parametrize("positions", ["all", "generated", "prompt"])
def test_cached_generation_equals_uncached_under_the_same_steering(lm, positions):
    vec, n = random_vector(lm, scale=12.0 if positions == "prompt" else 3.0), 8
    prompt_len = lm.tokenize(PROMPT)[0].shape[1]
    slots = {"all": "all", "generated": slice(prompt_len, None), "prompt": slice(0, prompt_len)}[positions]
    with vec.apply(lm, 1.0, positions=positions):
        cached = lm.decode(lm.encode(PROMPT), max_new_tokens=n).token_ids[0]
    with vec.apply(lm, 1.0, positions=slots):  # the same slots, named explicitly, no cache
        uncached = greedy_without_cache(lm, PROMPT, n)
    assert cached == uncached
    assert cached != lm.decode(lm.encode(PROMPT), max_new_tokens=n).token_ids[0]  # steering changed it


def test_generated_positions_leave_the_prompt_alone(llama):
    vec = random_vector(llama)
    plain = llama.encode(PROMPT).logits
    with vec.apply(llama, 1.0, positions="generated"):
        assert torch.equal(llama.encode(PROMPT).logits, plain)
    with vec.apply(llama, 1.0, positions="prompt"):
        assert not torch.equal(llama.encode(PROMPT).logits, plain)


def test_several_vectors_add_and_a_schedule_weights_layers(llama):
    a, b = random_vector(llama, seed=1), random_vector(llama, seed=2)
    with steer(llama, [(a, 0.5), (b, -1.0)]):
        together = logits(llama)
    with (0.5 * a - b).apply(llama, 1.0):
        summed = logits(llama)
    assert torch.allclose(together, summed, atol=1e-5)
    with a.apply(llama, 1.0, schedule={0: 1.0, 1: 0.0}):
        scheduled = logits(llama)
    with a.select(0).apply(llama, 1.0):
        first_only = logits(llama)
    assert torch.allclose(scheduled, first_only, atol=1e-6)


def test_bad_application_inputs_are_refused(llama):
    with pytest.raises(LatentspaceError, match="positions must be"):
        random_vector(llama).apply(llama, 1.0, positions="middle")
    with pytest.raises(LatentspaceError, match="strength must be finite"):
        random_vector(llama).apply(llama, float("nan"))
    wrong = SteeringVector({0: torch.ones(7)})
    with pytest.raises(LatentspaceError, match="dimension 7; the model's is 64"):
        wrong.apply(llama, 1.0)
    with pytest.raises(LatentspaceError, match="layer 5 out of range"):
        SteeringVector({5: torch.ones(64)}).apply(llama, 1.0)
    with pytest.raises(LatentspaceError, match="NaN"):
        SteeringVector({0: torch.full((64,), float("nan"))})


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_every_reasoning_strategy_runs_steered(llama, name):
    strategy = get_reasoner(name, max_latent_steps=2, max_new_tokens=4)
    question = "What is two plus two?"
    plain = strategy.run(llama, question)
    vec = random_vector(llama, scale=8.0)
    with vec.apply(llama, 0.0):
        assert strategy.run(llama, question).text == plain.text
    with vec.apply(llama, 1.0):
        steered = strategy.run(llama, question)
    assert steered.text != plain.text or [s.token for s in steered.steps] != [s.token for s in plain.steps]
