"""ProsQA in the symbolic layout of the small-model papers (Zhu et al. 2025, "Reasoning by Superposition").

One token per graph node; each edge is ``s t |``; then ``[Q] c1 c2 [R] root``. The CoT is the
shortest root->target path's nodes after the root (the target included), one symbol per step,
and the answer is the target's symbol. With a whitespace tokenizer a question is ~3·E+5 tokens
(~115 at the published 36 edges) instead of ~180 English words.

Two namings of the nodes:

- ``indexed`` (task ``prosqa-sym``, the papers' layout): node ``i`` is the symbol ``n{i}``, as the
  released data numbers it. In that numbering (ours and the published generator's) roots are nodes
  0/1 and edges go from low to high index — the shortcuts behind the papers' ~75% No-CoT.
- ``relabelled`` (task ``prosqa-sym-relabel``): a seeded permutation into the pool ``n0 .. n63``
  per item, so no index order leaks; a model must read the graph (harder than the papers' task).

Any item whose meta carries the graph converts — our generator's and a published-layout file's
(``tasks.jsonl.load_items`` keeps its fields).
"""

from __future__ import annotations

import hashlib
import random
import re
from pathlib import Path

from latentspace.core.errors import LatentspaceError
from latentspace.tasks import prosqa
from latentspace.tasks.base import Item
from latentspace.tasks.graphs import bfs, path_to
from latentspace.tasks.jsonl import PUBLISHED_META, load_items

POOL = 64
SYMBOLS = [f"n{k}" for k in range(POOL)]
BAR, QUERY, ROOT = "|", "[Q]", "[R]"
_SYMBOL = re.compile(r"n([0-9]|[1-5][0-9]|6[0-3])")  # exactly the pool's symbols
GRAPH = ("names", "edge_list", "root", "target", "neg_target")


def _is_int(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _graph(meta: dict, label: dict) -> tuple[int, list[tuple[int, int]], int, int, int]:
    """The validated graph fields; errors name the field as ``label`` spells it (a file's own names)."""
    for key in GRAPH:
        if key not in meta:
            raise LatentspaceError(f"not a ProsQA graph: missing {label.get(key, key)}")
    names = meta["names"]
    if not isinstance(names, list) or not names:
        raise LatentspaceError(f"{label.get('names', 'names')} must be a non-empty list of node names")
    n = len(names)
    if n > POOL:
        raise LatentspaceError(f"the graph has {n} nodes; the symbolic layout has {POOL} node symbols")
    edges = meta["edge_list"]
    if not isinstance(edges, list) or not all(
            isinstance(e, (list, tuple)) and len(e) == 2 and all(_is_int(v) and 0 <= v < n for v in e) for e in edges):
        raise LatentspaceError(f"{label.get('edge_list', 'edge_list')} must be a list of [source, target] "
                               f"node indices in 0..{n - 1}")
    ends = []
    for key in ("root", "target", "neg_target"):
        if not _is_int(meta[key]) or not 0 <= meta[key] < n:
            raise LatentspaceError(f"{label.get(key, key)} must be a node index in 0..{n - 1}, not {meta[key]!r}")
        ends.append(meta[key])
    root, target, neg = ends
    if len(set(ends)) < 3:
        raise LatentspaceError(f"{label.get('root', 'root')}, {label.get('target', 'target')} and "
                               f"{label.get('neg_target', 'neg_target')} must be three different nodes")
    return n, [(u, v) for u, v in edges], root, target, neg


def to_symbolic(item: Item, seed: int, label: dict | None = None, relabel: bool = True) -> Item:
    """The item in the symbolic layout; the same seed gives the same relabelling and orders
    (``relabel=False``: node i is ``n{i}``, the published numbering)."""
    label = label or {}
    n, edges, root, target, neg = _graph(item.meta, label)
    depth, parent = bfs(n, edges, root)
    if depth[target] is None:
        raise LatentspaceError(f"{label.get('target', 'target')} {target} is not reachable from the root {root}")
    rng = random.Random(seed)
    names = [SYMBOLS[k] for k in (rng.sample(range(POOL), n) if relabel else range(n))]
    order = list(edges)
    rng.shuffle(order)
    options = [names[target], names[neg]]
    rng.shuffle(options)
    steps = [names[v] for v in path_to(parent, root, target)[1:]]
    facts = [f"{names[u]} {names[v]} {BAR}" for u, v in order]
    question = " ".join([*facts, QUERY, *options, ROOT, names[root]])
    hops = depth[target]
    frontier = [[names[v] for v in range(n) if depth[v] == t] for t in range(1, hops + 1)]
    meta = {"edge_list": edges, "root": root, "target": target, "neg_target": neg, "hops": hops,
            "names": names, "frontier": frontier, "symbolic": True}
    return Item(question, names[target], steps, meta)


def parse_symbolic(question: str) -> dict:
    """The graph a symbolic question states: {"edges": [(s, t)], "options": (c1, c2), "root": r}."""
    tokens = question.split()
    if tokens.count(QUERY) != 1:
        raise LatentspaceError(f"a symbolic ProsQA question has exactly one {QUERY}")
    q = tokens.index(QUERY)
    head, tail = tokens[:q], tokens[q:]
    if len(tail) != 5 or tail[3] != ROOT or len(head) % 3:
        raise LatentspaceError(f"expected 's t |' edges then '{QUERY} c1 c2 {ROOT} root'")
    triples = [head[i:i + 3] for i in range(0, len(head), 3)]
    if any(t[2] != BAR for t in triples):
        raise LatentspaceError(f"every edge is 's t {BAR}'")
    nodes = [s for t in triples for s in t[:2]] + [tail[1], tail[2], tail[4]]
    bad = [s for s in nodes if not _SYMBOL.fullmatch(s)]
    if bad:
        raise LatentspaceError(f"{bad[0]!r} is not a node symbol (n0..n{POOL - 1})")
    return {"edges": [(s, t) for s, t, _ in triples], "options": (tail[1], tail[2]), "root": tail[4]}


def parse_hops(text: str | None) -> frozenset[int] | None:
    """'3-4', '3', '3,5' (parts may mix) as a set of hop counts; None keeps every item."""
    if text is None:
        return None
    hops: set[int] = set()
    for part in text.split(","):
        m = re.fullmatch(r"\s*(\d{1,3})\s*(?:-\s*(\d{1,3})\s*)?", part)  # \d{1,3}: no huge int parsing
        lo, hi = (int(m[1]), int(m[2] or m[1])) if m else (0, 0)
        if not 1 <= lo <= hi < POOL:
            shown = text if len(text) <= 20 else text[:20] + "..."  # keep the one line short
            raise LatentspaceError(f"hops {shown!r}: expected N, N-M or N,M,... with 1 <= N <= M <= {POOL - 1}")
        hops.update(range(lo, hi + 1))
    return frozenset(hops)


def item_seed(seed: int, index: int) -> int:
    """The conversion seed of item ``index``: a hash, so nearby (seed, index) pairs do not collide."""
    return int.from_bytes(hashlib.sha256(f"prosqa-sym:{seed}:{index}".encode()).digest()[:8], "big")


def shape(hops: frozenset[int] | None = None) -> prosqa.Shape:
    """The published shape with its hop mix restricted to ``hops`` (the published weights kept)."""
    if hops is None:
        return prosqa.PUBLISHED
    if not hops or not hops <= set(prosqa.HOPS):
        raise LatentspaceError(f"hops {sorted(hops)}: the published mix has {min(prosqa.HOPS)}-{max(prosqa.HOPS)} only")
    return prosqa.Shape(hops={h: w for h, w in prosqa.HOPS.items() if h in hops})


def english(n_items: int, seed: int = 0, hops: frozenset[int] | None = None) -> list[Item]:
    """The English items ``generate`` converts (write these with ``to_published`` for a released-style file)."""
    return prosqa.generate(n_items, seed, shape(hops))


def generate(n_items: int, seed: int = 0, hops: frozenset[int] | None = None, relabel: bool = False) -> list[Item]:
    """Items in the papers' layout (``relabel=True``: the shortcut-free relabelled one)."""
    return [to_symbolic(item, item_seed(seed, i), relabel=relabel)
            for i, item in enumerate(english(n_items, seed, hops))]


def load(path: str | Path, hops: frozenset[int] | None = None, seed: int = 0, relabel: bool = False) -> list[Item]:
    """A published-layout ``.json`` file converted; row i uses ``item_seed(seed, i)`` whatever the filter."""
    path = Path(path)
    label = {ours: theirs for theirs, ours in PUBLISHED_META.items()} if path.suffix == ".json" else {}
    items = []
    for i, item in enumerate(load_items(path)):
        try:
            sym = to_symbolic(item, item_seed(seed, i), label, relabel)
        except LatentspaceError as err:
            raise LatentspaceError(f"{path.name}: item {i}: {err}") from None
        if hops is None or sym.meta["hops"] in hops:
            items.append(sym)
    if not items:
        raise LatentspaceError(f"{path.name}: no item has {','.join(map(str, sorted(hops or ())))} hops")
    return items


def to_published(items: list[Item]) -> list[dict]:
    """Rows in the published ProsQA JSON layout (write with ``jsonsafe.dumps``; read back with ``load``)."""
    rows = []
    for i, item in enumerate(items):
        try:
            n, edges, root, target, neg = _graph(item.meta, {})
        except LatentspaceError as err:
            raise LatentspaceError(f"item {i}: {err}") from None
        rows.append({"question": item.question, "answer": item.answer, "steps": list(item.steps),
                     "idx_to_symbol": list(item.meta["names"]), "edges": [list(e) for e in edges],
                     "root": root, "target": target, "neg_target": neg})
    return rows


def shuffle_edges(question_ids: list[int], bar_id: int, query_id: int, rng: random.Random) -> list[int]:
    """The question's edges (each a run of ids ending in ``bar_id``, all before ``query_id``) reordered."""
    if query_id not in question_ids:
        raise LatentspaceError("not a symbolic ProsQA question: no [Q] token")
    q = question_ids.index(query_id)
    head = question_ids[:q]
    if head and head[-1] != bar_id:
        raise LatentspaceError("not a symbolic ProsQA question: the edges before [Q] must each end in '|'")
    edges, start = [], 0
    for i, tok in enumerate(head):
        if tok == bar_id:  # runs, not fixed triples: a tokenizer may split a symbol
            edges.append(head[start:i + 1])
            start = i + 1
    rng.shuffle(edges)
    return [tok for edge in edges for tok in edge] + question_ids[q:]


def epoch_view(question_ids: list[int], tokenizer, rng: random.Random) -> list[int]:
    """The question as one epoch sees it: its edges in a fresh order (training reshuffles them)."""
    bar, query = tokenizer.convert_tokens_to_ids(["|", "[Q]"])
    return shuffle_edges(question_ids, bar, query, rng)


def extract(text: str) -> str | None:
    """The first node symbol after the last '###', or (without a marker) the last symbol in the text."""
    if "###" in text:
        found = re.search(r"\bn\d+\b", text.rsplit("###", 1)[1])
        return found[0] if found else None
    found = re.findall(r"\bn\d+\b", text)
    return found[-1] if found else None
