import json
import random
import statistics
from collections import Counter

import pytest

from latentspace import LatentspaceError
from latentspace.core.jsonsafe import dumps
from latentspace.tasks import graphs, prosqa, prosqa_sym as sym
from latentspace.tasks.base import Item
from latentspace.tasks.jsonl import PUBLISHED_META, load_items

# a published-layout row (the released files' fields); 0 -> 2 -> 4 -> 6 is the only 3-hop path,
# 0 -> 3 -> 5 -> 6 a second shortest one, 1 -> 7 the distractor's side
ROW = {"question": "Alex is a wumpus. ...", "answer": "Alex is a gorpus.", "steps": ["Alex is a wumpus."],
       "idx_to_symbol": ["Alex", "Tom", "wumpus", "yumpus", "zumpus", "dumpus", "gorpus", "rempus"],
       "edges": [[0, 2], [0, 3], [2, 4], [3, 5], [4, 6], [5, 6], [1, 7], [2, 5]],
       "root": 0, "target": 6, "neg_target": 7}


def write(tmp_path, rows, name="test.json"):
    path = tmp_path / name
    path.write_text(dumps(rows))
    return path


def test_published_item_round_trips_through_the_symbolic_layout(tmp_path):
    item = load_items(write(tmp_path, [ROW]))[0]
    out = sym.to_symbolic(item, seed=5)
    parsed = sym.parse_symbolic(out.question)
    names = out.meta["names"]
    assert Counter(parsed["edges"]) == Counter((names[u], names[v]) for u, v in ROW["edges"])
    assert parsed["root"] == names[0]
    assert set(parsed["options"]) == {names[6], names[7]}
    assert out.answer == names[6] and len(set(names)) == len(names) and out.meta["symbolic"]
    assert out.meta["edge_list"] == [tuple(e) for e in ROW["edges"]] and out.meta["hops"] == 3
    assert sym.to_symbolic(item, seed=5) == out and sym.to_symbolic(item, seed=6) != out


def test_steps_are_a_shortest_path_ending_at_the_target():
    for item in sym.generate(40, seed=1):
        depth, _ = graphs.bfs(len(item.meta["names"]), item.meta["edge_list"], item.meta["root"])
        names = item.meta["names"]
        edges = {(names[u], names[v]) for u, v in item.meta["edge_list"]}
        path = [names[item.meta["root"]], *item.steps]
        assert len(item.steps) == item.meta["hops"] == depth[item.meta["target"]]
        assert item.steps[-1] == item.answer == names[item.meta["target"]]
        assert all((a, b) in edges for a, b in zip(path, path[1:]))


def test_frontier_is_the_bfs_depth_sets_of_a_hand_built_graph():
    meta = {ours: ROW[theirs] for theirs, ours in PUBLISHED_META.items()}
    out = sym.to_symbolic(Item(ROW["question"], ROW["answer"], ROW["steps"], meta), seed=0)
    n = out.meta["names"]
    assert out.meta["frontier"] == [[n[2], n[3]], [n[4], n[5]], [n[6]]]  # 5 is depth 2 by 3 -> 5 and 2 -> 5


def test_relabelling_hides_the_generators_index_order():
    roots = {item.meta["names"][item.meta["root"]] for item in sym.generate(30, seed=0, relabel=True)}
    assert len(roots) > 10  # roots are always node 0 or 1 in the generator


def test_the_papers_layout_keeps_the_generators_numbering():
    items = sym.generate(30, seed=0)
    assert all(item.meta["names"] == [f"n{i}" for i in range(len(item.meta["names"]))] for item in items)
    assert {item.meta["names"][item.meta["root"]] for item in items} <= {"n0", "n1"}
    relabelled = sym.generate(30, seed=0, relabel=True)  # the same graphs, other names
    assert [x.meta["edge_list"] for x in items] == [x.meta["edge_list"] for x in relabelled]
    assert [x.question for x in items] != [x.question for x in relabelled]


def test_shuffle_edges_keeps_triples_and_tail_and_varies_with_the_rng():
    vocab = {s: i for i, s in enumerate([*sym.SYMBOLS, "|", "[Q]", "[R]"])}
    item = sym.generate(1, seed=2)[0]
    ids = [vocab[t] for t in item.question.split()] + [999]  # 999: a trailing newline id
    bar, query = vocab["|"], vocab["[Q]"]
    q = ids.index(query)
    triples = lambda xs: Counter(tuple(xs[i:i + 3]) for i in range(0, xs.index(query), 3))  # noqa: E731
    orders = set()
    for seed in range(5):
        out = sym.shuffle_edges(ids, bar, query, random.Random(seed))
        assert len(out) == len(ids) and out[q:] == ids[q:] and triples(out) == triples(ids)
        orders.add(tuple(out))
    assert len(orders) == 5
    with pytest.raises(LatentspaceError, match="no \\[Q\\]"):
        sym.shuffle_edges(ids[:q], bar, query, random.Random(0))


def test_published_file_reads_back_as_the_same_symbolic_items(tmp_path):
    hops = frozenset({3, 4})
    path = write(tmp_path, sym.to_published(sym.english(12, seed=4, hops=hops)))
    assert json.loads(path.read_text())[0]["idx_to_symbol"][0].isalpha()  # English names, like the release
    assert sym.load(path, seed=4) == sym.generate(12, seed=4, hops=hops)


def test_hop_filter(tmp_path):
    items = sym.english(30, seed=0)
    path = write(tmp_path, sym.to_published(items))
    every = sym.load(path)
    only = sym.load(path, hops=frozenset({3}))
    assert only == [x for x in every if x.meta["hops"] == 3] and 0 < len(only) < len(every)
    assert {x.meta["hops"] for x in sym.generate(20, seed=0, hops=frozenset({4}))} == {4}
    with pytest.raises(LatentspaceError, match="no item has 9 hops"):
        sym.load(path, hops=frozenset({9}))
    with pytest.raises(LatentspaceError, match="published mix has 3-6"):
        sym.generate(5, hops=frozenset({2, 3}))


@pytest.mark.parametrize("text, hops", [
    (None, None), ("3-4", {3, 4}), ("3", {3}), ("3,5", {3, 5}), ("3-4,6", {3, 4, 6})])
def test_parse_hops(text, hops):
    assert sym.parse_hops(text) == (None if hops is None else frozenset(hops))


@pytest.mark.parametrize("text", ["x", "4-3", "0", "", "3-", "9" * 5000, "64"])
def test_parse_hops_refuses_bad_text_in_one_line(text):
    with pytest.raises(LatentspaceError) as err:
        sym.parse_hops(text)
    assert "\n" not in str(err.value) and len(str(err.value)) < 300


@pytest.mark.parametrize("change, message", [
    ({"edges": None}, "item 0: not a ProsQA graph: missing edges"),
    ({"idx_to_symbol": None}, "item 0: not a ProsQA graph: missing idx_to_symbol"),
    ({"edges": [[0, 8]]}, "edges must be a list"),
    ({"edges": [[0, 1, 2]]}, "edges must be a list"),
    ({"edges": [["0", 1]]}, "edges must be a list"),
    ({"root": 99}, "root must be a node index"),
    ({"target": True}, "target must be a node index"),
    ({"neg_target": 6}, "three different nodes"),
    ({"target": 1}, "target 1 is not reachable"),
    ({"idx_to_symbol": [f"c{i}" for i in range(65)]}, "65 nodes"),
])
def test_bad_rows_are_one_line_errors_naming_file_and_item(tmp_path, change, message):
    row = {k: v for k, v in {**ROW, **change}.items() if v is not None}
    path = write(tmp_path, [row])
    with pytest.raises(LatentspaceError, match=message) as err:
        sym.load(path)
    assert str(err.value).startswith("test.json: item 0: ") and "\n" not in str(err.value)


@pytest.mark.parametrize("question", [
    "n1 n2 | [Q] n3 n4 [R]", "n1 n2 [Q] n3 n4 [R] n1", "n1 n2 | n3 [Q] n3 n4 [R] n1", "n1 n64 | [Q] n3 n4 [R] n1",
    "n1 n2 x [Q] n3 n4 [R] n1", "n1 n2 | n3 n4 [R] n1", "n1 n2 | [Q] n3 n4 x n1", "n1 n2 | [Q] n3 n4 [R] n01",
    "n1 n2 | [Q] n3 n4 [R] n1 [Q]"])
def test_parse_symbolic_refuses_malformed_questions(question):
    with pytest.raises(LatentspaceError):
        sym.parse_symbolic(question)


def test_to_published_refuses_items_without_a_graph():
    with pytest.raises(LatentspaceError, match="item 0: not a ProsQA graph: missing names"):
        sym.to_published([Item("q", "a")])


def test_extract():
    assert sym.extract("n3 n9 ### n12") == "n12"
    assert sym.extract("n3 n9 n17") == "n17"
    assert sym.extract("n3 ### nothing") is None and sym.extract("no symbols") is None


def test_question_length_is_the_published_110_to_120_tokens():
    items = sym.generate(200, seed=0, hops=frozenset({3, 4}))
    lengths = [len(item.question.split()) for item in items]
    assert all(n == 3 * len(item.meta["edge_list"]) + 5 for n, item in zip(lengths, items))
    assert 115 - 25 <= statistics.mean(lengths) <= 115 + 25
    assert max(len(item.meta["names"]) for item in items) <= sym.POOL
    assert prosqa.PUBLISHED.nodes[1] <= sym.POOL  # the published shape always fits the pool
