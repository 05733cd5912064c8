"""Vectors as values and files: arithmetic, safetensors and llama.cpp GGUF round trips, refusals."""

import json

import numpy as np
import pytest
import torch

from latentspace.errors import LatentspaceError
from latentspace.steer import SteeringVector, export_gguf, import_gguf
from tests.conftest import tiny_lm


def vec(lm, layers=(1,), seed=0):
    g = torch.Generator().manual_seed(seed)
    return SteeringVector({i: torch.randn(lm.hidden_size, generator=g) for i in layers}, lm.fingerprint,
                          {"method": "mean_diff", "concept": "test"})


def test_arithmetic_returns_new_vectors_and_merges_layers(llama):
    a, b = vec(llama, (0, 1), seed=1), vec(llama, (1,), seed=2)
    s = a + b
    assert s.layers == [0, 1]
    assert torch.equal(s[0], a[0]) and torch.allclose(s[1], a[1] + b[1])
    assert torch.allclose((a - b)[1], a[1] - b[1]) and torch.allclose((-a)[0], -a[0])
    assert torch.allclose((2 * a)[0], a[0] * 2) and torch.allclose((a / 4)[1], a[1] / 4)
    assert torch.allclose(a.normalized()[0].norm(), torch.tensor(1.0))
    assert a.cosine(a)[0] == pytest.approx(1.0)
    assert torch.equal(a[0], vec(llama, (0, 1), seed=1)[0])  # operands untouched
    with pytest.raises(LatentspaceError, match="divide a steering vector by zero"):
        a / 0
    total = sum([a, b, a])
    assert torch.allclose(total[1], 2 * a[1] + b[1]) and total.meta["concept"] == "test + test + test"
    assert a.select([1]).meta["layers"] == [1] and a.meta.get("layers") is None
    with pytest.raises(LatentspaceError, match="steering layers are integers"):
        SteeringVector({"one": torch.ones(64)})


def test_safetensors_round_trip_and_another_model_is_refused(llama, tmp_path):
    a = vec(llama, (0, 1))
    path = a.save(tmp_path / "v.safetensors")
    back = SteeringVector.load(path, llama)
    assert back.layers == a.layers and all(torch.equal(back[i], a[i]) for i in a.layers)
    assert back.meta["concept"] == "test"
    other = tiny_lm("llama", seed=3)
    with pytest.raises(LatentspaceError, match=r"saved from \[llama .*emb=.*\], not the loaded \[llama .*emb="):
        SteeringVector.load(path, other)
    gpt2 = tiny_lm("gpt2")
    with pytest.raises(LatentspaceError, match="saved from"):
        SteeringVector.load(path, gpt2)


def test_gguf_round_trip_is_exact_and_in_llama_cpp_layout(llama, tmp_path):
    import gguf

    a = vec(llama, (1,))
    path = export_gguf(a, tmp_path / "v.gguf")
    reader = gguf.GGUFReader(str(path))
    arch = bytes(reader.fields["general.architecture"].parts[-1]).decode()
    assert arch == "controlvector"
    assert bytes(reader.fields["controlvector.model_hint"].parts[-1]).decode() == "llama"
    assert [t.name for t in reader.tensors] == ["direction.1"]
    assert reader.tensors[0].tensor_type == gguf.GGMLQuantizationType.F32
    back = import_gguf(path, llama)
    assert back.layers == [1] and torch.equal(back[1], a[1])
    assert back.meta["concept"] == "test"


def test_gguf_refuses_layer_zero_other_architectures_and_other_models(llama, tmp_path):
    with pytest.raises(LatentspaceError, match="cannot steer layer 0"):
        export_gguf(vec(llama, (0, 1)), tmp_path / "bad.gguf")
    path = export_gguf(vec(llama, (1,)), tmp_path / "v.gguf")
    with pytest.raises(LatentspaceError, match="made for a 'llama' model; the loaded model is 'gpt2'"):
        import_gguf(path, tiny_lm("gpt2"))
    with pytest.raises(LatentspaceError, match="saved from"):
        import_gguf(path, tiny_lm("llama", seed=3))  # same architecture, other weights
    model_file = tmp_path / "model.gguf"
    import gguf

    w = gguf.GGUFWriter(str(model_file), "llama")
    w.add_tensor("token_embd.weight", np.zeros((4, 64), dtype=np.float32))
    w.write_header_to_file(), w.write_kv_data_to_file(), w.write_tensors_to_file(), w.close()
    with pytest.raises(LatentspaceError, match="is a llama GGUF, not a control vector"):
        import_gguf(model_file, llama)
    (tmp_path / "junk.gguf").write_bytes(b"not a gguf at all")
    with pytest.raises(LatentspaceError, match="cannot read junk.gguf"):
        import_gguf(tmp_path / "junk.gguf", llama)


def test_a_foreign_control_vector_without_our_keys_imports_by_hint_and_size(llama, tmp_path):
    import gguf

    path = tmp_path / "foreign.gguf"
    w = gguf.GGUFWriter(str(path), "controlvector")
    w.add_string("controlvector.model_hint", "llama")
    w.add_uint32("controlvector.layer_count", 1)
    w.add_tensor("direction.1", np.arange(64, dtype=np.float32))
    w.write_header_to_file(), w.write_kv_data_to_file(), w.write_tensors_to_file(), w.close()
    back = import_gguf(path, llama)
    assert torch.equal(back[1], torch.arange(64, dtype=torch.float32))
    bad = tmp_path / "small.gguf"
    w = gguf.GGUFWriter(str(bad), "controlvector")
    w.add_string("controlvector.model_hint", "llama")
    w.add_tensor("direction.1", np.zeros(10, dtype=np.float32))
    w.write_header_to_file(), w.write_kv_data_to_file(), w.write_tensors_to_file(), w.close()
    with pytest.raises(LatentspaceError, match=r"directions of size \[10\]; the model's is 64"):
        import_gguf(bad, llama)


def test_meta_survives_as_json(llama, tmp_path):
    a = vec(llama)
    from safetensors import safe_open

    with safe_open(str(a.save(tmp_path / "v.safetensors")), "pt") as f:
        header = f.metadata()
    assert header["kind"] == "steering_vector" and json.loads(header["meta"])["method"] == "mean_diff"
