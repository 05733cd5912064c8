"""An agent: a role on a shared backbone, a budget of latent thoughts, and whether it speaks."""

from __future__ import annotations

from dataclasses import dataclass, field

from latentspace.core.errors import LatentspaceError


@dataclass(frozen=True)
class Agent:
    """One participant of a pipeline; agents run on the pipeline's `LatentModel` unless ``model`` names another.

    role: the agent's instruction; ``{question}`` is replaced by the task's question.
    latent_steps: its thinking budget — latent steps it appends to the working memory after
        reading its role (0: it only reads; its encoded prompt is still passed on).
    strategy: the reasoning strategy that produces those steps — any `latentspace.reason`
        strategy that thinks before answering (continuous, soft, pause, switch, optimize);
        ``options`` are that strategy's settings (e.g. ``{"alignment": "norm"}``).
    speaks: in a latent pipeline, an agent before the last one also writes what it would say
        (for the transcript: the memory it passes on is still its KV cache, not that text).
    model: the model it runs on (a registry name or folder; None: the pipeline's). A hand-over to an
        agent on another model goes through a bridge or text (`agents.cross_model`).
    """

    name: str
    role: str
    latent_steps: int = 0
    strategy: str = "continuous"
    options: dict = field(default_factory=dict, hash=False)
    speaks: bool = False
    model: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise LatentspaceError("an agent needs a name")
        if self.model is not None and (not isinstance(self.model, str) or not self.model.strip()):
            raise LatentspaceError(f"agent {self.name!r}: model is a model name or folder")
        if self.latent_steps < 0:
            raise LatentspaceError(f"agent {self.name!r}: latent_steps must be >= 0")
        self.prompt("?")  # a bad template is refused when the agent is made, not mid-run
        self.thinker()  # so is an unknown strategy or option

    def prompt(self, question: str) -> str:
        try:
            return self.role.format(question=question)
        except (KeyError, IndexError, ValueError) as err:
            raise LatentspaceError(f"agent {self.name!r}: its role may only use {{question}} ({err})") from None

    def thinker(self):
        """The `Reasoner` whose ``think`` spends this agent's budget."""
        from latentspace.agents.thinking import make_thinker

        return make_thinker(self)
