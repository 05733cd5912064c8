"""A trained run as an audit subject: the audit's hooks leave its answers as its own evaluation
gives them, and cutting every thought is the run evaluated at stage 0 (no thoughts)."""

import json

import pytest

from latentspace.audit import audit
from latentspace.audit.record import record
from latentspace.tasks import load_jsonl
from latentspace.train.auditable import TrainedSubject
from latentspace.train.evaluate_run import evaluate_run
from latentspace.train.profiles import get_profile
from latentspace.train.recipes import get_recipe
from latentspace.train.trainer import TrainRun, train


@pytest.fixture(scope="module")
def coconut_run(tmp_path_factory):
    profile = get_profile("smoke-mnns")
    run = tmp_path_factory.mktemp("audit") / "coconut"
    train(TrainRun(get_recipe("coconut", **profile.recipe_options["coconut"]), "mnns", profile, run), progress=False)
    return run


def test_necessity_bounds_are_the_intact_run_and_the_no_thought_run(coconut_run):
    subject = TrainedSubject(coconut_run)
    items = load_jsonl(coconut_run / "data" / "test.jsonl")
    rec = record(subject, items)
    assert rec.slots > 0
    own = evaluate_run(coconut_run)
    assert [r["correct"] for r in rec.rows] == [r["correct"] for r in own.rows]  # observing changes nothing
    full = subject.answer(items, limit=rec.slots)
    assert [r["extracted"] for r in full] == [r["extracted"] for r in rec.rows]
    none = subject.answer(items, limit=0)
    subject.loaded.stage = 0  # Coconut at stage 0: the question, the markers, no thought
    assert subject.thoughts(items) == [0] * len(items)
    assert [r["extracted"] for r in none] == [r["extracted"] for r in subject.answer(items)]


def test_the_audit_of_a_trained_run_runs_every_test_it_can(coconut_run):
    subject = TrainedSubject(coconut_run)
    items = load_jsonl(coconut_run / "data" / "test.jsonl")[:24]
    report = audit(subject, items)
    assert {"necessity", "decodability", "probe", "interchange", "steer"} <= set(report.results)
    assert report.skipped == {"ood": "no out-of-distribution variant of this task"}


def test_the_audit_command_writes_its_report_and_refuses_bad_input_in_one_line(coconut_run, tmp_path, capsys,
                                                                               monkeypatch):
    from tests.cli.test_cli import one_line_exit_2, run_here

    out = tmp_path / "audit"
    result = run_here(capsys, monkeypatch, "audit", "-m", str(coconut_run), "--n", "12", "--tests",
                      "necessity,interchange,ood", "--out", str(out), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert set(report["results"]) == {"necessity", "interchange"} and "ood" in report["skipped"]
    assert {"report.json", "report.md", "index.html", "necessity.png"} <= {
        p.name for p in out.iterdir()}
    one_line_exit_2(run_here(capsys, monkeypatch, "audit", "-m", str(tmp_path), "--n", "2"), "not a trained run")
    one_line_exit_2(run_here(capsys, monkeypatch, "audit", "-m", str(coconut_run), "--tests", "vibes"), "vibes")
    assert not (tmp_path / "nothing").exists()
