"""`soft`: Soft Thinking — each step's input is a probability-weighted mix of token embeddings.

The next-token distribution is cut to its top-k, then top-p and min-p filtered and renormalised;
the "concept token" is that distribution times the input embeddings. Cold stop: thinking ends when
the entropy stays below a threshold for a window of steps (the model has made up its mind).
With k = 1 the concept token is the greedy token's embedding, so soft thinking equals greedy
decoding — a property the tests check.
"""

from dataclasses import dataclass
from typing import ClassVar

import torch

from latentspace.core.limits import MAX_LATENT_STEPS
from latentspace.core.named import above, between
from latentspace.reason.base import ANSWER_ONLY, Reasoner, register


def concept_weights(logits: torch.Tensor, top_k: int, top_p: float, min_p: float) -> torch.Tensor:
    """Filtered, renormalised next-token probabilities ``[B, V]`` (zeros outside the kept set)."""
    probs = torch.softmax(logits.float(), dim=-1)
    top = probs.topk(min(top_k, probs.shape[-1]), dim=-1)
    kept = top.values
    kept = kept.masked_fill(kept < min_p * kept[:, :1], 0.0)  # min-p: relative to the most likely
    exclusive_mass = kept.cumsum(-1) - kept
    kept = kept.masked_fill(exclusive_mass >= top_p, 0.0)  # top-p over the sorted top-k
    kept = kept / kept.sum(-1, keepdim=True)
    return torch.zeros_like(probs).scatter(-1, top.indices, kept)


@register
@dataclass
class Soft(Reasoner):
    instruction: str = ANSWER_ONLY  # think in latent space, then answer like `direct`
    max_new_tokens: int = 24
    top_k: int = 10
    top_p: float = 0.95
    min_p: float = 0.001
    cold_stop_entropy: float = 0.01  # nats
    cold_stop_window: int = 2  # consecutive confident steps that end thinking
    name = "soft"
    # top_k >= 1: with none kept the concept token is a zero vector (0/0 after renormalising)
    RANGES: ClassVar[dict] = {"top_k": between(1, 1000), "top_p": above(0, 1), "min_p": between(0, 1),
                              "cold_stop_entropy": between(0, 100), "cold_stop_window": between(1, MAX_LATENT_STEPS)}

    def think(self, lm, state, rows):
        previous, confident = None, torch.zeros(state.batch_size, dtype=torch.long)
        for _ in range(self.max_latent_steps):
            if not rows.any:
                break
            weights = concept_weights(state.logits, self.top_k, self.top_p, self.min_p)
            entropy = -(weights * weights.clamp_min(1e-30).log()).sum(-1).cpu()
            confident = torch.where(entropy < self.cold_stop_entropy, confident + 1, 0)
            vectors = weights.to(lm.dtype) @ lm.input_embeddings
            notes = [f"concept entropy {float(e):.3f}" for e in entropy]
            state = self.latent_step(lm, state, vectors, rows, previous, note=notes)
            for row in rows.indices():
                if confident[row] >= self.cold_stop_window:
                    rows.stop(row, f"cold stop: entropy < {self.cold_stop_entropy} for {int(confident[row])} steps")
            previous = vectors
        return state
