import json

from latentspace.bench import jobs, read_rows, run_grid, summarise, wilson
from latentspace.bench.harness import batches


def test_resume_skips_finished_rows(llama, tmp_path):
    grid = jobs(["arithmetic"], ["direct", "pause"], [0], n=3)
    out = tmp_path / "rows.jsonl"
    assert run_grid(llama, grid, out) == 6
    assert run_grid(llama, grid, out) == 0  # everything done: nothing recomputed
    lines = out.read_text().splitlines()
    out.write_text("\n".join(lines[:4]) + "\n")  # as if killed after 4 rows
    assert run_grid(llama, grid, out) == 2
    assert len(read_rows([out])) == 6


def test_two_shards_merged_equal_one_unsharded_run(llama, tmp_path):
    args = (["arithmetic", "prontoqa"], ["direct", "soft"], [0, 1], 2)
    whole = tmp_path / "whole.jsonl"
    # one question at a time: batches differ between the runs, and a batch equals single answers only
    # up to float rounding, which soft thinking on a random tiny model amplifies (test_batching.py)
    run_grid(llama, jobs(*args), whole, batch_size=1)
    shards = [tmp_path / f"rows.{r}-of-2.jsonl" for r in range(2)]
    for rank, path in enumerate(shards):
        run_grid(llama, jobs(*args, shard=(rank, 2)), path, batch_size=1)
    assert all(p.read_text() for p in shards)
    measured = ("seconds", "peak_mb", "batch")  # how it ran, not what it answered
    strip = lambda rows: [{k: v for k, v in r.items() if k not in measured} for r in rows]  # noqa: E731
    assert strip(read_rows(shards)) == strip(read_rows([whole]))


def test_summary_accuracy_interval_and_costs():
    rows = [dict(task="t", strategy="s", seed=0, index=i, correct=i < 3, explicit_tokens=4, latent_steps=2,
                 positions=10, seconds=0.5) for i in range(4)]
    (s,) = summarise(rows)
    assert s["peak_mb"] == 0.0
    assert s["accuracy"] == 0.75 and s["ci_low"] < 0.75 < s["ci_high"] and s["positions"] == 10
    lo, hi = wilson(0, 10)
    assert lo == 0 and 0.25 < hi < 0.35


def test_jsonl_tasks_run_through_the_harness(llama, tmp_path):
    data = tmp_path / "mine.jsonl"
    data.write_text(json.dumps({"question": "Say hi", "answer": "hi"}) + "\n")
    out = tmp_path / "rows.jsonl"
    run_grid(llama, jobs([str(data)], ["direct"], [0], n=5), out)
    (row,) = read_rows([out])
    assert row["task"] == "mine" and row["answer"] == "hi" and isinstance(row["correct"], bool)


def test_batches_hold_one_task_strategy_and_seed_each():
    grid = jobs(["arithmetic"], ["direct", "pause"], [0, 1], n=3)
    groups = batches(grid, 2)
    assert [len(b) for b in groups] == [2, 1] * 4
    assert all(len({job.key[:3] for job in b}) == 1 for b in groups)
    assert [job for b in groups for job in b] == grid


def test_run_bench_is_the_cli_run_from_python(llama, tmp_path):
    from latentspace.bench import run_bench

    options = {"direct": {"max_new_tokens": 2, "chat": False}}
    first = run_bench(llama, ["arithmetic"], ["direct"], [0, 1], 3, tmp_path / "b", options)
    assert first["rows"] == 6 and first["summary"][0]["n"] == 6 and first["report"].is_file()
    again = run_bench(llama, ["arithmetic"], ["direct"], [0, 1], 3, tmp_path / "b", options)
    assert again["summary"] == first["summary"]  # resumed: every row was already there
