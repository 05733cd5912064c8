"""Hostile input to training: divergence stops at once and saves nothing non-finite, a NaN
checkpoint is never resumed, every setting has a declared range, bad files and paths are one line."""

import json
import math

import pytest
import torch

from latentspace import LatentspaceError
from latentspace.core import named
from latentspace.core.finite import NonFiniteError
from latentspace.train.profiles import Profile, get_profile
from latentspace.train.recipes import RECIPES, get_recipe
from latentspace.train.run import TrainRun
from latentspace.train.trainer import train
from tests.cli.test_cli import one_line_exit_2
from tests.steer.test_steer_cli import run  # noqa: F401 (the in-process CLI fixture)

SMALL = ["--set", "n_train=8", "--set", "batch_size=4", "--set", "n_valid=2", "--set", "n_test=2",
         "--set", "epochs=1", "--quiet"]


def all_finite(folder):
    from safetensors.torch import load_file

    return all(bool(torch.isfinite(t).all()) for f in folder.glob("*.safetensors") for t in load_file(f).values())


def test_every_numeric_option_of_every_recipe_and_run_has_a_declared_range():
    from latentspace.lens.tuned_train import TunedLensConfig

    for cls in [*RECIPES.values(), TrainRun, Profile, TunedLensConfig]:
        assert named.undeclared_numbers(cls) == [], cls


def test_a_diverging_learning_rate_stops_at_the_first_nan_loss_and_saves_nothing(run, tmp_path):
    out = tmp_path / "run"
    done = run("train", "cot", *SMALL, "--set", "lr=1e30", "--out", str(out))
    one_line_exit_2(done, "at step 2", "check lr=1e+30")  # step 1 is computed before any update
    assert not out.exists()  # a folder this run made: nothing left (no checkpoint, no data, no temp file)


def test_weights_that_overflow_after_the_last_update_are_not_saved(run, tmp_path):
    # one step per epoch: the loss of that step is finite, the update makes weights of ~1e30 that are
    # finite too, but the model's output overflows -- caught before the checkpoint, not at evaluation
    out = tmp_path / "run"
    one_line_exit_2(run("train", "nocot", *SMALL, "--set", "n_train=4", "--set", "lr=1e30", "--out", str(out)),
                    "at step 2", "check lr=1e+30")
    assert not out.exists()


def test_divergence_in_the_python_api_raises_nonfinite_and_keeps_the_checkpoint_finite(tmp_path):
    profile = get_profile("smoke")
    recipe = get_recipe("coconut", **{**profile.recipe_options["coconut"], "epochs": 2})
    extra = {"n_train": 8, "batch_size": 4, "n_valid": 2, "n_test": 2}
    train(TrainRun(recipe, "prosqa", profile, tmp_path, extra=extra), progress=False, until_epoch=0)
    with pytest.raises(LatentspaceError, match="was trained with"):  # another lr is another run
        train(TrainRun(recipe, "prosqa", profile, tmp_path, extra={**extra, "lr": 1e30}), progress=False)
    fresh = tmp_path / "fresh"
    with pytest.raises(NonFiniteError, match="lr=1e"):
        train(TrainRun(recipe, "prosqa", profile, fresh, extra={**extra, "lr": 1e30}), progress=False)
    assert all_finite(tmp_path / "checkpoint") and not (fresh / "checkpoint").exists()


def test_a_non_finite_checkpoint_is_not_resumed(run, tmp_path):
    from safetensors.torch import load_file, save_file

    out = tmp_path / "run"
    args = ["train", "nocot", *SMALL, "--set", "epochs=2", "--out", str(out)]
    assert run(*args, "--until-epoch", "0").returncode == 0
    weights = out / "checkpoint" / "model.safetensors"
    tensors = load_file(weights)
    first = next(iter(tensors))
    tensors[first] = torch.full_like(tensors[first], math.nan)  # as an older version could have saved it
    save_file(tensors, weights, metadata={"format": "pt"})
    one_line_exit_2(run(*args), "unusable", first)
    assert not (out / "summary.json").exists()


@pytest.mark.parametrize("args,needle", [
    (["--set", "batch_size=0"], "batch_size"),
    (["--set", "lr=NaN"], "lr"),
    (["--set", "lr=1e999"], "lr"),
    (["--set", "lr=-1"], "lr"),
    (["--set", "epochs=-1"], "epochs"),
    (["--set", "n_train=0"], "n_train"),
    (["--set", "n_train=100000000000000000000000"], "n_train"),
    (["--set", "n_valid=2.5"], "n_valid"),
    (["--set", "max_stage=1000000"], "max_stage"),
    (["--set", "mix_prob=2"], "mix_prob"),
    (["--set", "weight_decay=-0.1"], "weight_decay"),
    (["--until-epoch", "-1"], "--until-epoch"),
    (["--seed", str(2**64)], "--seed"),
    (["--task", ""], "--task"),
])
def test_out_of_range_run_settings_are_refused_before_any_file(run, tmp_path, args, needle):
    out = tmp_path / "run"
    one_line_exit_2(run("train", "coconut", *SMALL, *args, "--out", str(out)), needle)
    assert not out.exists()


def test_out_of_range_settings_are_refused_from_python_too(tmp_path):
    profile = get_profile("smoke")
    with pytest.raises(LatentspaceError, match="batch_size"):
        train(TrainRun(get_recipe("cot"), "prosqa", profile, tmp_path / "r", extra={"batch_size": 0}), progress=False)
    with pytest.raises(LatentspaceError, match="eval_batch_size"):
        train(TrainRun(get_recipe("cot"), "prosqa", profile, tmp_path / "r", eval_batch_size=0), progress=False)
    assert not (tmp_path / "r").exists()


def test_bad_files_and_paths_are_one_line(run, tmp_path):
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"\xff\xfe\x00lr: 1")
    task = tmp_path / "task.jsonl"
    task.write_bytes(b'{"question": "\xff", "answer": "1"}\n')
    surrogate = tmp_path / "surrogate.jsonl"
    surrogate.write_text('{"question": "a \\ud800", "answer": "1", "steps": ["s"]}\n')
    one_line_exit_2(run("train", "cot", *SMALL, "--out", str(a_file)), "not a folder")
    one_line_exit_2(run("train", "cot", *SMALL, "--out", str(tmp_path / "no" / "such" / "run")), "does not exist")
    one_line_exit_2(run("train", "cot", *SMALL, "--config", str(binary), "--out", str(tmp_path / "r")), "not UTF-8")
    one_line_exit_2(run("train", "cot", *SMALL, "--task", str(task), "--out", str(tmp_path / "r")), "not UTF-8")
    one_line_exit_2(run("train", "cot", *SMALL, "--task", str(surrogate), "--out", str(tmp_path / "r")), "surrogate")
    one_line_exit_2(run("train", "table", "--recipes", "", "--out", str(tmp_path / "t")), "--recipes")
    one_line_exit_2(run("train", "table", "--recipes", " , ", "--out", str(tmp_path / "t")), "--recipes")
    one_line_exit_2(run("train", "table", "--set", "batch_size=0", "--out", str(tmp_path / "t")), "batch_size")
    assert not (tmp_path / "t").exists()


def test_damaged_run_files_are_one_line(run, tmp_path):
    out = tmp_path / "run"
    assert run("train", "nocot", *SMALL, "--out", str(out)).returncode == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["test_n"] == 2 and not list(out.rglob(".*.tmp"))
    (out / "checkpoint" / "state.json").write_text("{not json")
    one_line_exit_2(run("train", "nocot", *SMALL, "--out", str(out)), "damaged")
    (out / "data" / "spec.json").write_bytes(b"\xff")
    one_line_exit_2(run("train", "nocot", *SMALL, "--out", str(out)), "not UTF-8")
