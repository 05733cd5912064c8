"""The shared bad-input mechanisms every command relies on (files, strict JSON, ranges, finiteness)."""

import json
import math

import pytest
import torch

from latentspace.cli.common import parse_ints
from latentspace.core import files, finite, jsonsafe
from latentspace.core.named import above, between
from latentspace.errors import LatentspaceError
from tests.steer.test_steer_cli import run  # noqa: F401 (the in-process CLI fixture)


def strict(text: str):
    def refuse(name):
        raise ValueError(f"non-standard JSON constant {name}")

    return json.loads(text, parse_constant=refuse)


def test_check_output_refuses_before_any_work_and_creates_nothing(tmp_path):
    (tmp_path / "a-file").write_text("x")
    bad = [(tmp_path / "no" / "x.png", False, "does not exist"), (tmp_path, False, "is a folder"),
           (tmp_path / "a-file" / "x", False, "is not a folder"), (tmp_path / "a-file", True, "not a folder"),
           ("", False, "empty path"), ("  ", True, "empty path"),
           ("--json", False, "looks like an option"), ("-o", True, "looks like an option")]
    for path, folder, message in bad:
        with pytest.raises(LatentspaceError, match=message):
            files.check_output(path, "--out", folder=folder)
    assert files.check_output(tmp_path / "new-run", folder=True) == tmp_path / "new-run"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]  # nothing was made


def test_atomic_write_replaces_whole_or_leaves_nothing(tmp_path):
    target = tmp_path / "out.txt"
    files.write_text(target, "old")
    with pytest.raises(RuntimeError), files.atomic_write(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("crash mid-write")
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["out.txt"]
    with pytest.raises(LatentspaceError, match="lone surrogate"):
        files.write_text(tmp_path / "s.txt", "a\udcffb")  # refused before anything is written
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_read_text_gives_one_line_reasons(tmp_path):
    (tmp_path / "latin1.txt").write_bytes("caf\xe9".encode("latin-1"))
    cases = [(tmp_path / "none.txt", "no pairs file"), (tmp_path, "is a folder"),
             (tmp_path / "latin1.txt", "not UTF-8"), ("/dev/zero", "not a regular file")]
    for path, message in cases:
        with pytest.raises(LatentspaceError, match=message):
            files.read_text(path, "pairs file")


def test_json_is_strict_even_for_non_finite_values_and_tensors():
    data = {"inf": math.inf, "nan": float("nan"), "nested": [[-math.inf, 1.5]], "t": torch.tensor([1.0, math.inf]),
            3: "int key"}
    parsed = strict(jsonsafe.dumps(data))
    assert parsed == {"inf": None, "nan": None, "nested": [[None, 1.5]], "t": [1.0, None], "3": "int key"}


def test_ranges_refuse_out_of_range_and_inf_unless_declared():
    assert between(0, 1).problem(2) and between(0, 1).problem(0.5) is None
    assert above(0, 1).problem(0) and above(0, 1).problem(1) is None
    assert above(0).problem(math.inf) == "must be finite (above 0)"
    assert above(0, math.inf).problem(math.inf) is None  # inf declared as "no limit"
    assert between(0, 10).problem(10**400)  # no OverflowError from a huge integer


def test_int_lists_are_bounded_before_they_are_built():
    assert parse_ints("1-3,5", "--layers") == [1, 2, 3, 5]
    with pytest.raises(LatentspaceError, match="at most"):
        parse_ints("0-99999999999999", "--layers")


def test_finiteness_checks_name_the_step_and_setting():
    with pytest.raises(finite.NonFiniteError, match="step 7 .*lr=1e"):
        finite.check_loss(torch.tensor(float("nan")), 7, "lr=1e30")
    assert finite.stream_overflows(torch.full((1, 4), 1e30))  # finite values whose squares overflow
    assert not finite.stream_overflows(torch.ones(1, 4))


def test_a_tuned_lens_trained_one_step_into_divergence_is_refused(llama):
    from latentspace.lens.tuned_train import TunedLensConfig, train_tuned_lens

    texts = ["the cat sat on the mat and looked at the dog " * 4] * 4
    with pytest.raises(finite.NonFiniteError, match="diverged at step 1 .*lr=1e\\+30"):
        train_tuned_lens(llama, texts, TunedLensConfig(steps=1, seq_len=16, batch_size=2, lr=1e30),
                         show_progress=False)


def test_bench_never_resumes_rows_made_by_another_model_options_or_task_file(tmp_path, run):
    task = tmp_path / "task.jsonl"
    task.write_text('{"question": "1+1?", "answer": "2"}\n{"question": "2+1?", "answer": "3"}\n')
    base = ["bench", "--task", str(task), "--strategies", "direct", "--n", "2", "--out", str(tmp_path / "b"), "--json"]
    assert run(*base, "-m", "tiny", "--set", "max_new_tokens=2").returncode == 0
    assert run(*base, "-m", "tiny", "--set", "max_new_tokens=2").returncode == 0  # the same setting resumes
    for args, message in [(["-m", "tiny-gpt2", "--set", "max_new_tokens=2"], "its rows were made by"),
                          (["-m", "tiny", "--set", "max_new_tokens=3"], "strategy direct ran with options")]:
        out = run(*base, *args)
        assert out.returncode == 2 and message in out.stderr and len(out.stderr.strip().splitlines()) == 1
    task.write_text('{"question": "5+1?", "answer": "6"}\n{"question": "2+7?", "answer": "9"}\n')
    out = run(*base, "-m", "tiny", "--set", "max_new_tokens=2")
    assert out.returncode == 2 and "has changed" in out.stderr


def test_an_output_never_overwrites_its_input_or_takes_the_wrong_extension(tmp_path):
    source = tmp_path / "v.safetensors"
    source.write_bytes(b"x")
    with pytest.raises(LatentspaceError, match="is also the input"):
        files.check_output(source, "--out", inputs=(source,))
    with pytest.raises(LatentspaceError, match="must end in .gguf"):
        files.check_output(tmp_path / "v2.safetensors", "control vector", suffix=".gguf")
    assert source.read_bytes() == b"x"


def test_a_damaged_checkpoint_is_refused_in_one_line(tmp_path, run):
    args = ["train", "run", "nocot", "--out", str(tmp_path / "r"), "--profile", "smoke", "--set", "epochs=1",
            "--set", "n_train=4", "--set", "n_valid=1", "--set", "n_test=1", "--set", "batch_size=4", "--quiet"]
    assert run(*args).returncode == 0
    (tmp_path / "r" / "summary.json").unlink()  # not finished: the next run resumes from the checkpoint
    (tmp_path / "r" / "checkpoint" / "model.safetensors").write_text("garbage")
    out = run(*args)
    assert out.returncode == 2 and "cannot be loaded" in out.stderr and len(out.stderr.strip().splitlines()) == 1
