"""Causal interchange: patch thought t with the same thought of a counterfactual item.

Item j's counterfactual is the next item (cyclically) whose value at step t differs from j's and
on which the intact model gave another answer, so a thought that carries what decides the answer
moves it to the counterfactual's. Per thought: how often the patched answer *follows* the
counterfactual's intact answer (interchange-intervention accuracy), *stays* the item's own intact
answer, or is *other* — and the follow rate split by whether j's intact answer was right. With
``pairs`` (item index -> counterfactual index) given, those are used (an item paired with itself
must not move).
"""

from __future__ import annotations

from latentspace.audit.record import Recording
from latentspace.audit.subject import Subject
from latentspace.audit.values import gold
from latentspace.tasks import Item, normalise


def said(row: dict) -> str:
    return normalise(row.get("extracted") or "")


def counterfactuals(items: list[Item], rec: Recording, t: int) -> dict[int, int]:
    pairs = {}
    for j, item in enumerate(items):
        for step in range(1, len(items)):
            k = (j + step) % len(items)
            if gold(items[k], t) != gold(item, t) and said(rec.rows[k]) != said(rec.rows[j]):
                pairs[j] = k
                break
    return pairs


def interchange(subject: Subject, items: list[Item], rec: Recording, pairs: dict[int, int] | None = None) -> list[dict]:
    per_thought = []
    for t in range(rec.slots):
        chosen = pairs if pairs is not None else counterfactuals(items, rec, t)
        rows = [j for j in sorted(chosen) if t < rec.counts[j] and t < rec.counts[chosen[j]]]
        if not rows:
            per_thought.append({"thought": t + 1, "n": 0})
            continue
        source = [chosen[j] for j in rows]

        def patch(i, state, vectors, batch_rows, t=t, source=source):
            if i != t:
                return vectors
            vectors = vectors.clone()
            for r, row in enumerate(batch_rows):
                vectors[r] = rec.vectors[source[row], t].to(vectors.dtype)
            return vectors
        answers = subject.answer([items[j] for j in rows], edit=patch)
        kinds = []
        for j, k, got in zip(rows, source, answers):
            found = said(got)
            kinds.append("stays" if found == said(rec.rows[j]) else "follows" if found == said(rec.rows[k]) else "other")
        n = len(rows)
        right = [bool(rec.rows[j]["correct"]) for j in rows]
        per_thought.append({"thought": t + 1, "n": n, **{k: kinds.count(k) / n for k in ("follows", "stays", "other")},
                            "follows_correct": rate(kinds, right, True), "follows_wrong": rate(kinds, right, False)})
    return per_thought


def rate(kinds: list[str], right: list[bool], side: bool) -> float | None:
    picked = [k for k, r in zip(kinds, right) if r == side]
    return picked.count("follows") / len(picked) if picked else None
