"""Training-free strategies with a thought sampler: exact at zero noise, seeded, refused when malformed."""

import pytest

from latentspace.core.errors import LatentspaceError
from latentspace.reason import get_reasoner
from tests.conftest import tiny_lm


def norms(trace):
    return [s.norm for s in trace.steps if s.kind == "latent"]


@pytest.mark.parametrize("mode", ["soft", "continuous"])
def test_zero_noise_thinks_exactly_as_without_a_sampler(llama, mode):
    plain = get_reasoner(mode, max_latent_steps=3, max_new_tokens=4).run(llama, "2+2=?", seed=0)
    noisy = get_reasoner(mode, max_latent_steps=3, max_new_tokens=4, thought_sampler="noise:0").run(llama, "2+2=?")
    assert noisy.text == plain.text and norms(noisy) == norms(plain)


def test_a_seed_repeats_the_sampled_thoughts_and_another_changes_them(llama):
    soft = get_reasoner("soft", max_latent_steps=3, max_new_tokens=4, thought_sampler="gumbel:0.5")
    first, again, other = (soft.run(llama, "3+4=?", seed=s) for s in (1, 1, 2))
    assert norms(first) == norms(again) and norms(first) != norms(other)
    assert soft.batch_key() is None  # sampled thinking never shares a batch with other requests


def test_mc_dropout_changes_the_thoughts_and_leaves_the_model_as_it_was(llama):
    gpt2 = tiny_lm("gpt2", initializer_range=0.3)
    plain = get_reasoner("continuous", max_latent_steps=3, max_new_tokens=2).run(gpt2, "1+1=?")
    dropped = get_reasoner("continuous", max_latent_steps=3, max_new_tokens=2, thought_sampler="dropout:0.5").run(
        gpt2, "1+1=?", seed=3)
    assert norms(dropped)[0] == norms(plain)[0]  # the first thought is computed before any dropped step
    assert norms(dropped)[1:] != norms(plain)[1:]
    assert not any(m.training for m in gpt2.model.modules())
    assert get_reasoner("continuous", max_latent_steps=3, max_new_tokens=2).run(gpt2, "1+1=?").text == plain.text
    with pytest.raises(LatentspaceError, match="no dropout layers"):  # Llama's attention dropout is functional
        get_reasoner("continuous", max_latent_steps=2, thought_sampler="dropout:0.5").run(llama, "1+1=?")


@pytest.mark.parametrize("spec", ["gumbel:0", "beam:1", "noise:-1", "mts"])
def test_bad_sampler_specs_are_refused_when_the_strategy_is_built(spec):
    with pytest.raises(LatentspaceError):
        get_reasoner("soft", thought_sampler=spec)
