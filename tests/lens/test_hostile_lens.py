"""Hostile input to `lens`, `lens train` and `probe fit`: divergence, bad paths, bad files, long text."""

import json
import math

import pytest

from latentspace.core.finite import NonFiniteError
from tests.cli.test_cli import one_line_exit_2
from tests.steer.test_steer_cli import run  # noqa: F401 (the in-process CLI fixture)
from tests.conftest import tiny_lm


def no_leftovers(folder):
    return not [p for p in folder.rglob(".*") if p.name.endswith(".tmp")]


@pytest.fixture
def lens_train(tmp_path):
    """`lens train` on a small text file (sampling text from the model is the slow part)."""
    text = tmp_path / "corpus.txt"
    text.write_text("\n\n".join(f"the cat number {i} sat on the mat and then it slept soundly" for i in range(12)))
    return ["lens", "train", "--model", "tiny", "--steps", "3", "--seq-len", "8", "--text", str(text)]


def test_a_diverging_tuned_lens_stops_with_exit_2_and_writes_no_lens(run, lens_train, tmp_path):
    out = tmp_path / "lens.safetensors"
    one_line_exit_2(run(*lens_train, "--lr", "1e30", "--out", str(out), "--png", str(tmp_path / "kl.png")),
                    "diverged", "at step", "check lr=1e+30")
    assert not out.exists() and not (tmp_path / "kl.png").exists() and no_leftovers(tmp_path)


def test_train_tuned_lens_raises_at_the_first_non_finite_step():
    from latentspace.lens import TunedLensConfig, train_tuned_lens

    lm = tiny_lm("llama")
    texts = ["the cat sat on the mat and then it slept " * 4] * 4
    with pytest.raises(NonFiniteError, match=r"at step \d+ \(check lr=1e\+30\)"):
        train_tuned_lens(lm, texts, TunedLensConfig(steps=5, seq_len=8, lr=1e30), show_progress=False)
    for bad in ({"lr": math.nan}, {"lr": math.inf}, {"steps": 0}, {"heldout_fraction": 1.0}):
        with pytest.raises(Exception, match=next(iter(bad))):
            train_tuned_lens(lm, texts, TunedLensConfig(**{"steps": 1, "seq_len": 8, **bad}), show_progress=False)


@pytest.mark.parametrize("args,needle", [
    (["--lr", "nan"], "lr"), (["--lr", "inf"], "lr"), (["--lr", "0"], "lr"), (["--lr", "-1"], "lr"),
    (["--steps", str(10**30)], "--steps"), (["--seed", str(2**64)], "--seed"), (["--seq-len", "4096"], "context"),
])
def test_lens_train_settings_are_bounded(run, lens_train, tmp_path, args, needle):
    out = tmp_path / "lens.safetensors"
    one_line_exit_2(run(*lens_train, *args, "--out", str(out)), needle)
    assert not out.exists()


def test_outputs_are_checked_before_the_work(run, lens_train, tmp_path):
    folder = tmp_path / "folder"
    folder.mkdir()
    data = tmp_path / "data.jsonl"
    data.write_text("\n".join(json.dumps({"text": f"text {i}", "label": i % 2 == 0}) for i in range(8)))
    missing = str(tmp_path / "no" / "such" / "x.png")
    one_line_exit_2(run(*lens_train, "--out", str(folder)), "is a folder")
    one_line_exit_2(run(*lens_train, "--out", str(tmp_path / "l.safetensors"), "--png", missing), "does not exist")
    one_line_exit_2(run("probe", "fit", "--data", str(data), "--model", "tiny", "--out", str(folder)), "is a folder")
    one_line_exit_2(run("probe", "fit", "--data", str(data), "--model", "tiny", "--png", missing), "does not exist")
    one_line_exit_2(run("lens", "hello", "--model", "tiny", "--png", str(folder)), "is a folder")
    one_line_exit_2(run("lens", "hello", "--model", "tiny", "--png", missing), "does not exist")
    one_line_exit_2(run("lens", "hello", "--model", "tiny", "--png", str(tmp_path / "x.txt")), "unknown format")
    one_line_exit_2(run("lens", "hello", "--model", "tiny", "--png", str(tmp_path / "y.png"), "--html",
                        str(folder)), "is a folder")
    assert list(folder.iterdir()) == [] and not (tmp_path / "y.png").exists() and no_leftovers(tmp_path)


def test_the_picture_path_reported_is_the_path_written(run, lens_train, tmp_path):
    picture = tmp_path / "heat"  # no suffix: PNG, written exactly there (not heat.png)
    out = run("lens", "hello there", "--model", "tiny", "--png", str(picture), "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["png"] == str(picture)
    assert picture.read_bytes()[:4] == b"\x89PNG" and not (tmp_path / "heat.png").exists()


def test_bad_input_files_labels_and_long_text_are_one_line(run, lens_train, tmp_path):
    import time

    binary = tmp_path / "binary.bin"
    binary.write_bytes(b"\x00\xff\xfe\x80 not text")
    words = tmp_path / "words.jsonl"
    words.write_text("\n".join(json.dumps({"text": f"t {i}", "label": ["a", "b"][i % 2]}) for i in range(8)))
    nested = tmp_path / "nested.jsonl"
    nested.write_text("\n".join(json.dumps({"text": f"t {i}", "label": [i]}) for i in range(8)))
    lens = str(tmp_path / "l.safetensors")
    one_line_exit_2(run(*lens_train[:-2], "--out", lens, "--text", str(binary)), "not UTF-8")
    one_line_exit_2(run("probe", "fit", "--data", str(binary), "--model", "tiny"), "not UTF-8")
    one_line_exit_2(run("probe", "fit", "--data", str(words), "--model", "tiny", "--task", "regression"),
                    "numeric labels")
    one_line_exit_2(run("probe", "fit", "--data", str(nested), "--model", "tiny"), "labels")
    one_line_exit_2(run("probe", "fit", "--data", str(words), "--model", "tiny", "--task", "nope"), "probe task")
    huge = tmp_path / "huge.jsonl"  # finite, but their squares overflow the float32 fit
    huge.write_text("\n".join(json.dumps({"text": f"t {i}", "label": (-1) ** i * 1e300}) for i in range(8)))
    one_line_exit_2(run("probe", "fit", "--data", str(huge), "--model", "tiny", "--out", lens), "label 0")
    assert not (tmp_path / "l.safetensors").exists()
    started = time.perf_counter()
    one_line_exit_2(run("lens", "word " * 100_000, "--model", "tiny", "--png", str(tmp_path / "x.png")), "context")
    assert time.perf_counter() - started < 20


def test_a_tuned_lens_trains_saves_and_reads_back(run, lens_train, tmp_path):
    out = tmp_path / "lens.safetensors"
    done = run(*lens_train, "--out", str(out), "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["out"] == str(out) and out.is_file() and no_leftovers(tmp_path)
    read = run("lens", "hello", "--model", "tiny", "--tuned", str(out), "--png", str(tmp_path / "t.png"), "--json")
    assert read.returncode == 0 and all(math.isfinite(p) for row in json.loads(read.stdout)["top_probs"]
                                        for pos in row for p in pos)
