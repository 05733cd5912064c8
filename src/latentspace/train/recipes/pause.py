"""`pause`: Coconut's curriculum with the thought slots left as a learned `<|latent|>` embedding.

The paper's "pause as thought" control: the same sequences, stages and markers as `coconut`, but
no hidden state is fed back — each slot is the one trained token embedding, so any gain comes
from the extra positions, not from continuous thoughts.
"""

from dataclasses import dataclass

from latentspace.train.recipes.base import register
from latentspace.train.recipes.coconut import Coconut


@register
@dataclass
class PauseAsThought(Coconut):
    name = "pause"
    feedback = False
