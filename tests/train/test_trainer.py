"""Smoke runs: every recipe lowers its loss, checkpoints resume exactly, bad runs are refused."""

import json

import pytest

from latentspace import LatentspaceError
from latentspace.train.profiles import get_profile
from latentspace.train.recipes import get_recipe
from latentspace.train.trainer import TrainRun, train


def _losses(out):
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    return [r["loss"] for r in rows if r["kind"] == "step"]


def _run(recipe, out, **options):
    profile = get_profile("smoke")
    return TrainRun(get_recipe(recipe, **{**profile.recipe_options.get(recipe, {}), **options}), "prosqa",
                    profile, out, extra={"n_train": 16, "batch_size": 4, "n_valid": 4, "n_test": 4})


@pytest.mark.parametrize("recipe", ["cot", "nocot", "coconut", "pause"])
def test_a_smoke_run_lowers_the_training_loss(recipe, tmp_path):
    run = _run(recipe, tmp_path, epochs=4)
    summary = train(run, progress=False)
    losses = _losses(tmp_path)
    first, last = sum(losses[:4]) / 4, sum(losses[-4:]) / 4
    assert last < first, (recipe, losses)
    assert summary["test_n"] == 4 and 0 <= summary["test_accuracy"] <= 1
    assert (tmp_path / "checkpoint" / "model.safetensors").exists()
    assert (tmp_path / "checkpoint" / "state.json").exists()


def test_a_checkpoint_resumes_to_the_identical_next_step_loss(tmp_path):
    # epochs 0-1 train stage 0 and epoch 2 stage 1: the resume restores the optimizer mid-stage,
    # then re-creates it when the stage changes
    whole, resumed = tmp_path / "whole", tmp_path / "resumed"
    train(_run("coconut", whole, epochs=3, epochs_per_stage=2), progress=False)
    paused = train(_run("coconut", resumed, epochs=3, epochs_per_stage=2), progress=False, until_epoch=0)
    assert paused == {"paused_after_epoch": 0} and len(_losses(resumed)) == 4  # 16 items / batch 4
    train(_run("coconut", resumed, epochs=3, epochs_per_stage=2), progress=False)
    assert len(_losses(resumed)) == len(_losses(whole)) == 12
    assert _losses(resumed) == pytest.approx(_losses(whole), abs=1e-6)


def test_a_checkpoint_of_another_recipe_is_refused(tmp_path):
    train(_run("cot", tmp_path, epochs=1), progress=False)
    with pytest.raises(LatentspaceError, match="holds a checkpoint of recipe cot"):
        train(_run("coconut", tmp_path, epochs=1), progress=False)
