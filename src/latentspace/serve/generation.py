"""What a completion request computes: a `Work` (built from the request) run on the model's worker.

Every request, plain or latent, runs through a reasoning strategy — plain generation is `direct`
with no added instruction — so one code path yields the text, the usage counts and the `Trace`
the library itself returns for the same question, strategy and seed.
"""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

from latentspace.core.errors import LatentspaceError
from latentspace.reason.watch import watching
from latentspace.strategies import Strategy

if TYPE_CHECKING:  # the type only: no import at run time
    from latentspace.model.latent_model import LatentModel


@dataclass
class Work:
    question: str  # labels the trace: the last user message, or the prompt
    prompt: str | None  # the exact text to read; None = the strategy's own prompt for ``question``
    reasoner: Strategy
    seed: int = 0
    steer: list[tuple[str, float]] = field(default_factory=list)  # (vector id, strength)
    steer_positions: str = "all"
    memories: list[str] = field(default_factory=list)
    press: object | None = None
    stream: bool = False
    trace: bool = False
    custom: bool = False  # the client set strategy options: a strategy failing on them is bad input
    holds: tuple[str, ...] = ()  # other served models an agent pipeline runs on: their workers are held

    def batch_key(self):
        """Requests with equal keys read the same way and decode greedily: one batch can serve them."""
        key = self.reasoner.batch_key()
        if key is None or self.steer or self.memories or self.press is not None:
            return None
        return *key, self.prompt is None, self.seed


@dataclass
class Outcome:
    trace: object  # latentspace.trace.Trace
    prompt_tokens: int
    memories: list[str]


def run_works(library, metrics):
    """The job runner for completions: ``run(lm, jobs)`` runs their works as one batch."""

    def run(lm: LatentModel, jobs) -> None:
        if len(jobs) > 1 and not _fits(lm, [job.payload for job in jobs]):
            for job in jobs:  # one at a time: a long prompt must neither fail nor cut short the others
                try:
                    batch(lm, [job])
                except Exception as err:  # noqa: BLE001 - each request gets its own error
                    job.fail(job.reason_to_stop() or err)
            return
        batch(lm, jobs)

    def batch(lm: LatentModel, jobs) -> None:
        works = [job.payload for job in jobs]
        first = works[0]

        # rows beyond the requests are an agent pipeline's own (its experts think as a batch): not ours
        def on_step(row, step):
            if row < len(works) and works[row].stream and works[row].trace:
                jobs[row].emit("step", asdict(step))  # a copy: the strategy may still edit its steps

        def on_text(row, piece):
            if row < len(works) and works[row].stream:
                jobs[row].emit("text", piece)

        with ExitStack() as stack:
            if first.steer:
                from latentspace.steer import steer

                vectors = [(library.vector(lm, vid), strength) for vid, strength in first.steer]
                stack.enter_context(steer(lm, vectors, positions=first.steer_positions,
                                          names=[vid for vid, _ in first.steer]))  # named if it overflows
            if first.press is not None:
                stack.enter_context(lm.pressing(first.press))
            memory, used = None, []
            if first.memories:
                memory, used = library.memory.recall(lm, first.memories)
            stack.enter_context(watching(on_step, on_text))
            prompts = None if first.prompt is None else [w.prompt for w in works]
            try:
                traces = first.reasoner.run_batch(lm, [w.question for w in works], first.seed, prompts=prompts,
                                                  memory=memory)
            except LatentspaceError:
                raise
            except (TypeError, ValueError, IndexError, RuntimeError) as err:
                if not first.custom:
                    raise  # a bug, not bad input: it stays a 500 with its traceback in the log
                why = f"{type(err).__name__}: {(str(err).splitlines() or [''])[0]}"[:200]
                raise LatentspaceError(f"the strategy failed with the given latent.options ({why})") from err
        for job, work, trace in zip(jobs, works, traces):
            text = work.prompt if work.prompt is not None else _own_prompt(lm, first.reasoner, work.question)
            # read as `run_batch` reads it: a memory's continuation without special tokens
            n_prompt = len(lm.tokenizer(text, add_special_tokens=not first.memories)["input_ids"])
            metrics.generated(trace.explicit_tokens, n_prompt, trace.latent_steps)
            job.finish(Outcome(trace, n_prompt, used))

    return run


def _fits(lm: LatentModel, works: list[Work]) -> bool:
    """Whether every row of the batch can run to its full budget within the model's context: a
    batch stops decoding when its longest row reaches the end, which would cut the shorter ones."""
    if not lm.max_positions:
        return True
    reasoner = works[0].reasoner
    budget = reasoner.max_new_tokens + reasoner.max_latent_steps + 8
    for work in works:
        text = work.prompt if work.prompt is not None else _own_prompt(lm, reasoner, work.question)
        if len(lm.tokenizer(text)["input_ids"]) + budget > lm.max_positions:
            return False
    return True


def _own_prompt(lm: LatentModel, reasoner: Strategy, question: str) -> str:
    """What the strategy read for ``question`` (an agent pipeline's agents each read their own
    prompt around it; usage counts the question itself)."""
    return reasoner.prompt(lm, question)


def finish_reason(trace) -> str:
    return "length" if trace.meta.get("answer_stop") in ("length", "context") else "stop"


# Options a client may set that cost compute in proportion to their value: bounded per request.
BOUNDS = {"max_latent_steps": (0, 256), "opt_steps": (0, 100), "repeats": (1, 16), "lens_k": (0, 20),
          "top_k": (1, 1000), "stable_stop": (1, 256), "max_switches": (0, 64)}


def check_strategy_options(options: dict, max_tokens: int) -> None:
    """Keys a client may set in ``latent.options``: plain values (never ones naming files or
    tensors), within bounds where a value sets how much the server computes."""
    bounds = {**BOUNDS, "agent_tokens": (1, max_tokens)}
    for key, value in options.items():
        if not isinstance(key, str) or not key.isidentifier():
            raise LatentspaceError(f"latent.options: bad option name {key!r}")
        if isinstance(value, (dict, list)) and key != "answer_stops":
            raise LatentspaceError(f"latent.options.{key}: numbers, text and true/false only")
        low, high = bounds.get(key, (None, None))
        if low is not None and isinstance(value, (int, float)) and not low <= value <= high:
            raise LatentspaceError(f"latent.options.{key} must be between {low} and {high} on this server")
