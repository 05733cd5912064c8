"""The spatial world networks (``NetConfig(arch="spatial")``), as PLDM and EB-JEPA use on Two Rooms:
the encoder keeps a feature map (``latent`` channels on an 8×8 grid, flattened to one vector for the
losses and the planners) and the predictor is convolutional, with the action broadcast to two extra
input channels. Why: a vector latent has to *learn* to spend its dimensions on the agent; a map holds
the agent's place as a place, and a convolution moves it the same way anywhere in the arena — on the
random-wall layout the vector encoder spent its dimensions on the walls instead (position probe 0.24).
"""

from __future__ import annotations

import torch
from torch import nn

from latentspace.world.encoder import as_float

SIDE = 8  # the map's side, whatever the image's


class SpatialEncoder(nn.Module):
    def __init__(self, size: int, channels: int, width: int) -> None:
        super().__init__()
        layers, side = [nn.Conv2d(2, width, 3, padding=1), nn.GELU()], size
        while side > SIDE:
            layers += [nn.Conv2d(width, width, 4, stride=2, padding=1), nn.GELU()]
            side //= 2
        self.conv = nn.Sequential(*layers, nn.Conv2d(width, channels, 1))
        self.dims = channels * SIDE * SIDE

    def forward(self, observations) -> torch.Tensor:
        x = as_float(observations)
        lead = x.shape[:-3]
        return self.conv(x.reshape(-1, *x.shape[-3:])).reshape(*lead, self.dims)


class SpatialPredictor(nn.Module):
    """The next map from a map and an action: three 3×3 convolutions on [map ; action planes], residual."""

    def __init__(self, channels: int, width: int, action: int = 2) -> None:
        super().__init__()
        self.channels = channels
        self.net = nn.Sequential(nn.Conv2d(channels + action, width, 3, padding=1), nn.GELU(),
                                 nn.Conv2d(width, width, 3, padding=1), nn.GELU(),
                                 nn.Conv2d(width, channels, 3, padding=1))

    def forward(self, z: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        lead = z.shape[:-1]
        maps = z.reshape(-1, self.channels, SIDE, SIDE)
        planes = a.to(z.dtype).reshape(-1, a.shape[-1], 1, 1).expand(-1, -1, SIDE, SIDE)
        return z + self.net(torch.cat([maps, planes], 1)).reshape(*lead, -1)
