"""The audit's tests on a planted subject (thought i carries the question's digit i; the answer is
what the last thought carries) and on a real trained run at smoke size."""

from types import SimpleNamespace

import pytest
import torch

from latentspace.audit import TESTS, audit
from latentspace.audit.decodability import decodability
from latentspace.audit.interchange import interchange
from latentspace.audit.necessity import necessity
from latentspace.audit.probe import probe
from latentspace.audit.record import record
from latentspace.errors import LatentspaceError
from latentspace.tasks import Item


class Planted:
    """A toy latent reasoner: thought i's input is the one-hot of the question's digit i (its
    reading puts that digit first); the answer is the digit the last fed thought carries."""

    name = "planted"

    def __init__(self, noise: bool = False) -> None:
        self.noise = noise  # thoughts of pure noise instead of the digits
        self.generator = torch.Generator().manual_seed(0)

    def thoughts(self, items):
        return [2] * len(items)

    def token_id(self, symbol):
        return int(symbol) if symbol.isdigit() and len(symbol) == 1 else None

    def answer(self, items, limit=None, observe=None, edit=None):
        rows = []
        for first in range(0, len(items), 4):  # batches of 4: the hooks get item indices, not batch rows
            chunk, where = items[first:first + 4], range(first, first + min(4, len(items) - first))
            digits = torch.tensor([[int(x) for x in item.question.split()] for item in chunk])
            last = None
            for i in range(2 if limit is None else min(2, limit)):
                vectors = torch.nn.functional.one_hot(digits[:, i], 10).float()
                if self.noise:
                    vectors = torch.randn(vectors.shape, generator=self.generator)
                state = SimpleNamespace(logits=10 * vectors)
                if observe is not None:
                    observe(i, state, vectors, where)
                last = edit(i, state, vectors, where) if edit is not None else vectors
            for r, item in enumerate(chunk):
                said = str(int(last[r].argmax())) if last is not None else None
                rows.append({"correct": said == item.answer, "extracted": said})
        return rows


def digit_items(n: int = 60, seed: int = 0) -> list[Item]:
    rng = torch.Generator().manual_seed(seed)
    pairs = torch.randint(0, 10, (n, 2), generator=rng).tolist()
    return [Item(f"{a} {b}", str(b), [str(a), str(b)]) for a, b in pairs]


def test_necessity_of_the_planted_thoughts_cut_mean_and_noise():
    subject, items = Planted(), digit_items()
    rec = record(subject, items)
    result = necessity(subject, items, rec)
    assert result["intact"] == 1.0
    assert result["cut"][2]["accuracy"] == result["intact"]  # k = n: the intact run
    assert result["cut"][0]["accuracy"] == 0.0  # no thought, no answer
    assert result["mean"][1]["accuracy"] < 0.5 and result["noise"][1]["accuracy"] < 0.5
    assert result["mean"][0]["accuracy"] == 1.0  # the first thought never reaches the answer


def test_interchange_moves_the_answer_only_through_the_thought_that_carries_it():
    subject, items = Planted(), digit_items()
    rec = record(subject, items)
    first, last = interchange(subject, items, rec)
    assert last["n"] > 0 and last["follows"] == 1.0  # thought 2 carries the answer: it moves every time
    assert first["stays"] == 1.0  # thought 1 carries a digit the answer never reads
    itself = interchange(subject, items, rec, pairs={j: j for j in range(len(items))})
    assert all(row["stays"] == 1.0 for row in itself)  # an item as its own counterfactual changes nothing


def test_a_probe_reads_a_planted_value_and_not_noise():
    items = digit_items(200)
    planted = probe(items, record(Planted(), items))
    assert all(row["test"] > 0.9 and row["gap"] > 0.5 for row in planted)
    noise = probe(items, record(Planted(noise=True), items))
    assert all(abs(row["gap"]) < 0.2 for row in noise)


def test_a_thought_equal_to_the_gold_embedding_decodes_first():
    subject, items = Planted(), digit_items()
    rows = decodability(subject, items, record(subject, items))
    assert all(row["gold_rank"] == 1.0 and row["top1"] == 1.0 for row in rows)


def test_tests_that_cannot_run_are_skipped_with_their_reason_and_the_others_still_run():
    subject = Planted()
    items = [Item(f"{a} {b}", str(b), []) for a, b in [(1, 2), (3, 4), (5, 6)]]  # no intermediate values
    report = audit(subject, items)
    assert set(report.results) == {"necessity"}
    assert "intermediate values" in report.skipped["decodability"] and "variant" in report.skipped["ood"]
    assert set(report.results) | set(report.skipped) == set(TESTS)
    with pytest.raises(LatentspaceError, match="unknown audit test"):
        audit(subject, items, tests=["necessity", "vibes"])


def test_the_report_renders_every_test():
    subject, items = Planted(), digit_items(40)
    report = audit(subject, items, tests=["necessity", "decodability", "interchange"],
                   ood_items=("same", items))
    text = report.markdown()
    assert "cut after 0" in text and "**decodability**" in text and "follows" in text
    assert report.to_dict()["accuracy"] == 1.0


def test_a_strategy_audited_on_a_model_keeps_its_answers_when_only_watched():
    from latentspace.audit.strategy_subject import StrategySubject
    from latentspace.model.latent_model import LatentModel
    from latentspace.reason import get_reasoner
    from latentspace.tasks import get_task

    lm = LatentModel.load("tiny", show_progress=False)
    reasoner = get_reasoner("continuous", max_latent_steps=2, max_new_tokens=4)
    task = get_task("arithmetic")
    items = task.generate(4, seed=0)
    plain = [t.text for t in reasoner.run_batch(lm, [i.question for i in items])]
    subject = StrategySubject(lm, reasoner, task, batch_size=2)
    rec = record(subject, items)
    assert rec.slots == 2 and (rec.vectors.norm(dim=-1) > 0).all()  # every thought of every item observed
    assert [r["extracted"] for r in rec.rows] == [task.extract(t) for t in plain]
    assert [r["extracted"] for r in subject.answer(items, limit=2)] == [r["extracted"] for r in rec.rows]
    assert reasoner.thought_hook is None  # the hook is the audit's only while it runs
    zero = subject.answer(items, edit=lambda i, state, v, rows: v * 0 if i == 0 else v)
    assert len(zero) == len(items)


def test_an_interrupted_audit_resumes_its_finished_tests_only_for_the_same_items():
    subject, items = Planted(), digit_items(20)
    saved = []
    first = audit(subject, items, tests=["necessity", "probe"], saved=lambda r: saved.append(set(r.results)))
    assert saved == [{"necessity"}, {"necessity", "probe"}]  # written after every test
    first.results["necessity"]["intact"] = -1.0  # a marker: a reused result is not recomputed
    again = audit(subject, items, tests=["necessity", "probe", "decodability"], done=first)
    assert again.results["necessity"]["intact"] == -1.0 and "decodability" in again.results
    other = audit(subject, digit_items(20, seed=1), tests=["necessity"], done=first)
    assert other.results["necessity"]["intact"] == 1.0  # other items: nothing reused


def test_steering_runs_the_strengths_asked_and_a_resume_with_other_strengths_reruns_it():
    subject, items = Planted(), digit_items(20)
    first = audit(subject, items, tests=["steer"], strengths=(1.0,))
    assert {r["strength"] for r in first.results["steer"] if "strength" in r} == {1.0}
    again = audit(subject, items, tests=["steer"], strengths=(0.5, 2.0), done=first)
    assert {r["strength"] for r in again.results["steer"] if "strength" in r} == {0.5, 2.0}


def test_a_numeric_step_with_thin_classes_is_probed_by_regression_and_few_values_by_classes():
    from latentspace.audit.probe import as_targets

    assert as_targets([str(v) for v in range(30)]) == ([float(v) for v in range(30)], "regression")
    # 200 items of 61 values: 3.3 per value in all, but 2.5 in the 150 a probe is fitted on -> regression
    sums = [str(v % 61) for v in range(200)]
    assert as_targets(sums)[1] == "regression"
    few = [str(v % 4) for v in range(30)]
    assert as_targets(few) == (few, "classification")
    words = [f"node{v}" for v in range(30)]
    assert as_targets(words) == (words, "classification")


def test_a_regression_probe_worse_than_the_mean_makes_no_gap():
    from latentspace.audit.probe import gap
    from latentspace.lens.probes import ProbeScore

    assert gap(ProbeScore(None, "regression", 1.0, -7.0, -4.0, 10, 4)) == 0.0  # both fail: nothing read
    assert gap(ProbeScore(None, "regression", 1.0, 0.6, -2.0, 10, 4)) == 0.6
    assert gap(ProbeScore(None, "classification", 1.0, 0.5, 0.25, 10, 4)) == 0.25
