"""Orthogonal Procrustes after standardising: the rotation (or, between widths, the semi-orthogonal
map) closest to the data, ``W = U Vᵀ`` from the SVD of ``XᵀY``. It keeps lengths and angles, so a
direction keeps its norm — the map model-stitching uses to move probes and vectors."""

from __future__ import annotations

import torch

from latentspace.bridge.hidden_map import LayerMap, fitted, standardise


def fit_procrustes(x: torch.Tensor, y: torch.Tensor) -> LayerMap:
    xs, mx, sx = standardise(x)
    ys, my, sy = standardise(y)
    u, _, vh = torch.linalg.svd(xs.T @ ys, full_matrices=False)
    return fitted(u @ vh, mx, sx, my, sy)
