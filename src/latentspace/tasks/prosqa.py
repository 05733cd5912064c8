"""ProsQA-like graph questions, built the way the ProsQA paper describes, with its vocabulary.

A random DAG is grown node by node (edges from lower to higher index): each new node takes
Poisson(1.5) parents, weighted by depth·1.5+1, and with probability 0.35 each it may not descend
from node 1, or from node 0. Nodes without parents are persons (2–6 of them), the rest concepts.
The root is node 0 or 1; the target is a sink reachable from the root but not from the other
primary person, the distractor the reverse. Graphs that miss these invariants or whose shortest
path is outside 3–6 hops are drawn again; the farthest valid target is asked about. The question
lists every edge as a sentence, shuffled.

Measured on 300 items (seed 0) against the published test+valid statistics: nodes 20.7 (22.8),
edges 28.3 (36.0), hops 3/4/5/6 = 66/26/6/3% (41/44/13/2%). The invariants hold exactly; the graphs
are somewhat sparser and shallower than ProsQA's — closing that gap is open work.
"""

from __future__ import annotations

import math
import random
import re
from collections import deque

from latentspace.tasks.base import Item
from latentspace.tasks.prontoqa import CONCEPTS, NAMES


def _poisson(rng: random.Random, lam: float) -> int:
    threshold, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p < threshold:
            return k
        k += 1


def _reach(children: list[list[int]], start: int) -> set[int]:
    seen, todo = {start}, [start]
    while todo:
        for c in children[todo.pop()]:
            if c not in seen:
                seen.add(c)
                todo.append(c)
    return seen


def _grow(rng: random.Random, n: int) -> list[list[int]]:
    """Parents of each node of a random DAG built as the paper describes."""
    parents: list[list[int]] = [[], []]
    depth = [0, 0]
    below = [{0}, {1}]  # below[i]: the primary persons node i descends from
    for node in range(2, n):
        rule = rng.random()
        banned = 1 if rule < 0.35 else 0 if rule < 0.70 else None
        candidates = [i for i in range(node) if banned is None or banned not in below[i]]
        weights = [depth[i] * 1.5 + 1 for i in candidates]
        chosen: set[int] = set()
        for _ in range(min(_poisson(rng, 1.5), len(candidates))):  # distinct parents, weighted
            free = [(c, w) for c, w in zip(candidates, weights) if c not in chosen]
            chosen.add(rng.choices([c for c, _ in free], [w for _, w in free])[0])
        parents.append(sorted(chosen))
        depth.append(1 + max((depth[p] for p in chosen), default=-1))
        below.append(set().union(*(below[p] for p in chosen)) if chosen else set())
    return parents


def _shortest_path(children: list[list[int]], start: int, goal: int) -> list[int]:
    back, todo = {start: None}, deque([start])
    while todo:
        node = todo.popleft()
        for c in children[node]:
            if c not in back:
                back[c] = node
                todo.append(c)
    path = [goal]
    while back[path[-1]] is not None:
        path.append(back[path[-1]])
    return path[::-1]


def _attempt(rng: random.Random) -> Item | None:
    n = rng.randint(14, 28)
    parents = _grow(rng, n)
    children = [[c for c in range(n) if i in parents[c]] for i in range(n)]
    persons = [i for i in range(n) if not parents[i]]
    if not 2 <= len(persons) <= 6 or n - len(persons) > len(CONCEPTS):
        return None
    root = rng.choice([0, 1])
    other = 1 - root
    from_root, from_other = _reach(children, root), _reach(children, other)
    sinks = [i for i in range(n) if not children[i] and parents[i]]
    targets = [s for s in sinks if s in from_root and s not in from_other]
    distractors = [s for s in sinks if s in from_other and s not in from_root]
    targets = [t for t in targets if 3 <= len(_shortest_path(children, root, t)) - 1 <= 6]
    if not targets or not distractors:
        return None
    # the farthest target: nearer ones make the hop distribution far shorter than ProsQA's
    hops = {t: len(_shortest_path(children, root, t)) for t in targets}
    target, distractor = max(targets, key=lambda t: (hops[t], rng.random())), rng.choice(distractors)
    names = dict(zip(persons, rng.sample(NAMES, len(persons))))
    concepts = [i for i in range(n) if i not in names]
    names.update(zip(concepts, rng.sample(CONCEPTS, len(concepts))))

    def sentence(u: int, v: int) -> str:
        return f"{names[u]} is a {names[v]}." if u in persons else f"Every {names[u]} is a {names[v]}."

    edges = [(p, c) for c in range(n) for p in parents[c]]
    facts = [sentence(u, v) for u, v in edges]
    rng.shuffle(facts)
    options = [names[target], names[distractor]]
    rng.shuffle(options)
    path = _shortest_path(children, root, target)
    question = " ".join(facts) + f" Is {names[root]} a {options[0]} or {options[1]}?"
    steps = [sentence(u, v) for u, v in zip(path, path[1:])]
    meta = {"nodes": n, "edges": len(edges), "hops": len(path) - 1, "persons": len(persons),
            "edge_list": edges, "root": root, "target": target, "neg_target": distractor}
    return Item(question, f"{names[root]} is a {names[target]}.", steps, meta)


def generate(n_items: int, seed: int = 0) -> list[Item]:
    rng = random.Random(seed)
    items: list[Item] = []
    while len(items) < n_items:
        item = _attempt(rng)
        if item is not None:
            items.append(item)
    return items


def extract(text: str) -> str | None:
    """The last '<Name> is a <concept>.' claim in the text."""
    claims = re.findall(r"\b([A-Z][a-z]+) is an? ([a-z]+)", text)
    return f"{claims[-1][0]} is a {claims[-1][1]}." if claims else None
