"""A training-free strategy on any model as an audit subject: its latent steps are the thoughts.

Every strategy feeds its latents through `Reasoner.latent_step`; the subject sets the reasoner's
``thought_hook`` there, so the audit watches or changes thought i of each row. Thought counts are
the strategy's ``max_latent_steps`` (a row its guards stop early is answered from its last good
state; its later slots are still observed). An intermediate value is read by its first token
(a tokenizer that splits numbers into digits reads "14" as "1").

The audit asks the same questions dozens of times; each batch's prompt is read once and its cache
forked for every later pass (the prompt read was ~40% of a pass on SmolLM2).
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from latentspace.reason.base import Reasoner
from latentspace.tasks import Item, TaskSpec, free_text, graded

if TYPE_CHECKING:  # the type only: no import at run time
    from latentspace.model.latent_model import LatentModel


class StrategySubject:
    def __init__(self, lm: LatentModel, reasoner, task: TaskSpec | None, batch_size: int = 64, seed: int = 0) -> None:
        """``task`` None: free text — the answer is the text itself (correct when it equals the item's)."""
        self.lm, self.reasoner, self.task, self.batch_size, self.seed = lm, reasoner, task, batch_size, seed
        self.name = f"{reasoner.name} on {lm.name}"
        self.prefills: dict[tuple[str, ...], object] = {}  # the questions of a batch -> their prompt's read
        self.reuses = type(reasoner).run_batch is Reasoner.run_batch  # a strategy with its own run_batch reads anew

    def thoughts(self, items: list[Item]) -> list[int]:
        return [self.reasoner.max_latent_steps] * len(items)

    @property
    def fingerprint(self) -> dict:
        return self.lm.fingerprint

    def network(self):
        return self.lm.model, self.lm.sites

    def token_id(self, symbol: str) -> int | None:
        ids = self.lm.tokenizer.encode(symbol, add_special_tokens=False)
        return ids[0] if ids else None

    def answer(self, items: list[Item], limit=None, observe=None, edit=None) -> list[dict]:
        reasoner = self.reasoner
        if limit is not None:
            reasoner = dataclasses.replace(reasoner, max_latent_steps=min(limit, reasoner.max_latent_steps))
        rows = []
        for first in range(0, len(items), self.batch_size):
            chunk = items[first:first + self.batch_size]
            where = range(first, first + len(chunk))
            step = [0]

            def hook(state, vectors, where=where, step=step):
                i = step[0]
                step[0] += 1
                if observe is not None:
                    observe(i, state, vectors, where)
                return vectors if edit is None else edit(i, state, vectors, where)

            questions = [item.question for item in chunk]
            reasoner.thought_hook = hook
            try:
                if self.reuses:
                    if tuple(questions) not in self.prefills:
                        self.prefills[tuple(questions)] = reasoner.prefill(self.lm, questions)
                    traces = reasoner.run_batch(self.lm, questions, seed=self.seed,
                                                prefilled=self.prefills[tuple(questions)])
                else:
                    traces = reasoner.run_batch(self.lm, questions, seed=self.seed)
            finally:
                reasoner.thought_hook = None
            for item, trace in zip(chunk, traces):
                correct, found = graded(trace.text, item.answer, self.task.extract if self.task else free_text)
                rows.append({"correct": correct, "extracted": found})
        return rows
