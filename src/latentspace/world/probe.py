"""Does the latent hold where the agent is? A ridge probe from latents to the true (x, y), scored
by held-out R², beside the same probe fitted to shuffled positions (a control near or below 0); and,
for random layouts, how much of the latent's variance moves with the agent inside one layout
(``motion_share``) — near 0 when the encoder spends itself on the walls."""

from __future__ import annotations

import numpy as np
import torch

from latentspace.world.two_rooms import Renderer, RoomsConfig, TwoRooms


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


@torch.no_grad()
def motion_share(model, config: RoomsConfig, layouts: int = 20, points: int = 50, seed: int = 0) -> float:
    """The latent's variance within a layout (the agent moving) over its total variance, on ``points``
    agent positions in each of ``layouts`` layouts (random ones where ``config.random_layout``)."""
    env = TwoRooms(config)
    env.reset(seed=seed)
    latents = []
    for _ in range(layouts):
        env.reset()  # draws a layout where the configuration says so
        images = Renderer(env.layout, config)(np.stack([env.free_point() for _ in range(points)]))
        latents.append(model.encode(torch.as_tensor(images)).double())
    z = torch.stack(latents)  # [layouts, points, d]
    within = z.var(1).sum(-1).mean()
    total = z.reshape(-1, z.shape[-1]).var(0).sum()
    return float(within / total.clamp_min(1e-12))
