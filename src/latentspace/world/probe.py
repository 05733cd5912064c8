"""Does the latent hold where the agent is? A ridge probe from latents to the true (x, y), scored
by held-out R², beside the same probe fitted to shuffled positions (a control near or below 0)."""

from __future__ import annotations

import numpy as np
import torch


def ridge_r2(x: np.ndarray, y: np.ndarray, train: np.ndarray, test: np.ndarray, alpha: float = 1e-2) -> float:
    mu, sd = x[train].mean(0), x[train].std(0) + 1e-6
    xs = (x - mu) / sd
    xs = np.concatenate([xs, np.ones((len(xs), 1))], 1)
    a = xs[train]
    w = np.linalg.solve(a.T @ a + alpha * len(train) * np.eye(a.shape[1]), a.T @ y[train])
    residual = ((xs[test] @ w - y[test]) ** 2).sum()
    total = ((y[test] - y[train].mean(0)) ** 2).sum()
    return float(1 - residual / total)


@torch.no_grad()
def position_probe(model, observations: np.ndarray, states: np.ndarray, seed: int = 0) -> dict:
    """Held-out R² of (x, y) from ``model.encode`` latents, and of the shuffled control."""
    z = torch.cat([model.encode(torch.as_tensor(observations[i:i + 256])) for i in range(0, len(observations), 256)])
    x, y = z.float().numpy(), np.asarray(states, dtype=np.float64)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(x))
    train, test = order[: int(0.8 * len(x))], order[int(0.8 * len(x)):]
    shuffled = y[rng.permutation(len(y))]
    return {"r2": ridge_r2(x, y, train, test), "control_r2": ridge_r2(x, shuffled, train, test), "n": len(x)}
