"""One intact pass over the items, keeping every thought: its input vector and the next-token
distribution of the state it was computed from (what the lens reads). The other tests start here."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from latentspace.audit.subject import Subject
from latentspace.tasks import Item


@dataclass
class Recording:
    rows: list[dict]  # the intact answers
    vectors: torch.Tensor  # [N, T, d] each thought's input (zeros past an item's count)
    logprobs: torch.Tensor  # [N, T, V] log-softmax of the state each thought came from
    counts: torch.Tensor  # [N] thoughts per item

    @property
    def slots(self) -> int:
        return self.vectors.shape[1]

    @property
    def correct(self) -> torch.Tensor:
        return torch.tensor([bool(r["correct"]) for r in self.rows])

    def mean_thought(self, t: int) -> torch.Tensor:
        """Thought t's input averaged over the items that have one."""
        has = self.counts > t
        return self.vectors[has, t].mean(0) if has.any() else torch.zeros(self.vectors.shape[-1])


def record(subject: Subject, items: list[Item]) -> Recording:
    counts = torch.tensor(subject.thoughts(items))
    slots = int(counts.max()) if len(counts) else 0
    vectors: dict[tuple[int, int], torch.Tensor] = {}
    logprobs: dict[tuple[int, int], torch.Tensor] = {}

    def observe(i, state, batch, rows):
        reading = torch.log_softmax(state.logits.float(), -1)
        for r, row in enumerate(rows):
            vectors[row, i] = batch[r].detach().float().cpu()
            logprobs[row, i] = reading[r].cpu()

    rows = subject.answer(items, observe=observe)
    width = next(iter(vectors.values())).shape[-1] if vectors else 1
    vocab = next(iter(logprobs.values())).shape[-1] if logprobs else 1
    v = torch.zeros(len(items), slots, width)
    lp = torch.full((len(items), slots, vocab), float("-inf"))
    for (row, i), x in vectors.items():
        if i < counts[row]:
            v[row, i], lp[row, i] = x, logprobs[row, i]
    return Recording(rows, v, lp, counts)
