"""A model's identity, stored with every latent object we save.

Latent objects (KV caches, steering vectors, lenses) only mean something in the model that made
them, so everything saved carries this fingerprint and loading checks it.
"""

from __future__ import annotations

import hashlib

import torch

from latentspace.errors import LatentspaceError


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


def describe(fp: dict) -> str:
    """One short line naming a fingerprint."""
    return (
        f"{fp['model_type']} {fp['n_layers']} layers d={fp['hidden_size']} "
        f"vocab={fp['vocab_size']} emb={fp['embed_sha256'][:8]}"
    )


FIELDS = ("architecture", "model_type", "n_layers", "hidden_size", "vocab_size", "embed_sha256")


def check_same(saved: dict, current: dict, what: str = "object") -> None:
    """Refuse to load a latent object made by another model, naming both."""
    if not isinstance(saved, dict) or any(k not in saved for k in FIELDS):
        raise LatentspaceError(f"this {what} carries an incomplete model fingerprint (not written by latentspace?)")
    if saved != current:
        raise LatentspaceError(f"this {what} was saved from [{describe(saved)}], not the loaded [{describe(current)}]")
