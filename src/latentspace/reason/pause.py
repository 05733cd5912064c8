"""`pause`: n filler positions before answering (pause tokens; a learned embedding when trained).

Without training, the filler is a fixed vector: by default the embedding of a token (``"."``);
`embedding` may be any vector of the hidden size (e.g. one learned by the training recipes).
"""

from dataclasses import dataclass

import torch

from latentspace.core.errors import LatentspaceError
from latentspace.reason.base import ANSWER_ONLY, Reasoner, register


@register
@dataclass
class Pause(Reasoner):
    filler: str = "."  # token whose embedding is the pause vector
    embedding: torch.Tensor | None = None  # overrides `filler`
    instruction: str = ANSWER_ONLY
    max_new_tokens: int = 24
    name = "pause"

    def think(self, lm, state, rows):
        vector = self.embedding
        if vector is None:
            ids = lm.token_ids(self.filler)
            if len(ids) != 1:
                raise LatentspaceError(f"pause filler {self.filler!r} must be exactly one token")
            vector = lm.input_embeddings[ids[0]]
        for _ in range(self.max_latent_steps):
            if not rows.any:
                break
            state = self.latent_step(lm, state, vector.to(lm.device, lm.dtype), rows, note="pause")
        return state
