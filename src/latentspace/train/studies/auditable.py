"""A trained run as an audit subject (`latentspace.audit.subject`): its model answers items the way
its training evaluation did, with the audit's hooks on the fed-back thoughts."""

from __future__ import annotations

from pathlib import Path

from latentspace.tasks import Item
from latentspace.train.data import encode_examples
from latentspace.train.studies.evaluate_run import load_run


class TrainedSubject:
    def __init__(self, run_dir: Path, batch_size: int = 64) -> None:
        self.run_dir, self.batch_size = Path(run_dir), batch_size
        self.loaded = load_run(self.run_dir)
        self.name = f"{self.loaded.recipe.name} ({self.run_dir})"
        self.tokenizer = self.loaded.tokenizer

    def thoughts(self, items: list[Item]) -> list[int]:
        examples = encode_examples(self.tokenizer, items)
        return [self.loaded.recipe.thoughts_at(ex, self.loaded.stage) for ex in examples]

    @property
    def fingerprint(self) -> dict:
        from latentspace.core.saved import fingerprint

        return fingerprint(self.loaded.causal_lm)

    def network(self):
        """The model and its sites (the audit's per-layer probes hook them while the run answers)."""
        from latentspace.model.sites import resolve

        return self.loaded.causal_lm, resolve(self.loaded.causal_lm)

    def token_id(self, symbol: str) -> int | None:
        ids = self.tokenizer.encode(symbol, add_special_tokens=False)
        unknown = self.tokenizer.unk_token_id
        return ids[0] if len(ids) == 1 and ids[0] != unknown else None

    def answer(self, items: list[Item], limit=None, observe=None, edit=None) -> list[dict]:
        return self.loaded.evaluate(items, self.batch_size, limit=limit, observe=observe, edit=edit).rows
