"""Reasoner: one interface for every way of thinking before answering, each returning a `Trace`.

A strategy is a small dataclass that overrides `think(lm, state, rows) -> state`: it appends
latent (or explicit) steps to the encoded questions. The base class does the rest the same way
for every strategy — prompt, encode, the safety checks on each latent, adaptive early stop, the
final text answer, and the trace totals — so strategies differ only in what they think.

Everything is batched: `run_batch` thinks about several questions in one left-padded batch.
A question that stops thinking early (converged, cold, a bad latent) drops out of the batch's
later latent slots — they are masked for it (`LatentModel.step(rows=...)`) — so each answer is
the one it would get alone; the tests check batched == one at a time. `run` is a batch of one.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import time
from dataclasses import dataclass
from typing import ClassVar, TYPE_CHECKING

import torch

from latentspace.core.errors import LatentspaceError
from latentspace.core.limits import MAX_LATENT_STEPS, MAX_NEW_TOKENS
from latentspace.core.named import above, between, make_named
from latentspace.model.decode import eos_ids
from latentspace.model.markers import trained_layout
from latentspace.reason.watch import record as record_step, text_sink
from latentspace.trace import Step, Trace, read_logits

if TYPE_CHECKING:  # the type only: no import at run time
    from latentspace.model.latent_model import LatentModel

REGISTRY: dict[str, type[Reasoner]] = {}

# The two prompts strategies share: latent strategies think silently, then answer like `direct`,
# so a comparison with `direct` measures exactly what the thinking adds.
ANSWER_ONLY = "Answer with only the final answer."
STEP_BY_STEP = "Think step by step, then write the final answer after 'Answer:'."

# The budgets every strategy shares are the server's and the CLI's (`latentspace.core.limits`): `--set` and a
# request's ``options`` are checked against the same numbers.
# A next-token distribution this close to uniform (nats below log V) carries nothing: the stream
# collapsed (a zero hidden state gives equal logits). Random tiny test models sit above 0.01.
UNIFORM_NATS = 1e-4


def register(cls: type[Reasoner]) -> type[Reasoner]:
    REGISTRY[cls.name] = cls
    return cls


def get_reasoner(name: str, **options) -> Reasoner:
    """A reasoner by name with options (unknown names and options give one-line errors).

    Multi-agent pipelines (``agents:PIPELINE[:MODE]``) are resolved one layer up, by
    `latentspace.strategies.get_strategy`, which also answers every name this does.
    """
    if name.startswith("agents:"):  # a name, not an import: this layer knows no agents
        raise LatentspaceError(f"{name[:80]!r} is an agent pipeline: resolve it with "
                               "latentspace.strategies.get_strategy")
    return make_named(REGISTRY, name, "strategy", options)


@dataclass
class Rows:
    """The questions of a batch as thinking proceeds: one trace each, and which still think."""

    traces: list[Trace]
    active: torch.Tensor  # [B] bool, on the CPU
    written: list[list[int]] = dataclasses.field(default_factory=list)  # explicit thinking tokens per row

    def __post_init__(self) -> None:
        self.written = self.written or [[] for _ in self.traces]

    @property
    def any(self) -> bool:
        return bool(self.active.any())

    def indices(self) -> list[int]:
        return [int(i) for i in self.active.nonzero().flatten()]

    def stop(self, row: int, reason: str) -> None:
        if self.active[row]:
            self.active[row] = False
            self.traces[row].stop_reason = reason


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
    min_norm_ratio: float = 1e-3  # ... and one shorter than this × that norm has collapsed
    answer_temperature: float = 0.0  # sampling of the answer text (0 = greedy)
    answer_top_p: float = 1.0  # nucleus mass when sampling the answer
    answer_stops: tuple[str, ...] = ()  # stop strings that end the answer
    # make every latent step random (`latentspace.model.samplers`): gumbel:TAU, dirichlet:ALPHA, mts:K (drawn from the step's
    # next-token distribution), noise:SIGMA, dropout:P; "" keeps thinking deterministic. Seeded by the run's seed
    thought_sampler: str = ""
    name: ClassVar[str] = "base"
    # (state, vectors [B, d]) -> the vectors to feed: set on an instance by an audit
    # (`latentspace.audit.strategy_subject`) to watch or change every latent step; not an option
    thought_hook: ClassVar[object] = None
    RANGES: ClassVar[dict] = {
        "max_new_tokens": between(0, MAX_NEW_TOKENS),
        "max_latent_steps": between(0, MAX_LATENT_STEPS),
        "lens_k": between(0, 100),
        "early_stop": between(-1, 1),  # a cosine
        "stable_stop": between(1, MAX_LATENT_STEPS),
        "stable_entropy": between(0, 100),
        "max_norm_ratio": above(0, math.inf),  # inf: no limit
        "min_norm_ratio": between(0, 1),
        "answer_temperature": between(0, 2),  # as the server's temperature
        "answer_top_p": above(0, 1),
    }

    def __post_init__(self) -> None:
        if self.thought_sampler:
            from latentspace.model.samplers import parse_sampler

            parse_sampler(self.thought_sampler)  # a bad spec is one line when the strategy is built

    # -- to override -------------------------------------------------------------------------
    def think(self, lm: LatentModel, state, rows: Rows):
        """Append thinking steps to ``state`` for the ``rows`` still active; return the new state."""
        return state

    # -- shared machinery ----------------------------------------------------------------------
    def batch_key(self) -> tuple | None:
        """Equal keys read and decode alike (greedy answers), so one batch may serve them."""
        if self.answer_temperature != 0 or self.thought_sampler:  # sampled: draws depend on the batch
            return None
        return type(self).__name__, json.dumps(self.options(), sort_keys=True, default=str)

    def prompt(self, lm: LatentModel, question: str) -> str:
        if trained_layout(lm.model):  # trained here on Coconut's layout: the question and a newline
            return question.strip() + "\n"
        text = f"{question.strip()}\n{self.instruction}".strip() if self.instruction else question.strip()
        return lm.chat(text) if self.chat else text

    def run(self, lm: LatentModel, question: str, seed: int = 0, **where) -> Trace:
        """Think about ``question``, then answer in text; everything recorded in the trace."""
        return self.run_batch(lm, [question], seed, **where)[0]

    def run_batch(self, lm: LatentModel, questions: list[str], seed: int = 0, prompts: list[str] | None = None,
                  memory=None, prefilled=None) -> list[Trace]:
        """Think about several questions in one batch; one trace per question, in order.

        Each trace's ``wall_seconds`` is the batch's time divided by its size (``meta["batch"]``).
        ``prompts``: the exact texts to read instead of `prompt` (a whole rendered conversation);
        the questions then only label the traces. ``memory``: a `LatentState` the prompts continue
        (a recalled memory; the prompts are then read without special tokens, one question only).
        ``prefilled``: `prefill` of these questions, made before (an audit asks the same questions
        dozens of times); it is forked, so the caller can hand it in again.
        """
        started, rows = self.begin(lm, questions, seed)
        texts = list(prompts) if prompts is not None else [self.prompt(lm, q) for q in questions]
        if len(texts) != len(questions):
            raise LatentspaceError(f"{len(texts)} prompts for {len(questions)} questions")
        if prefilled is not None:
            state = prefilled.fork()
        else:
            state = lm.encode(texts) if memory is None else _continue(lm, memory, texts)
        state = self.think(lm, state, rows)
        return self.answer(lm, state, rows, started, seed)

    def prefill(self, lm: LatentModel, questions: list[str]):
        """The read `run_batch` starts with for ``questions`` (hand it back as ``prefilled`` to skip it)."""
        return lm.encode([self.prompt(lm, q) for q in questions])

    def begin(self, lm: LatentModel, questions: list[str], seed: int) -> tuple[float, Rows]:
        if not questions or any(not q or not q.strip() for q in questions):
            raise LatentspaceError("empty question")
        torch.manual_seed(seed)
        meta = {"options": self.options(), "batch": len(questions)}
        traces = [Trace(prompt=q, strategy=self.name, model=lm.name, meta=dict(meta)) for q in questions]
        return time.perf_counter(), Rows(traces, torch.ones(len(questions), dtype=torch.bool))

    def answer(self, lm: LatentModel, state, rows: Rows, started: float, seed: int) -> list[Trace]:
        """Decode every row's text answer, record its tokens, finish the traces."""
        thought = state.attention_mask.sum(1).tolist()  # real slots: prompt + thoughts, no padding
        eos = eos_ids(lm)
        ended = [False] * len(rows.traces)

        def record(logits, tokens):
            for row, trace in enumerate(rows.traces):
                if ended[row]:
                    continue  # the row has answered; the batch decodes on for the others
                token = int(tokens[row])
                entropy, top = read_logits(logits[row], lm.tokenizer, self.lens_k)
                step = Step("explicit", token=lm.tokenizer.decode([token]), entropy=entropy, top=top)
                record_step(trace, row, step)
                ended[row] = token in eos

        result = lm.decode(state, self.max_new_tokens, on_logits=record, seed=seed, on_text=text_sink(),
                           temperature=self.answer_temperature, top_p=self.answer_top_p,
                           stop=_stops(self.answer_stops))
        seconds = (time.perf_counter() - started) / len(rows.traces)
        for row, trace in enumerate(rows.traces):
            # explicit thinking (switch) is part of what the model wrote, like a chain of thought's text
            written = rows.written[row]
            trace.text = (lm.tokenizer.decode(written + result.token_ids[row], skip_special_tokens=True)
                          if written else result.texts[row])
            trace.positions = int(thought[row]) + max(0, len(result.token_ids[row]) - 1)  # last token never fed
            trace.stop_reason = trace.stop_reason or "answered"
            trace.meta["answer_stop"] = result.stop_reasons[row]
            trace.wall_seconds = seconds
        return rows.traces

    def options(self) -> dict:
        """The strategy's settings, JSON-ready (tensors summarised by their shape)."""
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        return {k: f"tensor{tuple(v.shape)}" if torch.is_tensor(v) else v for k, v in values.items()}

    def latent_step(self, lm: LatentModel, state, vectors: torch.Tensor, rows: Rows,
                    previous: torch.Tensor | None = None,
                    note: str | list[str] = "", tokens: torch.Tensor | None = None):
        """Feed one vector per active row after the safety checks; returns the new state.

        A bad vector is never fed: that row stops thinking with the reason and is answered from its
        last good state. ``previous`` (``[B, d]``, the last latents fed) enables the convergence
        stop. ``tokens`` (``[B]``, -1 for latent rows) marks rows whose vector is a token's
        embedding: they are recorded as explicit thinking tokens and are not checked or stopped.
        """
        vectors = vectors.expand(state.batch_size, -1) if vectors.dim() == 1 else vectors
        sampler = None
        if self.thought_sampler:
            from latentspace.model.samplers import parse_sampler

            sampler = parse_sampler(self.thought_sampler)
            drawn = sampler.draw(vectors, state.logits if sampler.needs_logits else None, lm.input_embeddings).vectors
            latent_rows = torch.ones(state.batch_size, dtype=torch.bool) if tokens is None else tokens.cpu() < 0
            vectors = torch.where(latent_rows.to(vectors.device)[:, None], drawn.to(vectors.dtype), vectors)
        if self.thought_hook is not None:
            vectors = self.thought_hook(state, vectors)
        notes = [note] * state.batch_size if isinstance(note, str) else note
        explicit = [tokens is not None and int(tokens[r]) >= 0 for r in range(state.batch_size)]
        for row in rows.indices():
            bad = None if explicit[row] else self.went_bad(lm, vectors[row], state.logits[row])
            if bad:
                rows.stop(row, f"latent went bad: {bad}")
        fed = rows.indices()
        if not fed:
            return state
        for row in fed:  # what the thought carries: the distribution it was made from
            if explicit[row]:
                rows.written[row].append(int(tokens[row]))
            entropy, top = read_logits(state.logits[row], lm.tokenizer, self.lens_k)
            token = lm.tokenizer.decode([int(tokens[row])]) if explicit[row] else None
            record_step(rows.traces[row], row, Step("explicit" if explicit[row] else "latent", token=token,
                                                    norm=None if explicit[row] else float(vectors[row].norm()),
                                                    entropy=entropy, top=top, note=notes[row]))
        feeding = rows.active.clone()
        with sampler.stepping(lm.model) if sampler is not None else contextlib.nullcontext():
            state = lm.step(state, vectors, rows=feeding)
        if tokens is not None:  # explicit rows hold their token, not a latent marker (masked rows keep the pad)
            tokens = tokens.to(state.ids.device)
            written = (tokens >= 0) & feeding.to(state.ids.device)
            state.ids[:, -1] = torch.where(written, tokens, state.ids[:, -1])
        for row in fed:
            if explicit[row]:
                continue
            if self.stable_stop and self._lens_is_stable(rows.traces[row]):
                rows.stop(row, f"stable: lens top-1 unchanged and confident for {self.stable_stop} steps")
            elif self.early_stop is not None and previous is not None:
                cos = float(torch.nn.functional.cosine_similarity(previous[row].flatten(), vectors[row].flatten(),
                                                                  dim=0))
                if cos >= self.early_stop:
                    rows.stop(row, f"converged: cosine {cos:.3f} >= {self.early_stop}")
        return state

    def _lens_is_stable(self, trace: Trace) -> bool:
        latents = [s for s in trace.steps if s.kind == "latent"][-self.stable_stop:]
        return (len(latents) == self.stable_stop and len({s.top[0][0] for s in latents}) == 1
                and all(s.entropy < self.stable_entropy for s in latents))

    def went_bad(self, lm: LatentModel, vector: torch.Tensor, logits: torch.Tensor | None = None) -> str | None:
        """Why a latent must not be fed, else None: NaN/inf, a norm far outside the embeddings' (an
        explosion), or a collapse — a near-zero norm, or ``logits`` (the distribution the latent was
        read from) indistinguishable from uniform. A collapsed stream fed on answers from noise."""
        if not torch.isfinite(vector).all():
            return "NaN or inf in the latent vector"
        ratio = float(vector.norm(dim=-1).max() / lm.aligner.mean_norm.to(vector.device))
        if ratio > self.max_norm_ratio:
            return f"norm {ratio:.0f}× the mean input-embedding norm (limit {self.max_norm_ratio:g}×)"
        if ratio < self.min_norm_ratio:
            return (f"collapsed: norm {ratio:.2g}× the mean input-embedding norm "
                    f"(limit {self.min_norm_ratio:g}×)")
        if logits is not None:
            if not torch.isfinite(logits).all():
                return "collapsed: NaN or inf in the next-token logits"
            logp = torch.log_softmax(logits.detach().double(), -1)
            gap = math.log(logits.shape[-1]) - float(-(logp.exp() * logp).sum())
            if gap < UNIFORM_NATS:
                return "collapsed: the next-token distribution is uniform (entropy = log of the vocabulary size)"
        return None


def _continue(lm: LatentModel, memory, texts: list[str]):
    """Read ``texts`` after a recalled memory (a batch of one: a memory is one conversation so far)."""
    if len(texts) != 1 or memory.batch_size != 1:
        raise LatentspaceError("a memory continues one question at a time")
    ids = lm.token_ids(texts[0], held=int(memory.next_position.max()))
    return lm.feed(memory, torch.tensor([ids], dtype=torch.long))


def _stops(stops) -> tuple[str, ...]:
    """Stop strings from a tuple, a list or (from --set answer_stops=...) one string."""
    return (stops,) if isinstance(stops, str) else tuple(stops)
