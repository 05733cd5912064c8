"""`switch`: SwiReasoning — alternate latent (soft) and explicit thinking by the entropy trend.

At each step the next-token entropy is compared with the previous step's. While thinking in
latent space, falling entropy (the model is growing confident) switches to explicit tokens; while
thinking explicitly, rising entropy (it is unsure again) switches back to latent. The number of
switches is capped; thinking also ends when a budget runs out. Each step's kind is in the trace.
"""

from dataclasses import dataclass
from typing import ClassVar

import torch

from latentspace.core.limits import MAX_LATENT_STEPS, MAX_NEW_TOKENS
from latentspace.core.named import between
from latentspace.model.decode import eos_ids
from latentspace.reason.base import STEP_BY_STEP, register
from latentspace.reason.soft import Soft, concept_weights
from latentspace.trace import entropy_nats


@register
@dataclass
class Switch(Soft):
    instruction: str = STEP_BY_STEP  # its explicit blocks are written reasoning
    max_new_tokens: int = 64
    max_explicit_steps: int = 16  # explicit thinking tokens allowed in total
    max_switches: int = 4
    min_block: int = 1  # steps in a mode before a switch is allowed
    name = "switch"
    RANGES: ClassVar[dict] = {"max_explicit_steps": between(0, MAX_NEW_TOKENS),
                              "max_switches": between(0, MAX_LATENT_STEPS), "min_block": between(0, MAX_LATENT_STEPS)}

    def think(self, lm, state, rows):
        batch = state.batch_size
        mode, switches, block = ["latent"] * batch, [0] * batch, [0] * batch
        used = {"latent": [0] * batch, "explicit": [0] * batch}
        budget = {"latent": self.max_latent_steps, "explicit": self.max_explicit_steps}
        last_entropy = entropy_nats(state.logits)
        eos = eos_ids(lm)
        while True:
            for row in rows.indices():
                if all(used[m][row] >= budget[m] for m in budget):
                    rows.stop(row, "thinking budget spent")
                elif used[mode[row]][row] >= budget[mode[row]]:
                    mode[row] = "explicit" if mode[row] == "latent" else "latent"  # that mode's budget is spent
            if not rows.any:
                return state
            greedy = state.logits.argmax(-1)
            for row in rows.indices():
                if mode[row] == "explicit" and int(greedy[row]) in eos:
                    rows.stop(row, "the model ended its answer while thinking")
            if not rows.any:
                return state
            weights = concept_weights(state.logits, self.top_k, self.top_p, self.min_p)
            latent = torch.tensor([m == "latent" for m in mode], device=lm.device)
            vectors = torch.where(latent[:, None], weights.to(lm.dtype) @ lm.input_embeddings, lm.embed(greedy))
            tokens = torch.where(latent, -1, greedy)
            notes = ["latent block" if m == "latent" else "thinking" for m in mode]
            thinking = rows.indices()
            state = self.latent_step(lm, state, vectors, rows, note=notes, tokens=tokens)
            entropy = entropy_nats(state.logits)
            for row in thinking:
                used[mode[row]][row] += 1
                block[row] += 1
                wants = "latent" if entropy[row] > last_entropy[row] else "explicit"  # rising: unsure again
                last_entropy[row] = entropy[row]
                if not rows.active[row] or wants == mode[row] or block[row] < self.min_block:
                    continue
                if used[wants][row] >= budget[wants]:
                    continue  # never switch into a mode whose budget is spent
                if switches[row] >= self.max_switches:
                    rows.stop(row, f"switch cap ({self.max_switches}) reached")
                    continue
                mode[row], switches[row], block[row] = wants, switches[row] + 1, 0
                rows.traces[row].meta["switches"] = switches[row]
