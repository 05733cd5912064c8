import pytest
import torch

from latentspace import LatentspaceError
from latentspace.lens.probes import LinearProbe, fit_probe, probe_layers


def _planted(n=400, d=64, seed=0):
    gen = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 2, (n,), generator=gen)
    direction = torch.randn(d, generator=gen)
    x = torch.randn(n, d, generator=gen) * 2 + labels[:, None] * direction
    return x, ["yes" if v else "no" for v in labels.tolist()], labels, direction


def test_probe_recovers_a_planted_feature_and_the_control_does_not():
    x, y, _, _ = _planted()
    probe, score = fit_probe(x, y)
    assert score.task == "classification"
    assert score.test >= 0.95
    assert abs(score.control - 0.5) < 0.15


def test_ridge_probe_recovers_a_planted_value_and_the_control_does_not():
    x, _, _, direction = _planted()
    values = [float(v) for v in (x @ direction).tolist()]
    _, score = fit_probe(x, values)
    assert score.task == "regression" and score.test > 0.95 and score.control < 0.2


def test_probe_save_load_round_trip(tmp_path):
    x, y, _, _ = _planted()
    probe, _ = fit_probe(x, y)
    fp = {"architecture": "x", "model_type": "x", "n_layers": 1, "hidden_size": 64, "vocab_size": 1,
          "embed_sha256": "0"}
    probe.save(tmp_path / "p.safetensors", fp)
    loaded = LinearProbe.load(tmp_path / "p.safetensors", fp)
    assert loaded.predict(x[:20]) == probe.predict(x[:20])


def test_wrong_number_of_labels_is_refused(llama):
    with pytest.raises(LatentspaceError, match="3 labels for 2 texts"):
        probe_layers(llama, ["a", "b"], [1, 0, 1])
    with pytest.raises(LatentspaceError, match="labels for"):
        fit_probe(torch.zeros(5, 4), ["a", "b"])


def test_probe_layers_on_a_model_separates_two_kinds_of_text(llama):
    texts = [f"{w} {i}" for i in range(20) for w in ("aaaa", "zzzz")]
    labels = ["a" if t.startswith("a") else "z" for t in texts]
    scores, probe, best = probe_layers(llama, texts, labels, position="mean")
    assert len(scores) == llama.n_layers and scores[best].test == 1.0
