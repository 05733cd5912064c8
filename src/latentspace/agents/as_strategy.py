"""A pipeline as a reasoning strategy, so `latentspace bench` (and anything that runs strategies)
evaluates agents on every task suite: ``agents:PIPELINE[:MODE]``, e.g. ``agents:sequential:text``
or ``agents:my_team.yaml:latent`` (mode defaults to latent).

Each question's trace holds every latent step any agent took (with its lens reading) and, as
explicit steps, every token any agent wrote — so a trace's ``explicit_tokens`` is the pipeline's
output tokens for that question and ``positions`` all the slots its agents computed.
"""

from __future__ import annotations

import time
from pathlib import Path
from dataclasses import dataclass, field
from typing import ClassVar, TYPE_CHECKING

from latentspace.core.errors import LatentspaceError
from latentspace.core.limits import MAX_NEW_TOKENS
from latentspace.core.named import between
from latentspace.trace import Step, Trace

if TYPE_CHECKING:  # the type only: no import at run time
    from latentspace.model.latent_model import LatentModel

def split_spec(spec: str) -> tuple[str, str]:
    """``agents:PIPELINE[:MODE]`` -> (pipeline source, mode; latent when not given).

    A last part that is not a mode is part of the pipeline's name (a file path may hold ':'), unless
    what comes before it names a pipeline on its own: then it was meant as the mode, and is refused.
    """
    from latentspace.agents.pipelines import BUILTIN, MODES

    body = spec.partition(":")[2]  # after `agents:` (names are resolved by latentspace.strategies)
    source, sep, mode = body.rpartition(":")
    if sep and mode in MODES:
        return source, mode
    if sep and (source in BUILTIN or Path(source).is_file()) and not Path(body).is_file():
        raise LatentspaceError(f"{spec[:120]!r}: unknown mode {mode[:40]!r}; valid: {', '.join(MODES)}")
    return body, "latent"


@dataclass
class PipelineStrategy:
    spec: str  # "agents:PIPELINE[:MODE]"
    max_new_tokens: int = 32  # the answer
    agent_tokens: int | None = None  # what each text agent writes (default: max_new_tokens)
    chat: bool = True
    models: dict | None = field(default=None, repr=False)  # name -> LatentModel its agents run on (else loaded)
    pipeline: object = field(init=False, repr=False)
    mode: str = field(init=False)
    RANGES: ClassVar[dict] = {"max_new_tokens": between(1, MAX_NEW_TOKENS), "agent_tokens": between(1, MAX_NEW_TOKENS)}

    def __post_init__(self) -> None:
        from latentspace.agents.pipelines import load_pipeline

        source, mode = split_spec(self.spec)
        if not source:
            raise LatentspaceError(f"{self.spec!r}: write agents:PIPELINE[:MODE], e.g. agents:sequential:text")
        self.pipeline, self.mode = load_pipeline(source), mode

    @property
    def name(self) -> str:
        return self.spec

    # what `latentspace.strategies.Strategy` declares: the agents build their own prompts and thoughts
    max_latent_steps: ClassVar[int] = 0  # a pipeline counts its agents' positions itself
    instruction: ClassVar[str] = ""

    def prompt(self, lm: LatentModel, question: str) -> str:
        return question  # each agent reads its own prompt around it

    def batch_key(self) -> None:
        return None  # a pipeline runs its own batch of agents: never merged with other requests

    def options(self) -> dict:
        return {"max_new_tokens": self.max_new_tokens, "agent_tokens": self.agent_tokens, "chat": self.chat}

    def run(self, lm: LatentModel, question: str, seed: int = 0, **where) -> Trace:
        return self.run_batch(lm, [question], seed, **where)[0]

    def run_batch(self, lm: LatentModel, questions: list[str], seed: int = 0, prompts: list[str] | None = None,
                  memory=None) -> list[Trace]:
        """As `Reasoner.run_batch`; agents build their own prompts from the questions, so ``prompts``
        is refused, and ``memory`` is the working memory the pipeline starts from (latent mode)."""
        from latentspace.agents.pipelines import run

        if prompts is not None:
            raise LatentspaceError("an agent pipeline reads one question; it cannot take a whole conversation")
        started = time.perf_counter()
        result = run(lm, self.pipeline, questions, self.mode, self.max_new_tokens, self.agent_tokens, self.chat,
                     memory=memory, seed=seed, models=self.models)
        seconds = (time.perf_counter() - started) / len(questions)
        traces = []
        for row, question in enumerate(questions):
            steps: list[Step] = []
            for turn in result.turns:
                for step in (turn.thoughts[row] if turn.thoughts else []):
                    steps.append(Step(step.kind, step.token, step.norm, step.entropy, step.top,
                                      f"{turn.agent}: {step.note}".rstrip(": ")))
                for token in (turn.token_ids[row] if turn.token_ids else []):
                    steps.append(Step("explicit", token=lm.tokenizer.decode([token]), note=turn.agent))
            meta = {"options": self.options(), "batch": len(questions), "pipeline": self.pipeline.name,
                    "kind": self.pipeline.kind, "mode": result.mode, "policy": result.policy,
                    "decoding": result.decoding}
            traces.append(Trace(prompt=question, strategy=self.spec, model=lm.name, text=result.texts[row],
                                steps=steps, positions=result.positions[row], wall_seconds=seconds,
                                stop_reason="answered", meta=meta))
        return traces


def make_pipeline_strategy(name: str, options: dict) -> PipelineStrategy:
    from dataclasses import fields

    from latentspace.core.named import declared, type_problem, value_problem

    allowed = {f.name: f for f in fields(PipelineStrategy) if f.name in ("max_new_tokens", "agent_tokens", "chat")}
    unknown = [k for k in options if k not in allowed]
    if unknown:
        raise LatentspaceError(f"strategy {name!r} has no option {str(unknown[0])[:80]!r}; "
                               f"options: {', '.join(allowed)}")
    ranges, _ = declared(PipelineStrategy)
    for key, value in options.items():
        problem = type_problem(allowed[key], value) or value_problem(ranges.get(key), None, value)
        if problem:
            raise LatentspaceError(f"strategy {name!r}: option {key} {problem}, got {value!r}"[:300])
    return PipelineStrategy(name, **options)
