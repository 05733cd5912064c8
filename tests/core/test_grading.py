"""One answer check (issue 37): tasks, the bench and the audit grade through `tasks.base.graded`."""

from __future__ import annotations

from latentspace.bench.harness import check
from latentspace.tasks import Item, free_text, get_task, graded
from latentspace.tasks.base import extract_marked


def test_graded_compares_the_extracted_answer_normalised():
    assert graded("so the answer: 1,024.", "1024", extract_marked) == (True, "1,024.")
    assert graded("Answer: 7", "8", extract_marked) == (False, "7")
    assert graded("anything", "x", lambda text: None) == (False, None)


def test_an_empty_expected_answer_is_never_matched():
    assert graded("", "", free_text) == (False, "")
    assert graded("Answer:", "", extract_marked)[0] is False


def test_the_task_the_bench_and_the_audit_agree():
    task = get_task("arithmetic")
    item = task.generate(3, seed=0)[0]
    for text in (f"Answer: {item.answer}", "Answer: no idea", "", f"#### {item.answer}."):
        assert check("arithmetic", text, item) == task.grade(text, item) == graded(text, item.answer, task.extract)
        assert task.check(text, item) is task.grade(text, item)[0]
    # a task file (no registered task): its answers follow a marker, as `extract_marked` reads them
    assert check("my-file", "think... Answer: Paris", Item("Capital of France?", "paris")) == (True, "Paris")
