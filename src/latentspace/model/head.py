"""The output head's last step, once for the model layer and for training: the final logit
soft-capping of families that have it (Gemma 2/3 squash logits into ``(-cap, cap)`` with tanh)."""

from __future__ import annotations

import torch


def soft_cap(logits: torch.Tensor, config) -> torch.Tensor:
    """``logits`` as the model's own head ends them (unchanged for families without a cap)."""
    cap = getattr(config.get_text_config() if hasattr(config, "get_text_config") else config,
                  "final_logit_softcapping", None)
    return torch.tanh(logits / cap) * cap if cap else logits
