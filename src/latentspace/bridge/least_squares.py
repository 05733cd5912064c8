"""Affine least squares and ridge: the maps that minimise the squared error of the predicted state.

On standardised data the affine map's bias is the means (the centring) and its linear part the
least-squares solution; ridge adds ``l2`` times the Gram matrix's mean diagonal (``N / d`` once
standardised) to it, so one value suits models of any width and any number of pairs. Affine is ridge at ``l2 = 0``
(solved by `lstsq`, stable when there are fewer pairs than dimensions).
"""

from __future__ import annotations

import torch

from latentspace.bridge.hidden_map import LayerMap, fitted, standardise


def fit_ridge(x: torch.Tensor, y: torch.Tensor, l2: float = 1e-2) -> LayerMap:
    xs, mx, sx = standardise(x)
    ys, my, sy = standardise(y)
    if l2 == 0:
        weight = torch.linalg.lstsq(xs, ys, driver="gelsd").solution
    else:
        gram = xs.T @ xs + l2 * len(xs) / xs.shape[1] * torch.eye(xs.shape[1], dtype=xs.dtype)
        weight = torch.linalg.solve(gram, xs.T @ ys)
    return fitted(weight, mx, sx, my, sy)


def fit_affine(x: torch.Tensor, y: torch.Tensor) -> LayerMap:
    return fit_ridge(x, y, l2=0.0)
