"""The image side of the tiny vision-language model: a picture to a handful of patch tokens.

Two strided convolutions, trained end to end with the language model: the first reads one map cell
(4×4 px) at a time, the second joins 2×2 cells into one token, so a 32×32 picture becomes 4×4 = 16
tokens of the model's width, each with a learned position — patch tokens, not one pooled vector,
so where something is stays in which token carries it.
"""

from __future__ import annotations

import torch
from torch import nn

from latentspace.core.errors import LatentspaceError
from latentspace.tasks.vsp import IMAGE, PIXELS, check_image

CHANNELS = 32  # after the cell convolution


class PatchEncoder(nn.Module):
    def __init__(self, width: int, image: int = IMAGE, cell: int = PIXELS) -> None:
        super().__init__()
        if width < 1 or image % (2 * cell):
            raise LatentspaceError(f"a patch encoder needs a width ≥ 1 and an image side divisible by {2 * cell}")
        self.side = image // (2 * cell)
        self.cells = nn.Conv2d(3, CHANNELS, kernel_size=cell, stride=cell)
        self.join = nn.Conv2d(CHANNELS, width, kernel_size=2, stride=2)
        self.position = nn.Parameter(torch.zeros(self.side * self.side, width))
        nn.init.normal_(self.position, std=0.02)

    @property
    def tokens(self) -> int:
        return self.side * self.side

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """``[B, 3, H, W]`` in [0, 1] -> ``[B, tokens, width]``."""
        check_image(images)
        if images.dim() == 3:
            images = images[None]
        features = self.join(nn.functional.gelu(self.cells(images)))  # [B, width, side, side]
        return features.flatten(2).transpose(1, 2) + self.position
