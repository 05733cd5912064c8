"""Trace: the one record of a run that every capability returns, prints, streams and plots.

A trace is a list of steps (an explicit token or a latent vector, each with its norm, the entropy
of the model's next-token distribution there and, when asked, a top-k lens reading) plus the
totals a benchmark needs: explicit tokens, latent steps, forward positions and wall time.
"""

from __future__ import annotations

from latentspace.core import jsonsafe
from dataclasses import asdict, dataclass, field
from typing import Literal

import torch

Kind = Literal["explicit", "latent"]


@dataclass
class Step:
    kind: Kind
    token: str | None = None  # the text of an explicit token
    norm: float | None = None  # norm of the input vector fed at this step
    entropy: float | None = None  # nats, of the next-token distribution after this step
    top: list[tuple[str, float]] = field(default_factory=list)  # lens reading: (token, probability)
    note: str = ""


@dataclass
class Trace:
    prompt: str
    strategy: str = "direct"
    model: str = ""
    text: str = ""
    answer: str | None = None
    steps: list[Step] = field(default_factory=list)
    positions: int = 0  # forward positions processed in total (prompt + latents + tokens)
    wall_seconds: float = 0.0
    stop_reason: str = ""
    meta: dict = field(default_factory=dict)

    @property
    def explicit_tokens(self) -> int:
        return sum(s.kind == "explicit" for s in self.steps)

    @property
    def latent_steps(self) -> int:
        return sum(s.kind == "latent" for s in self.steps)

    def to_dict(self) -> dict:
        out = asdict(self)
        out.update(explicit_tokens=self.explicit_tokens, latent_steps=self.latent_steps)
        return out

    def to_json(self, **kwargs) -> str:
        return jsonsafe.dumps(self.to_dict(), **kwargs)  # strict JSON: an infinite option is null

    @classmethod
    def from_dict(cls, data: dict) -> Trace:
        data = {k: v for k, v in data.items() if k not in ("explicit_tokens", "latent_steps")}
        steps = [Step(**{**s, "top": [tuple(t) for t in s.get("top", [])]}) for s in data.pop("steps", [])]
        return cls(**data, steps=steps)

    def table(self):
        """A rich table of the steps, for people."""
        from rich.markup import escape  # tokens and names are text, not markup: '[bold]' shows as it is
        from rich.table import Table

        table = Table(title=escape(f"{self.strategy} · {self.model}"), show_lines=False)
        for col in ("#", "kind", "token", "norm", "entropy", "lens top-k"):
            table.add_column(col)
        for i, s in enumerate(self.steps):
            top = "  ".join(f"{t!r} {p:.2f}" for t, p in s.top[:5])
            table.add_row(str(i), s.kind, escape(repr(s.token)) if s.token is not None else "·",
                          _fmt(s.norm), _fmt(s.entropy), escape(top))
        return table

    def plot(self, path) -> None:
        """PNG: entropy and input norm per step, latent steps marked (for reports and notebooks)."""
        from latentspace.core.plots import figure, save

        fig, ax = figure()
        xs = range(len(self.steps))
        ent = [s.entropy if s.entropy is not None else float("nan") for s in self.steps]
        ax.plot(xs, ent, color="#3b6ea8", marker="o", ms=3, label="entropy (nats)")
        for i, s in enumerate(self.steps):
            if s.kind == "latent":
                ax.axvspan(i - 0.5, i + 0.5, color="#f2c14e", alpha=0.3, lw=0)
        ax.set_xlabel("step (shaded: latent)")
        ax.set_ylabel("next-token entropy")
        ax.set_title(f"{self.strategy} · {self.model}")
        save(fig, path)


def _fmt(x: float | None) -> str:
    return "·" if x is None else f"{x:.3g}"


def entropy_nats(logits: torch.Tensor) -> torch.Tensor:
    """Entropy (nats) of each next-token distribution in ``logits [..., V]``, on the CPU."""
    logp = torch.log_softmax(logits.detach().float(), -1)
    return -(logp.exp() * logp).sum(-1).cpu()


def read_logits(logits: torch.Tensor, tokenizer, k: int = 5) -> tuple[float, list[tuple[str, float]]]:
    """(entropy in nats, top-k (token text, probability)) of one next-token distribution."""
    logp = torch.log_softmax(logits.detach().float(), dim=-1)
    entropy = float(entropy_nats(logits))
    top = logp.topk(min(k, logp.shape[-1])) if k else None  # k may exceed a tiny vocabulary
    pairs = [(tokenizer.decode([int(i)]), float(p.exp())) for p, i in zip(*top)] if top else []
    return entropy, pairs
