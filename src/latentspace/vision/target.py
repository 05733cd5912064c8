"""The frozen target encoder: what a latent visual thought is pulled towards (Mirage's stage 1).

Mirage passes the helper image through the VLM's frozen vision encoder and average-pools its patch
embeddings to k vectors. We have no pretrained vision encoder, so ours is a small convolutional
**autoencoder** trained on the task's state pictures, then frozen: its code must rebuild the picture,
agent mark included, so the agent's cell is in the target by construction. (The JEPA encoder of
`latentspace.world` was the other candidate; trained on still pictures it has no prediction to
ground it, and its encoder is built for Two Rooms' two-channel frames.) The code is a few numbers per
map cell; the k = 4 targets (Mirage's default) are the picture's four quadrants, each the codes of its
cells side by side — not averaged: averaging mixes the cells' codes, so a linear probe can no longer tell
which cell holds the agent (a ViT's patch embeddings keep their positions).
"""

from __future__ import annotations

import torch
from torch import nn

from latentspace.core.errors import LatentspaceError
from latentspace.core.finite import check_loss
from latentspace.tasks.vsp import AGENT, IMAGE, PIXELS, check_image

K = 4  # target vectors per picture: the picture's four quadrants
AGENT_WEIGHT = 20.0
QUADRANTS = 2  # per side


class TargetEncoder(nn.Module):
    """A cell-wise convolutional autoencoder: each 4×4 px cell to ``channels`` numbers and back."""

    def __init__(self, channels: int = 4, image: int = IMAGE, cell: int = PIXELS) -> None:
        super().__init__()
        if image % (QUADRANTS * cell):
            raise LatentspaceError(f"the target encoder reads pictures whose side divides by {QUADRANTS * cell}")
        self.channels, self.side = channels, image // cell  # cells per side
        self.encoder = nn.Sequential(nn.Conv2d(3, 16, cell, stride=cell), nn.GELU(), nn.Conv2d(16, channels, 1))
        self.decoder = nn.Sequential(nn.Conv2d(channels, 16, 1), nn.GELU(), nn.ConvTranspose2d(16, 3, cell, stride=cell))

    @property
    def dim(self) -> int:
        """Width of one target vector: a quadrant's cells × channels."""
        return self.channels * (self.side // QUADRANTS) ** 2

    def code(self, images: torch.Tensor) -> torch.Tensor:
        return self.encoder(images)  # [B, channels, cells, cells]

    def reconstruct(self, images: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.code(images))

    @torch.no_grad()
    def embed(self, images: torch.Tensor) -> torch.Tensor:
        """``[B, 3, 32, 32]`` -> ``[B, K, dim]``, each vector one quadrant's cell codes laid side by side
        (so which cell holds the agent stays linearly readable); outside any autograd graph (frozen)."""
        check_image(images)
        images = images[None] if images.dim() == 3 else images
        was = self.training
        self.eval()
        code = self.code(images)
        self.train(was)
        b, c, half = code.shape[0], self.channels, self.side // QUADRANTS
        quadrants = code.reshape(b, c, QUADRANTS, half, QUADRANTS, half).permute(0, 2, 4, 3, 5, 1)  # [B, quadrant row, col, cell row, col, channels]
        return quadrants.reshape(b, K, c * half * half)


def fit_target_encoder(images: torch.Tensor, channels: int = 4, steps: int = 1500, batch: int = 128, lr: float = 3e-3,
                       seed: int = 0, progress=None) -> TargetEncoder:
    """An autoencoder fit to ``images`` (``[N, 3, 32, 32]``), returned frozen (no parameter needs grad).

    Squared error, with the pixels of the agent's colour counted ``AGENT_WEIGHT``× — its 2×2 mark is 4
    of 1,024 pixels, and a plain mean squared error learns the map long before the mark.
    """
    check_image(images)
    if images.dim() != 4 or len(images) < 2:
        raise LatentspaceError("fit the target encoder on a batch of at least two pictures [N, 3, 32, 32]")
    generator = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = TargetEncoder(channels)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    for step in range(steps):
        picked = images[torch.randint(len(images), (min(batch, len(images)),), generator=generator)]
        rebuilt = model.reconstruct(picked)
        agent = ((picked - torch.tensor(AGENT)[:, None, None]).abs().sum(1, keepdim=True) < 0.05).float()
        loss = ((1.0 + (AGENT_WEIGHT - 1.0) * agent) * (rebuilt - picked) ** 2).mean()
        check_loss(loss, step, "the target encoder's reconstruction")
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if progress is not None:
            progress(step + 1, steps, float(loss.detach()))
    model.eval()
    model.zero_grad(set_to_none=True)
    model.requires_grad_(False)
    return model
