"""A saved state whose parts disagree is refused in one line when loaded, not mid-forward."""

import pytest
from safetensors.torch import load_file, save_file

from latentspace.errors import LatentspaceError
from latentspace.model.state import LatentState
from tests.conftest import tiny_lm


def test_a_cache_shorter_than_its_mask_is_refused(tmp_path):
    lm = tiny_lm("llama")
    path = lm.encode("hello there").save(tmp_path / "s.safetensors", lm.fingerprint)
    assert LatentState.load(path, lm.fingerprint).length == 11
    tensors = load_file(str(path))
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        header = f.metadata()
    for key in [k for k in tensors if k.startswith("kv.")]:
        tensors[key] = tensors[key][:, :, :5].contiguous()
    save_file(tensors, str(path), metadata=header)
    with pytest.raises(LatentspaceError, match="the saved cache holds 5 slots but its mask 11"):
        LatentState.load(path, lm.fingerprint)
    del tensors["logits"]
    save_file(tensors, str(path), metadata=header)
    with pytest.raises(LatentspaceError, match="has no 'logits'"):
        LatentState.load(path, lm.fingerprint)
