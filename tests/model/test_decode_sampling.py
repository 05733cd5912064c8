"""Sampling at any temperature the CLI and the server accept (issue 37's review: a hostile-input draw found it)."""

import torch

from latentspace.model.decode import pick_next


def test_a_tiny_temperature_samples_the_top_token_instead_of_nan():
    logits = torch.tensor([[1.0, 3.0, 2.0], [0.5, -1.0, 0.0]])
    for temperature in (5e-324, 1e-300, 1e-40, 1e-8):  # the first ones round to 0 in float32
        for top_p in (1.0, 0.5):
            picked = pick_next(logits, temperature, top_p, torch.Generator().manual_seed(0))
            assert picked.tolist() == [1, 0]
