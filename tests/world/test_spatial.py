"""The spatial networks (arch "spatial"): a map latent and a convolutional predictor."""

import pytest
import torch

from latentspace.errors import LatentspaceError
from latentspace.world import RoomsConfig, TrainConfig, build, load_world, make_trajectories, save_world, train_world
from latentspace.world.spatial import SIDE


def test_a_spatial_jepa_keeps_a_map_trains_and_round_trips(tmp_path):
    config = RoomsConfig(size=16)
    model = build("jepa", 16, {"arch": "spatial", "latent": 4, "width": 8, "hidden": 16})
    assert model.dims == 4 * SIDE * SIDE
    data = make_trajectories(config, 8, 10, seed=0)
    z = model.encode(data.observations[:2, :3])
    assert z.shape == (2, 3, model.dims)
    assert model.predict(z[:, 0], torch.zeros(2, 2)).shape == (2, model.dims)
    _, history = train_world(model, data, TrainConfig(steps=12, batch_size=8, window=3))
    assert history[-1]["loss"] < history[0]["loss"]
    save_world(tmp_path / "m.safetensors", model, config)
    loaded, _, _ = load_world(tmp_path / "m.safetensors", config)
    assert loaded.config.arch == "spatial"
    assert torch.allclose(loaded.encode(data.observations[0, :2]), model.encode(data.observations[0, :2]), atol=1e-6)


def test_an_unknown_arch_is_refused():
    with pytest.raises(LatentspaceError, match="arch"):
        build("jepa", 16, {"arch": "transformer"})
