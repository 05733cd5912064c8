"""`loop`: depth expansion without training — re-apply a block of layers r times per token.

A training-free stand-in for recurrent-depth models (Huginn, Ouro): the answer is decoded greedily
with blocks ``start..end`` applied ``repeats`` times in every forward pass (see
`model.loop.LayerLoop`). Loops cannot reuse a KV cache, so each token recomputes the sequence;
``trace.meta["layer_applications"]`` counts the extra block runs. ``repeats = 1`` is the plain model.
"""

import time
from dataclasses import dataclass

import torch

from latentspace.model.decode import eos_ids
from latentspace.model.loop import LayerLoop
from latentspace.reason.base import ANSWER_ONLY, Reasoner, register
from latentspace.trace import Step, Trace, read_logits


@register
@dataclass
class Loop(Reasoner):
    start: int = -1  # first looped block (-1: a third of the way in)
    end: int = -1  # last looped block (-1: two thirds of the way in)
    repeats: int = 2
    alpha: float = 1.0  # 1 = replace, < 1 = interpolate with the previous pass
    instruction: str = ANSWER_ONLY
    max_new_tokens: int = 24
    name = "loop"

    def run_batch(self, lm, questions: list[str], seed: int = 0) -> list[Trace]:
        """Greedy answers with the loop active (full recompute: loops cannot reuse a KV cache)."""
        started, rows = self.begin(lm, questions, seed)
        start = self.start if self.start >= 0 else lm.n_layers // 3
        end = self.end if self.end >= 0 else (2 * lm.n_layers) // 3
        ids, mask = lm.tokenize([self.prompt(lm, q) for q in questions], chat=False)
        eos, pad = eos_ids(lm), lm.tokenizer.pad_token_id
        generated = [[] for _ in questions]
        computed = torch.zeros(len(questions), dtype=torch.long)
        with LayerLoop(lm.sites, start, end, self.repeats, self.alpha):
            for _ in range(self.max_new_tokens):
                if not rows.any:
                    break
                logits = lm.forward(ids, mask, logits_to_keep=1).logits[:, -1]
                tokens = logits.argmax(-1)
                answering = rows.active.clone()
                computed += mask.sum(1).cpu() * answering
                for row in rows.indices():
                    token = int(tokens[row])
                    generated[row].append(token)
                    entropy, top = read_logits(logits[row], lm.tokenizer, self.lens_k)
                    rows.traces[row].steps.append(Step("explicit", token=lm.tokenizer.decode([token]), entropy=entropy,
                                                       top=top, note=f"blocks {start}-{end} x{self.repeats}"))
                    if token in eos:
                        rows.stop(row, "answered")
                keep = answering.to(lm.device)  # rows that answered take masked pads from now on
                ids = torch.cat([ids, torch.where(keep, tokens, pad)[:, None]], 1)
                mask = torch.cat([mask, keep[:, None].to(mask.dtype)], 1)
        seconds = (time.perf_counter() - started) / len(questions)
        for row, trace in enumerate(rows.traces):
            trace.text = lm.tokenizer.decode(generated[row], skip_special_tokens=True)
            trace.positions = int(mask[row].sum()) - (1 if generated[row] else 0)  # the last token never fed
            trace.stop_reason = "answered"
            trace.meta["layer_applications"] = int(computed[row]) * (end - start + 1) * (self.repeats - 1)
            trace.wall_seconds = seconds
        return rows.traces
