"""`direct`: answer with no reasoning text (the No-CoT baseline)."""

from dataclasses import dataclass

from latentspace.reason.base import ANSWER_ONLY, Reasoner, register


@register
@dataclass
class Direct(Reasoner):
    instruction: str = ANSWER_ONLY
    max_new_tokens: int = 24
    name = "direct"
