"""`latentspace world data|train|plan|eval` end to end on a tiny configuration, and its refusals."""

import json

from tests.cli.test_cli import one_line_exit_2, run_here


def test_data_train_plan_eval_and_report(tmp_path, capsys, monkeypatch):
    def run(*args):
        return run_here(capsys, monkeypatch, *map(str, args))

    data = tmp_path / "data.npz"
    made = run("world", "data", "--out", data, "--episodes", "40", "--steps", "20", "--size", "16", "--json")
    assert made.returncode == 0, made.stderr
    assert json.loads(made.stdout)["environment"]["size"] == 16 and data.is_file()
    out = tmp_path / "jepa"
    trained = run("world", "train", "--data", data, "--out", out, "--steps", "6", "--batch-size", "8", "--json")
    assert trained.returncode == 0, trained.stderr
    summary = json.loads(trained.stdout)
    assert summary["kind"] == "jepa" and set(summary["loss_last"]) >= {"prediction", "variance", "inverse_dynamics"}
    # a rerun resumes at the end (nothing retrained); other settings in the same folder are refused
    again = run("world", "train", "--data", data, "--out", out, "--steps", "6", "--batch-size", "8", "--json")
    assert json.loads(again.stdout)["loss_last"] == summary["loss_last"]
    one_line_exit_2(run("world", "train", "--data", data, "--out", out, "--steps", "6", "--batch-size", "4"),
                    "other settings")
    png, gif = tmp_path / "path.png", tmp_path / "episode.gif"
    planned = run("world", "plan", "--model", out, "--start", "0.2,0.2", "--goal", "0.3,0.3", "--samples", "16",
                  "--iterations", "1", "--png", png, "--gif", gif, "--json")
    assert planned.returncode == 0, planned.stderr
    assert json.loads(planned.stdout)["start"] == [0.2, 0.2] and png.stat().st_size > 0 and gif.stat().st_size > 0
    report = tmp_path / "report"
    scored = run("world", "eval", "--model", out, "--episodes", "2", "--samples", "16", "--iterations", "1",
                 "--data", data, "--report", report, "--json")
    assert scored.returncode == 0, scored.stderr
    result = json.loads(scored.stdout)
    assert result["n"] == 2 and "r2" in result["probe"] and (report / "index.html").is_file()
    spatial = run("world", "train", "--data", data, "--out", tmp_path / "spatial", "--steps", "2", "--batch-size", "4",
                  "--arch", "spatial", "--latent", "4", "--width", "8", "--weight", "temporal_variance=10,smoothness=0",
                  "--json")
    assert spatial.returncode == 0, spatial.stderr
    settings = json.loads(spatial.stdout)["settings"]
    assert settings["arch"] == "spatial" and settings["weights"]["temporal_variance"] == 10
    assert settings["weights"]["smoothness"] == 0 and settings["weights"]["inverse_dynamics"] == 1
    bc = tmp_path / "bc"
    assert run("world", "train", "--data", data, "--kind", "bc", "--out", bc, "--steps", "3").returncode == 0
    policy = run("world", "eval", "--model", bc, "--episodes", "2", "--json")
    assert policy.returncode == 0 and json.loads(policy.stdout)["planner"] is None


def test_bad_world_input_is_one_line_exit_2(tmp_path, capsys, monkeypatch):
    def run(*args):
        return run_here(capsys, monkeypatch, *map(str, args))

    data, other = tmp_path / "data.npz", tmp_path / "other.npz"
    assert run("world", "data", "--out", data, "--episodes", "4", "--steps", "5", "--size", "16").returncode == 0
    assert run("world", "data", "--out", other, "--episodes", "4", "--steps", "5", "--size", "32").returncode == 0
    out = tmp_path / "m"
    assert run("world", "train", "--data", data, "--out", out, "--steps", "2", "--batch-size", "2").returncode == 0
    one_line_exit_2(run("world", "eval", "--model", out, "--episodes", "1", "--data", other), "another environment")
    one_line_exit_2(run("world", "plan", "--model", out, "--goal", "1.5,0.5"), "outside the arena")
    one_line_exit_2(run("world", "plan", "--model", out, "--goal", "0.5,0.1"), "inside the wall")
    one_line_exit_2(run("world", "plan", "--model", out, "--goal", "half"), "give X,Y")
    one_line_exit_2(run("world", "plan", "--model", "oracle", "--planner", "greedy"), "unknown planner")
    one_line_exit_2(run("world", "eval", "--model", "oracle", "--cost", "max"), "unknown cost")
    one_line_exit_2(run("world", "train", "--data", data, "--out", tmp_path / "x", "--drop", "gravity"), "valid terms")
    one_line_exit_2(run("world", "train", "--data", data, "--out", tmp_path / "y", "--window", "9"), "longer than")
    one_line_exit_2(run("world", "train", "--data", data, "--out", tmp_path / "w", "--weight", "gravity=1"), "TERM=W")
    one_line_exit_2(run("world", "train", "--data", data, "--out", tmp_path / "w", "--weight", "variance=-1"), "W >= 0")
    one_line_exit_2(run("world", "train", "--data", data, "--out", tmp_path / "w", "--arch", "transformer"), "arch")
    one_line_exit_2(run("world", "train", "--data", data, "--kind", "bc", "--out", tmp_path / "w", "--weight",
                        "variance=1"), "jepa settings")
    one_line_exit_2(run("world", "train", "--data", tmp_path / "none.npz", "--out", tmp_path / "z"), "no dataset")
    one_line_exit_2(run("world", "data", "--out", tmp_path / "d.npz", "--size", "24"), "power of two")
    one_line_exit_2(run("world", "eval", "--model", data), "cannot read data.npz")


def test_the_world_example_runs_tiny():
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[2] / "examples" / "world.py"
    out = subprocess.run([sys.executable, str(script), "--tiny"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "position probe:" in out.stdout and "MPPI on the true simulator" in out.stdout


def test_the_defaults_work_in_a_fresh_folder(tmp_path, capsys, monkeypatch):
    """`world data` then `world train` with their default paths: runs/world/ is made, not demanded."""
    monkeypatch.chdir(tmp_path)
    made = run_here(capsys, monkeypatch, "world", "data", "--episodes", "4", "--steps", "4", "--size", "16")
    assert made.returncode == 0, made.stderr
    trained = run_here(capsys, monkeypatch, "world", "train", "--steps", "1", "--batch-size", "2", "--window", "2")
    assert trained.returncode == 0, trained.stderr
    assert (tmp_path / "runs" / "world" / "jepa" / "model.safetensors").is_file()
    assert (tmp_path / "runs" / "world" / "jepa" / "checkpoint" / "progress.json").is_file()
