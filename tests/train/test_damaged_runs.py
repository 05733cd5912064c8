"""A damaged run folder is one line and exit 2 from every command that reads it (issue 36): the model
folder's files (`train.run_folder`), its JSON records (`train.records`), the resume state; and no
command writes over what it reads (`files.check_output`'s input folders)."""

import json
import os
import shutil

import pytest
import torch

from latentspace.core import files
from latentspace.errors import LatentspaceError
from latentspace.train.profiles import get_profile
from latentspace.train.recipes import get_recipe
from latentspace.train.run import TrainRun
from latentspace.train.studies.best import model_folder
from latentspace.train.trainer import train
from tests.cli.test_cli import one_line_exit_2
from tests.steer.test_steer_cli import run  # noqa: F401 (the in-process CLI fixture)

PROFILE = "smoke-mnns"


def make_run(out, until_epoch=None):
    """What `train run cot2 --profile smoke-mnns --out OUT` makes (seconds), also what `train table` reuses."""
    profile = get_profile(PROFILE)
    recipe = get_recipe("cot2", **profile.recipe_options.get("cot2", {}))
    train(TrainRun(recipe, profile.task, profile, out), progress=False, until_epoch=until_epoch)
    return out


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    return make_run(tmp_path_factory.mktemp("damaged") / "s0" / "cot2")


@pytest.fixture(scope="module")
def paused(tmp_path_factory):
    return make_run(tmp_path_factory.mktemp("paused") / "run", until_epoch=0)


@pytest.fixture
def copy(finished, tmp_path):
    target = tmp_path / "s0" / "cot2"  # the layout `train table --out tmp_path` reads
    shutil.copytree(finished, target)
    return target


def edit_json(path, change):
    value = json.loads(path.read_text())
    path.write_text(json.dumps(change(value)))


def without(key):
    return lambda d: {k: v for k, v in d.items() if k != key}


def with_(key, value):
    return lambda d: {**d, key: value}


def truncate(path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


# (the member of the run's selected model folder, the damage, the word the one line must hold)
MODEL_FOLDER_DAMAGES = {
    "weights truncated": ("model.safetensors", truncate, "model.safetensors"),
    "weights random": ("model.safetensors", lambda p: p.write_bytes(os.urandom(4096)), "model.safetensors"),
    "weights deleted": ("model.safetensors", lambda p: p.unlink(), "model.safetensors"),
    "config deleted": ("config.json", lambda p: p.unlink(), "config.json"),
    "config garbage": ("config.json", lambda p: p.write_text("{garbage"), "config.json"),
    "config fewer layers": ("config.json", lambda p: edit_json(p, with_("n_layer", 1)), "config.json"),
    "tokenizer deleted": ("tokenizer.json", lambda p: p.unlink(), "tokenizer.json"),
    "tokenizer garbage": ("tokenizer.json", lambda p: p.write_text("{garbage"), "tokenizer.json"),
    "tokenizer empty object": ("tokenizer.json", lambda p: p.write_text("{}"), "tokenizer.json"),
    "state stage dropped": ("state.json", lambda p: edit_json(p, without("stage")), "state.json"),
    "state options retyped": ("state.json", lambda p: edit_json(p, with_("options", "x")), "state.json"),
    "state epoch retyped": ("state.json", lambda p: edit_json(p, with_("epoch", "2")), "state.json"),
    "state unknown recipe": ("state.json", lambda p: edit_json(p, with_("recipe", "nope")), "state.json"),
}
SUMMARY_DAMAGES = {
    "test_accuracy dropped": (without("test_accuracy"), "test_accuracy"),
    "test_n dropped": (without("test_n"), "test_n"),
    "test_accuracy retyped": (with_("test_accuracy", "0.5"), "test_accuracy"),
    "test_n retyped": (with_("test_n", "40"), "test_n"),
    "not an object": (lambda d: [d], "summary.json"),
}


def readers(run_dir):
    return {"train eval": ["train", "eval", str(run_dir), "--n", "2"],
            "audit": ["audit", "-m", str(run_dir), "--tests", "necessity", "--n", "2"],
            "train inspect": ["train", "inspect", str(run_dir), "--n", "2", "--png", str(run_dir.parent / "f.png")]}


def test_the_intact_run_is_read_by_every_command(run, copy):
    for argv in readers(copy).values():
        done = run(*argv)
        if argv[1] == "inspect":  # an MNNS run has no graph to read: refused after the folder was read whole
            one_line_exit_2(done, "frontier analysis needs ProsQA items")
        else:
            assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("name", MODEL_FOLDER_DAMAGES)
def test_a_damaged_model_folder_is_one_line_from_every_reader(run, copy, name):
    member, damage, needle = MODEL_FOLDER_DAMAGES[name]
    folder = model_folder(copy)
    damage(folder / member)
    for label, argv in readers(copy).items():
        done = run(*argv)
        one_line_exit_2(done, needle, str(folder))
        assert "frontier" not in done.stderr, label  # the damage is named, not what a later step would say


@pytest.mark.parametrize("name", SUMMARY_DAMAGES)
def test_a_damaged_summary_is_one_line_from_every_reader_and_the_table(run, copy, name):
    change, needle = SUMMARY_DAMAGES[name]
    edit_json(copy / "summary.json", change)
    for argv in readers(copy).values():
        one_line_exit_2(run(*argv), "summary.json", needle)
    table = ["train", "table", "--profile", PROFILE, "--recipes", "cot2", "--seeds", "0", "--out",
             str(copy.parent.parent)]
    one_line_exit_2(run(*table), "summary.json", needle)


def test_the_table_reuses_an_intact_run_without_training_it_again(run, copy):
    stamp = (copy / "summary.json").stat().st_mtime_ns
    done = run("train", "table", "--profile", PROFILE, "--recipes", "cot2", "--seeds", "0", "--out",
               str(copy.parent.parent), "--json")
    assert done.returncode == 0, done.stderr
    assert (copy / "summary.json").stat().st_mtime_ns == stamp
    assert json.loads(done.stdout)[0]["test_n"] == json.loads((copy / "summary.json").read_text())["test_n"]
    # and its report: every run's curves as a picture, embedded in a page beside the runs' numbers
    page = (copy.parent.parent / "index.html").read_text()
    assert (copy.parent.parent / "curves.png").read_bytes()[:4] == b"\x89PNG"
    assert "data:image/png;base64" in page and "Training curves" in page and "cot2" in page


def test_a_summary_selecting_a_best_checkpoint_that_is_gone_is_refused(run, copy):
    assert model_folder(copy).name == "best"  # smoke-mnns selects the best validation checkpoint
    shutil.rmtree(copy / "best")
    for argv in readers(copy).values():
        one_line_exit_2(run(*argv), "summary.json", "best")


# the checkpoint a paused run resumes from: every file it reads, damaged
RESUME_DAMAGES = {
    "weights truncated": ("checkpoint/model.safetensors", truncate),
    "tokenizer garbage": ("checkpoint/tokenizer.json", lambda p: p.write_text("[")),
    "state retyped": ("checkpoint/state.json", lambda p: edit_json(p, with_("stage", None))),
    "optimizer truncated": ("checkpoint/optimizer.pt", truncate),
    "rng truncated": ("checkpoint/rng.pt", truncate),
    "rng of another kind": ("checkpoint/rng.pt", lambda p: torch.save({"cpu": 1}, p)),
    "best record retyped": ("best/best.json", lambda p: edit_json(p, with_("accuracy", "high"))),
    "data spec dropped key": ("data/spec.json", lambda p: edit_json(p, without("seed"))),
}


@pytest.mark.parametrize("name", RESUME_DAMAGES)
def test_a_damaged_checkpoint_stops_the_resume_in_one_line(run, paused, tmp_path, name):
    target = tmp_path / "run"
    shutil.copytree(paused, target)
    member, damage = RESUME_DAMAGES[name]
    damage(target / member)
    done = run("train", "run", "cot2", "--profile", PROFILE, "--out", str(target), "--quiet")
    one_line_exit_2(done, member.split("/")[-1], str(target))
    assert not (target / "summary.json").exists()


@pytest.mark.parametrize("member", ["model.safetensors", "optimizer.pt", "state.json"])  # rng.pt: the same bytes in both
def test_a_checkpoint_mixing_files_of_two_epochs_is_refused(run, paused, finished, tmp_path, member):
    """Whole, valid files, but not saved together (the finished run's beside the paused run's): the
    checkpoint's manifest sees the mix, so the resume never trains on it."""
    target = tmp_path / "run"
    shutil.copytree(paused, target)
    shutil.copy(finished / "checkpoint" / member, target / "checkpoint" / member)
    done = run("train", "run", "cot2", "--profile", PROFILE, "--out", str(target), "--quiet")
    one_line_exit_2(done, "torn", member)
    assert not (target / "summary.json").exists()


def test_the_intact_paused_run_resumes(run, paused, tmp_path):
    target = tmp_path / "run"
    shutil.copytree(paused, target)
    assert run("train", "run", "cot2", "--profile", PROFILE, "--out", str(target), "--quiet").returncode == 0
    assert (target / "summary.json").exists()


def test_extras_of_another_module_are_refused(tmp_path):
    from safetensors.torch import save_file

    from latentspace.train.extras import load_extras

    module = torch.nn.Module()
    module.causal_lm = torch.nn.Linear(2, 2)
    module.project = torch.nn.Linear(2, 2)
    with pytest.raises(LatentspaceError, match="extras.safetensors is missing"):
        load_extras(module, tmp_path)
    path = tmp_path / "extras.safetensors"
    save_file({"other.weight": torch.zeros(2, 2)}, path)
    with pytest.raises(LatentspaceError, match="do not fit"):
        load_extras(module, tmp_path)
    save_file({"project.weight": torch.zeros(3, 2), "project.bias": torch.zeros(2)}, path)
    with pytest.raises(LatentspaceError, match="do not fit"):
        load_extras(module, tmp_path)
    save_file({"project.weight": torch.full((2, 2), float("nan")), "project.bias": torch.zeros(2)}, path)
    with pytest.raises(LatentspaceError, match="NaN or inf"):
        load_extras(module, tmp_path)
    save_file({"project.weight": torch.ones(2, 2), "project.bias": torch.zeros(2)}, path)
    load_extras(module, tmp_path)
    assert bool((module.project.weight == 1).all())


# ---- outputs never over inputs --------------------------------------------------------------------


def test_eval_answers_over_the_runs_own_test_split_is_refused_and_the_split_is_unchanged(run, copy, tmp_path):
    split = copy / "data" / "test.jsonl"
    before = split.read_bytes()
    one_line_exit_2(run("train", "eval", str(copy), "--answers", str(split)), "--answers", "reads")
    assert split.read_bytes() == before
    for inside in (copy / "summary.json", copy / "checkpoint" / "answers.jsonl", model_folder(copy) / "state.json",
                   copy / "data" / ".." / "data" / "new.jsonl"):
        was = inside.read_bytes() if inside.exists() else None
        one_line_exit_2(run("train", "eval", str(copy), "--answers", str(inside)), "--answers")
        assert (inside.read_bytes() if inside.exists() else None) == was
    task = tmp_path / "items.jsonl"
    shutil.copy(split, task)
    one_line_exit_2(run("train", "eval", str(copy), "--task", str(task), "--answers", str(task)), "is also the input")
    assert task.read_bytes() == before
    answers = tmp_path / "answers.jsonl"  # beside the run: allowed
    assert run("train", "eval", str(copy), "--n", "2", "--answers", str(answers)).returncode == 0
    assert len(answers.read_text().splitlines()) == 2


def test_inspect_and_audit_outputs_inside_what_they_read_are_refused(run, copy):
    weights = model_folder(copy) / "model.safetensors"
    before = weights.read_bytes()
    one_line_exit_2(run("train", "inspect", str(copy), "--png", str(weights)), "--png", "reads")
    one_line_exit_2(run("audit", "-m", str(copy), "--tests", "necessity", "--n", "2", "--out",
                        str(copy / "checkpoint")), "--out", "reads")
    one_line_exit_2(run("audit", "-m", str(copy), "--tests", "necessity", "--n", "2", "--out",
                        str(copy / "data" / "audit")), "--out", "reads")
    assert weights.read_bytes() == before and not (copy / "data" / "audit").exists()
    assert not (copy / "checkpoint" / "report.json").exists()


def test_an_audit_never_rewrites_its_own_probe_input(run, copy, tmp_path):
    out = tmp_path / "audit"
    (out / "probes").mkdir(parents=True)
    probe = out / "probes" / "thought-1.safetensors"
    probe.write_bytes(b"a probe")
    one_line_exit_2(run("audit", "-m", str(copy), "--tests", "necessity", "--n", "2", "--out", str(out),
                        "--probe", str(probe)), "--out", "--probe")
    assert probe.read_bytes() == b"a probe"


def test_check_output_refuses_paths_inside_input_folders(tmp_path):
    data = tmp_path / "run" / "data"
    data.mkdir(parents=True)
    (data / "test.jsonl").write_text("x")
    link = tmp_path / "link"
    link.symlink_to(data)
    for path in (data / "test.jsonl", data / "new.jsonl", link / "new.jsonl",
                 tmp_path / "run" / "data" / ".." / "data"):
        with pytest.raises(LatentspaceError, match="which this command reads"):
            files.check_output(path, "--out", inputs=(data,))
    with pytest.raises(LatentspaceError, match="which this command reads"):
        files.check_output(data, "--out", folder=True, inputs=(data,))
    beside = tmp_path / "run" / "x.jsonl"
    assert files.check_output(beside, "--out", inputs=(data, None)) == beside
    assert (data / "test.jsonl").read_text() == "x"


def test_a_missing_run_is_named_before_any_output(run, tmp_path):
    missing = tmp_path / "nonexist"
    one_line_exit_2(run("train", "inspect", str(missing)), f"no run folder at {missing}")
    one_line_exit_2(run("train", "eval", str(missing), "--answers", str(tmp_path / "no" / "a.jsonl")),
                    f"no run folder at {missing}")


def test_eval_draws_the_runs_training_curves(run, copy, tmp_path):
    png = tmp_path / "curves.png"
    done = run("train", "eval", str(copy), "--n", "4", "--curves", str(png))
    assert done.returncode == 0, done.stderr
    assert png.read_bytes()[:4] == b"\x89PNG"
    one_line_exit_2(run("train", "eval", str(copy), "--curves", str(tmp_path / "c.nope")), "unknown format")
