"""`continuous`: Coconut-style thinking — the last hidden state is fed back as the next input.

Each step aligns the last-layer state to the input-embedding space (`none` for models trained to
read it, `norm`/`ridge`/`soft` for untrained ones — see `model.align`) and appends it as a slot
with no token. A model trained to think this way (its tokenizer has `<|start-latent|>` and
`<|end-latent|>`, see `model.markers`) gets its thoughts between those markers, fed raw
(alignment `auto` -> `none`), exactly as it was trained; other models get the thoughts right
after the question, aligned by `ridge`.
"""

from dataclasses import dataclass
from typing import ClassVar

import torch

from latentspace.core.errors import LatentspaceError
from latentspace.core.named import above
from latentspace.model.align import METHODS
from latentspace.model.markers import latent_markers, trained_layout
from latentspace.model.thoughts import think
from latentspace.reason.base import ANSWER_ONLY, Reasoner, register


@register
@dataclass
class Continuous(Reasoner):
    instruction: str = ANSWER_ONLY  # think in latent space, then answer like `direct`
    max_new_tokens: int = 24
    alignment: str = "auto"  # auto | none | norm | ridge | soft (auto: none with markers, else ridge)
    temperature: float = 1.0  # for soft alignment: -> 0 gives the argmax token's embedding
    markers: str = "auto"  # auto: use the model's start/end-latent tokens when it has them | off | on
    name = "continuous"
    RANGES: ClassVar[dict] = {"temperature": above(0, 100)}
    CHOICES: ClassVar[dict] = {"alignment": ("auto", *METHODS), "markers": ("auto", "on", "off")}

    def think(self, lm, state, rows):
        layout = trained_layout(lm.model) or {}
        recipe = layout.get("recipe")
        if recipe in ("codi", "pause"):  # their thoughts are not raw fed-back states
            raise LatentspaceError(f"this model was trained with the {recipe} recipe; its thoughts are not raw "
                                   "hidden states — evaluate it with `latentspace train` (its test summary)")
        if layout.get("thought_from", "previous") != "previous":
            raise LatentspaceError(f"this model's thoughts are read at their own slot (thought_from="
                                   f"{layout['thought_from']}), not fed from the previous state — evaluate it with "
                                   "`latentspace train eval`")
        markers = self.resolve_markers(lm)
        alignment = self.alignment if self.alignment != "auto" else ("none" if markers else "ridge")
        for trace in rows.traces:
            trace.meta.update(alignment=alignment, markers=markers is not None)
        # only rows that think get the markers: in a batch of several agents (`latentspace.agents`)
        # the other rows get masked slots, as for latent steps; every thinking row closes its
        # thoughts (a row that stopped early: after masked slots)
        thinking = rows.active.clone()[:, None].to(lm.device, torch.long)
        previous = None  # the last latents fed: the guards' convergence stop compares with them

        def inputs(state, i):
            return lm.align(state.hidden, alignment, state.logits, self.temperature)

        def guarded(state, vectors, i):
            nonlocal previous
            state, previous = self.latent_step(lm, state, vectors, rows, previous), vectors
            return state

        return think(lm, state, self.max_latent_steps, inputs, markers=markers, step=guarded,
                     stop=lambda: not rows.any, marker_mask=thinking)

    def resolve_markers(self, lm) -> tuple[int, int] | None:
        if self.markers not in ("auto", "on", "off"):
            raise LatentspaceError(f"markers must be auto, on or off, not {self.markers!r}")
        found = latent_markers(lm.tokenizer) if self.markers != "off" else None
        if self.markers == "on" and found is None:
            raise LatentspaceError("markers=on but the tokenizer has no <|start-latent|>/<|end-latent|> tokens")
        return found
