"""`continuous`: Coconut-style thinking — the last hidden state is fed back as the next input.

Each step aligns the last-layer state to the input-embedding space (`none` for models trained to
read it, `norm`/`ridge`/`soft` for untrained ones — see `model.align`) and appends it as a slot
with no token. Models trained by latentspace's Coconut recipe will bring their own start/end
latent tokens; until then the question is followed directly by the thoughts.
"""

from dataclasses import dataclass

from latentspace.reason.base import Reasoner, register


@register
@dataclass
class Continuous(Reasoner):
    alignment: str = "ridge"  # none | norm | ridge | soft
    temperature: float = 1.0  # for soft alignment: -> 0 gives the argmax token's embedding
    name = "continuous"

    def think(self, lm, state, rows):
        previous = None
        for _ in range(self.max_latent_steps):
            if not rows.any:
                break
            vectors = lm.align(state.hidden, self.alignment, state.logits, self.temperature)
            state = self.latent_step(lm, state, vectors, rows, previous)
            previous = vectors
        return state
