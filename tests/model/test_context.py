"""Text becomes ids in one place (`LatentModel.token_ids` / `tokenize`): text longer than the context
and text that is not valid Unicode are refused there, before any forward pass, by every command."""

import pytest

from latentspace.errors import LatentspaceError
from latentspace.model.latent_model import LatentModel
from tests.cli.test_cli import run_here
from tests.conftest import tiny_lm

LONG = "x" * 1100  # the byte tokenizer: 1100 tokens; the tiny models have 1024 positions


@pytest.fixture
def lm(monkeypatch):
    lm = tiny_lm("llama")

    def no_pass(*args, **kwargs):
        raise AssertionError("a forward pass ran before the text was checked")

    monkeypatch.setattr(lm, "forward", no_pass)
    return lm


@pytest.mark.parametrize("call", [
    lambda lm: lm.tokenize(LONG),
    lambda lm: lm.encode(["short", LONG]),
    lambda lm: lm.encode(LONG, chat=True),
    lambda lm: lm.record(LONG, [("resid_post", 0)]),
    lambda lm: lm.token_ids(LONG),
])
def test_text_over_the_context_is_refused_before_any_pass(lm, call):
    with pytest.raises(LatentspaceError, match="text is 11[0-9][0-9] tokens; the model's context is 1024 positions"):
        call(lm)


def test_reasoning_refuses_it_before_thinking(lm):
    from latentspace.reason import get_reasoner

    with pytest.raises(LatentspaceError, match="the model's context is 1024 positions"):
        get_reasoner("soft").run(lm, LONG)


@pytest.mark.parametrize("call", [lambda lm: lm.tokenize("a\ud800b"), lambda lm: lm.token_ids("\udcff")])
def test_a_lone_surrogate_is_refused(lm, call):
    with pytest.raises(LatentspaceError, match="not valid Unicode"):
        call(lm)


def test_a_fitting_text_still_reads():
    lm = tiny_lm("llama")
    ids, mask = lm.tokenize(["ab", "abcd"])
    assert ids.shape == (2, 4) and mask.tolist() == [[0, 0, 1, 1], [1, 1, 1, 1]]
    assert lm.encode("x" * 1000).next_position.tolist() == [1000]
    assert isinstance(lm, LatentModel)


def test_every_command_refuses_it_up_front(tmp_path, capsys, monkeypatch):
    text = tmp_path / "long.txt"
    text.write_text(LONG)
    cases = [
        ["generate", LONG, "-m", "tiny"],
        ["think", LONG, "-m", "tiny"],
        ["lens", LONG, "-m", "tiny"],
        ["agents", LONG, "-m", "tiny"],
        ["memory", "add", str(text), "-m", "tiny", "--store", str(tmp_path / "store")],
    ]
    for args in cases:
        out = run_here(capsys, monkeypatch, *args)
        assert out.returncode == 2, (args[0], out)
        assert "the model's context is 1024 positions" in out.stderr, (args[0], out.stderr)
        assert len(out.stderr.strip().splitlines()) == 1
