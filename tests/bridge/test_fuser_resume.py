"""`bridge train` resumes exactly (issue 36): a fuser run killed and resumed ends bit-identical to an
uninterrupted one — batch order and gate noise included — and a torn checkpoint is refused."""

import shutil

import pytest
import torch

from latentspace.bridge.fuser_train import FuserConfig, train_fuser
from latentspace.errors import LatentspaceError
from latentspace.model.latent_model import LatentModel
from latentspace.model.tiny import make_tiny
from tests.bridge.test_fuser import planted, word_gpt2

CONFIG = FuserConfig(steps=6, batch_size=2, lr=1e-2, hidden=8, save_every=2)


class Killed(BaseException):
    pass


def stop_at(step: int):
    def progress(done, loss):
        if done == step:
            raise Killed

    return progress


@pytest.fixture(scope="module")
def models():
    return LatentModel(*make_tiny("llama", seed=1), "bytes-llama"), word_gpt2()


def test_killed_and_resumed_ends_bit_identical_to_an_uninterrupted_run(models, tmp_path):
    sharer, receiver = models
    examples = [planted(d) for d in range(6)]  # 3 batches: the batch drawn at each step matters
    whole, losses = train_fuser(sharer, receiver, examples, CONFIG, out=tmp_path / "whole")
    with pytest.raises(Killed):
        train_fuser(sharer, receiver, examples, CONFIG, out=tmp_path / "cut", progress=stop_at(3))
    torch.rand(5)  # the global generator moved on meanwhile, as it would in a new process
    resumed, again = train_fuser(sharer, receiver, examples, CONFIG, out=tmp_path / "cut")
    assert again == losses
    assert all(torch.equal(a, b) for a, b in zip(whole.state_dict().values(), resumed.state_dict().values()))


def test_a_torn_fuser_checkpoint_is_refused(models, tmp_path):
    sharer, receiver = models
    examples = [planted(d) for d in range(4)]
    config = FuserConfig(steps=4, batch_size=2, lr=1e-2, hidden=8, save_every=2)
    train_fuser(sharer, receiver, examples, config, out=tmp_path / "run")
    with pytest.raises(Killed):
        train_fuser(sharer, receiver, examples, config, out=tmp_path / "early", progress=stop_at(3))
    shutil.copy(tmp_path / "early" / "checkpoint" / "progress.json", tmp_path / "run" / "checkpoint" / "progress.json")
    with pytest.raises(LatentspaceError, match="torn"):
        train_fuser(sharer, receiver, examples, config, out=tmp_path / "run")
