"""A steered forward whose residual stream overflows or collapses is refused, naming vector and strength."""

import pytest
import torch

from latentspace.errors import LatentspaceError
from latentspace.steer import SteeringVector
from tests.cli.test_cli import run_here
from tests.conftest import tiny_lm


@pytest.fixture
def lm():
    return tiny_lm("llama")  # the registry's "tiny" is the same model


def vector(lm, value, layer=0):
    return SteeringVector({layer: torch.full((lm.hidden_size,), value)}, lm.fingerprint, {"concept": "big"})


@pytest.mark.parametrize("value, strength", [(1.0, 1e38), (1e30, 1.0), (1e18, 10.0), (1.0, -1e19)])
def test_an_overflowing_strength_is_refused_in_python(lm, value, strength):
    plain = lm.generate("hi", max_new_tokens=4)
    with pytest.raises(LatentspaceError, match=r"steering with v\.st at strength .* overflows the residual stream"):
        with vector(lm, value).apply(lm, strength, name="v.st"):
            lm.generate("hi", max_new_tokens=4)
    assert lm.generate("hi", max_new_tokens=4) == plain  # every hook is gone after the refusal


def test_a_large_but_representable_strength_still_steers(lm):
    with vector(lm, 1.0).apply(lm, 1e10):
        assert lm.encode("hi").logits.std() > 0


def test_a_collapsed_stream_is_refused_by_its_logits(lm):
    from latentspace.model.hooks import Intervention
    from latentspace.steer.adding import degenerate_logits_guard

    guard = degenerate_logits_guard("a test vector at strength 3")
    with lm.hooks(interventions=[guard]):
        lm.encode("hi")  # real logits pass
    zero = Intervention("final_norm", None, "fn", lambda h: torch.zeros_like(h))  # what RMSNorm gives an inf
    with pytest.raises(LatentspaceError, match="a test vector at strength 3 collapses the residual stream"):
        with lm.hooks(interventions=[zero, guard]):
            lm.encode("hi")


def test_the_cli_refuses_it_in_one_line(tmp_path, capsys, monkeypatch):
    lm = tiny_lm("llama")
    for name, value in (("huge.safetensors", 1e17), ("large.safetensors", 1e18)):
        vector(lm, value).save(tmp_path / name)
    cases = [  # up front (strength x vector past float range), and while the model runs (squares overflow)
        ["generate", "hi", "-m", "tiny", "--steer", str(tmp_path / "huge.safetensors"), "--strength", "1000"],
        ["think", "hi", "-m", "tiny", "--mode", "continuous", "--steer", str(tmp_path / "large.safetensors"),
         "--strength", "10", "--json"],
    ]
    for args in cases:
        out = run_here(capsys, monkeypatch, *args)
        assert out.returncode == 2, out
        assert "overflows the residual stream" in out.stderr and ".safetensors at strength 1" in out.stderr, out
        assert len(out.stderr.strip().splitlines()) == 1 and out.stdout.strip() == ""
    for strength in ("1e38", "nan", "inf"):
        out = run_here(capsys, monkeypatch, "generate", "hi", "-m", "tiny", "--steer", str(tmp_path / "huge.safetensors"),
                       "--strength", strength)
        assert out.returncode == 2 and "--strength" in out.stderr, out
