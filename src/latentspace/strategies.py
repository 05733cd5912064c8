"""Strategy names -> what runs them, in one place: ``agents:PIPELINE[:MODE]`` is a multi-agent
pipeline (`latentspace.agents`), every other name a reasoner (`latentspace.reason`).

It stands above both, so `reason` knows nothing of agents; the server, the bench, the audit and the
CLI resolve names here and call only what `Strategy` declares.
"""

from __future__ import annotations

from typing import Protocol, TYPE_CHECKING

if TYPE_CHECKING:  # the type only: no import at run time
    from latentspace.model.latent_model import LatentModel

PIPELINE_PREFIX = "agents:"


class Strategy(Protocol):
    """What the server, the bench and the CLI call on a strategy (a `Reasoner` or a pipeline)."""

    max_new_tokens: int
    max_latent_steps: int  # latent steps it may add to a prompt's positions (0: a pipeline counts its own)
    instruction: str  # added to a question in a longer conversation ("" for none)

    @property
    def name(self) -> str: ...

    def options(self) -> dict: ...

    def prompt(self, lm: LatentModel, question: str) -> str: ...

    def batch_key(self) -> tuple | None:
        """Equal keys read and decode alike, so one batch may serve them; None: never batched."""

    def run(self, lm: LatentModel, question: str, seed: int = 0, **where): ...

    def run_batch(self, lm: LatentModel, questions: list[str], seed: int = 0, prompts: list[str] | None = None,
                  memory=None) -> list: ...


def is_pipeline(name: str | None) -> bool:
    return bool(name) and name.startswith(PIPELINE_PREFIX)


def get_strategy(name: str, **options) -> Strategy:
    """A strategy by name with options (unknown names and options give one-line errors)."""
    if is_pipeline(name):
        from latentspace.agents.as_strategy import make_pipeline_strategy

        return make_pipeline_strategy(name, options)
    from latentspace.reason import get_reasoner

    return get_reasoner(name, **options)
