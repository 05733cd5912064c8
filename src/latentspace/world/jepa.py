"""The latent world model: encoder + predictor trained with the JEPA objective (`losses`), no pixels.

Planning needs three things of a world model — ``encode`` (images -> latents), ``predict`` (a latent
and an action -> the next latent) and ``distance`` (latents -> how far from the goal's latent) —
and the pixel model (`pixel.PixelWorldModel`) and the planted oracle (`oracle.TrueStateModel`) offer
the same three, so the planners never know which they drive.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from latentspace.core.errors import LatentspaceError
from latentspace.world import losses
from latentspace.world.encoder import NetConfig
from latentspace.world.predictor import LatentDynamics, rollout

DEFAULT_WEIGHTS = {"prediction": 1.0, "variance": 1.0, "covariance": 0.1, "smoothness": 0.1, "inverse_dynamics": 1.0}


@dataclass(frozen=True)
class JepaConfig(NetConfig):
    weights: dict = field(default_factory=lambda: dict(DEFAULT_WEIGHTS), hash=False)
    rollout: int = 1  # >1: the prediction term also rolls the predictor out this many steps from each start

    def __post_init__(self) -> None:
        super().__post_init__()
        unknown = set(self.weights) - set(losses.TERMS)
        if unknown:
            raise LatentspaceError(f"unknown loss term(s) {sorted(unknown)}; valid: {', '.join(losses.TERMS)}")
        if any(not isinstance(w, (int, float)) or w < 0 for w in self.weights.values()):
            raise LatentspaceError("loss weights are numbers >= 0")
        if not 1 <= self.rollout <= 16:
            raise LatentspaceError("rollout is 1-16 steps")


class JepaWorldModel(LatentDynamics):
    kind = "jepa"

    def __init__(self, size: int, config: JepaConfig | None = None) -> None:
        super().__init__(size, config or JepaConfig())
        c = self.config
        self.inverse = nn.Sequential(nn.Linear(2 * self.dims, c.hidden), nn.GELU(), nn.Linear(c.hidden, 2))

    @staticmethod
    def distance(z: torch.Tensor, goal: torch.Tensor) -> torch.Tensor:
        return ((z - goal) ** 2).sum(-1)

    def loss_terms(self, observations, actions: torch.Tensor) -> dict[str, torch.Tensor]:
        """Every term on a batch of sub-trajectories (observations [B, T+1, ...], actions [B, T, 2])."""
        z = self.encode(observations)
        pred = self.predict(z[:, :-1], actions)
        terms = {"prediction": losses.prediction(pred, z)}
        k = min(self.config.rollout, actions.shape[1])
        if k > 1:  # the planner rolls the predictor out: train it on its own predictions too
            rolled = rollout(self.predict, z[:, 0], actions[:, :k])
            terms["prediction"] = terms["prediction"] + ((rolled - z[:, 1:k + 1]) ** 2).sum(-1).mean()
        terms["variance"] = losses.variance(z)
        terms["covariance"] = losses.covariance(z)
        terms["smoothness"] = losses.smoothness(z)
        if self.config.weights.get("temporal_variance"):
            terms["temporal_variance"] = losses.temporal_variance(z)
        guessed = self.inverse(torch.cat([z[:, :-1], z[:, 1:]], -1))
        terms["inverse_dynamics"] = losses.inverse_dynamics(guessed, actions)
        return terms

    def loss(self, observations, actions) -> tuple[torch.Tensor, dict[str, float]]:
        terms = self.loss_terms(observations, actions)
        total = sum(self.config.weights.get(name, 0.0) * value for name, value in terms.items())
        return total, {name: float(value.detach()) for name, value in terms.items()}
