import pytest
import torch

from latentspace import LatentspaceError
from latentspace.lens import TunedLens, TunedLensConfig, logit_lens, sample_text, train_tuned_lens
from tests.conftest import tiny_lm


@pytest.fixture(scope="module")
def deep():
    return tiny_lm("llama", layers=4, initializer_range=0.3)


def test_fresh_tuned_lens_equals_logit_lens(deep):
    fresh = TunedLens.for_model(deep)
    a = logit_lens(deep, "hello world", tuned=fresh)[0]
    b = logit_lens(deep, "hello world")[0]
    assert torch.equal(a.top_ids, b.top_ids) and torch.equal(a.top_probs, b.top_probs)


def test_training_lowers_heldout_kl_at_every_intermediate_layer(deep, tmp_path):
    texts = sample_text(deep, n_samples=16, tokens=64, seed=1)
    cfg = TunedLensConfig(steps=60, seq_len=32, batch_size=8, lr=3e-3)
    lens, report = train_tuned_lens(deep, texts, cfg, show_progress=False)
    assert report.heldout_windows >= 3
    for layer in range(deep.n_layers - 1):
        assert report.tuned_kl[layer] < report.logit_kl[layer], (layer, report.tuned_kl, report.logit_kl)
    assert report.logit_kl[-1] == pytest.approx(0, abs=1e-6)
    assert report.tuned_kl[-1] == pytest.approx(0, abs=1e-6), "the last layer must stay the model's own output"
    assert lens.translators[-1].weight.abs().max() == 0
    # the model itself was not trained, and its grad flags are as they were
    assert all(p.requires_grad for p in deep.model.parameters())
    # save -> load reproduces the readings exactly
    lens.save(tmp_path / "lens.safetensors")
    loaded = TunedLens.load(tmp_path / "lens.safetensors", deep)
    a = logit_lens(deep, "some text", tuned=lens)[0]
    b = logit_lens(deep, "some text", tuned=loaded)[0]
    assert torch.equal(a.top_probs, b.top_probs)


def test_lens_for_another_model_is_refused_naming_both(deep, tmp_path):
    TunedLens.for_model(deep).save(tmp_path / "lens.safetensors")
    other = tiny_lm("llama", layers=4, seed=7)
    with pytest.raises(LatentspaceError, match=r"saved from \[llama 4 layers.*\], not the loaded \[llama 4 layers"):
        TunedLens.load(tmp_path / "lens.safetensors", other)


def test_too_little_text_is_refused(deep):
    with pytest.raises(LatentspaceError, match="training text"):
        train_tuned_lens(deep, ["short"], TunedLensConfig(steps=1), show_progress=False)
