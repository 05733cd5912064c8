"""`cot`: explicit chain of thought in text (the CoT baseline)."""

from dataclasses import dataclass

from latentspace.reason.base import Reasoner, register


@register
@dataclass
class ChainOfThought(Reasoner):
    instruction: str = "Think step by step, then write the final answer after 'Answer:'."
    max_new_tokens: int = 160
    name = "cot"
