"""The planted world model: the true state read off the image and the simulator's exact dynamics.

Planning with it is the upper bound of any learnt model ("oracle MPPI on the true simulator"), and
it is what the planner tests drive: on it MPPI and CEM must reach the goal.
"""

from __future__ import annotations

import numpy as np
import torch

from latentspace.world.encoder import as_float
from latentspace.world.two_rooms import Layout, RoomsConfig, move


class TrueStateModel:
    kind = "oracle"

    def __init__(self, config: RoomsConfig, layout: Layout) -> None:
        self.config, self.layout = config, layout

    def encode(self, observations) -> torch.Tensor:
        """(x, y) of the agent blob's brightest pixel centre, per image."""
        agent = as_float(observations)[..., 0, :, :]
        n = agent.shape[-1]
        flat = agent.flatten(-2).argmax(-1)
        return torch.stack([(flat % n + 0.5) / n, (flat // n + 0.5) / n], -1).float()

    def predict(self, z: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        nxt = move(z.detach().cpu().numpy(), a.detach().cpu().numpy(), self.layout, self.config)
        return torch.from_numpy(np.asarray(nxt, dtype=np.float32))

    @staticmethod
    def distance(z: torch.Tensor, goal: torch.Tensor) -> torch.Tensor:
        return ((z - goal) ** 2).sum(-1)


class RandomModel(TrueStateModel):
    """A model that knows nothing: a random linear encoder and dynamics that ignore the wall (tests)."""

    kind = "random"

    def __init__(self, config: RoomsConfig, latent: int = 8, seed: int = 0) -> None:
        super().__init__(config, Layout(config.wall_x, config.door_y))
        g = torch.Generator().manual_seed(seed)
        self.project = torch.randn(2 * config.size * config.size, latent, generator=g) / config.size
        self.move = torch.randn(2, latent, generator=g) * 0.1

    def encode(self, observations) -> torch.Tensor:
        x = as_float(observations)
        return x.flatten(-3) @ self.project

    def predict(self, z: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        return z + a.float() @ self.move
