"""What a pipeline run returns: its answers and, per agent, what that agent received, read, thought and
wrote (latent, text and single-agent runs alike)."""

from __future__ import annotations

from dataclasses import dataclass, field

from latentspace.trace import Step


@dataclass
class Turn:
    """What one agent did: slots it received, prompt tokens it read, the thoughts it added (each
    with the lens reading of the distribution it came from) and what it wrote, per question."""

    agent: str
    received_slots: int
    prompt_tokens: list[int]  # per question (pads not counted)
    latent_steps: int  # its budget; ``thoughts`` holds the steps actually taken
    texts: list[str] | None = None  # what it wrote (text pipelines, the last agent, speaking agents)
    token_ids: list[list[int]] | None = None
    thoughts: list[list[Step]] | None = None  # per question
    received_from: dict[str, int] | None = None  # slots of the memory by the agent that made them
    model: str | None = None  # the model it ran on, where a pipeline's agents run on several
    handover: str | None = None  # how it received from an agent on another model: fuser, map or text


@dataclass
class PipelineResult:
    texts: list[str]
    token_ids: list[list[int]]
    turns: list[Turn] = field(default_factory=list)
    policy: str = "full"
    positions: list[int] = field(default_factory=list)  # per question: every slot any agent computed
    seconds: float = 0.0
    decoding: dict = field(default_factory=dict)  # the settings every decoding agent used
    mode: str = "latent"
    memory: object = field(default=None, repr=False)  # latent runs with keep_memory: what the answer was read from

    @property
    def processed_positions(self) -> int:
        """Every slot any agent computed, all questions (pads not counted)."""
        return sum(self.positions)

    @property
    def output_tokens(self) -> int:
        """Tokens written by every agent that wrote (the text pipeline's agents all do)."""
        return sum(len(t) for turn in self.turns for t in (turn.token_ids or []))

    def row_output_tokens(self, row: int) -> int:
        return sum(len(turn.token_ids[row]) for turn in self.turns if turn.token_ids)
