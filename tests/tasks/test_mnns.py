"""MNNS: the optimum, the traces the CoT2 recipe learns from, the split that keeps permutations apart."""

import itertools

import pytest

from latentspace.errors import LatentspaceError
from latentspace.tasks import get_task, mnns
from latentspace.train.data import split_items


def brute_force(digits):
    sums = [sum(s * d for s, d in zip(signs, digits)) for signs in itertools.product((1, -1), repeat=4)]
    return min(v for v in sums if v >= 0)


def test_every_item_answers_the_true_minimum_non_negative_sum_and_its_steps_are_its_partial_sums():
    for item in mnns.generate(400, seed=3):
        digits = item.meta["digits"]
        assert int(item.answer) == brute_force(digits)
        signs = [1 if c == "+" else -1 for c in item.meta["signs"]]
        running = list(itertools.accumulate(s * d for s, d in zip(signs, digits)))
        assert [int(s) for s in item.steps] == running[:3] and running[3] == int(item.answer)
        assert item.question == " ".join(map(str, digits)) + " ="


def test_a_hand_checked_problem_and_its_sixteen_traces():
    item = mnns.item([1, 6, 1, 1])  # 6 - 1 - 1 - 1 = 3 is the least; 1 + 6 - 1 - 1 = 5; 1 - 6 + 1 + 1 < 0
    assert item.answer == "3" and item.steps == ["-1", "5", "4"] and item.meta["signs"] == "-+--"
    traces = item.meta["traces"]
    assert len(traces) == 16 and traces[0] == ["-1", "5", "4", "3"]
    assert sorted({t[0] for t in traces}) == ["-1", "1"]  # step 1: 2 values, each in 8 of the 16 traces
    assert sum(t[0] == "1" for t in traces) == 8
    assert len({tuple(t[:2]) for t in traces}) == 4  # step t: 2^t sign prefixes


def test_ties_go_to_the_first_sign_choice_with_plus_before_minus():
    assert mnns.item([1, 1, 1, 1]).meta["signs"] == "++--"


def test_all_6561_problems_and_a_split_that_keeps_every_permutation_on_one_side():
    items = mnns.generate(10_000, seed=0)
    assert len(items) == 9 ** 4 and len({i.question for i in items}) == 9 ** 4
    train, valid, test = split_items(items, 300, 1312, seed=0)
    assert len(valid) >= 300 and len(test) >= 1312 and len(train) + len(valid) + len(test) == 9 ** 4
    sides = {}
    for name, split in (("train", train), ("valid", valid), ("test", test)):
        for item in split:
            assert sides.setdefault(item.meta["group"], name) == name  # a digit multiset never on two sides
    assert {"".join(sorted(i.question.split()[:4])) for i in test} == {i.meta["group"] for i in test}


def test_digits_outside_one_to_nine_are_one_line_errors(tmp_path):
    for bad in ([0, 1, 2, 3], [1, 2, 3, 10], [1, 2, 3], [1, 2, 3, True]):
        with pytest.raises(LatentspaceError, match="4 digits from 1 to 9"):
            mnns.item(bad)
    path = tmp_path / "mine.jsonl"
    path.write_text('{"question": "3 5 7 2", "answer": "1"}\n{"question": "3 0 7 2", "answer": "2"}\n')
    with pytest.raises(LatentspaceError, match=r"mine.jsonl: item 1: .*1 to 9"):
        get_task("mnns").load_file(path)


def test_extract_reads_the_number_after_the_answer_mark():
    assert mnns.extract("3 -2 5 ### 0") == "0" and mnns.extract("### -4 <eos>") == "-4" and mnns.extract("x") is None
