"""The prepared GPU run (`benchmarks/gpu_full_prosqa.py`) works end to end at toy size on a CPU."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from latentspace.train.profiles import get_profile

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "gpu_full_prosqa.py"


@pytest.mark.parametrize("profile", ["full", "paper-prosqa"])
def test_the_smoke_run_trains_evaluates_and_resumes(tmp_path, profile):
    cmd = [sys.executable, str(SCRIPT), "--smoke", "--quick", "--profile", profile, "--recipes", "cot",
           "--minutes", "0.02", "--n-eval", "4", "--out", str(tmp_path)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    first = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert first.returncode == 0, first.stderr
    assert "| cot | 0 |" in first.stdout
    again = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)  # resumes after epoch 0
    assert again.returncode == 0, again.stderr
    assert "| cot | 1 |" in again.stdout


def test_paper_prosqa_is_the_superposition_papers_setting():
    p = get_profile("paper-prosqa")
    assert (p.layers, p.hidden, p.heads, p.lr, p.weight_decay, p.hops, p.mixed_precision) == (
        2, 768, 8, 1e-4, 0.01, "3-4", "bf16")
    assert p.recipe_options["coconut"]["epochs"] == 300 and p.recipe_options["coconut"]["epochs_per_stage"] == 25
    assert p.recipe_options["coconut"]["mix_prob"] == 0.1
