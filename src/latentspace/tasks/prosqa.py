"""ProsQA-like graph questions, built the way the ProsQA paper describes, with its vocabulary.

A random DAG is grown node by node (edges from lower to higher index), parents weighted by
depth·1.5+1, and with probability 0.35 each a new node may not descend from node 1, or from
node 0. Nodes 0 and 1 are persons; a later node is a person (no parents) with probability 0.1,
otherwise it takes a Poisson(1.8) number of parents conditioned on at least one. The root is node
0 or 1; the target is a sink reachable from the root but not from the other primary person, the
distractor the reverse. Each item first draws its hop count from ProsQA's published distribution
(3/4/5/6 = 41/44/13/2%), then grows graphs until one has a target exactly that far. The question
lists every edge as a sentence, shuffled.

Calibration: the paper's description taken literally (Poisson(1.5) parents, a node without
parents becomes a person, the farthest target) gave sparser, shallower graphs than the released
files (nodes 20.7, edges 28.3, hops 66/26/6/3%). With the rules above and graphs of 16–54 edges
(the published range), 400 items (seed 0) measure nodes 23.0, edges 36.5, hops 3.75 mean at
40/46/12/2%, persons 3.8 — against the published 22.8, 36.0, 3.77 at 41/44/13/2% (anchors.md).
The invariants hold exactly (tests/tasks).
"""

from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass, field

from latentspace.tasks.base import Item
from latentspace.tasks.graphs import bfs, path_to
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


PERSON_RATE = 0.1  # chance that a node after the first two is a person (a source)
PARENTS = 1.8  # Poisson rate of a concept's parents, conditioned on >= 1
HOPS = {3: 41, 4: 44, 5: 13, 6: 2}  # published shortest-path lengths, %
EDGES = (16, 54)  # published range of edges per graph


@dataclass(frozen=True)
class Shape:
    """Graph sizes of a ProsQA-like set; the default is the published one (see the calibration above).

    Smaller shapes keep the sentence format, the vocabulary and the growth rules and only draw
    fewer nodes, fewer edges and shorter paths — questions a small model trained on a CPU can learn.
    """

    nodes: tuple[int, int] = (14, 28)
    edges: tuple[int, int] = EDGES
    hops: dict[int, int] = field(default_factory=lambda: dict(HOPS))


PUBLISHED = Shape()
# the quick training profile's graphs: about half the nodes and a third of the edges, 2-4 hops;
# questions of ~65 words instead of ~180 (chosen by benchmarks/calibrate_quick.py, docs/results.md)
SMALL = Shape(nodes=(8, 12), edges=(7, 18), hops={2: 30, 3: 50, 4: 20})


def _grow(rng: random.Random, n: int) -> list[list[int]]:
    """Parents of each node of a random DAG built as the paper describes (calibrated, see above)."""
    parents: list[list[int]] = [[], []]
    depth = [0, 0]
    below = [{0}, {1}]  # below[i]: the primary persons node i descends from
    for node in range(2, n):
        if rng.random() < PERSON_RATE:
            parents.append([])
            depth.append(0)
            below.append(set())
            continue
        rule = rng.random()
        banned = 1 if rule < 0.35 else 0 if rule < 0.70 else None
        candidates = [i for i in range(node) if banned is None or banned not in below[i]]
        weights = [depth[i] * 1.5 + 1 for i in candidates]
        wanted = 0
        while wanted == 0:
            wanted = _poisson(rng, PARENTS)
        chosen: set[int] = set()
        for _ in range(min(wanted, len(candidates))):  # distinct parents, weighted
            free = [(c, w) for c, w in zip(candidates, weights) if c not in chosen]
            chosen.add(rng.choices([c for c, _ in free], [w for _, w in free])[0])
        parents.append(sorted(chosen))
        depth.append(1 + max((depth[p] for p in chosen), default=-1))
        below.append(set().union(*(below[p] for p in chosen)) if chosen else set())
    return parents


def _attempt(rng: random.Random, hops_wanted: int, shape: Shape = PUBLISHED) -> Item | None:
    n = rng.randint(*shape.nodes)
    parents = _grow(rng, n)
    children = [[c for c in range(n) if i in parents[c]] for i in range(n)]
    persons = [i for i in range(n) if not parents[i]]
    n_edges = sum(len(p) for p in parents)
    if not 2 <= len(persons) <= 6 or n - len(persons) > len(CONCEPTS) or not shape.edges[0] <= n_edges <= shape.edges[1]:
        return None
    root = rng.choice([0, 1])
    other = 1 - root
    from_root, from_other = _reach(children, root), _reach(children, other)
    sinks = [i for i in range(n) if not children[i] and parents[i]]
    targets = [s for s in sinks if s in from_root and s not in from_other]
    distractors = [s for s in sinks if s in from_other and s not in from_root]
    edges = [(p, c) for c in range(n) for p in parents[c]]
    depth, parent = bfs(n, edges, root)
    targets = [t for t in targets if depth[t] == hops_wanted]
    if not targets or not distractors:
        return None
    target, distractor = rng.choice(targets), rng.choice(distractors)
    names = dict(zip(persons, rng.sample(NAMES, len(persons))))
    concepts = [i for i in range(n) if i not in names]
    names.update(zip(concepts, rng.sample(CONCEPTS, len(concepts))))

    def sentence(u: int, v: int) -> str:
        return f"{names[u]} is a {names[v]}." if u in persons else f"Every {names[u]} is a {names[v]}."

    facts = [sentence(u, v) for u, v in edges]
    rng.shuffle(facts)
    options = [names[target], names[distractor]]
    rng.shuffle(options)
    path = path_to(parent, root, target)
    question = " ".join(facts) + f" Is {names[root]} a {options[0]} or {options[1]}?"
    steps = [sentence(u, v) for u, v in zip(path, path[1:])]
    meta = {"nodes": n, "edges": len(edges), "hops": len(path) - 1, "persons": len(persons),
            "edge_list": edges, "root": root, "target": target, "neg_target": distractor,
            "names": [names[i] for i in range(n)]}  # ProsQA's idx_to_symbol
    return Item(question, f"{names[root]} is a {names[target]}.", steps, meta)


def generate(n_items: int, seed: int = 0, shape: Shape = PUBLISHED) -> list[Item]:
    rng = random.Random(seed)
    items: list[Item] = []
    while len(items) < n_items:
        hops = rng.choices(list(shape.hops), list(shape.hops.values()))[0]  # drawn first: the mix is the shape's
        item = None
        while item is None:
            item = _attempt(rng, hops, shape)
        items.append(item)
    return items


def extract(text: str) -> str | None:
    """The last '<Name> is a <concept>.' claim in the text."""
    claims = re.findall(r"\b([A-Z][a-z]+) is an? ([a-z]+)", text)
    return f"{claims[-1][0]} is a {claims[-1][1]}." if claims else None
