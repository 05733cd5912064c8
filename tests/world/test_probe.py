"""The position probe reads (x, y) from a trained JEPA latent, far above its shuffled control, and not
from a random encoder; a checkpoint is refused by another environment configuration."""

import pytest
import torch

from latentspace.errors import LatentspaceError
from latentspace.world import RoomsConfig, TrainConfig, build, load_world, make_trajectories, save_world, train_world
from latentspace.world.probe import position_probe


@pytest.fixture(scope="module")
def trained():
    torch.set_num_threads(1)
    config = RoomsConfig(size=16)
    data = make_trajectories(config, 120, 20, seed=0)
    torch.manual_seed(0)
    model, history = train_world(build("jepa", 16, {"latent": 16}), data, TrainConfig(steps=300, batch_size=32))
    return config, data, model, history


def test_the_probe_beats_its_control_on_a_trained_model_and_not_on_a_random_encoder(trained):
    config, data, model, history = trained
    obs, states = data.observations[-40:].reshape(-1, 2, 16, 16), data.states[-40:].reshape(-1, 2)
    learnt = position_probe(model, obs, states)
    torch.manual_seed(1)
    blind = position_probe(build("jepa", 16, {"latent": 16}), obs, states)
    assert learnt["r2"] > 0.8 and learnt["control_r2"] < 0.05, learnt
    assert blind["r2"] < learnt["r2"] - 0.4, blind
    assert history[-1]["inverse_dynamics"] < history[0]["inverse_dynamics"]


def test_a_checkpoint_is_refused_by_another_configuration(trained, tmp_path):
    config, _, model, _ = trained
    path = save_world(tmp_path / "m.safetensors", model, config, {"step": 300})
    loaded, meta, same = load_world(path, config)
    assert meta["kind"] == "jepa" and same == config
    x = torch.zeros(1, 2, 16, 16, dtype=torch.uint8)
    assert torch.equal(loaded.encode(x), model.encode(x))
    with pytest.raises(LatentspaceError, match="random_layout False there, True here"):
        load_world(path, RoomsConfig(size=16, random_layout=True))
