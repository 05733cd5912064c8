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
GROUP = 2  # map cells per token side: 2 joins 2×2 cells into one token
CONTEXT = 0  # 3×3 convolutions over the cell grid before the join: each cell's features see its neighbours
# a token's position: "free" (one learned vector per token) or "rowcol" (a learned row vector plus a learned
# column vector, ViT's factorised 2-D positions: a lookup by row and column is a sum of two matches)
POSITIONS = "free"


class PatchEncoder(nn.Module):
    def __init__(self, width: int, image: int = IMAGE, cell: int = PIXELS, group: int | None = None) -> None:
        super().__init__()
        group = GROUP if group is None else group
        if width < 1 or group < 1 or image % (group * cell):
            raise LatentspaceError(f"a patch encoder needs a width ≥ 1 and an image side divisible by {group * cell}")
        self.side = image // (group * cell)
        self.cells = nn.Conv2d(3, CHANNELS, kernel_size=cell, stride=cell)
        self.context = nn.ModuleList(nn.Conv2d(CHANNELS, CHANNELS, 3, padding=1) for _ in range(CONTEXT))
        self.join = nn.Conv2d(CHANNELS, width, kernel_size=group, stride=group)
        self.positions = POSITIONS
        if POSITIONS == "rowcol":
            self.rows = nn.Parameter(torch.randn(self.side, 1, width) * 0.02)
            self.cols = nn.Parameter(torch.randn(1, self.side, width) * 0.02)
        else:
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
        cells = nn.functional.gelu(self.cells(images))
        for layer in self.context:  # residual: the cell's own features stay, its neighbours' are added
            cells = cells + nn.functional.gelu(layer(cells))
        features = self.join(cells)  # [B, width, side, side]
        where = (self.rows + self.cols).flatten(0, 1) if self.positions == "rowcol" else self.position
        return features.flatten(2).transpose(1, 2) + where
