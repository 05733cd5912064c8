import json

import pytest

from latentspace import LatentspaceError
from latentspace.tasks import TASKS, get_task, load_jsonl
from latentspace.tasks.multiplication import icot_line, multiplication_item


def test_multiplication_matches_icots_published_example():
    line = icot_line(multiplication_item(3719, 3349, 4))
    assert line == ("9 1 7 3 * 9 4 3 3||1 7 4 3 3 + 0 6 7 8 4 1 ( 1 3 2 2 8 1 ) + 0 0 7 5 1 1 1 "
                    "( 1 3 9 7 9 2 1 ) + 0 0 0 7 5 1 1 1 #### 1 3 9 4 5 4 2 1")


@pytest.mark.parametrize("name", list(TASKS))
def test_generators_are_deterministic_and_their_answers_check(name):
    task = get_task(name)
    a, b = task.generate(20, seed=3), task.generate(20, seed=3)
    assert a == b and a != task.generate(20, seed=4)
    for item in a:
        assert task.check(" ".join(item.steps) + f" Answer: {item.answer}", item)
        assert not task.check("no idea", item)


def test_arithmetic_answers_are_right():
    for item in get_task("arithmetic").generate(50, seed=0):
        last = item.steps[-1]
        lhs, rhs = last.split("=")
        assert eval(lhs) == int(rhs) == int(item.answer)  # noqa: S307 - our own generated arithmetic


def test_prontoqa_has_six_steps_for_five_hops_and_balanced_answers():
    items = get_task("prontoqa").generate(200, seed=0)
    assert all(len(i.steps) == 6 for i in items)
    assert 0.35 < sum(i.answer == "True" for i in items) / len(items) < 0.65
    assert get_task("prontoqa").check("... so the statement is false.", items[0]) == (items[0].answer == "False")


def test_jsonl_loads_and_names_file_and_line_of_a_bad_row(tmp_path):
    good = tmp_path / "t.jsonl"
    good.write_text(json.dumps({"question": "1+1?", "answer": 2, "steps": ["1+1=2"]}) + "\n\n")
    assert load_jsonl(good)[0].answer == "2"
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"question": "q", "answer": "a"}) + "\n" + '{"question": "q"}\n')
    with pytest.raises(LatentspaceError, match=r"bad.jsonl:2: expected"):
        load_jsonl(bad)
    bad.write_text("{not json\n")
    with pytest.raises(LatentspaceError, match=r"bad.jsonl:1: not valid JSON"):
        load_jsonl(bad)


def test_unknown_task():
    with pytest.raises(LatentspaceError, match="unknown task"):
        get_task("gsm8k")


SMALLER = {"nodes": (8, 12), "edges": (7, 18), "hops": {2: 30, 3: 50, 4: 20}}


@pytest.mark.parametrize("shape", [None, SMALLER], ids=["published", "smaller"])
def test_prosqa_invariants(shape):
    from latentspace.tasks.prosqa import Shape, _reach, generate

    chosen = Shape(**shape) if shape else Shape()
    for item in generate(40, seed=1, shape=chosen):
        m = item.meta
        n, edges = m["nodes"], m["edge_list"]
        assert chosen.nodes[0] <= n <= chosen.nodes[1] and chosen.edges[0] <= len(edges) <= chosen.edges[1]
        assert all(u < v for u, v in edges)
        children = [[v for u, v in edges if u == i] for i in range(n)]
        sources = {i for i in range(n) if all(v != i for _, v in edges)}
        assert 2 <= len(sources) <= 6 and m["root"] in (0, 1) and {0, 1} <= sources
        other = 1 - m["root"]
        for sink in (m["target"], m["neg_target"]):
            assert not children[sink]
        assert m["target"] in _reach(children, m["root"]) and m["target"] not in _reach(children, other)
        assert m["neg_target"] in _reach(children, other) and m["neg_target"] not in _reach(children, m["root"])
        assert len(item.steps) in chosen.hops and item.steps[-1].endswith(item.answer.split(" is a ")[1])
        assert item.question.endswith("?") and all(s in item.question for s in item.steps)


def test_the_default_prosqa_shape_is_the_published_one():
    from latentspace.tasks.prosqa import Shape, generate

    assert generate(5, seed=3) == generate(5, seed=3, shape=Shape())
    assert Shape().hops == {3: 41, 4: 44, 5: 13, 6: 2} and Shape().edges == (16, 54)


def test_prosqa_statistics_match_the_published_ones():
    """anchors.md: nodes 22.8, edges 36.0 (16-54), hops 3/4/5/6 = 41/44/13/2% on the released files."""
    metas = [item.meta for item in get_task("prosqa").generate(300, seed=2)]
    mean = lambda key: sum(m[key] for m in metas) / len(metas)  # noqa: E731
    assert abs(mean("nodes") - 22.8) < 1.0 and abs(mean("edges") - 36.0) < 2.0
    assert all(16 <= m["edges"] <= 54 for m in metas)
    shares = [sum(m["hops"] == h for m in metas) / len(metas) for h in (3, 4, 5, 6)]
    assert all(abs(got - want) < 0.07 for got, want in zip(shares, (0.41, 0.44, 0.13, 0.02))), shares


def test_a_file_in_the_published_prosqa_layout_loads_with_its_graph(tmp_path):
    from latentspace.tasks import load_items

    items = get_task("prosqa").generate(3, seed=4)
    published = [{"question": i.question, "answer": i.answer, "steps": i.steps, "idx_to_symbol": i.meta["names"],
                  "edges": [list(e) for e in i.meta["edge_list"]], "root": i.meta["root"],
                  "target": i.meta["target"], "neg_target": i.meta["neg_target"]} for i in items]
    path = tmp_path / "prosqa_test.json"
    path.write_text(json.dumps(published))
    loaded = load_items(path)
    assert [i.question for i in loaded] == [i.question for i in items]
    assert loaded[0].meta["names"] == items[0].meta["names"] and loaded[0].meta["root"] == items[0].meta["root"]
    names = loaded[0].meta["names"]
    assert loaded[0].answer == f"{names[loaded[0].meta['root']]} is a {names[loaded[0].meta['target']]}."
    (tmp_path / "bad.json").write_text(json.dumps([{"question": "q?"}]))
    with pytest.raises(LatentspaceError, match="bad.json: item 0: expected"):
        load_items(tmp_path / "bad.json")
