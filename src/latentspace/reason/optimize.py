"""`optimize`: test-time latent optimisation (LTPO / LatentSeek style) — planning as search.

The thoughts are rolled out once like `continuous`, then treated as parameters: with the model's
weights frozen, a few Adam steps lower the entropy of the next-token distribution that follows
them (i.e. raise the model's confidence in how it will answer). Only the optimised thoughts are
then fed and traced; the loss per step is kept in ``trace.meta["losses"]``.
"""

from dataclasses import dataclass
from typing import ClassVar

import torch

from latentspace.core.named import above, between
from latentspace.model import kv
from latentspace.model.align import METHODS
from latentspace.model.grad import frozen
from latentspace.reason.base import ANSWER_ONLY, Reasoner, register


def _entropies(logits: torch.Tensor) -> torch.Tensor:
    logp = torch.log_softmax(logits.float(), -1)
    return -(logp.exp() * logp).sum(-1)


@register
@dataclass
class Optimize(Reasoner):
    instruction: str = ANSWER_ONLY  # think in latent space, then answer like `direct`
    max_new_tokens: int = 24
    max_latent_steps: int = 3  # thoughts to optimise
    alignment: str = "soft"  # how the thoughts start (see `continuous`)
    opt_steps: int = 5
    lr: float = 0.02  # Adam step size, in units of the mean input-embedding norm
    name = "optimize"
    # every optimisation step is a forward and a backward pass: bounded like the other budgets
    RANGES: ClassVar[dict] = {"opt_steps": between(0, 1000), "lr": above(0, 10)}
    CHOICES: ClassVar[dict] = {"alignment": METHODS}

    def think(self, lm, state, rows):
        if self.max_latent_steps == 0:
            return state
        rollout, vectors = state.fork(), []
        for _ in range(self.max_latent_steps):
            vectors.append(lm.align(rollout.hidden, self.alignment, rollout.logits))
            rollout = lm.step(rollout, vectors[-1])
        thoughts = torch.stack(vectors, 1).detach().clone().requires_grad_(True)  # [B, n, d]
        n = thoughts.shape[1]
        mask = torch.cat([state.attention_mask, torch.ones_like(state.attention_mask[:, :n])], 1)
        positions = state.next_position[:, None] + torch.arange(n, device=lm.device)
        opt = torch.optim.Adam([thoughts], lr=self.lr * float(lm.aligner.mean_norm))
        losses = []
        with frozen(lm.model):
            for _ in range(self.opt_steps + 1):
                out = lm.forward(None, mask, inputs_embeds=thoughts, position_ids=positions,
                                 cache=kv.clone(state.cache), logits_to_keep=1, grad=True)
                per_row = _entropies(out.logits[:, -1])
                losses.append(per_row.detach().cpu().tolist())
                if len(losses) > self.opt_steps:
                    break  # the last pass only measures the final loss
                opt.zero_grad()
                # the sum keeps rows independent: each row's thoughts get exactly their own gradient
                per_row.sum().backward()
                opt.step()
        for row, trace in enumerate(rows.traces):
            trace.meta["losses"] = [step[row] for step in losses]
        for i in range(n):
            if not rows.any:
                break
            state = self.latent_step(lm, state, thoughts[:, i].detach(), rows, note="optimised")
        return state
