from latentspace.train.table import goals, markdown


def _row(recipe, accuracy, positions, seconds, epoch, **options):
    return {"recipe": recipe, "test_accuracy": accuracy, "test_correct": int(200 * accuracy), "test_n": 200,
            "positions": positions, "seconds_per_answer": seconds, "epoch_seconds": epoch,
            "options": {"max_stage": 4, "thoughts_per_step": 1, **options}}


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
    assert "| coconut | 60.0% [" in text and "| 9.0 | 0.30 |" in text and "| 12.0 | 1.20 |" in text


def test_a_finished_run_is_reused_only_for_the_same_task(tmp_path):
    import pytest

    from latentspace.errors import LatentspaceError
    from latentspace.train.profiles import get_profile
    from latentspace.train.table import run_table

    smoke = get_profile("smoke")
    first = run_table("prosqa", smoke, tmp_path, ["nocot"], progress=False)
    made = (tmp_path / "nocot" / "summary.json").stat().st_mtime_ns
    assert run_table("prosqa", smoke, tmp_path, ["nocot"], progress=False) == first
    assert (tmp_path / "nocot" / "summary.json").stat().st_mtime_ns == made  # reused, not retrained
    with pytest.raises(LatentspaceError, match="other settings"):
        run_table("prosqa-small", smoke, tmp_path, ["nocot"], progress=False)
