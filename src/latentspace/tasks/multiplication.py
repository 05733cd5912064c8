"""k×k multiplication in iCoT's format (digits space-separated, least-significant first).

``{a} * {b}||{cot} #### {product}``. For i = 0..n-1 the partial product p_i = a·b_i·10^i is written
reversed and zero-padded to n+1+i digits (later ones prefixed ``+``); after p_i for 1 <= i <= n-2
the running sum follows in brackets, reversed and padded to n+1+i digits; the answer is a·b
reversed, padded to 2n digits.
"""

from __future__ import annotations

import random

from latentspace.core.errors import LatentspaceError
from latentspace.tasks.base import Item


def digits(value: int, width: int) -> str:
    """``value`` reversed (least significant first), zero-padded to ``width`` digits, spaced."""
    text = str(value)[::-1].ljust(width, "0")
    if len(text) > width:
        raise ValueError(f"{value} does not fit in {width} digits")
    return " ".join(text)


def multiplication_item(a: int, b: int, n: int) -> Item:
    steps, running = [], 0
    for i in range(n):
        b_i = (b // 10**i) % 10
        partial = a * b_i * 10**i
        running += partial
        step = ("" if i == 0 else "+ ") + digits(partial, n + 1 + i)
        if 1 <= i <= n - 2:
            step += f" ( {digits(running, n + 1 + i)} )"
        steps.append(step)
    return Item(f"{digits(a, n)} * {digits(b, n)}", digits(a * b, 2 * n), steps, {"a": a, "b": b})


def icot_line(item: Item) -> str:
    """The item as one line of iCoT's data files."""
    return f"{item.question}||{' '.join(item.steps)} #### {item.answer}"


def generate(n_items: int, seed: int = 0, k: int = 4) -> list[Item]:
    if not 1 <= k <= 20:
        raise LatentspaceError(f"multiplication size k must be 1..20, not {k}")
    rng = random.Random(seed)
    lo, hi = 10 ** (k - 1), 10**k - 1
    return [multiplication_item(rng.randint(lo, hi), rng.randint(lo, hi), k) for _ in range(n_items)]


def extract(text: str) -> str | None:
    """The digits after the last ``####`` (else after the last 'Answer:', else all), spaced."""
    lowered = text.lower()
    if "####" in text:
        tail = text.rsplit("####", 1)[-1]
    elif "answer:" in lowered:
        tail = text[lowered.rindex("answer:") + len("answer:"):]
    else:
        tail = text
    found = [c for c in tail if c.isdigit()]
    return " ".join(found) if found else None
