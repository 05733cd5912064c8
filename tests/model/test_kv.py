import pytest
import torch

from latentspace import LatentspaceError
from latentspace.model import kv
from latentspace.model.state import LatentState
from tests.conftest import tiny_lm


def test_save_load_gives_identical_next_logits(lm, tmp_path):
    state = lm.encode(["Remember this sentence.", "And this one"])
    state = lm.step(state, lm.align(state.hidden, "norm"))
    state.save(tmp_path / "s.safetensors", lm.fingerprint, meta={"note": "x"})
    loaded = LatentState.load(tmp_path / "s.safetensors", lm.fingerprint)
    token = torch.tensor([[65], [66]])
    after_loaded = lm.feed(loaded, token)
    after_orig = lm.feed(state, token)
    assert torch.equal(after_loaded.logits, after_orig.logits)
    assert torch.equal(after_loaded.hidden, after_orig.hidden)


def test_loading_into_another_model_is_refused_naming_both(tmp_path):
    one, other = tiny_lm("llama", seed=0), tiny_lm("llama", seed=1)
    one.encode("Hello").save(tmp_path / "s.safetensors", one.fingerprint)
    with pytest.raises(LatentspaceError, match=r"saved from \[llama .*\], not the loaded \[llama"):
        LatentState.load(tmp_path / "s.safetensors", other.fingerprint)


def test_corrupt_or_missing_file_is_refused(llama, tmp_path):
    path = tmp_path / "s.safetensors"
    llama.encode("Hello").save(path, llama.fingerprint)
    path.write_bytes(path.read_bytes()[:50])
    with pytest.raises(LatentspaceError, match="corrupt"):
        LatentState.load(path, llama.fingerprint)
    with pytest.raises(LatentspaceError, match="no saved state"):
        LatentState.load(tmp_path / "missing.safetensors", llama.fingerprint)


def test_truncate_select_and_concat_reproduce_prefix_runs(llama):
    ids, _ = llama.tokenize("abcdefgh")
    full = llama.forward(ids, cache=kv.new_cache())
    cache = kv.output_cache(full)
    # truncating to 5 positions then feeding token 5 equals the full run's logits at position 5
    short = kv.truncate(cache, 5)
    nxt = llama.forward(ids[:, 5:6], cache=short, position_ids=torch.tensor([[5]]))
    # (1e-4: a one-position matmul and the full one round differently, ~1e-5 on some CPUs)
    torch.testing.assert_close(nxt.logits[0, -1], full.logits[0, 5], atol=1e-4, rtol=0)
    # selecting every position is a copy; concatenating two halves rebuilds the whole
    assert all(torch.equal(a[0], b[0]) for a, b in zip(kv.to_tensors(kv.select(cache, range(8))), kv.to_tensors(cache)))
    halves = kv.concat([kv.select(cache, range(4)), kv.select(cache, range(4, 8))])
    assert all(torch.equal(a[1], b[1]) for a, b in zip(kv.to_tensors(halves), kv.to_tensors(cache)))
    # the original cache is untouched by all of it
    assert kv.seq_length(cache) == 8
    with pytest.raises(LatentspaceError):
        kv.truncate(cache, 9)


def test_clone_is_independent(llama):
    state = llama.encode("Hello")
    copy = kv.clone(state.cache)
    llama.feed(state, torch.tensor([[65]]))
    assert kv.seq_length(copy) == state.length
