"""The JEPA objective's terms, each its own function (and weight) so each can be switched off.

On latents ``z`` [B, T+1, d] of consecutive frames, predictions ``pred`` [B, T, d] of z[:, 1:]
and actions [B, T, 2]:

- prediction: mean squared error of the predicted next latents (no pixels anywhere);
- variance (VICReg): a hinge keeping every latent dimension's batch standard deviation >= 1 —
  zero on a well-spread batch, large on a collapsed encoder;
- covariance (VICReg): squared off-diagonal covariances, so dimensions carry different things;
- temporal smoothness: consecutive latents stay close (squared step length);
- inverse dynamics: an MLP must recover the action from two consecutive latents — the term
  EB-JEPA found essential (1% success without it): it makes the latent hold what actions move;
- temporal variance (PLDM's time-wise VICReg, off by default): the same hinge on each dimension's
  standard deviation *along each sub-trajectory* — a dimension that only encodes what never moves
  in an episode (the walls of a random layout) pays for it.
"""

from __future__ import annotations

import torch


def prediction(pred: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    return ((pred - z[:, 1:]) ** 2).sum(-1).mean()


def flat(z: torch.Tensor) -> torch.Tensor:
    return z.reshape(-1, z.shape[-1])


def variance(z: torch.Tensor, target: float = 1.0, eps: float = 1e-4) -> torch.Tensor:
    std = torch.sqrt(flat(z).var(0) + eps)
    return torch.relu(target - std).mean()


def covariance(z: torch.Tensor) -> torch.Tensor:
    x = flat(z)
    x = x - x.mean(0)
    cov = x.T @ x / max(1, x.shape[0] - 1)
    off = cov - torch.diag(torch.diag(cov))
    return (off ** 2).sum() / x.shape[1]


def temporal_variance(z: torch.Tensor, target: float = 1.0, eps: float = 1e-4) -> torch.Tensor:
    std = torch.sqrt(z.var(1) + eps)  # [B, d]: along each sub-trajectory
    return torch.relu(target - std).mean()


def smoothness(z: torch.Tensor) -> torch.Tensor:
    return ((z[:, 1:] - z[:, :-1]) ** 2).sum(-1).mean()


def inverse_dynamics(predicted_actions: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
    return ((predicted_actions - actions) ** 2).sum(-1).mean()


TERMS = ("prediction", "variance", "covariance", "smoothness", "inverse_dynamics", "temporal_variance")
