"""Each JEPA loss term is zero where it should be and positive on a collapsed encoder."""

import torch

from latentspace.world import losses


def spread(n: int = 4096, d: int = 8) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    return torch.randn(n // 8, 8, d, generator=g) * 2.0  # [B, T+1, d], independent dimensions of std 2


def test_variance_and_covariance_vanish_on_a_well_spread_batch_and_not_on_a_collapsed_one():
    z = spread()
    assert losses.variance(z) == 0
    assert losses.covariance(z) < 0.05 * losses.covariance(z @ torch.ones(8, 8))  # near zero vs correlated dims
    collapsed = torch.zeros_like(z) + 0.3
    assert losses.variance(collapsed) > 0.9
    one_dim = z[..., :1].expand_as(z)  # every dimension a copy of one: maximal covariance
    assert losses.covariance(one_dim) > 1.0


def test_smoothness_and_prediction_vanish_on_constant_and_exact_latents():
    still = torch.ones(4, 6, 3)
    assert losses.smoothness(still) == 0
    assert losses.smoothness(spread()) > 0
    z = spread()
    assert losses.prediction(z[:, 1:], z) == 0
    assert losses.prediction(z[:, :-1], z) > 0


def test_inverse_dynamics_vanishes_on_exact_actions_of_the_true_state():
    # planted: latents = true positions, a step moves by action * 0.1 (no wall in the way), the
    # inverse model reads (z' - z) / 0.1: exact actions, zero loss; a collapsed encoder loses them
    actions = torch.rand(16, 5, 2) * 2 - 1
    z = torch.cat([torch.zeros(16, 1, 2), (actions * 0.1).cumsum(1)], 1) + 0.5
    exact = (z[:, 1:] - z[:, :-1]) / 0.1
    assert losses.inverse_dynamics(exact, actions) < 1e-10
    collapsed = torch.zeros_like(z)
    assert losses.inverse_dynamics((collapsed[:, 1:] - collapsed[:, :-1]) / 0.1, actions) > 0.3


def test_temporal_variance_charges_dimensions_that_never_move_within_a_trajectory():
    # two dimensions: one changes from frame to frame (the agent), one is fixed within each
    # trajectory but differs between them (a random wall) — the batch-wise variance term is happy
    # with both, the time-wise one charges the second only
    g = torch.Generator().manual_seed(0)
    moving = torch.randn(64, 8, 1, generator=g) * 3
    layout = (torch.randn(64, 1, 1, generator=g) * 3).expand(64, 8, 1)
    assert losses.variance(torch.cat([moving, layout], -1)) < 0.01
    assert losses.temporal_variance(moving) < 0.05
    assert losses.temporal_variance(layout) > 0.95
