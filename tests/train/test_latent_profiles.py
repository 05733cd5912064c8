"""The symbolic profiles end to end at toy size: table over seeds, eval from a published-layout file,
the superposition readout, and the bad inputs they refuse."""

import json

import pytest

from latentspace.core import files, jsonsafe
from latentspace.tasks import prosqa_sym
from tests.cli.test_cli import one_line_exit_2, run_here


@pytest.fixture
def cli(capsys, monkeypatch):
    return lambda *args: run_here(capsys, monkeypatch, *args)


def test_smoke_mnns_table_runs_every_seed_into_its_own_folder_beside_the_published_numbers(cli, tmp_path):
    out = tmp_path / "t"
    result = cli("train", "table", "--profile", "smoke-mnns", "--recipes", "nocot,cot2", "--seeds", "0,1",
                 "--out", str(out))
    assert result.returncode == 0, result.stderr
    for seed in (0, 1):
        for recipe in ("nocot", "cot2"):
            summary = json.loads((out / f"s{seed}" / recipe / "summary.json").read_text())
            assert summary["seed"] == seed and summary["task"] == "mnns" and summary["test_n"] > 0
    table = (out / "table.md").read_text()
    assert "| cot2 |" in table and "| nocot |" in table and "per seed" in table
    spec = json.loads((out / "s0" / "cot2" / "data" / "spec.json").read_text())
    assert spec["task"] == "mnns"
    test = [json.loads(line)["meta"]["group"] for line in (out / "s0" / "cot2" / "data" / "test.jsonl").open()]
    train = [json.loads(line)["meta"]["group"] for line in (out / "s0" / "cot2" / "data" / "train.jsonl").open()]
    assert test and not set(test) & set(train)  # the digit multisets of the test split are never trained on


def test_smoke_prosqa_scores_a_published_layout_file_exactly_as_the_same_items_in_memory(cli, tmp_path):
    run = tmp_path / "c"
    assert cli("train", "run", "coconut", "--profile", "smoke-prosqa", "--out", str(run)).returncode == 0
    spec = json.loads((run / "data" / "spec.json").read_text())
    assert spec["task"] == "prosqa-sym" and spec["hops"] == "3-4"
    path = tmp_path / "prosqa_test.json"
    english = prosqa_sym.english(12, seed=5, hops=frozenset({3, 4}))
    files.write_text(path, jsonsafe.dumps(prosqa_sym.to_published(english)))
    answers = tmp_path / "answers.jsonl"
    from_file = cli("train", "eval", str(run), "--task", str(path), "--seed", "5", "--answers", str(answers), "--json")
    in_memory = cli("train", "eval", str(run), "--task", "prosqa-sym", "--n", "12", "--seed", "5", "--json")
    assert from_file.returncode == 0 and in_memory.returncode == 0, from_file.stderr + in_memory.stderr
    a, b = json.loads(from_file.stdout), json.loads(in_memory.stdout)
    assert a["n"] == b["n"] == 12 and a["accuracy"] == b["accuracy"] and a["positions"] == b["positions"]
    rows = [json.loads(line) for line in answers.read_text().splitlines()]
    assert [r["question"] for r in rows] == [i.question for i in prosqa_sym.generate(12, 5, frozenset({3, 4}))]
    inspect = cli("train", "inspect", str(run), "--n", "4", "--json")
    assert inspect.returncode == 0, inspect.stderr
    per = json.loads(inspect.stdout)["per_thought"]
    assert len(per) == 4 and all(set(row) == {"frontier", "passed", "ahead", "unreachable"} for row in per)


def test_bad_inputs_of_the_symbolic_tasks_are_one_line_exit_2(cli, tmp_path):
    out = str(tmp_path / "r")
    one_line_exit_2(cli("train", "run", "cot", "--task", "mnns", "--hops", "3-4", "--profile", "smoke", "--out", out),
                    "no hop filter")
    one_line_exit_2(cli("train", "run", "cot", "--task", "prosqa-sym", "--hops", "x", "--profile", "smoke", "--out", out),
                    "hops")
    one_line_exit_2(cli("train", "table", "--profile", "smoke-mnns", "--seeds", "a", "--out", out), "--seeds")
    one_line_exit_2(cli("train", "table", "--profile", "smoke-mnns", "--seeds", "0,0", "--out", out), "--seeds")
    assert not (tmp_path / "r").exists()
    one_line_exit_2(cli("train", "eval", str(tmp_path)), "no checkpoint")


def test_eval_refuses_a_published_file_without_its_graph_fields(cli, tmp_path):
    run = tmp_path / "c"
    assert cli("train", "run", "nocot", "--profile", "smoke-prosqa", "--out", str(run)).returncode == 0
    path = tmp_path / "broken.json"
    row = prosqa_sym.to_published(prosqa_sym.english(1, seed=1, hops=frozenset({3})))[0]
    del row["edges"]
    path.write_text(json.dumps([row]))
    one_line_exit_2(cli("train", "eval", str(run), "--task", str(path)), "broken.json: item 0", "edges")


def test_select_best_tests_the_best_validation_checkpoint_and_eval_reads_the_same_one(cli, tmp_path):
    run = tmp_path / "b"
    assert cli("train", "run", "cot", "--profile", "smoke-mnns", "--set", "epochs=4", "--out", str(run)).returncode == 0
    summary = json.loads((run / "summary.json").read_text())
    evals = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if '"eval"' in line]
    assert len(evals) == 4  # eval_every=1
    accuracies = [e["accuracy"] for e in evals]
    assert summary["selected"]["epoch"] == evals[accuracies.index(max(accuracies))]["epoch"]
    assert summary["selected"]["valid_accuracy"] == max(accuracies)
    if summary["selected"]["epoch"] != 3:  # the kept weights are not the last ones
        assert (run / "best" / "model.safetensors").read_bytes() != (run / "checkpoint" / "model.safetensors").read_bytes()
    again = json.loads(cli("train", "eval", str(run), "--json").stdout)
    assert again["accuracy"] == summary["test_accuracy"] and again["positions"] == summary["positions"]
