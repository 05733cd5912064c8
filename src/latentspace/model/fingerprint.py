"""A model's identity, stored with every latent object we save.

Latent objects (KV caches, steering vectors, lenses) only mean something in the model that made
them, so everything saved carries this fingerprint and loading checks it.
"""

from __future__ import annotations

import hashlib

import torch

# what a saved fingerprint says and the check on load belong to the saved-object format (io)
from latentspace.io import FIELDS, check_same, describe

__all__ = ["FIELDS", "check_same", "describe", "fingerprint"]


def fingerprint(model: torch.nn.Module) -> dict:
    """Architecture, sizes and a hash of the input-embedding matrix."""
    config = model.config.get_text_config()
    weight = model.get_input_embeddings().weight.detach().to("cpu", torch.float32).contiguous()
    digest = hashlib.sha256(weight.numpy().tobytes()).hexdigest()[:16]
    return {
        "architecture": type(model).__name__,
        "model_type": config.model_type,
        "n_layers": config.num_hidden_layers,
        "hidden_size": config.hidden_size,
        "vocab_size": weight.shape[0],
        "embed_sha256": digest,
    }
