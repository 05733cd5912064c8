"""Hostile input to `bench`: torn rows on resume, empty lists, bad seeds, bad output folders."""

import json

import pytest

from latentspace import LatentspaceError
from latentspace.bench import jobs, read_rows, run_grid
from latentspace.bench.harness import done_keys
from tests.cli.test_cli import one_line_exit_2
from tests.steer.test_steer_cli import run  # noqa: F401 (the in-process CLI fixture)


# killed mid-write: half a row, a row cut inside a UTF-8 character, or a whole row without its newline
@pytest.mark.parametrize("tail", [lambda row: b'{"task": "arith', lambda row: row[:20] + "é".encode()[:1],
                                  lambda row: row])
def test_a_torn_last_row_is_dropped_and_its_item_answered_again(llama, tmp_path, tail):
    grid = jobs(["arithmetic"], ["direct"], [0], n=3)
    out = tmp_path / "rows.jsonl"
    assert run_grid(llama, grid, out) == 3
    lines = out.read_bytes().split(b"\n")[:3]
    out.write_bytes(b"\n".join(lines[:2]) + b"\n" + tail(lines[2]))
    assert len(done_keys(out)) == 2
    assert run_grid(llama, grid, out) == 1
    rows = [json.loads(line) for line in out.read_text().splitlines()]  # every line whole again
    assert len(rows) == 3 and len(read_rows([out])) == 3


def test_a_damaged_row_before_the_last_is_refused_in_one_line(tmp_path):
    out = tmp_path / "rows.jsonl"
    out.write_text('{"broken\n{"task": "a", "strategy": "s", "seed": 0, "index": 0}\n')
    with pytest.raises(LatentspaceError, match="line 1 is damaged"):
        done_keys(out)


def test_rows_are_strict_json(llama, tmp_path):
    out = tmp_path / "rows.jsonl"
    run_grid(llama, jobs(["arithmetic"], ["direct"], [0], n=2), out)
    for line in out.read_text().splitlines():
        json.loads(line, parse_constant=lambda name: pytest.fail(f"non-strict JSON constant {name}"))


@pytest.mark.parametrize("args,needle", [
    (["--task", ""], "--task"),
    (["--task", " , "], "--task"),
    (["--task", "arithmetic", "--strategies", ""], "--strategies"),
    (["--task", "arithmetic", "--strategies", "direct,direct"], "twice"),
    (["--task", "arithmetic", "--seeds", str(2**64)], "--seeds"),
    (["--task", "arithmetic", "--seeds", "-1"], "--seeds"),
    (["--task", "arithmetic", "--n", str(10**12)], "--n"),
    (["--task", "arithmetic", "--shard", "3/2"], "--shard"),
])
def test_bad_bench_options_run_nothing(run, tmp_path, args, needle):
    out = tmp_path / "bench"
    one_line_exit_2(run("bench", "--model", "tiny", *args, "--out", str(out)), needle)
    assert not out.exists()


def test_bad_bench_paths_and_files(run, tmp_path):
    a_file = tmp_path / "file"
    a_file.write_text("x")
    binary = tmp_path / "task.jsonl"
    binary.write_bytes(b"\xff\xfe\x00")
    one_line_exit_2(run("bench", "--model", "tiny", "--task", "arithmetic", "--out", str(a_file)), "not a folder")
    one_line_exit_2(run("bench", "--model", "tiny", "--task", "arithmetic", "--out", str(tmp_path / "a" / "b" / "c")),
                    "does not exist")
    one_line_exit_2(run("bench", "--model", "tiny", "--task", str(binary), "--out", str(tmp_path / "b")), "not UTF-8")
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    (damaged / "rows.jsonl").write_text("garbage\n" + json.dumps({"task": "a", "strategy": "s", "seed": 0,
                                                                  "index": 0}) + "\n")
    one_line_exit_2(run("bench", "--model", "tiny", "--task", "arithmetic", "--out", str(damaged)), "damaged")
