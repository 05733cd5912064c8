"""`train imagery`: the probe, nearest pictures and replacement test of a vsp run's latent visual thoughts."""

import json

import pytest
import torch

from latentspace import LatentspaceError
from latentspace.train.profiles import get_profile
from latentspace.train.recipes import get_recipe
from latentspace.train.run import TrainRun
from latentspace.train.studies.imagery import imagery, partners, probe_accuracy, replaced, record
from latentspace.train.studies.evaluate_run import load_run, run_items
from latentspace.train.trainer import train
from tests.cli.test_cli import one_line_exit_2
from tests.steer.test_steer_cli import run  # noqa: F401 (the in-process CLI fixture)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("vsp")
    profile = get_profile("smoke-vsp")
    found = {}
    for recipe in ("visual", "visual-pause", "nocot"):
        found[recipe] = root / recipe
        options = {**profile.recipe_options[recipe], "epochs": 2, "teacher_epochs": 1} if recipe != "nocot" else {}
        train(TrainRun(get_recipe(recipe, **options), "vsp", profile, found[recipe],
                       extra={"n_train": 24, "batch_size": 8, "n_valid": 4, "n_test": 12}), progress=False)
    return found


def test_partners_have_as_many_thoughts_and_are_other_items():
    counts = [8, 12, 8, 8, 12, 16]
    found = partners(counts, seed=3)
    assert [counts[j] for j in found] == counts
    assert all(j != i for i, j in enumerate(found) if counts.count(counts[i]) > 1)
    assert found[5] == 5  # alone with its count
    assert sorted(found[i] for i in (0, 2, 3)) == [0, 2, 3]  # a permutation within each count


def test_the_probe_reads_a_label_that_is_there_and_not_a_shuffled_one():
    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, 9, (600,), generator=g)
    x = torch.nn.functional.one_hot(y, 36).float() + 0.2 * torch.randn(600, 36, generator=g)
    train, test = (x[:400], y[:400]), (x[400:], y[400:])
    assert probe_accuracy(train, test) > 0.9
    assert probe_accuracy(train, test, shuffled=True) < 0.4


def test_a_visual_runs_report_has_every_reading(runs):
    report = imagery(runs["visual"], n=12, probe_items=24)
    assert report.slots_per_step == 4 and report.n == 12
    assert set(report.replacement) == {"zeros", "noise", "shuffled", "oracle"}
    for value in (report.accuracy, report.probe, report.probe_shuffled, report.nearest, report.nearest_teacher,
                  *report.replacement.values()):
        assert 0.0 <= value <= 1.0
    example = report.example
    assert len(example["true"]) == len(example["nearest"]) == len(example["question"].split())


def test_the_pause_control_has_no_oracle_or_nearest_pictures(runs):
    report = imagery(runs["visual-pause"], n=12, probe_items=24)
    assert set(report.replacement) == {"zeros", "noise", "shuffled"} and report.nearest is None


def test_replacements_change_what_is_fed(runs):
    # the clean thoughts fed back again as "another item's" with itself as partner reproduce the answers
    loaded = load_run(runs["visual"])
    items = run_items(runs["visual"], None, 6, 0)
    clean = record(loaded, items)
    assert len(clean.fed) == 6 and all(len(f) == 4 * len(i.steps) for f, i in zip(clean.fed, items))
    assert replaced(loaded, items, "shuffled", clean) >= 0.0
    with pytest.raises(LatentspaceError, match="unknown replacement"):
        replaced(loaded, items, "mirror", clean)


def test_one_step_imagination_reads_the_states_that_follow_true_thoughts(runs):
    # under the oracle replacement the state before the first slot has nothing fed before it (as clean), the
    # later ones follow the true targets instead of the model's own thoughts
    loaded = load_run(runs["visual"])
    items = run_items(runs["visual"], None, 6, 0)
    clean = record(loaded, items)
    taught = [[] for _ in items]
    replaced(loaded, items, "oracle", clean, states=taught)
    assert [len(t) for t in taught] == [len(f) for f in clean.fed]
    for mine, theirs in zip(taught, clean.states):
        assert torch.allclose(mine[0], theirs[0], atol=1e-5)
        assert not torch.allclose(torch.stack(mine[1:]), theirs[1:], atol=1e-3)


def test_imagery_of_a_run_without_slots_is_one_line(runs):
    with pytest.raises(LatentspaceError, match="not slots per step"):
        imagery(runs["nocot"], n=4, probe_items=4)


def test_the_cli_writes_its_report_and_json(runs, run, tmp_path):
    out = tmp_path / "report"
    done = run("train", "imagery", str(runs["visual"]), "--n", "8", "--probe-items", "16", "--out", str(out), "--json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["recipe"] == "visual" and "oracle" in data["replacement"]
    assert {p.name for p in out.iterdir()} == {"report.json", "imagined.png", "index.html"}
    one_line_exit_2(run("train", "imagery", str(runs["nocot"]), "--n", "4"), "not slots per step")
    one_line_exit_2(run("train", "imagery", str(tmp_path / "missing")), "missing")


def test_the_example_runs():
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[2] / "examples" / "vision.py"
    done = subprocess.run([sys.executable, str(script), "--tiny"], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "out of distribution" in done.stdout and "imagined states:" in done.stdout


def test_a_vsp_run_reads_task_files_of_maps_and_plans(runs, run, tmp_path):
    good = tmp_path / "good.jsonl"
    good.write_text(json.dumps({"map": ["SFF", "FHF", "FFG"], "plan": "R D"}) + "\n"
                    + json.dumps({"map": ["SFF", "FHF", "FFG"], "plan": "D D R R", "answer": "A"}) + "\n")
    done = run("train", "eval", str(runs["visual"]), "--task", str(good), "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["n"] == 2
    cases = [({"map": ["SFF", "FHF", "FFG"], "plan": "R X"}, "a plan is one or more of"),
             ({"map": ["FFF", "FHF", "FFG"], "plan": "R"}, "one start and one goal"),
             ({"map": ["SFF", "FHF", "FFG"], "plan": "R D", "answer": "A"}, "the plan gives B"),
             ({"map": ["SFF", "FHF"], "plan": "R"}, "square")]
    for number, (row, message) in enumerate(cases):
        bad = tmp_path / f"bad{number}.jsonl"
        bad.write_text(json.dumps(row) + "\n")
        one_line_exit_2(run("train", "eval", str(runs["visual"]), "--task", str(bad)), f"bad{number}.jsonl:1", message)
    one_line_exit_2(run("train", "eval", str(runs["visual"]), "--task", "mnns"), "has no pictures")
    one_line_exit_2(run("train", "eval", str(runs["nocot"]), "--task", "prosqa-sym"), "has no pictures")
