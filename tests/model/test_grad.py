"""`frozen`: no parameter learns inside, and every flag is back after — also when the body raises."""

import pytest
import torch

from latentspace.model.grad import frozen


def test_frozen_freezes_every_model_and_restores_each_flag_even_on_error():
    first, second = torch.nn.Linear(2, 2), torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Linear(3, 1))
    first.bias.requires_grad_(False)  # a flag the caller set: restored as it was, not to True
    second.eval()
    flags = [p.requires_grad for m in (first, second) for p in m.parameters()]
    with pytest.raises(RuntimeError, match="body"):
        with frozen(first, second):
            assert not any(p.requires_grad for m in (first, second) for p in m.parameters())
            raise RuntimeError("body")
    assert [p.requires_grad for m in (first, second) for p in m.parameters()] == flags
    assert first.training and not second.training  # the mode is left as it was


def test_frozen_model_passes_gradients_to_its_inputs_only():
    model = torch.nn.Linear(3, 1)
    x = torch.ones(1, 3, requires_grad=True)
    with frozen(model):
        model(x).sum().backward()
    assert x.grad is not None and model.weight.grad is None and model.weight.requires_grad
