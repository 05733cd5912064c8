"""Reasoner: one interface for every way of thinking before answering, each returning a `Trace`.

A strategy is a small dataclass that overrides `think(lm, state, trace) -> state`: it appends
latent (or explicit) steps to the encoded question. The base class does the rest the same way
for every strategy — prompt, encode, the safety checks on each latent, adaptive early stop, the
final text answer, and the trace totals — so strategies differ only in what they think.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import ClassVar

import torch

from latentspace.errors import LatentspaceError
from latentspace.trace import Step, Trace, read_logits

REGISTRY: dict[str, type[Reasoner]] = {}


def register(cls: type[Reasoner]) -> type[Reasoner]:
    REGISTRY[cls.name] = cls
    return cls


def get_reasoner(name: str, **options) -> Reasoner:
    """A strategy by name with options (unknown names and options give one-line errors)."""
    if name not in REGISTRY:
        raise LatentspaceError(f"unknown strategy {name!r}; valid: {', '.join(sorted(REGISTRY))}")
    fields = [f.name for f in dataclasses.fields(REGISTRY[name])]
    unknown = [k for k in options if k not in fields]
    if unknown:
        raise LatentspaceError(f"strategy {name!r} has no option {unknown[0]!r}; options: {', '.join(fields)}")
    return REGISTRY[name](**options)


@dataclass
class Reasoner:
    """Fields shared by every strategy (each documented where it is used)."""

    max_new_tokens: int = 64  # budget of explicit answer tokens
    max_latent_steps: int = 6  # budget of latent steps (strategies that take them)
    instruction: str = ""  # appended to the question (strategies set their own default)
    chat: bool = True  # wrap the question in the model's chat template
    lens_k: int = 5  # top-k lens reading stored per latent step
    early_stop: float | None = None  # stop thinking when successive latents have cosine above this
    stable_stop: int | None = None  # ... or when the lens top-1 is the same for this many latent steps
    stable_entropy: float = 1.0  # ... each with entropy (nats) below this (stable *and* confident)
    max_norm_ratio: float = 100.0  # a latent longer than this × mean embedding norm has gone bad
    name: ClassVar[str] = "base"

    # -- to override -------------------------------------------------------------------------
    def think(self, lm, state, trace: Trace):
        """Append thinking steps to ``state``; return the new state. Default: no thinking."""
        return state

    # -- shared machinery ----------------------------------------------------------------------
    def prompt(self, lm, question: str) -> str:
        text = f"{question.strip()}\n{self.instruction}".strip() if self.instruction else question.strip()
        return lm.chat(text) if self.chat else text

    def run(self, lm, question: str, seed: int = 0) -> Trace:
        """Think about ``question``, then answer in text; everything recorded in the trace."""
        if not question or not question.strip():
            raise LatentspaceError("empty question")
        started = time.perf_counter()
        torch.manual_seed(seed)
        trace = Trace(prompt=question, strategy=self.name, model=lm.name, meta={"options": self.options()})
        state = lm.encode(self.prompt(lm, question))
        trace.positions = state.length
        state = self.think(lm, state, trace)
        trace.positions = state.length
        trace.stop_reason = trace.stop_reason or "answered"

        def record(logits, tokens):
            entropy, top = read_logits(logits[0], lm.tokenizer, self.lens_k)
            trace.steps.append(Step("explicit", token=lm.tokenizer.decode([int(tokens[0])]), entropy=entropy, top=top))

        result = lm.decode(state, self.max_new_tokens, on_logits=record, seed=seed)
        trace.text = result.texts[0]
        trace.positions += max(0, result.n_tokens - 1)  # the last token is never fed back
        trace.meta["answer_stop"] = result.stop_reasons[0]
        trace.wall_seconds = time.perf_counter() - started
        return trace

    def options(self) -> dict:
        """The strategy's settings, JSON-ready (tensors summarised by their shape)."""
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        return {k: f"tensor{tuple(v.shape)}" if torch.is_tensor(v) else v for k, v in values.items()}

    def latent_step(self, lm, state, vector: torch.Tensor, trace: Trace, previous: torch.Tensor | None = None,
                    note: str = ""):
        """Feed one latent vector after the safety checks; returns (state, stopped?).

        A bad vector is never fed: thinking stops with the reason and the answer is decoded from
        the last good state. ``previous`` (the last latent fed) enables the convergence stop.
        """
        bad = self.went_bad(lm, vector)
        if bad:
            trace.stop_reason = f"latent went bad: {bad}"
            return state, True
        entropy, top = read_logits(state.logits[0], lm.tokenizer, self.lens_k)  # what the thought carries
        trace.steps.append(Step("latent", norm=float(vector.norm()), entropy=entropy, top=top, note=note))
        state = lm.step(state, vector)
        if self.stable_stop and self._lens_is_stable(trace):
            trace.stop_reason = f"stable: lens top-1 unchanged and confident for {self.stable_stop} steps"
            return state, True
        if self.early_stop is not None and previous is not None:
            cos = float(torch.nn.functional.cosine_similarity(previous.flatten(), vector.flatten(), dim=0))
            if cos >= self.early_stop:
                trace.stop_reason = f"converged: cosine {cos:.3f} >= {self.early_stop}"
                return state, True
        return state, False

    def _lens_is_stable(self, trace: Trace) -> bool:
        latents = [s for s in trace.steps if s.kind == "latent"][-self.stable_stop:]
        return (len(latents) == self.stable_stop and len({s.top[0][0] for s in latents}) == 1
                and all(s.entropy < self.stable_entropy for s in latents))

    def went_bad(self, lm, vector: torch.Tensor) -> str | None:
        """Why a latent must not be fed (NaN/inf, or far outside the embedding norm), else None."""
        if not torch.isfinite(vector).all():
            return "NaN or inf in the latent vector"
        ratio = float(vector.norm(dim=-1).max() / lm.aligner.mean_norm.to(vector.device))
        if ratio > self.max_norm_ratio:
            return f"norm {ratio:.0f}× the mean input-embedding norm (limit {self.max_norm_ratio:g}×)"
        return None
