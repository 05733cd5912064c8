"""`switch`: SwiReasoning — alternate latent (soft) and explicit thinking by the entropy trend.

At each step the next-token entropy is compared with the previous step's. While thinking in
latent space, falling entropy (the model is growing confident) switches to explicit tokens; while
thinking explicitly, rising entropy (it is unsure again) switches back to latent. The number of
switches is capped; thinking also ends when a budget runs out. Each step's kind is in the trace.
"""

from dataclasses import dataclass

import torch

from latentspace.reason.base import register
from latentspace.reason.soft import Soft, concept_weights
from latentspace.trace import Step, read_logits


def entropy_of(logits: torch.Tensor) -> float:
    logp = torch.log_softmax(logits.float(), -1)
    return float(-(logp.exp() * logp).sum(-1)[0])


@register
@dataclass
class Switch(Soft):
    max_explicit_steps: int = 16  # explicit thinking tokens allowed in total
    max_switches: int = 4
    min_block: int = 1  # steps in a mode before a switch is allowed
    name = "switch"

    def think(self, lm, state, trace):
        mode, switches, block = "latent", 0, 0
        latent_used = explicit_used = 0
        last_entropy = entropy_of(state.logits)
        while latent_used < self.max_latent_steps or explicit_used < self.max_explicit_steps:
            if mode == "latent" and latent_used >= self.max_latent_steps:
                mode = "explicit"
            if mode == "explicit" and explicit_used >= self.max_explicit_steps:
                mode = "latent"
            if mode == "latent":
                weights = concept_weights(state.logits, self.top_k, self.top_p, self.min_p)
                vector = weights.to(lm.dtype) @ lm.input_embeddings
                state, stopped = self.latent_step(lm, state, vector, trace, note="latent block")
                if stopped:
                    return state
                latent_used += 1
            else:
                token = state.logits.argmax(-1)
                entropy, top = read_logits(state.logits[0], lm.tokenizer, self.lens_k)
                trace.steps.append(Step("explicit", token=lm.tokenizer.decode([int(token[0])]), entropy=entropy,
                                        top=top, note="thinking"))
                state = lm.feed(state, token[:, None])
                explicit_used += 1
            block += 1
            entropy = entropy_of(state.logits)
            rising = entropy > last_entropy
            last_entropy = entropy
            wants = "latent" if rising else "explicit"
            if wants != mode and block >= self.min_block:
                if switches >= self.max_switches:
                    trace.stop_reason = f"switch cap ({self.max_switches}) reached"
                    return state
                mode, switches, block = wants, switches + 1, 0
                trace.meta["switches"] = switches
        trace.stop_reason = "thinking budget spent"
        return state
