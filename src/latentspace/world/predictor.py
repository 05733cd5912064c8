"""The latent dynamics: the next latent from a latent and an action (an MLP on [z ; a], residual)."""

from __future__ import annotations

import torch
from torch import nn

from latentspace.world.encoder import NetConfig
from latentspace.world.nets import make_encoder


class Predictor(nn.Module):
    def __init__(self, latent: int = 32, hidden: int = 128, action: int = 2) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(latent + action, hidden), nn.GELU(), nn.Linear(hidden, hidden), nn.GELU(),
                                 nn.Linear(hidden, latent))

    def forward(self, z: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        return z + self.net(torch.cat([z, a.to(z.dtype)], -1))


def rollout(step, z0: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
    """Latents after each action: ``z0`` [B, d], ``actions`` [B, H, 2] -> [B, H, d] (``step(z, a)``)."""
    out, z = [], z0
    for t in range(actions.shape[1]):
        z = step(z, actions[:, t])
        out.append(z)
    return torch.stack(out, 1)


class LatentDynamics(nn.Module):
    """An encoder and a predictor: what a world model needs to plan (``encode``, ``predict``); the
    JEPA and pixel models add their own loss and ``distance``."""

    def __init__(self, size: int, config: NetConfig) -> None:
        super().__init__()
        self.config = config
        self.encoder = make_encoder(size, config)
        self.dims = self.encoder.dims
        if config.arch == "spatial":
            from latentspace.world.spatial import SpatialPredictor
            self.predictor = SpatialPredictor(config.latent, config.width)
        else:
            self.predictor = Predictor(config.latent, config.hidden)

    def encode(self, observations) -> torch.Tensor:
        return self.encoder(observations)

    def predict(self, z: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        return self.predictor(z, a)
