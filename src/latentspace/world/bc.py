"""The model-free baseline: goal-conditioned behaviour cloning, hindsight-relabelled from the same
random-policy data — the action taken at frame t is the target for (frame t, goal = frame t+k)
with k drawn in 1..window (the frames really reached from there)."""

from __future__ import annotations

import torch
from torch import nn

from latentspace.world.encoder import NetConfig
from latentspace.world.nets import make_encoder

BcConfig = NetConfig


class GoalPolicy(nn.Module):
    kind = "bc"

    def __init__(self, size: int, config: NetConfig | None = None) -> None:
        super().__init__()
        self.config = config or NetConfig()
        c = self.config
        self.encoder = make_encoder(size, c)
        self.head = nn.Sequential(nn.Linear(2 * self.encoder.dims, c.hidden), nn.GELU(), nn.Linear(c.hidden, c.hidden),
                                  nn.GELU(), nn.Linear(c.hidden, 2), nn.Tanh())

    def forward(self, observations, goals) -> torch.Tensor:
        return self.head(torch.cat([self.encoder(observations), self.encoder(goals)], -1))

    def loss(self, observations, actions) -> tuple[torch.Tensor, dict[str, float]]:
        b, window = actions.shape[:2]
        k = torch.randint(1, window + 1, (b,))
        goals = observations[torch.arange(b), k]
        guessed = self(observations[:, 0], goals)
        loss = ((guessed - actions[:, 0]) ** 2).sum(-1).mean()
        return loss, {"action": float(loss.detach())}

    def actor(self):
        @torch.no_grad()
        def act(obs, goal_obs, step, episode=None):
            return self(torch.as_tensor(obs)[None], torch.as_tensor(goal_obs)[None])[0].numpy()
        return act
