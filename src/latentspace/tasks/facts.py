"""Facts to hand from one model to another: a short context of facts about people, and a question
about one of them, answered by one word (a colour, a city, a pet, ...).

The context is what a *sharer* reads; the question alone is what a *receiver* gets, so a receiver
answers above chance only with what crossed over. One-word answers from a fixed list per attribute
make chance explicit (1 / list size) and the check exact.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from latentspace.tasks.needles import NAMES

ATTRIBUTES = {
    "favourite colour": "red blue green yellow purple orange black white pink brown".split(),
    "home city": "Paris Tokyo Lima Cairo Oslo Dublin Madrid Seoul Vienna Nairobi".split(),
    "pet": "cat dog parrot rabbit turtle hamster goldfish horse snake lizard".split(),
}


@dataclass(frozen=True)
class Fact:
    context: str
    question: str
    answer: str
    choices: tuple[str, ...]

    def prompt(self, with_context: bool) -> str:
        """The text a model reads: the question alone ends the text with the context, so it is its suffix."""
        question = f"Question: {self.question}\nAnswer:"
        return f"{self.context}\n{question}" if with_context else question

    def check(self, text: str) -> bool:
        """The first of the attribute's values the text names is the answer ("Arjun's home city is
        Madrid." counts; a reply naming another value first does not)."""
        found = [(m.start(), value) for value in self.choices
                 for m in [re.search(rf"\b{re.escape(value)}\b", text, re.IGNORECASE)] if m]
        return bool(found) and min(found)[1] == self.answer


def make_facts(n: int, seed: int = 0, per_context: int = 3) -> list[Fact]:
    """``n`` contexts of ``per_context`` facts (distinct people, one attribute each), each asked about one."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        people = rng.sample(NAMES, per_context)
        facts = []
        for person in people:
            attribute = rng.choice(sorted(ATTRIBUTES))
            facts.append((person, attribute, rng.choice(ATTRIBUTES[attribute])))
        person, attribute, value = rng.choice(facts)
        context = " ".join(f"{p}'s {a} is {v}." for p, a, v in facts)
        out.append(Fact(context, f"What is {person}'s {attribute}?", value, tuple(ATTRIBUTES[attribute])))
    return out
