"""A small CNN from a Two Rooms image (uint8 [B, 2, S, S]) to a latent vector [B, d]."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from latentspace.core.errors import LatentspaceError


ARCHS = ("vector", "spatial")


@dataclass(frozen=True)
class NetConfig:
    """The widths every world network shares (JEPA, pixel model, BC policy)."""

    latent: int = 32
    width: int = 32  # encoder channels
    hidden: int = 128  # MLP widths (predictor, heads)
    arch: str = "vector"  # "spatial": a feature map of `latent` channels and a convolutional predictor (spatial.py)
    normalize: bool = False  # standardise each input channel with the training data's statistics (Standardized)

    def __post_init__(self) -> None:
        if not (1 <= self.latent <= 512 and 1 <= self.width <= 512 and 1 <= self.hidden <= 4096):
            raise LatentspaceError("latent is 1-512 dimensions, width 1-512 channels, hidden 1-4096")
        if self.arch not in ARCHS:
            raise LatentspaceError(f"unknown network arch {self.arch!r}; valid: {', '.join(ARCHS)}")

    def to_dict(self) -> dict:
        return asdict(self)


def as_float(observations) -> torch.Tensor:
    """uint8 images (numpy or torch) -> float32 in [0, 1]."""
    x = torch.as_tensor(observations)
    return x.float() / 255.0 if x.dtype == torch.uint8 else x.float()


class Encoder(nn.Module):
    """Strided convolutions down to 4×4 (any side that is a power of two from 16), then a linear map."""

    def __init__(self, size: int = 64, latent: int = 32, width: int = 32) -> None:
        super().__init__()
        layers, channels, side = [], 2, size
        while side > 4:
            layers += [nn.Conv2d(channels, width, 4, stride=2, padding=1), nn.GELU()]
            channels, side = width, side // 2
        self.conv = nn.Sequential(*layers)
        self.out = nn.Linear(channels * side * side, latent)
        self.dims = latent

    def forward(self, observations) -> torch.Tensor:
        x = as_float(observations)
        lead = x.shape[:-3]
        h = self.conv(x.reshape(-1, *x.shape[-3:]))
        return self.out(h.flatten(1)).reshape(*lead, -1)


class Standardized(nn.Module):
    """An encoder fed per-channel standardised images, as PLDM and EB-JEPA feed theirs. Why it matters:
    the agent is a blob on ~1% of the pixels and the walls fill ~15%, so in [0, 1] the walls dominate a
    fresh encoder (the agent is ~1% of its output) and nothing that reads motion can pull it off the
    walls; divided by its own small spread the agent channel's blob stands ~8× higher than the walls.
    The statistics are buffers (saved with the weights), set once from training data by ``fit``."""

    def __init__(self, encoder: nn.Module, channels: int = 2) -> None:
        super().__init__()
        self.inner, self.dims = encoder, encoder.dims
        self.register_buffer("mean", torch.zeros(channels))
        self.register_buffer("std", torch.ones(channels))

    @torch.no_grad()
    def fit(self, observations) -> None:
        x = as_float(observations).transpose(0, 1).reshape(self.mean.shape[0], -1)  # [C, pixels]
        self.mean.copy_(x.mean(1))
        self.std.copy_(x.std(1).clamp_min(1e-3))

    def forward(self, observations) -> torch.Tensor:
        x = as_float(observations)
        return self.inner((x - self.mean[:, None, None]) / self.std[:, None, None])

