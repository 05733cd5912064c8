import pytest

from latentspace.errors import LatentspaceError
from latentspace.train.studies.table import goals, latent_goals, markdown


def _row(recipe, accuracy, positions, seconds, epoch, **options):
    return {"recipe": recipe, "test_accuracy": accuracy, "test_correct": int(200 * accuracy), "test_n": 200,
            "positions": positions, "seconds_per_answer": seconds, "epoch_seconds": epoch,
            "train_seconds": 60.0, "options": {"max_stage": 4, "thoughts_per_step": 1, **options}}


def test_goals_are_checked_on_the_numbers():
    cot = _row("cot", 0.5, 30.0, 0.010, 10.0)
    text = goals([cot, _row("coconut", 0.6, 9.0, 0.004, 40.0)])
    assert "accuracy ≥ CoT: met (60.0% vs 50.0%)" in text
    assert "positions ≤ ⅓ of CoT's: met (0.30×)" in text
    assert "wall time per answer ≤ ½ of CoT's: met (0.40×)" in text
    assert "≤ 5× CoT's (max thoughts + 1): met (4.00×)" in text
    worse = goals([cot, _row("coconut", 0.4, 12.0, 0.006, 60.0)])
    assert worse.count("missed") == 4
    assert goals([cot]) == ""


def test_table_ratios_are_against_cot():
    text = markdown([_row("cot", 0.5, 30.0, 0.01, 10.0), _row("coconut", 0.6, 9.0, 0.004, 12.0)])
    assert "| coconut | 60.0% [" in text and "| 9.0 | 0.30 |" in text and "| 12.00 | 1.20 |" in text


def _seeds(recipe, accuracies, positions=6.0, n=1000):
    return [{**_row(recipe, a, positions, 0.001, 1.0), "test_correct": int(n * a), "test_n": n, "train_seconds": 60.0}
            for a in accuracies]


def test_seeds_are_averaged_with_a_pooled_interval_beside_the_published_number():
    rows = _seeds("nocot", [0.70, 0.74]) + _seeds("cot", [0.88, 0.90]) + _seeds("cot2", [0.99, 0.97])
    text = markdown(rows, "laptop-mnns")
    assert "| cot2 | 98.0% ± 1.4 [" in text and "| 99.0, 97.0 | 98.9% |" in text  # CoT2 repo: 98.9
    assert "| nocot | 72.0% ± 2.8 [" in text and "68.4%" in text and "Published: CoT2" in text
    goals_text = latent_goals(rows, "laptop-mnns")
    assert "No-CoT < CoT < best continuous: met" in goals_text and "best continuous ≥ 90%: met" in goals_text
    assert "interval of CoT above No-CoT's: met" in goals_text and "missed" not in goals_text
    close = _seeds("nocot", [0.70]) + _seeds("cot", [0.71]) + _seeds("coconut", [0.80])
    assert "interval of CoT above No-CoT's: missed" in latent_goals(close, "laptop-mnns")
    assert latent_goals(_seeds("cot", [0.5]), "laptop-mnns") == ""
    prosqa = _seeds("nocot", [0.6]) + _seeds("cot", [0.7], positions=12.0) + _seeds("coconut", [0.9], positions=6.0)
    text = latent_goals(prosqa, "laptop-prosqa")
    assert "CoT + 15 points: met (+20.0 points)" in text and "positions: missed (0.50×)" in text


def test_a_finished_run_is_reused_only_for_the_same_task(tmp_path):
    import pytest

    from latentspace.errors import LatentspaceError
    from latentspace.train.profiles import get_profile
    from latentspace.train.studies.table import run_table

    smoke = get_profile("smoke")
    first = run_table("prosqa", smoke, tmp_path, ["nocot"], progress=False)
    made = (tmp_path / "s0" / "nocot" / "summary.json").stat().st_mtime_ns
    assert run_table("prosqa", smoke, tmp_path, ["nocot"], progress=False) == first
    assert (tmp_path / "s0" / "nocot" / "summary.json").stat().st_mtime_ns == made  # reused, not retrained
    with pytest.raises(LatentspaceError, match="other settings"):
        run_table("prosqa-small", smoke, tmp_path, ["nocot"], progress=False)


def _grouped(recipe, accuracy, groups, size, n_right):
    """A run whose first ``n_right`` groups (of ``size`` alike answers each) are right."""
    row = {**_row(recipe, accuracy, 6.0, 0.001, 1.0), "test_n": groups * size, "test_correct": n_right * size}
    return {**row, "test_groups": {f"{g:04d}": [size if g < n_right else 0, size] for g in range(groups)},
            "settings": {"select": "last"}}


def test_intervals_come_from_a_bootstrap_over_multisets_when_the_runs_carry_them():
    from latentspace.train.studies.table import accuracy

    grouped = [_grouped("cot2", 0.5, 40, 16, 20)]
    _, lo, hi = accuracy(grouped)
    _, w_lo, w_hi = accuracy([{k: v for k, v in grouped[0].items() if k != "test_groups"}])
    assert (hi - lo) > 3 * (w_hi - w_lo)  # 16 alike answers per multiset: about sqrt(16) wider than Wilson
    text = markdown(grouped, "laptop-mnns")
    assert "Intervals: a bootstrap over digit multisets" in text and "Tested at: the last epoch." in text
    assert "Intervals: Wilson" in markdown(_seeds("cot", [0.5]))


def test_a_runs_test_groups_are_read_from_its_folder(tmp_path):
    import json

    from latentspace.train.studies.table import test_groups

    assert test_groups(tmp_path) is None  # no answers: the table falls back to item intervals
    (tmp_path / "data").mkdir()
    items = [{"meta": {"group": "1234"}}, {"meta": {"group": "1234"}}, {"meta": {"group": "5567"}}, {"meta": {}}]
    (tmp_path / "data" / "test.jsonl").write_text("".join(json.dumps(i) + "\n" for i in items))
    answers = [{"correct": True}, {"correct": False}, {"correct": True}, {"correct": True}]
    (tmp_path / "test_answers.jsonl").write_text("".join(json.dumps(a) + "\n" for a in answers))
    assert test_groups(tmp_path) == {"1234": [1, 2], "5567": [1, 1], "item 3": [1, 1]}


def test_a_row_trained_on_one_thread_lands_in_the_two_thread_rows_interval(tmp_path):
    """Issue 38: a rerun on another thread count is inside the interval the table reports."""
    import torch

    from latentspace.train.profiles import get_profile
    from latentspace.train.studies.table import accuracy, run_table

    profile, before = get_profile("smoke-mnns"), torch.get_num_threads()
    try:
        rows = {}
        for threads in (1, 2):
            torch.set_num_threads(threads)
            rows[threads] = run_table("mnns", profile, tmp_path / f"t{threads}", ["cot2"], progress=False)
    finally:
        torch.set_num_threads(before)
    mean, lo, hi = accuracy(rows[2])
    assert rows[2][0]["test_groups"] and lo <= rows[1][0]["test_accuracy"] <= hi
    assert lo < mean < hi or lo == mean == hi


def test_a_cosine_schedule_runs_from_the_lr_to_zero_and_is_recorded_only_when_chosen(tmp_path, capsys, monkeypatch):
    import json

    from latentspace.train.distributed import scheduled_lr
    from latentspace.train.profiles import get_profile
    from latentspace.train.recipes import get_recipe
    from latentspace.train.run import TrainRun, run_settings

    def run(**extra):
        return TrainRun(get_recipe("nocot"), "mnns", get_profile("smoke-mnns"), tmp_path / "x", extra=extra)

    cosine, constant = run(lr_schedule="cosine", lr=0.01), run(lr=0.01)
    assert [round(scheduled_lr(cosine, s, 100), 6) for s in (0, 50, 100)] == [0.01, 0.005, 0.0]
    assert scheduled_lr(constant, 99, 100) == 0.01
    assert run_settings(cosine)["lr_schedule"] == "cosine" and "lr_schedule" not in run_settings(constant)
    from tests.cli.test_cli import run_here

    out = run_here(capsys, monkeypatch, "train", "run", "nocot", "--profile", "smoke-mnns", "--set",
                   "lr_schedule=cosine", "--out",
                   str(tmp_path / "r"), "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads((tmp_path / "r" / "summary.json").read_text())["settings"]["lr_schedule"] == "cosine"
    bad = run_here(capsys, monkeypatch, "train", "run", "nocot", "--profile", "smoke-mnns", "--set",
                   "lr_schedule=steps", "--out",
                   str(tmp_path / "b"))
    assert bad.returncode == 2 and "lr_schedule" in bad.stderr


def test_runs_trained_at_once_in_processes_give_the_rows_one_process_gives(tmp_path):
    """`train table` trains runs side by side by default (one process per core): the same runs, the same rows."""
    import torch

    from latentspace.train.profiles import get_profile
    from latentspace.train.studies.table import run_table

    profile, before = get_profile("smoke-mnns"), torch.get_num_threads()
    recipes = ["nocot", "cot2"]
    at_once = run_table("mnns", profile, tmp_path / "two", recipes, progress=False, jobs=2)
    try:
        torch.set_num_threads(1)  # what each of the two processes used
        one_by_one = run_table("mnns", profile, tmp_path / "one", recipes, progress=False)
    finally:
        torch.set_num_threads(before)
    assert [r["recipe"] for r in at_once] == recipes
    for a, b in zip(at_once, one_by_one):
        assert (a["test_accuracy"], a["test_correct"], a["test_groups"]) == (
            b["test_accuracy"], b["test_correct"], b["test_groups"])


@pytest.mark.parametrize("jobs", [0, -1, 300])
def test_jobs_out_of_range_are_refused(tmp_path, jobs):
    from latentspace.train.profiles import get_profile
    from latentspace.train.studies.table import run_table

    with pytest.raises(LatentspaceError, match="jobs"):
        run_table("mnns", get_profile("smoke-mnns"), tmp_path, ["cot"], progress=False, jobs=jobs)
    assert not tmp_path.joinpath("s0").exists()


def test_s_per_epoch_is_the_median_epoch_so_a_paused_epoch_does_not_count(tmp_path):
    import json
    import statistics

    from latentspace.train.profiles import get_profile
    from latentspace.train.records import typical_epoch_seconds
    from latentspace.train.studies.table import run_table

    log = [{"kind": "epoch", "seconds": s} for s in (10.0, 3600.0, 12.0)] + [{"kind": "step", "seconds": 99.0}]
    assert typical_epoch_seconds(log) == 12.0 and typical_epoch_seconds([]) == 0.0
    first = run_table("prosqa", get_profile("smoke"), tmp_path, ["nocot"], progress=False)[0]
    run = tmp_path / "s0" / "nocot"
    epochs = [json.loads(line)["seconds"] for line in (run / "metrics.jsonl").read_text().splitlines()
              if json.loads(line)["kind"] == "epoch"]
    assert first["epoch_seconds"] == statistics.median(epochs)
    summary = json.loads((run / "summary.json").read_text())
    summary["epoch_seconds"] = 3600.0  # a summary written before the median: the mean of paused epochs
    (run / "summary.json").write_text(json.dumps(summary))
    again = run_table("prosqa", get_profile("smoke"), tmp_path, ["nocot"], progress=False)[0]
    assert again["epoch_seconds"] == first["epoch_seconds"] != 3600.0
