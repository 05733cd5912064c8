"""Build the encoder a `NetConfig` names: the vector CNN (`encoder.py`) or the spatial one (`spatial.py`).

The choice sits above both kinds, so neither module imports the other inside a function (the spatial
encoder reads images through `encoder.as_float`); the predictor and the BC policy build theirs here.
"""

from __future__ import annotations

from torch import nn

from latentspace.world.encoder import Encoder, NetConfig, Standardized
from latentspace.world.spatial import SpatialEncoder


def make_encoder(size: int, config: NetConfig) -> nn.Module:
    """The encoder ``config.arch`` names (standardised inputs with ``normalize``); its ``dims`` is the
    latent vector's length."""
    if config.arch == "spatial":
        encoder = SpatialEncoder(size, config.latent, config.width)
    else:
        encoder = Encoder(size, config.latent, config.width)
    return Standardized(encoder) if config.normalize else encoder
