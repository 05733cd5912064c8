"""`direct`: answer with no reasoning text (the No-CoT baseline)."""

from dataclasses import dataclass

from latentspace.reason.base import Reasoner, register


@register
@dataclass
class Direct(Reasoner):
    instruction: str = "Answer with only the final answer."
    max_new_tokens: int = 24
    name = "direct"
