"""`loop`: depth expansion without training — re-apply a block of layers r times per token.

A training-free stand-in for recurrent-depth models (Huginn, Ouro): the answer is decoded greedily
with blocks ``start..end`` applied ``repeats`` times in every forward pass (see
`model.loop.LayerLoop`). Loops cannot reuse a KV cache, so each token recomputes the sequence;
``trace.meta["layer_applications"]`` counts the extra block runs. ``repeats = 1`` is the plain model.
"""

import time
from dataclasses import dataclass

import torch

from latentspace.errors import LatentspaceError
from latentspace.model.loop import LayerLoop
from latentspace.reason.base import Reasoner, register
from latentspace.trace import Step, Trace, read_logits


@register
@dataclass
class Loop(Reasoner):
    start: int = -1  # first looped block (-1: a third of the way in)
    end: int = -1  # last looped block (-1: two thirds of the way in)
    repeats: int = 2
    alpha: float = 1.0  # 1 = replace, < 1 = interpolate with the previous pass
    instruction: str = "Answer with only the final answer."
    max_new_tokens: int = 24
    name = "loop"

    def run(self, lm, question: str, seed: int = 0) -> Trace:
        """Greedy answer with the loop active (overrides the cached `Reasoner.run`)."""
        if not question or not question.strip():
            raise LatentspaceError("empty question")
        started = time.perf_counter()
        start = self.start if self.start >= 0 else lm.n_layers // 3
        end = self.end if self.end >= 0 else (2 * lm.n_layers) // 3
        trace = Trace(prompt=question, strategy=self.name, model=lm.name, meta={"options": self.options()})
        ids, _ = lm.tokenize(self.prompt(lm, question), chat=False)
        eos = lm.tokenizer.eos_token_id
        computed, generated = 0, []
        with LayerLoop(lm.sites, start, end, self.repeats, self.alpha):
            for _ in range(self.max_new_tokens):
                logits = lm.forward(ids, logits_to_keep=1).logits[:, -1]
                computed += ids.shape[1]
                token = logits.argmax(-1)
                generated.append(int(token[0]))
                entropy, top = read_logits(logits[0], lm.tokenizer, self.lens_k)
                trace.steps.append(Step("explicit", token=lm.tokenizer.decode([int(token[0])]), entropy=entropy,
                                        top=top, note=f"blocks {start}-{end} x{self.repeats}"))
                if int(token[0]) == eos:
                    break
                ids = torch.cat([ids, token[:, None]], 1)
        trace.text = lm.tokenizer.decode(generated, skip_special_tokens=True)
        trace.positions = ids.shape[1]
        trace.stop_reason = "answered"
        trace.meta["layer_applications"] = computed * (end - start + 1) * (self.repeats - 1)
        trace.wall_seconds = time.perf_counter() - started
        return trace
