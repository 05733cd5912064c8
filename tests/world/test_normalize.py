"""Standardised inputs (NetConfig(normalize=True)): statistics fitted once from the training data,
saved with the weights, and what the encoder sees has each channel at mean 0, spread 1."""

import numpy as np
import torch

from latentspace.world import RoomsConfig, TrainConfig, build, load_world, make_trajectories, save_world, train_world


def test_training_fits_the_channel_statistics_and_they_travel_with_the_weights(tmp_path):
    config = RoomsConfig(size=16, random_layout=True)
    data = make_trajectories(config, 8, 6, seed=0)
    model = build("jepa", 16, {"normalize": True, "latent": 8, "width": 8, "hidden": 16})
    assert torch.equal(model.encoder.std, torch.ones(2))  # nothing fitted before training
    train_world(model, data, TrainConfig(steps=2, batch_size=4, window=2), out=tmp_path / "run")
    pixels = data.observations.astype(np.float64) / 255
    for channel in range(2):
        assert abs(float(model.encoder.mean[channel]) - pixels[:, :, channel].mean()) < 1e-3
        assert abs(float(model.encoder.std[channel]) - pixels[:, :, channel].std()) < 1e-2
    assert model.encoder.std[0] < model.encoder.std[1] / 2  # the agent's blob is sparser than the walls

    seen = {}
    model.encoder.inner.register_forward_hook(lambda module, args, out: seen.update(x=args[0]))
    model.encode(data.observations[:, 0])
    per_channel = seen["x"].transpose(0, 1).reshape(2, -1)
    assert torch.allclose(per_channel.mean(1), torch.zeros(2), atol=0.15)
    assert torch.allclose(per_channel.std(1), torch.ones(2), atol=0.25)

    save_world(tmp_path / "m.safetensors", model, config)
    loaded, _, _ = load_world(tmp_path / "m.safetensors", config)
    assert torch.equal(loaded.encoder.mean, model.encoder.mean)
    resumed = build("jepa", 16, {"normalize": True, "latent": 8, "width": 8, "hidden": 16})
    train_world(resumed, data, TrainConfig(steps=2, batch_size=4, window=2), out=tmp_path / "run")
    assert torch.equal(resumed.encoder.std, model.encoder.std)  # a resumed run loads them with the weights


def test_without_normalize_the_encoder_sees_raw_pixels():
    model = build("jepa", 16, {"latent": 8, "width": 8, "hidden": 16})
    assert not any(name.endswith(("mean", "std")) for name, _ in model.named_buffers())
