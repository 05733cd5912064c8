"""Shared fixtures. Tests never touch a hub and never write into the user's own cache."""

import os
import shutil
import tempfile

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
_HOME = tempfile.mkdtemp(prefix="latentspace-test-home-")
os.environ["LATENTSPACE_HOME"] = _HOME


def pytest_unconfigure(config):
    shutil.rmtree(_HOME, ignore_errors=True)


def tiny_lm(family: str = "llama", **kwargs):
    """A fresh LatentModel over a tiny random model (loads in milliseconds)."""
    from latentspace import LatentModel
    from latentspace.model.tiny import make_tiny

    model, tok = make_tiny(family, **kwargs)
    return LatentModel(model, tok, f"tiny-{family}")


@pytest.fixture(params=["llama", "gpt2"])
def lm(request):
    """A tiny model of each family whose padding behaviour differs (rotary vs absolute positions)."""
    # a larger init spreads the logits, so greedy decoding does not repeat one token forever
    return tiny_lm(request.param, initializer_range=0.3)


@pytest.fixture
def llama():
    return tiny_lm("llama", initializer_range=0.3)


@pytest.fixture(scope="session")
def smollm2():
    """The real bundled model (converted once per test session into a temporary home)."""
    from latentspace import LatentModel

    return LatentModel.load("smollm2-135m", show_progress=False)
