"""The pixel world model baseline: the same encoder and predictor, trained to predict the next *image*
through a decoder; it plans by comparing the images its rolled-out latents decode to with the goal's
image (the explicit-space counterpart of the JEPA model). ``cost = "latent"`` plans with the distance
between its own latents instead (a reconstruction-trained latent, against JEPA's)."""

from __future__ import annotations

import torch
from torch import nn

from latentspace.world.encoder import NetConfig, as_float
from latentspace.world.predictor import LatentDynamics

PixelConfig = NetConfig


class Decoder(nn.Module):
    """A latent back to both image channels (transposed convolutions from 4×4)."""

    def __init__(self, size: int, latent: int, width: int) -> None:
        super().__init__()
        self.width = width
        self.inp = nn.Linear(latent, width * 16)
        layers, side = [], 4
        while side < size:
            last = side * 2 >= size
            layers += [nn.ConvTranspose2d(width, 2 if last else width, 4, stride=2, padding=1)]
            layers += [] if last else [nn.GELU()]
            side *= 2
        self.deconv = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        lead = z.shape[:-1]
        x = self.inp(z.reshape(-1, z.shape[-1])).view(-1, self.width, 4, 4)
        out = torch.sigmoid(self.deconv(x))
        return out.reshape(*lead, *out.shape[1:])


class PixelWorldModel(LatentDynamics):
    kind = "pixel"

    def __init__(self, size: int, config: NetConfig | None = None) -> None:
        super().__init__(size, config or NetConfig())
        self.decoder = Decoder(size, self.dims, self.config.width)
        self.cost = "image"

    def distance(self, z: torch.Tensor, goal: torch.Tensor) -> torch.Tensor:
        """Mean squared difference of the agent channel decoded from ``z`` and from the goal's latent
        (``cost = "latent"``: of the latents themselves)."""
        if self.cost == "latent":
            return ((z - goal) ** 2).sum(-1)
        mine = self.decoder(z)[..., 0, :, :]
        theirs = self.decoder(goal)[..., 0, :, :]
        return ((mine - theirs) ** 2).flatten(-2).mean(-1) * mine.shape[-1] ** 2 / 100

    def loss(self, observations, actions) -> tuple[torch.Tensor, dict[str, float]]:
        """Next-image error (and the current image's reconstruction, so the decoder reads latents from both)."""
        images = as_float(observations)
        z = self.encode(observations)
        now = ((self.decoder(z) - images) ** 2).mean()
        following = ((self.decoder(self.predict(z[:, :-1], actions)) - images[:, 1:]) ** 2).mean()
        total = (now + following) * 100
        return total, {"reconstruction": float(now.detach()), "next_image": float(following.detach())}
