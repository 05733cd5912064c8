"""ProntoQA-like 5-hop true/false questions over a fictional ontology.

The context lists the rules of a chain of made-up concepts (``Every X is a Y.``), a property of the
last one (``Every Y is bright.`` or ``... is not bright.``), distractor rules and the entity's fact;
the question is ``True or false: Max is (not) bright.`` The chain of thought alternates rule and
conclusion, paired into one step per hop plus the property step (6 steps for 5 hops, as Coconut).
"""

from __future__ import annotations

import random

from latentspace.tasks.base import Item

CONCEPTS = ("bompus boompus brimpus chorpus dumpus felpus fompus gerpus gorpus grimpus gwompus hilpus impus "
            "jelpus jompus kerpus lempus lorpus numpus quimpus rempus rompus rorpus scrompus shumpus sterpus "
            "storpus terpus timpus tumpus vumpus worpus wumpus yerpus yimpus yumpus zhorpus zumpus").split()
NAMES = "Alex Bob Carol Davis Eva Fae Gabriel Jack Max Oliver Polly Rex Sally Sam Stella Tom Wren".split()
ADJECTIVES = ["bright", "cold", "sour", "happy", "wooden", "transparent", "spicy", "small", "kind", "dull"]


def _item(rng: random.Random, hops: int) -> Item:
    chain = rng.sample(CONCEPTS, hops + 3)
    path, distractors = chain[: hops + 1], chain[hops + 1 :]
    name, adjective = rng.choice(NAMES), rng.choice(ADJECTIVES)
    positive = rng.random() < 0.5  # does the last concept have the property?
    asks_negation = rng.random() < 0.5
    prop = f"Every {path[-1]} is {'' if positive else 'not '}{adjective}."
    rules = [f"Every {a} is a {b}." for a, b in zip(path, path[1:])] + [prop]
    # distractors: a side branch whose property contradicts the chain's
    rules += [f"Every {path[rng.randrange(hops)]} is a {distractors[0]}.",
              f"Every {distractors[0]} is {'not ' if positive else ''}{adjective}.",
              f"Every {distractors[1]} is a {path[-1]}."]
    rng.shuffle(rules)
    claim = f"{name} is {'not ' if asks_negation else ''}{adjective}."
    question = " ".join(rules) + f" {name} is a {path[0]}. True or false: {claim}"
    steps = [f"Every {a} is a {b}. {name} is a {b}." for a, b in zip(path, path[1:])]
    steps.append(f"{prop} {name} is {'' if positive else 'not '}{adjective}.")
    answer = "True" if positive != asks_negation else "False"
    return Item(question, answer, steps, {"hops": hops})


def generate(n_items: int, seed: int = 0, hops: int = 5) -> list[Item]:
    rng = random.Random(seed)
    return [_item(rng, hops) for _ in range(n_items)]


def extract(text: str) -> str | None:
    """The last 'true' or 'false' in the text."""
    words = [w.strip(".,:;!\"'").lower() for w in text.split()]
    found = [w for w in words if w in ("true", "false")]
    return found[-1].capitalize() if found else None
