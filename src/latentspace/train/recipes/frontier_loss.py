"""The "BFS loss" on Coconut's thoughts: each fed-back state, read through the LM head, pulled to its step's set.

Coconut's fed-back state for thought k is the last-layer state at the position before slot k; the
same state through the LM head is what the lens reads as the thought's content. This module runs
Coconut's multi-pass forward unchanged and adds KL(step k's target distribution || head(that state))
as its own loss part, so the recipe weighs it against the token cross-entropy. The target set is
CoT2's (every node k+1 hops from the root on symbolic ProsQA), so the two recipes differ only in what
fills a slot: the model's state (here) or the mix of token embeddings (CoT2).
"""

from __future__ import annotations

from latentspace.train.latent_forward import LatentLM, empty_parts, latent_columns, summed_loss
from latentspace.train.recipes.cot2 import SoftBatch, distributions, kl_to_targets


class FrontierLM(LatentLM):
    """`LatentLM` (thoughts from the previous position) trained on a `SoftBatch`: {"ce", "frontier"} parts."""

    def forward(self, soft: SoftBatch, parts: bool = True) -> dict:
        if soft.size == 0:
            return empty_parts(self, ["ce", "frontier"])
        batch = soft.batch
        logits, _ = self.run(batch)
        out = {"ce": summed_loss(logits, batch.labels)}
        columns = latent_columns(batch)[:soft.target_ids.shape[1]]
        if not columns:  # stage 0: no thoughts yet, nothing to pull (a zero that keeps the graph)
            out["frontier"] = (logits.sum() * 0.0, 0)
            return out
        target = distributions(soft, logits.shape[-1])[:, :len(columns)]
        present = batch.latent[:, columns] & (target.sum(-1) > 0)  # padded thoughts past the steps: no target
        out["frontier"] = kl_to_targets(logits, [c - 1 for c in columns], target, present)
        return out
