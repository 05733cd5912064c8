"""The special tokens of a model trained to reason in latent space (Coconut's three markers).

A trained latent reasoner reads ``question <|start-latent|> [thoughts] <|end-latent|> answer``;
``<|latent|>`` is the placeholder its training data holds where a thought goes. The training
recipes add these tokens to a tokenizer; the reasoners use them when a model has them.
"""

from __future__ import annotations

START_LATENT = "<|start-latent|>"
END_LATENT = "<|end-latent|>"
LATENT = "<|latent|>"
MARKERS = (START_LATENT, END_LATENT, LATENT)


def latent_markers(tokenizer) -> tuple[int, int] | None:
    """``(start id, end id)`` when the tokenizer has both markers as tokens of their own, else None."""
    vocab = tokenizer.get_vocab()
    if START_LATENT in vocab and END_LATENT in vocab:
        return vocab[START_LATENT], vocab[END_LATENT]
    return None


def trained_layout(model) -> dict | None:
    """What latentspace's trainer recorded in a model's config (``{"recipe", "layout"}``), if anything.

    Models trained here read ``question\n`` and nothing else (no chat template, no instruction).
    """
    config = getattr(model, "config", None)
    found = getattr(config, "latentspace", None) if config is not None else None
    return found if isinstance(found, dict) else None
