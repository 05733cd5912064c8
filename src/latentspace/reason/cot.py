"""`cot`: explicit chain of thought in text (the CoT baseline)."""

from dataclasses import dataclass

from latentspace.reason.base import STEP_BY_STEP, Reasoner, register


@register
@dataclass
class ChainOfThought(Reasoner):
    instruction: str = STEP_BY_STEP
    max_new_tokens: int = 160
    name = "cot"
