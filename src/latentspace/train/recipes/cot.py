"""`cot`: train on explicit chains of thought (question, every step, answer) — the CoT baseline."""

from dataclasses import dataclass

from latentspace.train.recipes.base import Recipe, register


@register
@dataclass
class ChainOfThought(Recipe):
    name = "cot"
    needs_steps = True
