"""Search over sampled thought paths: exact at zero noise, repeatable, selectors as defined."""

import json

import pytest
import torch

from latentspace.core.errors import LatentspaceError
from latentspace.model.samplers import parse_sampler
from latentspace.search import majority, sample_paths, search_report, select
from latentspace.search.report import paired_gain
from latentspace.train.profiles import get_profile
from latentspace.train.recipes import get_recipe
from latentspace.train.run import TrainRun
from latentspace.train.studies.evaluate_run import load_run, run_items
from latentspace.train.trainer import train
from tests.cli.test_cli import one_line_exit_2, run_here


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A smoke-size Coconut run (fed-back thoughts) and a CoT2 run (token-mixture thoughts)."""
    profile = get_profile("smoke-mnns")
    root = tmp_path_factory.mktemp("search")
    for name in ("coconut", "cot2"):
        train(TrainRun(get_recipe(name, **profile.recipe_options[name]), "mnns", profile, root / name), progress=False)
    return root


def test_majority_vote_on_planted_answers():
    assert majority(["3", "5", "5", None, "3", "5"]) == "5"
    assert majority(["7", "2", "2", "7"]) == "7"  # a tie goes to the answer drawn first
    assert majority([None, None, "1"]) == "1" and majority([None]) is None
    paths = [{"extracted": a, "correct": a == "4"} for a in ("4", "1", "1", None)]
    assert select("pass", paths) and not select("vote", paths)
    assert select("vote", paths[:1]) and not select("pass", paths[1:])
    with pytest.raises(LatentspaceError, match="unknown selector"):
        select("best", paths)


def test_paired_gain_of_identical_picks_is_exactly_zero_and_of_a_sure_gain_positive():
    groups = ["a", "a", "b", "c", "c", "d"]
    same = [True, False, True, True, False, False]
    assert paired_gain(groups, same, same) == (0.0, 0.0)
    low, high = paired_gain(groups, [True] * 6, [False] * 6)
    assert low == high == 1.0


@pytest.mark.parametrize("name, spec", [("coconut", "noise:0"), ("coconut", "dropout:0"), ("cot2", "noise:0")])
def test_sampling_without_randomness_reproduces_the_greedy_answers(runs, name, spec):
    loaded = load_run(runs / name)
    items = run_items(runs / name, None, 12, 0)
    paths = sample_paths(loaded, items, parse_sampler(spec), 3, seed=4)
    for greedy, drawn in zip(paths.greedy, paths.paths):
        assert [p["text"] for p in drawn] == [greedy["text"]] * 3


def test_a_seed_repeats_the_paths_and_the_report_keeps_its_order(runs):
    loaded = load_run(runs / "cot2")
    items = run_items(runs / "cot2", None, 16, 0)
    sampler = parse_sampler("mts:1")

    def thoughts(seed):  # the fed vectors themselves: a smoke model's text barely depends on them
        seen = []
        loaded.evaluate(items, sampler=sampler, seed=seed, observe=lambda i, state, v, rows: seen.append(v.clone()))
        return torch.cat(seen)

    assert torch.equal(thoughts(9), thoughts(9)) and not torch.equal(thoughts(9), thoughts(10))
    first = sample_paths(loaded, items, sampler, 8, seed=9)
    rows = search_report(first, (2, 8))
    assert [(r["selector"], r["n"]) for r in rows] == [("greedy", 1), ("pass", 2), ("vote", 2), ("pass", 8), ("vote", 8)]
    by = {(r["selector"], r["n"]): r["accuracy"] for r in rows}
    assert by["pass", 8] >= by["pass", 2] >= by["vote", 2] and by["pass", 8] >= by["vote", 8]  # coverage bounds a pick
    assert by["greedy", 1] == load_run(runs / "cot2").evaluate(items).accuracy


def test_search_from_the_command_line(runs, tmp_path, capsys, monkeypatch):
    answers = tmp_path / "paths.jsonl"
    out = run_here(capsys, monkeypatch, "train", "eval", str(runs / "coconut"), "--samples", "3", "--sampler",
                   "noise:0.5", "--n", "6", "--answers", str(answers), "--json")
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    assert summary["sampler"] == "noise:0.5" and [r["n"] for r in summary["rows"]] == [1, 3, 3]
    written = [json.loads(line) for line in answers.read_text().splitlines()]
    assert len(written) == 6 and all(len(row["paths"]) == 3 for row in written)
    cases = [(["--samples", "3"], "needs --sampler"), (["--sampler", "mts:2"], "not a token mixture"),
             (["--sampler", "noise:-2"], "at least 0"), (["--sampler", "noise:1", "--select", "best"], "unknown selector")]
    for extra, message in cases:
        one_line_exit_2(run_here(capsys, monkeypatch, "train", "eval", str(runs / "coconut"), "--n", "4", *extra), message)
    one_line_exit_2(run_here(capsys, monkeypatch, "train", "eval", str(runs / "coconut"), "--samples", "0",
                             "--sampler", "noise:1"), "--samples")


def test_reward_model_fit_and_search_from_the_command_line(runs, tmp_path, capsys, monkeypatch):
    rm = tmp_path / "rm.safetensors"
    out = run_here(capsys, monkeypatch, "train", "rm", "fit", str(runs / "coconut"), "--sampler", "noise:0.5",
                   "--questions", "6", "--paths", "3", "--continuations", "2", "--epochs", "5", "--out", str(rm), "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["sampler"] == "noise:0.5" and rm.is_file()
    out = run_here(capsys, monkeypatch, "train", "eval", str(runs / "coconut"), "--rm", str(rm), "--samples", "4",
                   "--select", "rm,beam", "--beam-width", "2", "--n", "5", "--json")
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    assert summary["sampler"] == "noise:0.5"  # the reward model's own sampler by default
    assert [(r["selector"], r["n"]) for r in summary["rows"]] == [("greedy", 1), ("rm", 4), ("beam", 4)]
    cases = [
        (["train", "eval", str(runs / "coconut"), "--samples", "4", "--sampler", "noise:1", "--select", "rm"], "--rm FILE"),
        (["train", "eval", str(runs / "coconut"), "--rm", str(rm), "--samples", "2", "--select", "beam",
          "--beam-width", "4"], "above --samples"),
        (["train", "eval", str(runs / "cot2"), "--rm", str(rm), "--samples", "2"], "was fitted on run"),
        (["train", "rm", "fit", str(runs / "coconut"), "--split", "test", "--out", str(tmp_path / "x.safetensors"),
          "--sampler", "noise:1"], "test split stays unseen"),
        (["train", "rm", "fit", str(runs / "coconut"), "--out", str(tmp_path / "y.safetensors")], "needs --sampler"),
    ]
    for args, message in cases:
        one_line_exit_2(run_here(capsys, monkeypatch, *args), message)
    assert not (tmp_path / "x.safetensors").exists() and not (tmp_path / "y.safetensors").exists()
