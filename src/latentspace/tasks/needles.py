"""Retrieval tasks generated offline, the ones KV presses are judged on.

- `make_kv`: key-value retrieval (as in "Lost in the Middle"): a JSON object of random UUID keys
  and values; the question names one key, the answer is its value. Every token is information,
  nothing can be guessed, so a press that drops the wrong slots loses answers.
- `make_haystack`: plain filler sentences (random words in a few shapes) with "The code for NAME
  is DDDD." facts spread through them. (SmolLM2-135M already confuses the 20 look-alike facts
  without any press — 4-8 of 20 right at 830 tokens — so the press benchmark uses `make_kv`.)
"""

from __future__ import annotations

import json
import random
import re
import uuid
from dataclasses import dataclass

NAMES = ("Alice Bruno Carla Dmitri Elena Farid Greta Hiro Ines Jonas Kira Luca Maya Nils Olga Pablo "
         "Quinn Rosa Samir Tara Umar Vera Wanda Xavier Yusuf Zoe Arjun Bianca Cyrus Dalia Emil Fiona "
         "Gustav Hana Igor Julia Karim Lena Milo Nora").split()
ADJECTIVES = "quiet old red small bright heavy narrow warm distant green empty busy gentle sharp round".split()
NOUNS = ("river garden teacher window market bridge village engine letter forest kitchen harbour "
         "lantern meadow library tower painter station valley carpet").split()
VERBS = "watched crossed painted opened followed carried visited repaired described measured".split()
PLACES = "morning winter evening summer afternoon spring night autumn".split()
SHAPES = (
    "The {a} {n} {v} the {n2} in the {p}.",
    "In the {p}, a {a} {n} {v} the {a2} {n2}.",
    "Nobody {v} the {n} near the {a} {n2}.",
    "Every {p} the {n} {v} a {a} {n2} again.",
)


@dataclass(frozen=True)
class Needle:
    name: str
    code: str

    @property
    def fact(self) -> str:
        return f"The code for {self.name} is {self.code}."

    @property
    def question(self) -> str:
        return f"What is the code for {self.name}? Answer with the number only."


@dataclass(frozen=True)
class Haystack:
    document: str
    needles: tuple[Needle, ...]

    def check(self, answer: str, needle: Needle) -> bool:
        """The first number in the answer is the needle's code."""
        found = re.search(r"\d+", answer)
        return found is not None and found.group() == needle.code


def filler(rng: random.Random) -> str:
    shape = rng.choice(SHAPES)
    return shape.format(a=rng.choice(ADJECTIVES), a2=rng.choice(ADJECTIVES), n=rng.choice(NOUNS),
                        n2=rng.choice(NOUNS), v=rng.choice(VERBS), p=rng.choice(PLACES))


def make_haystack(sentences: int = 60, needles: int = 20, seed: int = 0) -> Haystack:
    """``sentences`` filler sentences (about 11 tokens each) with ``needles`` facts spread evenly."""
    if needles > len(NAMES):
        raise ValueError(f"at most {len(NAMES)} needles")
    rng = random.Random(seed)
    chosen = tuple(Needle(name, f"{rng.randrange(1000, 10000)}") for name in rng.sample(NAMES, needles))
    lines = [filler(rng) for _ in range(sentences)]
    slots = sorted(rng.sample(range(sentences + 1), needles))
    for offset, (slot, needle) in enumerate(zip(slots, chosen)):
        lines.insert(slot + offset, needle.fact)
    return Haystack(" ".join(lines), chosen)


@dataclass(frozen=True)
class KVTask:
    document: str
    pairs: tuple[tuple[str, str], ...]  # every (key, value) in the document, in order
    asked: tuple[int, ...]  # indices into ``pairs`` that are asked about

    def question(self, index: int) -> str:
        return f'What is the value of key "{self.pairs[index][0]}"? Answer with the value only.'

    def answer_start(self, index: int) -> str:
        """What the answer opens with (fed after the question): small models otherwise spend
        their tokens restating the key."""
        return f'The value of key "{self.pairs[index][0]}" is "'

    def check(self, answer: str, index: int) -> bool:
        """The first UUID in the answer is the value."""
        found = re.search(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", answer)
        return found is not None and found.group() == self.pairs[index][1]


def make_kv(pairs: int = 20, questions: int = 20, seed: int = 0) -> KVTask:
    """``pairs`` UUID key-value pairs (about 48 tokens each with SmolLM2's tokenizer); ``questions``
    of them, spread evenly over the document, are asked."""
    rng = random.Random(seed)
    made = tuple((str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                  str(uuid.UUID(int=rng.getrandbits(128), version=4))) for _ in range(pairs))
    document = "JSON data:\n" + json.dumps(dict(made), indent=0)
    step = pairs / min(questions, pairs)
    return KVTask(document, made, tuple(int(i * step) for i in range(min(questions, pairs))))
