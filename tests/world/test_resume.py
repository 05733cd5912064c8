"""World training resumes exactly (issue 36): killed and resumed = uninterrupted, bit for bit; a
checkpoint is one unit (a save cut short leaves the previous one whole); a torn one is refused;
``--seed`` seeds the initial weights."""

import shutil
from pathlib import Path

import pytest
import torch

from latentspace.core import step_checkpoint
from latentspace.errors import LatentspaceError
from latentspace.world import RoomsConfig, TrainConfig, build, make_trajectories, train_world

SETTINGS = {"latent": 8, "width": 8, "hidden": 16}
CONFIG = TrainConfig(steps=6, batch_size=4, window=2, save_every=2)


class Killed(BaseException):
    """Stands for a kill: not an Exception, so nothing on the way catches it."""


def stop_at(step: int):
    def progress(done, total, terms):
        if done == step:
            raise Killed

    return progress


@pytest.fixture(scope="module")
def data():
    return make_trajectories(RoomsConfig(size=16), 6, 6, seed=0)


def fresh():
    return build("jepa", 16, SETTINGS, seed=0)


def same_weights(a, b) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_one_seed_gives_identical_initial_weights_and_another_seed_does_not():
    torch.manual_seed(123)  # whatever the global generator held before
    first = build("jepa", 16, SETTINGS, seed=5)
    torch.rand(10)
    assert same_weights(first, build("jepa", 16, SETTINGS, seed=5))
    assert not same_weights(first, build("jepa", 16, SETTINGS, seed=6))


def test_killed_and_resumed_ends_bit_identical_to_an_uninterrupted_run(data, tmp_path):
    whole, history = train_world(fresh(), data, CONFIG, out=tmp_path / "whole")
    with pytest.raises(Killed):  # killed at step 3: the checkpoint of step 2 stays
        train_world(fresh(), data, CONFIG, out=tmp_path / "cut", progress=stop_at(3))
    resumed, again = train_world(fresh(), data, CONFIG, out=tmp_path / "cut")
    assert same_weights(resumed, whole)
    assert again == history


def test_a_save_cut_short_leaves_the_previous_checkpoint_whole(data, tmp_path, monkeypatch):
    whole, history = train_world(fresh(), data, CONFIG, out=tmp_path / "whole")
    real, calls = step_checkpoint.files.write_text, []

    def dies_on_second_save(*args, **kwargs):  # at the progress.json of the second save
        calls.append(args[0])
        if [Path(c).name for c in calls].count("progress.json") == 2:
            raise Killed
        return real(*args, **kwargs)

    monkeypatch.setattr(step_checkpoint.files, "write_text", dies_on_second_save)
    with pytest.raises(Killed):
        train_world(fresh(), data, CONFIG, out=tmp_path / "cut")
    monkeypatch.undo()
    assert not (tmp_path / "cut" / "checkpoint.partial").exists()
    assert step_checkpoint.read_json(tmp_path / "cut" / "checkpoint" / "progress.json").get("step") == 2
    resumed, again = train_world(fresh(), data, CONFIG, out=tmp_path / "cut")
    assert same_weights(resumed, whole) and again == history


def test_a_cut_between_the_two_renames_is_rolled_back(data, tmp_path):
    train_world(fresh(), data, TrainConfig(steps=2, batch_size=4, window=2, save_every=2), out=tmp_path / "run")
    (tmp_path / "run" / "checkpoint").rename(tmp_path / "run" / "checkpoint.old")  # killed just before the new one
    assert step_checkpoint.resume(tmp_path / "run", torch.optim.SGD(fresh().parameters(), lr=0.1),
                                  step_checkpoint.Generators(), lambda folder: 2).step == 2


def test_a_checkpoint_torn_between_its_files_is_refused(data, tmp_path):
    short = TrainConfig(steps=4, batch_size=4, window=2, save_every=2)
    train_world(fresh(), data, short, out=tmp_path / "run")
    with pytest.raises(Killed):
        train_world(fresh(), data, short, out=tmp_path / "early", progress=stop_at(3))
    # a step-2 optimizer state beside step-4 weights and progress (a hand-made mix)
    shutil.copy(tmp_path / "early" / "checkpoint" / "state.pt", tmp_path / "run" / "checkpoint" / "state.pt")
    with pytest.raises(LatentspaceError, match="torn"):
        train_world(fresh(), data, short, out=tmp_path / "run")
