"""The CLI as a user runs it: a subprocess, exit codes, one-line errors, clean --json."""

import json
import os
import subprocess
import sys

import pytest


def run(*args, env=None):
    cmd = [sys.executable, "-m", "latentspace.cli.app", *args]
    return subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **(env or {})}, timeout=300)


def test_models_json_lists_the_registry():
    out = run("models", "--json")
    assert out.returncode == 0, out.stderr
    names = [m["name"] for m in json.loads(out.stdout)["models"]]
    assert names[0] == "smollm2-135m" and "tiny" in names and "gemma3-270m" in names


def test_info_json_on_tiny():
    out = run("info", "tiny", "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["layers"] == 2 and data["sites"]["resid_post"] == "model.layers.0"
    assert set(data["fingerprint"]) >= {"architecture", "embed_sha256"}


def test_generate_json_on_tiny():
    out = run("generate", "hello", "--model", "tiny", "-n", "5", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["tokens"] == 5


@pytest.mark.parametrize(
    "args,message",
    [
        (["info", "nosuchmodel"], "unknown model 'nosuchmodel'"),
        (["info", "someone/some-model"], "HF_HUB_OFFLINE"),
        (["generate", "  ", "--model", "tiny"], "empty prompt"),
        (["info", "/definitely/not/here.gguf"], "GGUF file not found"),
        (["models", "--clear", "tiny"], "--clear takes a bundled model name"),
        (["generate", "hi", "--model", "tiny", "-n", "0"], "Invalid value for '--max-tokens'"),
        (["generate", "hi", "--model", "tiny", "--stop", ""], "stop strings must not be empty"),
        (["nosuchcommand"], "No such command"),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(args, message):
    out = run(*args)
    assert out.returncode == 2
    assert message in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr


def test_tour_on_tiny_writes_report(tmp_path):
    out = run("tour", "--model", "tiny", "--out", str(tmp_path / "tour"), "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert [s["title"] for s in data["sections"]][:3] == ["Generation", "Next-token distribution",
                                                         "Hidden-state norms per layer"]
    agents = next(s for s in data["sections"] if s["title"] == "Agents in latent space")
    assert "thoughts read (lens top-1) as" in agents["summary"] and len(agents["rows"]) == 3
    audited = next(s for s in data["sections"] if s["title"] == "Auditing latent thoughts")
    assert "every thought cut" in audited["summary"] and audited["rows"][0]["thought"] == 1
    assert set(audited["data"]["results"]) == {"necessity", "decodability", "interchange"}
    searched = next(s for s in data["sections"] if s["title"] == "Searching and reinforcing latent thoughts")
    assert [r["selector"] for r in searched["rows"]] == ["greedy", "pass@4", "vote@4", "pass@16", "vote@16"]
    assert "pass@16" in searched["summary"] and set(searched["data"]["rl"]) >= {"test_before", "test_after"}
    memory = next(s for s in data["sections"] if s["title"] == "Latent memory")
    assert [r["press"] for r in memory["rows"]] == ["none", "knorm", "tova", "snapkv", "probe"]
    assert all(r["slots"] < memory["rows"][0]["slots"] for r in memory["rows"][1:])
    world = next(s for s in data["sections"] if s["title"] == "Plan in a latent world model")
    assert len(world["rows"]) == 4 and "probe reads the agent's position" in world["summary"]
    imagined = next(s for s in data["sections"] if s["title"] == "Perceive and imagine in latent space")
    assert set(imagined["data"]["replacement"]) == {"zeros", "noise", "shuffled", "oracle"}
    assert imagined["rows"][0]["reading"] == "answers" and "nearest" in imagined["summary"]
    html = (tmp_path / "tour" / "index.html").read_text()
    assert "data:image/png;base64" in html and (tmp_path / "tour" / "layer_norms.png").stat().st_size > 1000
    assert "data:image/gif;base64" in html  # the world section's episode


def test_quickstart_example_runs_on_tiny():
    from pathlib import Path

    script = Path(__file__).resolve().parents[2] / "examples" / "quickstart.py"
    out = subprocess.run([sys.executable, str(script), "--model", "tiny"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "answer after two thoughts:" in out.stdout


def test_lens_and_probe_commands_on_tiny(tmp_path):
    out = run("lens", "hello world", "--model", "tiny", "--png", str(tmp_path / "h.png"), "--json", "-k", "2")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["layers"] == [0, 1] and len(data["top_tokens"][0][0]) == 2 and (tmp_path / "h.png").exists()
    lens = tmp_path / "lens.safetensors"
    out = run("lens", "train", "--model", "tiny", "--out", str(lens), "--steps", "3", "--samples", "4", "--json")
    assert out.returncode == 0, out.stderr and lens.exists()
    out = run("lens", "hello", "--model", "tiny", "--tuned", str(lens), "--png", str(tmp_path / "t.png"), "--json")
    assert out.returncode == 0 and json.loads(out.stdout)["lens"] == "tuned"
    data_file = tmp_path / "d.jsonl"
    data_file.write_text("\n".join(json.dumps({"text": f"{w} {i}", "label": w}) for i in range(6) for w in "ab"))
    out = run("probe", "fit", "--data", str(data_file), "--model", "tiny", "--json", "--out", str(tmp_path / "p.st"))
    assert out.returncode == 0, out.stderr
    assert len(json.loads(out.stdout)["scores"]) == 2 and (tmp_path / "p.st").exists()


def run_here(capsys, monkeypatch, *args):
    """The same entry point in this process: same exit codes and output, without the import time."""
    from types import SimpleNamespace

    from latentspace.cli.app import main

    monkeypatch.setattr(sys, "argv", ["latentspace", *args])
    capsys.readouterr()
    try:
        main()
        code = 0
    except SystemExit as exit_:
        code = exit_.code or 0
    out, err = capsys.readouterr()
    return SimpleNamespace(returncode=code, stdout=out, stderr=err)


def one_line_exit_2(out, *needles):
    """Exit 2, one line on stderr, no traceback, and each needle in that line."""
    assert out.returncode == 2, out.stderr
    assert len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr, out.stderr
    for needle in needles:
        assert needle in out.stderr, out.stderr


def test_lens_bad_inputs_one_line_exit_2(tmp_path, capsys, monkeypatch):
    def run(*args):  # in process: six subprocesses cost ~45 s of imports; the exit path is the same
        return run_here(capsys, monkeypatch, *args)

    lens = tmp_path / "lens.safetensors"
    assert run("lens", "train", "--model", "tiny", "--out", str(lens), "--steps", "1", "--samples", "4").returncode == 0
    png = str(tmp_path / "x.png")
    bad_data = tmp_path / "bad.jsonl"
    bad_data.write_text('{"text": "a"}\n')
    cases = [
        (["lens", "hello", "--model", "tiny", "--layers", "9", "--png", png], "layer 9 out of range"),
        (["lens", "", "--model", "tiny", "--png", png], "empty prompt"),
        (["lens", "hello", "--model", "tiny-gpt2", "--tuned", str(lens), "--png", png], "not the loaded"),
        (["probe", "fit", "--data", str(bad_data), "--model", "tiny"], "expected"),
        (["lens", "train", "--model", "tiny", "--out", str(lens), "--text", str(tmp_path / "none.txt")], "no text file"),
    ]
    for args, message in cases:
        out = run(*args)
        assert out.returncode == 2, (args, out.stderr)
        assert message in out.stderr and len(out.stderr.strip().splitlines()) == 1, (args, out.stderr)


def test_think_json_and_bad_strategy():
    out = run("think", "What is 2+2?", "--model", "tiny", "--mode", "soft", "--steps", "2", "-n", "3", "--json")
    assert out.returncode == 0, out.stderr
    trace = json.loads(out.stdout)
    assert trace["latent_steps"] == 2 and trace["explicit_tokens"] == 3 and trace["strategy"] == "soft"
    out = run("think", "hi", "--model", "tiny", "--set", "top_q=3")
    assert out.returncode == 2 and "has no option 'top_q'" in out.stderr and "name" not in out.stderr.split("options:")[1]


def test_bench_command_writes_rows_summary_manifest_and_resumes(tmp_path):
    args = ["bench", "--task", "arithmetic", "--strategies", "direct", "--n", "2", "--model", "tiny",
            "--out", str(tmp_path / "b"), "--set", "direct.max_new_tokens=3", "--json"]
    out = run(*args)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["rows"] == 2 and data["summary"][0]["strategy"] == "direct"
    manifest = json.loads((tmp_path / "b" / "manifest.json").read_text())
    assert manifest["fingerprint"]["model_type"] == "llama" and manifest["seeds"] == [0]
    assert manifest["options"] == {"direct": {"max_new_tokens": 3}}
    rows = [json.loads(line) for line in (tmp_path / "b" / "rows.jsonl").read_text().splitlines()]
    assert all(r["explicit_tokens"] <= 3 and r["batch"] == 2 for r in rows)
    page = (tmp_path / "b" / "index.html").read_text()
    assert page.count("data:image/png;base64") == 2 and "accuracy [95% CI]" in page
    rows_before = (tmp_path / "b" / "rows.jsonl").read_text()
    assert run(*args).returncode == 0 and (tmp_path / "b" / "rows.jsonl").read_text() == rows_before
    bad = run("bench", "--task", str(tmp_path / "nope.jsonl"), "--model", "tiny", "--out", str(tmp_path / "c"))
    assert bad.returncode == 2 and "no task file" in bad.stderr
    bad = run("bench", "--task", "arithmetic", "--model", "tiny", "--set", "cot.top_k=2", "--out", str(tmp_path / "c"))
    assert bad.returncode == 2 and "'cot' is not among --strategies" in bad.stderr


def test_bench_split_across_two_launched_processes_and_merged_by_rank_0(tmp_path):
    torchrun = os.path.join(os.path.dirname(sys.executable), "torchrun")
    cmd = [torchrun, "--standalone", "--nproc_per_node", "2", "-m", "latentspace.cli.app", "--", "bench", "--task",
           "arithmetic", "--strategies", "direct,pause", "--n", "2", "--model", "tiny", "--out", str(tmp_path), "--json"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env={**os.environ})
    assert out.returncode == 0, out.stderr[-2000:]
    shards = sorted(p.name for p in tmp_path.glob("rows*.jsonl"))
    assert shards == ["rows.0-of-2.jsonl", "rows.1-of-2.jsonl"]
    assert all(len((tmp_path / s).read_text().splitlines()) == 2 for s in shards)
    assert sum(s["n"] for s in json.loads((tmp_path / "summary.json").read_text())) == 4


def test_train_command_trains_resumes_and_refuses_bad_input(tmp_path, capsys, monkeypatch):
    here = lambda *a: run_here(capsys, monkeypatch, *a)  # noqa: E731  (the first call is a real process)
    args = ["train", "nocot", "--set", "n_train=8", "--set", "batch_size=4", "--set", "epochs=2",
            "--set", "n_valid=2", "--set", "n_test=2", "--out", str(tmp_path / "r"), "--quiet"]
    out = run(*args, "--until-epoch", "0", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == {"paused_after_epoch": 0}
    out = here(*args, "--json")  # resumes at epoch 1 and finishes
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    assert summary["recipe"] == "nocot" and summary["test_n"] == 2
    cases = [
        (["train", "telepathy"], "unknown recipe 'telepathy'"),
        (["train", "cot", "--profile", "huge"], "unknown profile 'huge'"),
        (["train", "cot", "--set", "beam=3"], "--set beam: not an option of cot"),
        (["train", "cot", *args[2:]], "holds a checkpoint of recipe nocot"),
    ]
    for case, message in cases:
        bad = here(*case)
        assert bad.returncode == 2 and message in bad.stderr and len(bad.stderr.strip().splitlines()) == 1, bad.stderr


def test_train_table_trains_each_recipe_once_and_writes_the_table(tmp_path, capsys, monkeypatch):
    here = lambda *a: run_here(capsys, monkeypatch, *a)  # noqa: E731  (the first call is a real process)
    args = ["train", "table", "--profile", "smoke", "--recipes", "nocot,coconut", "--out", str(tmp_path),
            "--set", "n_train=8", "--set", "n_valid=2", "--set", "n_test=2", "--json"]
    out = run(*args)
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    assert [r["recipe"] for r in rows] == ["nocot", "coconut"] and all(r["test_n"] == 2 for r in rows)
    table = (tmp_path / "table.md").read_text()
    assert "| coconut |" in table and "× CoT" in table
    assert "Intervals: a bootstrap over test items and seeds, 2000 draws." in table and "Tested at: " in table
    assert all(sum(n for _, n in r["test_groups"].values()) == 2 for r in rows)  # each test answer in a group
    stamp = (tmp_path / "s0" / "coconut" / "summary.json").stat().st_mtime_ns
    assert here(*args).returncode == 0  # cached: nothing retrained
    assert (tmp_path / "s0" / "coconut" / "summary.json").stat().st_mtime_ns == stamp
    changed = here(*[a if a != "n_train=8" else "n_train=9" for a in args])
    assert changed.returncode == 2 and "trained with other settings" in changed.stderr
    bad = here("train", "table", "--recipes", "cot,magic", "--out", str(tmp_path / "x"))
    assert bad.returncode == 2 and "unknown recipe 'magic'" in bad.stderr
    no_draws = here(*args[:-1], "--draws", "0")
    assert no_draws.returncode == 2 and "--draws" in no_draws.stderr
    for wrong, says in ((["--seeds", ","], "bad --seeds"), (["--set", "select=foo"], "select must be one of")):
        refused = here(*args[:-1], *wrong)  # an empty seed list, an unknown selection rule: one line, exit 2
        assert refused.returncode == 2 and says in refused.stderr and len(refused.stderr.strip().splitlines()) == 1


def test_bench_evaluates_a_file_in_the_published_prosqa_layout(tmp_path):
    item = {"question": "Every wumpus is a zumpus. Tom is a wumpus. Is Tom a zumpus or a yumpus?",
            "answer": "Tom is a zumpus.", "steps": ["Tom is a wumpus.", "Every wumpus is a zumpus."],
            "idx_to_symbol": ["Tom", "wumpus", "zumpus", "yumpus"], "edges": [[0, 1], [1, 2]], "root": 0,
            "target": 2, "neg_target": 3}  # short: the tiny model reads bytes
    path = tmp_path / "prosqa_valid.json"
    path.write_text(json.dumps([item, item]))
    out = run("bench", "--task", str(path), "--strategies", "direct", "--n", "2", "--model", "tiny",
              "--set", "max_new_tokens=4", "--out", str(tmp_path / "b"), "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["summary"][0]["task"] == "prosqa_valid"


def test_train_reads_a_yaml_config_and_set_overrides_it(tmp_path):
    config = tmp_path / "run.yaml"
    config.write_text("epochs: 1\nn_train: 4\nbatch_size: 4\nn_valid: 2\nn_test: 2\n")
    out = run("train", "nocot", "--config", str(config), "--set", "n_train=8", "--out", str(tmp_path / "r"),
              "--quiet", "--json")
    assert out.returncode == 0, out.stderr
    spec = json.loads((tmp_path / "r" / "data" / "spec.json").read_text())
    assert spec["n_train"] == 8 and spec["n_test"] == 2  # from --set, from the file
    (tmp_path / "bad.yaml").write_text("epochs: [1\n")
    bad = run("train", "nocot", "--config", str(tmp_path / "bad.yaml"))
    assert bad.returncode == 2 and "bad.yaml" in bad.stderr and "not valid YAML" in bad.stderr


def test_hostile_options_of_generate_think_info_agents_are_one_line(tmp_path, capsys, monkeypatch):
    binary = tmp_path / "team.yaml"
    binary.write_bytes(b"kind: \xff\xfe\x00")
    folder = tmp_path / "existing"
    folder.mkdir()
    cases = [
        (["generate", "hi", "-m", "tiny", "--temperature", "inf"], "--temperature"),
        (["generate", "hi", "-m", "tiny", "--temperature", "nan"], "--temperature"),
        (["generate", "hi", "-m", "tiny", "--temperature", "3"], "--temperature"),
        (["generate", "hi", "-m", "tiny", "--top-p", "0"], "--top-p"),
        (["generate", "hi", "-m", "tiny", "--top-p", "nan"], "--top-p"),
        (["generate", "hi", "-m", "tiny", "--seed", str(2**64)], "--seed"),
        (["generate", "hi", "-m", "tiny", "-n", str(10**30)], "--max-tokens"),
        (["generate", "hi", "-m", "tiny", "--ratio", "0.7"], "--ratio needs --press"),
        (["think", "hi", "-m", "tiny", "--ratio", "0.7"], "--ratio needs --press"),
        (["think", "hi", "-m", "tiny", "--mode", "agents:sequential:nosuch"], "unknown mode 'nosuch'"),
        (["think", "hi", "-m", "tiny", "--mode", ""], "unknown strategy"),
        (["info", "tiny", "-m", "tiny-gpt2"], "two models named"),
        (["agents", "hi", "-m", "tiny", "--pipeline", str(binary)], "not UTF-8"),
        (["agents", "hi", "-m", "tiny", "--save-memory", str(folder)], "is a folder"),
        (["agents", "hi", "-m", "tiny", "--seed", "-1"], "--seed"),
        (["tour", "-m", "tiny", "--out", str(binary)], "not a folder"),
    ]
    for args, message in cases:
        out = run_here(capsys, monkeypatch, *args)
        assert out.returncode == 2, (args, out)
        assert message in out.stderr and len(out.stderr.strip().splitlines()) == 1, (args, out.stderr)
    assert list(folder.iterdir()) == [] and sorted(p.name for p in tmp_path.iterdir()) == ["existing", "team.yaml"]
    out = run_here(capsys, monkeypatch, "info", "tiny", "-m", "tiny", "--json")
    assert out.returncode == 0 and json.loads(out.stdout)["layers"] == 2
