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


def test_motion_share_is_one_on_a_fixed_wall_and_small_for_a_latent_of_the_walls_only():
    from latentspace.world.oracle import TrueStateModel
    from latentspace.world.probe import motion_share
    from latentspace.world.two_rooms import Layout

    fixed = RoomsConfig(size=16)
    oracle = TrueStateModel(fixed, Layout(fixed.wall_x, fixed.door_y))  # encodes (x, y) only
    assert motion_share(oracle, fixed) > 0.95  # all of it but the scatter of 50-point means

    class WallsOnly:  # the wall channel's pixels and a trace of the agent: what the random-wall JEPA learnt
        def encode(self, images):
            x = torch.as_tensor(images).float()
            return torch.cat([x[:, 1].flatten(1), 1e-3 * x[:, 0].flatten(1)], 1)

    random = RoomsConfig(size=16, random_layout=True)
    assert motion_share(WallsOnly(), random) < 0.01
    assert motion_share(WallsOnly(), fixed) > 0.95
