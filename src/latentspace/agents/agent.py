"""An agent: a role on a shared backbone, a budget of latent thoughts, and whether it speaks."""

from __future__ import annotations

from dataclasses import dataclass

from latentspace.errors import LatentspaceError


@dataclass(frozen=True)
class Agent:
    """One participant of a pipeline; every agent runs on the same `LatentModel`.

    role: the agent's instruction; ``{question}`` is replaced by the task's question.
    latent_steps: continuous thoughts it appends to the working memory after reading its role
        (0: it only reads; its encoded prompt is still passed on).
    alignment: how a thought (last hidden state) becomes the next input vector (`LatentModel.align`).
    """

    name: str
    role: str
    latent_steps: int = 0
    alignment: str = "ridge"

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise LatentspaceError("an agent needs a name")
        if self.latent_steps < 0:
            raise LatentspaceError(f"agent {self.name!r}: latent_steps must be >= 0")
        self.prompt("?")  # a bad template is refused when the agent is made, not mid-run

    def prompt(self, question: str) -> str:
        try:
            return self.role.format(question=question)
        except (KeyError, IndexError, ValueError) as err:
            raise LatentspaceError(f"agent {self.name!r}: its role may only use {{question}} ({err})") from None
