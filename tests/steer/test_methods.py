"""Extraction methods recover a direction planted in a tiny model, pointing negative -> positive."""

import pytest
import torch

from latentspace.errors import LatentspaceError
from latentspace.steer import Pair, train_vector
from latentspace.steer.methods import METHODS, get_method, orient_and_scale
from tests.conftest import tiny_lm

CONTEXTS = ["the cat", "a dog ran", "hello there", "we went home", "it is late", "blue sky", "one two",
            "green tea", "my desk", "open door", "quiet room", "red car"]
PLANTED = [("A", "a", 0.6), ("B", "b", 1.0), ("C", "c", 1.4), ("D", "d", 1.8)]  # (positive, negative, size)


def planted():
    """A tiny Llama whose tokens A/a, B/b... differ only along one direction v (by ±size·v)."""
    lm = tiny_lm("llama", initializer_range=0.02)
    v = torch.nn.functional.normalize(torch.randn(lm.hidden_size, generator=torch.Generator().manual_seed(1)), dim=0)
    emb = lm.model.get_input_embeddings().weight
    with torch.no_grad():
        for up, down, size in PLANTED:
            i, j = lm.tokenizer.convert_tokens_to_ids([up, down])
            middle = (emb[i] + emb[j]) / 2
            emb[i], emb[j] = middle + size * v, middle - size * v
    pairs = [Pair(f"{c} {up}", f"{c} {down}") for c in CONTEXTS for up, down, _ in PLANTED]
    return lm, v, pairs


@pytest.mark.parametrize("method", sorted(METHODS))
def test_methods_recover_a_planted_direction_with_its_sign(method):
    lm, v, pairs = planted()
    vec = train_vector(lm, pairs, method=method, layers=[0, 1])
    for layer in (0, 1):
        cos = float(torch.nn.functional.cosine_similarity(vec[layer], v, dim=0))
        assert cos >= 0.95, (method, layer, cos)  # positive: the sign points from negative to positive


def test_pca_sign_follows_the_majority_of_pairs_not_the_svd():
    torch.manual_seed(0)
    v = torch.nn.functional.normalize(torch.randn(16), dim=0)
    size = torch.linspace(0.5, 2.0, 20)[:, None]
    neg = torch.randn(20, 16) * 0.05
    pos = neg + size * v
    for name in ("pca_diff", "pca_center"):
        raw = get_method(name)(pos, neg)
        for flipped in (raw, -raw):  # whatever sign the decomposition returned
            out = orient_and_scale(flipped, pos, neg)
            assert float(out @ v) > 0


def test_orientation_ties_follow_the_mean_and_no_direction_is_refused():
    v = torch.tensor([1.0, 0.0])
    neg = torch.zeros(4, 2)
    pos = torch.tensor([[1.0, 0], [1.0, 0], [-3.0, 0], [-3.0, 0]])  # 2 ahead, 2 behind: a tie
    assert float(orient_and_scale(v, pos, neg)[0]) < 0  # the mean (-1) decides
    with pytest.raises(LatentspaceError, match="no direction"):
        orient_and_scale(torch.zeros(2), pos, neg)
    with pytest.raises(LatentspaceError, match="do not separate"):
        orient_and_scale(torch.tensor([0.0, 1.0]), pos, neg)


def test_scale_is_the_mean_separation_for_every_method():
    torch.manual_seed(0)
    v = torch.nn.functional.normalize(torch.randn(8), dim=0)
    neg = torch.randn(30, 8) * 0.01
    size = torch.linspace(2.0, 4.0, 30)[:, None]  # pca_diff needs the differences to vary
    pos = neg + size * v
    for name in METHODS:
        out = orient_and_scale(get_method(name)(pos, neg), pos, neg)
        assert abs(float(out.norm()) - 3.0) < 0.05, name


def test_unknown_method_and_bad_options_are_one_line_errors():
    with pytest.raises(LatentspaceError, match="unknown steering method 'svd'; valid: "):
        get_method("svd")
    with pytest.raises(LatentspaceError, match="bad option for method 'mean_diff'"):
        get_method("mean_diff", l2=1.0)


def test_best_layer_is_the_one_where_a_held_out_probe_separates_the_pairs():
    from latentspace.steer.train import best_layer

    torch.manual_seed(0)
    v = torch.nn.functional.normalize(torch.randn(16), dim=0)
    topics = torch.randn(40, 16)
    pos = {3: topics + 0.02 * torch.randn(40, 16), 7: topics + 2.0 * v, 9: topics + 0.3 * v + 0.5 * torch.randn(40, 16)}
    neg = {3: topics + 0.02 * torch.randn(40, 16), 7: topics, 9: topics}
    chosen, scores = best_layer(pos, neg)
    assert chosen == 7
    by = {s["layer"]: s for s in scores}
    assert by[7]["probe_accuracy"] > by[3]["probe_accuracy"] + 0.2, by


def test_best_layer_through_train_vector_is_recorded():
    lm, v, pairs = planted()
    vec = train_vector(lm, pairs, method="mean_diff", layers="best")
    assert len(vec) == 1 and vec.meta["layers"] == vec.layers
    assert [s["layer"] for s in vec.meta["layer_scores"]] == [0, 1]  # 2 layers: no inner ones to prefer


def test_layers_out_of_range_and_too_few_pairs_are_refused():
    lm, _, pairs = planted()
    with pytest.raises(LatentspaceError, match="layer 5 out of range: valid 0..1"):
        train_vector(lm, pairs, layers=[5])
    with pytest.raises(LatentspaceError, match="at least 2"):
        train_vector(lm, pairs[:1], layers=[0])


def test_a_direction_read_from_a_saved_probe_points_like_the_planted_one(tmp_path):
    from latentspace.lens.probes import fit_probe
    from latentspace.steer import from_probe
    from latentspace.steer.reading import read_pairs

    lm, v, pairs = planted()
    pos, neg = read_pairs(lm, pairs, [1])
    x = torch.cat([pos[1], neg[1]])
    probe, score = fit_probe(x, ["up"] * len(pos[1]) + ["down"] * len(neg[1]), "classification")
    assert score.test == 1.0
    path = probe.save(tmp_path / "p.safetensors", lm.fingerprint, {"layer": 1, "site": "resid_post"})
    vec = from_probe(lm, path, positive="up")
    assert vec.layers == [1] and float(vec[1].norm()) == pytest.approx(1.0, abs=1e-5)
    # a standardised probe weighs quiet dimensions more, so it is not v itself; but it must point
    # towards "up" and separate every pair the right way
    assert float(vec[1] @ v) > 0 and bool(((pos[1] - neg[1]) @ vec[1] > 0).all())
    assert bool(((pos[1] - neg[1]) @ from_probe(lm, path, positive="down")[1] < 0).all())
    with pytest.raises(LatentspaceError, match="class 'sideways' is not one of"):
        from_probe(lm, path, positive="sideways")
