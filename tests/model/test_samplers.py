"""Thought samplers: exact at zero randomness, repeatable under a seed, scored like their distributions."""

import math

import pytest
import torch

from latentspace.core.errors import LatentspaceError
from latentspace.model.samplers import parse_sampler


def inputs(batch=3, vocab=7, width=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(batch, width, generator=g), torch.randn(batch, vocab, generator=g), torch.randn(vocab, width, generator=g)


def test_zero_noise_feeds_the_deterministic_thought_exactly():
    mean, logits, table = inputs()
    drawn = parse_sampler("noise:0").draw(mean, None, table, torch.Generator().manual_seed(1))
    assert torch.equal(drawn.vectors, mean)
    assert torch.equal(parse_sampler("dropout:0").draw(mean, None, table).vectors, mean)


def test_one_token_sampling_feeds_a_token_embedding_and_scores_its_log_probability():
    mean, logits, table = inputs()
    sampler = parse_sampler("mts:1")
    drawn = sampler.draw(mean, logits, table, torch.Generator().manual_seed(3))
    assert drawn.action.shape == (3, 1)
    assert torch.equal(drawn.vectors, table[drawn.action[:, 0]])
    expected = torch.log_softmax(logits, -1).gather(-1, drawn.action)[:, 0]
    assert torch.allclose(sampler.log_prob(drawn.action, mean, logits, table), expected)


def test_many_tokens_approach_the_softmax_mix():
    mean, logits, table = inputs(batch=2)
    drawn = parse_sampler("mts:4096").draw(mean, logits, table, torch.Generator().manual_seed(0))
    mix = torch.softmax(logits, -1) @ table
    assert torch.allclose(drawn.vectors, mix, atol=0.1)
    assert not torch.allclose(parse_sampler("mts:2").draw(mean, logits, table).vectors, mix, atol=0.1)


@pytest.mark.parametrize("spec", ["mts:3", "noise:0.7", "gumbel:0.5"])
def test_a_seed_repeats_the_draw_and_another_seed_changes_it(spec):
    mean, logits, table = inputs()
    sampler = parse_sampler(spec)
    first, again, other = (sampler.draw(mean, logits, table, torch.Generator().manual_seed(s)).vectors for s in (5, 5, 6))
    assert torch.equal(first, again)
    assert not torch.equal(first, other)


def test_gaussian_log_density_matches_torch_up_to_its_constant_and_moves_with_the_mean():
    mean, _, table = inputs()
    sampler = parse_sampler("noise:0.5")
    drawn = sampler.draw(mean, None, table, torch.Generator().manual_seed(2))
    ours = sampler.log_prob(drawn.action, mean, None, table)
    theirs = torch.distributions.Normal(mean, 0.5).log_prob(drawn.action).sum(-1)
    constant = -mean.shape[1] * (math.log(0.5) + 0.5 * math.log(2 * math.pi))
    assert torch.allclose(ours + constant, theirs, atol=1e-5)
    moved = mean.clone().requires_grad_(True)
    sampler.log_prob(drawn.action, moved, None, table).sum().backward()
    assert torch.allclose(moved.grad, (drawn.action - mean) / 0.25, atol=1e-5)  # the policy gradient's direction


def test_small_gumbel_temperature_picks_one_token():
    mean, logits, table = inputs()
    drawn = parse_sampler("gumbel:0.001").draw(mean, logits, table, torch.Generator().manual_seed(0))
    distances = torch.cdist(drawn.vectors, table)
    assert torch.all(distances.min(-1).values < 1e-3)


def test_dropout_acts_only_inside_its_context_and_restores_the_model():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Dropout(0.0), torch.nn.Linear(8, 2)).eval()
    x = torch.randn(5, 4)
    plain = model(x)
    with parse_sampler("dropout:0").stepping(model):
        assert torch.equal(model(x), plain)
    with parse_sampler("dropout:0.5").stepping(model):
        assert not torch.equal(model(x), plain)
    assert model[1].p == 0.0 and not model[1].training
    assert torch.equal(model(x), plain)


def test_token_samplers_refuse_thoughts_without_a_distribution_and_unscored_ones_refuse_rl():
    mean, _, table = inputs()
    with pytest.raises(LatentspaceError, match="fed-back states"):
        parse_sampler("mts:2").draw(mean, None, table)
    with pytest.raises(LatentspaceError, match="no tractable log-probability"):
        parse_sampler("gumbel:1").log_prob(mean, mean, None, table)


@pytest.mark.parametrize("spec, message", [("beam:2", "unknown sampler"), ("mts", "needs a value"), ("mts:0", "at least 1"),
                                           ("noise:-1", "at least 0"), ("noise:nan", "finite"), ("noise:inf", "finite"),
                                           ("gumbel:0", "above 0"), ("mts:2.5", "not a number")])
def test_bad_specs_are_one_line(spec, message):
    with pytest.raises(LatentspaceError, match=message):
        parse_sampler(spec)


def test_dirichlet_noise_spans_one_token_to_the_mix():
    mean, logits, table = inputs(vocab=7)
    mix = torch.softmax(logits, -1) @ table
    large = parse_sampler("dirichlet:1e5").draw(mean, logits, table, torch.Generator().manual_seed(0))
    assert torch.allclose(large.vectors, mix, atol=0.05)  # mean p, variance ~ 1/alpha
    small = parse_sampler("dirichlet:0.01").draw(mean, logits, table, torch.Generator().manual_seed(0))
    assert torch.all(torch.cdist(small.vectors, table).min(-1).values < 1e-3)  # one token (float32 would give the uniform mix)
    sampler = parse_sampler("dirichlet:1")
    first, again, other = (sampler.draw(mean, logits, table, torch.Generator().manual_seed(s)).vectors for s in (5, 5, 6))
    assert torch.equal(first, again) and not torch.equal(first, other)


def test_dirichlet_over_many_tokens_never_feeds_nan():
    g = torch.Generator().manual_seed(0)
    logits, table = 8 * torch.randn(4, 5000, generator=g), torch.randn(5000, 6, generator=g)
    drawn = parse_sampler("dirichlet:0.001").draw(None, logits, table, torch.Generator().manual_seed(1))
    assert torch.isfinite(drawn.vectors).all()


def test_a_small_dirichlet_concentration_picks_each_token_as_often_as_its_probability():
    _, logits, table = inputs(batch=1, vocab=5)
    sampler, counts = parse_sampler("dirichlet:0.01"), torch.zeros(5)
    for seed in range(1000):
        vector = sampler.draw(None, logits, table, torch.Generator().manual_seed(seed)).vectors
        counts[torch.cdist(vector, table).argmin()] += 1
    assert torch.allclose(counts / 1000, torch.softmax(logits[0], -1), atol=0.05)
