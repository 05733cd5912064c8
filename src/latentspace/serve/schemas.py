"""Request bodies. OpenAI's fields keep OpenAI's names and meaning; ours live under ``latent``.

Standard clients never send ``latent``, so they get plain generation; fields OpenAI has and we do
not use (``presence_penalty``, ``user``, ...) are accepted and ignored, as other servers do.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from latentspace.core.limits import MAX_LATENT_STEPS, MAX_NEW_TOKENS
from latentspace.names import PIPELINES, PIPELINE_MODES, STEER_METHODS, STRATEGIES, press_names

PRESS = f"NAME[:RATIO], NAME one of {', '.join(press_names())}"


class Body(BaseModel):
    """Every request model: a float field never holds inf (NaN is refused for the whole body in
    `jsonio.body_problem`; an infinite strategy option is a value of ``latent.options``, checked there)."""

    model_config = ConfigDict(allow_inf_nan=False)


Id = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")


class SteerRef(Body):
    model_config = ConfigDict(extra="forbid")
    id: str = Id  # a vector in the server's library (GET /v1/vectors)
    strength: float = Field(1.0, ge=-1000, le=1000)


class LatentOptions(Body):
    """What the model does in latent space before and while it answers."""

    model_config = ConfigDict(extra="forbid")
    strategy: str | None = Field(None, max_length=200, description=f"{', '.join(STRATEGIES)}, "
                                 "or agents:PIPELINE[:MODE]; none = plain generation")
    steps: int | None = Field(None, ge=0, le=MAX_LATENT_STEPS, description="most latent steps (strategies that take them)")
    options: dict = Field(default_factory=dict, description="any other strategy option, by name")
    steer: list[SteerRef] = Field(default_factory=list, max_length=16)
    steer_positions: Literal["all", "prompt", "generated"] = "all"
    memories: list[str] = Field(default_factory=list, max_length=16, description="memory ids to answer from")
    press: str | None = Field(None, max_length=64, description=f"compress the prompt's KV cache: {PRESS}")
    trace: bool = Field(False, description="return the step-by-step Trace (streamed as events when streaming)")


class Message(Body):
    role: Literal["system", "user", "assistant", "developer", "tool"]
    content: str | list[dict] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):  # OpenAI content parts: we read the text ones
            return "".join(str(p.get("text", "")) for p in self.content if p.get("type") == "text")
        return self.content or ""


class StreamOptions(Body):
    include_usage: bool = False


class Sampling(Body):
    model: str = Field(min_length=1, max_length=200)
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    temperature: float = Field(0.0, ge=0, le=2)  # greedy unless asked: reproducible by default
    top_p: float = Field(1.0, gt=0, le=1)
    stop: str | list[str] | None = None
    seed: int | None = Field(None, ge=0, le=2**63 - 1)
    n: int = Field(1, ge=1, le=1, description="one choice per request")
    stream: bool = False
    stream_options: StreamOptions | None = None
    latent: LatentOptions | None = None

    @field_validator("stop")
    @classmethod
    def _few_short_stops(cls, value):
        stops = [value] if isinstance(value, str) else list(value or [])
        if len(stops) > 4 or any(len(s) > 256 for s in stops):
            raise ValueError("at most 4 stop strings of at most 256 characters")  # as OpenAI
        return value

    def stops(self) -> tuple[str, ...]:
        stops = [self.stop] if isinstance(self.stop, str) else list(self.stop or [])
        return tuple(s for s in stops if s)


class ChatRequest(Sampling):
    messages: list[Message] = Field(min_length=1, max_length=256)


class CompletionRequest(Sampling):
    prompt: str | list[str] = Field(description="one prompt (a list of one is accepted)")


class LensRequest(Body):
    model_config = ConfigDict(extra="forbid")
    model: str | None = None
    text: str = Field(min_length=1, max_length=20_000)
    chat: bool = False
    k: int = Field(5, ge=1, le=20)
    layers: list[int] | None = Field(None, min_length=1, max_length=512)
    target: str | None = Field(None, max_length=100)


class VectorCreate(Body):
    model_config = ConfigDict(extra="forbid")
    model: str | None = None
    id: str = Id
    concept: str | None = Field(None, max_length=100, description="a built-in concept set (GET /v1/concepts)")
    pairs: list[dict] | None = Field(None, max_length=2000, description="[{positive, negative}] (text or "
                                     "{prompt, completion})")
    method: str = Field("mean_diff", max_length=40, description=f"one of {', '.join(STEER_METHODS)}")
    layers: list[int] | None = Field(None, min_length=1, max_length=512)


class MemoryAdd(Body):
    model_config = ConfigDict(extra="forbid")
    model: str | None = None
    text: str = Field(min_length=1, max_length=200_000)
    title: str | None = Field(None, max_length=200)
    tags: list[str] = Field(default_factory=list, max_length=32)
    press: str | None = Field(None, max_length=64, description=f"compress it: {PRESS}")


class MemorySearch(Body):
    model_config = ConfigDict(extra="forbid")
    model: str | None = None
    query: str = Field(min_length=1, max_length=20_000)
    k: int = Field(3, ge=1, le=100)


class AgentsRun(Body):
    model_config = ConfigDict(extra="forbid")
    model: str | None = None
    pipeline: str = Field("sequential", max_length=100, description=f"a built-in pipeline ({', '.join(PIPELINES)}) "
                          "or one in the server's library (GET /v1/pipelines)")
    question: str = Field(min_length=1, max_length=20_000)
    mode: Literal[PIPELINE_MODES] = "latent"
    max_tokens: int = Field(64, ge=1, le=MAX_NEW_TOKENS)
    agent_tokens: int | None = Field(None, ge=1, le=MAX_NEW_TOKENS)
    seed: int = Field(0, ge=0, le=2**31 - 1)


# The forward passes one audit may imply (see `AuditOne.work`): its runs, not its fields one by one,
# set its time. At 2048 the slowest latent strategy took 5-12 s on the tiny model on a shared 2-core CPU
# (docs/serve.md), far under the 300 s timeout; the field limits alone allowed 8976 (38-55 s, 504 under load).
AUDIT_WORK = 2048


class AuditOne(Body):
    model_config = ConfigDict(extra="forbid")
    model: str | None = None
    question: str = Field(min_length=1, max_length=20_000)
    answer: str | None = Field(None, max_length=1000, description="the expected answer (marks correct answers)")
    strategy: str = Field("continuous", max_length=100, description=f"a strategy: {', '.join(STRATEGIES)} "
                          "(a latent one has thoughts to audit)")
    steps: int = Field(4, ge=1, le=16, description="latent steps (each costs two more runs); (1 + 2 × steps) × "
                       f"(steps + max_tokens) is at most {AUDIT_WORK}")
    max_tokens: int = Field(24, ge=1, le=256, description="answer tokens per run (within the same budget)")
    k: int = Field(5, ge=1, le=20)
    probe: str | None = Field(None, max_length=128, description="a probe id (GET /v1/probes) read at every thought")
    seed: int = Field(0, ge=0, le=2**31 - 1)

    def work(self) -> int:
        """Forward passes it implies: the intact run and two per thought (cut before it, noised), each
        up to ``steps`` thoughts and ``max_tokens`` answer tokens."""
        return (1 + 2 * self.steps) * (self.steps + self.max_tokens)

    def over_budget(self) -> str | None:
        """Why it is refused (one line: the budget and how to come within it), or None."""
        if self.work() <= AUDIT_WORK:
            return None
        tokens = AUDIT_WORK // (1 + 2 * self.steps) - self.steps
        within = f"max_tokens at most {tokens} with steps {self.steps}, or fewer steps" if tokens > 0 else "fewer steps"
        return (f"this audit implies {self.work()} forward passes ((1 + 2 × steps {self.steps}) × (steps "
                f"{self.steps} + max_tokens {self.max_tokens})), over the server's audit budget of {AUDIT_WORK}: "
                f"ask for {within}")


SEARCH_WORK = 2048  # sampled paths × (latent steps + answer tokens) one search may cost


class SearchOne(Body):
    model_config = ConfigDict(extra="forbid")
    model: str | None = None
    question: str = Field(min_length=1, max_length=20_000)
    answer: str | None = Field(None, max_length=1000, description="the expected answer (marks correct paths)")
    strategy: str = Field("soft", max_length=100, description="a latent strategy: soft, continuous, pause, ...")
    sampler: str = Field("gumbel:0.5", max_length=64, description="how each thought is sampled: gumbel:TAU, "
                         "dirichlet:ALPHA, mts:K, noise:SIGMA, dropout:P (`latentspace.model.samplers`)")
    samples: int = Field(8, ge=1, le=64, description="thought paths drawn")
    steps: int = Field(4, ge=1, le=16, description="latent steps per path")
    max_tokens: int = Field(24, ge=1, le=256, description=f"answer tokens per path; samples × (steps + max_tokens) "
                            f"is at most {SEARCH_WORK}")
    k: int = Field(3, ge=1, le=20, description="lens tokens shown per thought")
    seed: int = Field(0, ge=0, le=2**31 - 1)

    def over_budget(self) -> str | None:
        work = (self.samples + 1) * (self.steps + self.max_tokens)
        if work <= SEARCH_WORK:
            return None
        return (f"this search implies {work} forward passes ((samples {self.samples} + 1 greedy) × (steps {self.steps} + "
                f"max_tokens {self.max_tokens})), over the server's budget of {SEARCH_WORK}: ask for fewer samples "
                "or tokens")
