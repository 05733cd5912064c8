"""Simple arithmetic word problems (one or two steps), with worked steps and an integer answer."""

from __future__ import annotations

import random
import re

from latentspace.tasks.base import Item

NAMES = ["Ana", "Ben", "Chloe", "Dev", "Ema", "Farid", "Gus", "Hana", "Ivo", "Jin"]
THINGS = ["apples", "books", "marbles", "stickers", "pencils", "cookies", "stamps", "shells"]


def _item(rng: random.Random) -> Item:
    name, thing = rng.choice(NAMES), rng.choice(THINGS)
    a, b = rng.randint(2, 40), rng.randint(2, 30)
    kind = rng.choice(["add", "sub", "add_add", "add_sub"])
    if kind == "add":
        q = f"{name} has {a} {thing} and gets {b} more. How many {thing} does {name} have now?"
        return Item(q, str(a + b), [f"{a} + {b} = {a + b}"], {"kind": kind})
    if kind == "sub":
        a = a + b
        q = f"{name} has {a} {thing} and gives away {b}. How many {thing} are left?"
        return Item(q, str(a - b), [f"{a} - {b} = {a - b}"], {"kind": kind})
    c = rng.randint(2, 20)
    if kind == "add_add":
        q = (f"{name} has {a} {thing}, buys {b} more, then is given {c} more. "
             f"How many {thing} does {name} have?")
        return Item(q, str(a + b + c), [f"{a} + {b} = {a + b}", f"{a + b} + {c} = {a + b + c}"], {"kind": kind})
    c = rng.randint(1, a + b - 1)
    q = f"{name} has {a} {thing}, buys {b} more, then loses {c}. How many {thing} does {name} have?"
    return Item(q, str(a + b - c), [f"{a} + {b} = {a + b}", f"{a + b} - {c} = {a + b - c}"], {"kind": kind})


def generate(n_items: int, seed: int = 0) -> list[Item]:
    rng = random.Random(seed)
    return [_item(rng) for _ in range(n_items)]


def extract(text: str) -> str | None:
    """The number after 'Answer:' if there is one, else the last number in the text."""
    marked = re.findall(r"answer\s*(?:is|:)?\s*(-?\d[\d,]*)", text, re.IGNORECASE)
    if marked:
        return marked[-1].replace(",", "")
    numbers = re.findall(r"-?\d[\d,]*", text)
    return numbers[-1].replace(",", "") if numbers else None
