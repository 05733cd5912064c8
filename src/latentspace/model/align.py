"""Map a last-layer hidden state into the input-embedding space (so it can be fed back as input).

- ``none``  the hidden state as is (Coconut: the model is trained to read it).
- ``norm``  rescaled to the mean input-embedding norm (input embeddings are much smaller than
            last-layer states in most models; feeding the raw state is out of distribution).
- ``ridge`` LatentMAS: W_a = (W_outᵀW_out + λI)⁻¹ W_outᵀW_in, computed from the two embedding
            matrices alone (no data), then rescaled as ``norm``. For tied embeddings W_a ≈ s·I,
            s the input-embedding scale (1 for most models, √d for Gemma).
- ``soft``  the probability-weighted average of input embeddings under the model's own next-token
            distribution (a "concept token" with no top-k cut; the reason package adds filtering).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from latentspace.core.errors import LatentspaceError

METHODS = ("none", "norm", "ridge", "soft")


@dataclass
class Aligner:
    """Alignment matrices for one model, computed once on first use."""

    input_embeddings: torch.Tensor  # [V, d] exactly what the model adds for each token id
    output_embeddings: torch.Tensor  # [V, d] the LM head
    ridge_lambda: float = 1e-5
    _mean_norm: torch.Tensor | None = field(default=None, repr=False)
    _ridge: torch.Tensor | None = field(default=None, repr=False)

    @property
    def mean_norm(self) -> torch.Tensor:
        if self._mean_norm is None:
            self._mean_norm = self.input_embeddings.detach().float().norm(dim=-1).mean().cpu()
        return self._mean_norm

    @property
    def ridge_matrix(self) -> torch.Tensor:
        """W_a ``[d, d]``, solved once on the CPU in float64 for stability (cast at use)."""
        if self._ridge is None:
            w_out = self.output_embeddings.detach().to("cpu", torch.float64)
            w_in = self.input_embeddings.detach().to("cpu", torch.float64)
            gram = w_out.T @ w_out + self.ridge_lambda * torch.eye(w_out.shape[1], dtype=torch.float64)
            self._ridge = torch.linalg.solve(gram, w_out.T @ w_in).float()
        return self._ridge

    def rescale(self, vectors: torch.Tensor) -> torch.Tensor:
        norms = vectors.norm(dim=-1, keepdim=True).clamp_min(1e-12)
        return vectors * (self.mean_norm.to(vectors.device, vectors.dtype) / norms)

    def __call__(self, hidden: torch.Tensor, method: str = "ridge", logits: torch.Tensor | None = None,
                 temperature: float = 1.0) -> torch.Tensor:
        """Align ``hidden`` (``[..., d]``, after the final norm); ``soft`` also uses its logits.

        ``temperature`` sharpens ``soft`` (towards the argmax token's embedding as it goes to 0).
        The result has ``hidden``'s device and dtype.
        """
        like = dict(device=hidden.device, dtype=hidden.dtype)
        if method == "none":
            return hidden
        if method == "norm":
            return self.rescale(hidden)
        if method == "ridge":
            return self.rescale(hidden @ self.ridge_matrix.to(**like))
        if method == "soft":
            if logits is None:
                logits = hidden @ self.output_embeddings.T.to(**like)
            if temperature <= 0:
                raise LatentspaceError("soft alignment needs a temperature > 0")
            probs = torch.softmax(logits.float() / temperature, dim=-1).to(**like)
            return probs @ self.input_embeddings.to(**like)
        raise LatentspaceError(f"unknown alignment {method!r}; valid: {', '.join(METHODS)}")
