import json

import pytest

from latentspace import LatentModel, LatentspaceError
from latentspace.model.registry import REGISTRY
from latentspace.model.sites import LAYOUTS
from latentspace.model.tiny import make_tiny


def test_unknown_name_lists_known_names_and_local_paths():
    with pytest.raises(LatentspaceError) as err:
        LatentModel.load("smollm3-9b")
    assert all(name in str(err.value) for name in REGISTRY) and "local Hugging Face folder" in str(err.value)


def test_hub_id_while_offline_is_refused_without_trying(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(LatentspaceError, match="HF_HUB_OFFLINE"):
        LatentModel.load("HuggingFaceTB/SmolLM2-135M-Instruct")


@pytest.mark.parametrize("content", [b"", b"GGUF\x03\x00\x00\x00garbage", b"not a gguf at all"])
def test_corrupt_gguf_is_refused(tmp_path, content):
    path = tmp_path / "broken.gguf"
    path.write_bytes(content)
    with pytest.raises(LatentspaceError, match="corrupt or truncated"):
        LatentModel.load(str(path))


def test_local_folder_loads_and_corrupt_safetensors_is_refused(tmp_path):
    model, tok = make_tiny("llama")
    model.save_pretrained(tmp_path)
    tok.save_pretrained(tmp_path)
    lm = LatentModel.load(str(tmp_path))
    assert lm.n_layers == 2 and lm.fingerprint["embed_sha256"] == LatentModel(model, tok).fingerprint["embed_sha256"]
    weights = tmp_path / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    with pytest.raises(LatentspaceError, match="cannot load model folder"):
        LatentModel.load(str(tmp_path))


def test_folder_without_config_is_refused(tmp_path):
    (tmp_path / "x.txt").write_text("hi")
    with pytest.raises(LatentspaceError, match="no config.json"):
        LatentModel.load(str(tmp_path))


@pytest.mark.parametrize("family", ["llama", "qwen2", "gpt2"])
def test_tiny_families_load_fast_and_map_sites_from_the_table(family):
    model, tok = make_tiny(family)
    lm = LatentModel(model, tok)
    assert lm.sites.from_table and lm.n_layers == 2
    assert set(lm.sites.paths(model)) == {"embed", "resid_pre", "resid_post", "attn_out", "mlp_out", "final_norm",
                                          "unembed"}


def test_unknown_family_falls_back_to_name_search(monkeypatch):
    model, tok = make_tiny("llama")
    monkeypatch.delitem(LAYOUTS, "llama")
    lm = LatentModel(model, tok)
    assert not lm.sites.from_table
    assert lm.sites.paths(model)["resid_post"] == "model.layers.0"
    assert lm.sites.paths(model)["final_norm"] == "model.norm"


def test_tiny_models_are_reproducible():
    a, _ = make_tiny("llama", seed=5)
    b, _ = make_tiny("llama", seed=5)
    assert json.dumps(LatentModel(a, _).fingerprint) == json.dumps(LatentModel(b, _).fingerprint)


def test_folder_with_missing_weights_is_refused(tmp_path):
    from safetensors.torch import load_file, save_file

    model, tok = make_tiny("llama")
    model.save_pretrained(tmp_path)
    tok.save_pretrained(tmp_path)
    weights = load_file(tmp_path / "model.safetensors")
    save_file({k: v for k, v in weights.items() if "layers.1." not in k}, tmp_path / "model.safetensors",
              metadata={"format": "pt"})
    with pytest.raises(LatentspaceError, match="incomplete"):
        LatentModel.load(str(tmp_path))
