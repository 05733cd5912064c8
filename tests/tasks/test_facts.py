"""The facts task a sharer reads and a receiver is asked about (issue 22)."""

from latentspace.tasks.facts import make_facts


def test_facts_are_deterministic_and_the_question_alone_ends_the_full_prompt():
    facts = make_facts(20, seed=3)
    assert facts == make_facts(20, seed=3) and facts != make_facts(20, seed=4)
    for f in facts:
        assert f.prompt(True).endswith(f.prompt(False)) and f.answer in f.context and f.answer in f.choices
        assert f.answer not in f.prompt(False)  # the question alone cannot give the answer away


def test_the_first_value_named_is_the_answer():
    f = make_facts(1, seed=0)[0]
    other = next(c for c in f.choices if c != f.answer)
    assert f.check(f" {f.answer}.") and f.check(f"The answer is {f.answer.lower()}, not {other}")
    assert not f.check(f"{other}, or maybe {f.answer}") and not f.check("") and not f.check("I do not know")
