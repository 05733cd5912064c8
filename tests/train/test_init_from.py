"""`--init RUN`: a fresh run starts from another run's model and patch encoder (the vsp arms from a map reader)."""

import json

import pytest
import torch

from latentspace import LatentspaceError
from latentspace.train.init_from import start_from
from latentspace.train.models import from_scratch
from latentspace.train.profiles import get_profile
from latentspace.train.recipes import get_recipe
from latentspace.train.run import TrainRun
from latentspace.train.run_folder import load_causal_lm, load_tokenizer
from latentspace.train.trainer import train
from tests.cli.test_cli import one_line_exit_2
from tests.steer.test_steer_cli import run  # noqa: F401 (the in-process CLI fixture)

SIZES = {"n_train": 16, "batch_size": 8, "n_valid": 4, "n_test": 4}


@pytest.fixture(scope="module")
def reader(tmp_path_factory):
    out = tmp_path_factory.mktemp("init") / "reader"
    train(TrainRun(get_recipe("nocot", epochs=2), "vsp-read", get_profile("smoke-vsp"), out, extra=SIZES),
          progress=False)
    return out


def test_the_map_reader_and_the_arms_share_one_tokenizer(reader, tmp_path):
    arm = tmp_path / "arm"
    train(TrainRun(get_recipe("nocot", epochs=1), "vsp", get_profile("smoke-vsp"), arm, extra=SIZES), progress=False)
    assert load_tokenizer(arm / "checkpoint").get_vocab() == load_tokenizer(reader / "checkpoint").get_vocab()


def test_a_fresh_model_takes_the_readers_weights_and_patch_encoder(reader):
    from safetensors.torch import load_file

    tokenizer = load_tokenizer(reader / "checkpoint")
    model = from_scratch(get_profile("smoke-vsp"), tokenizer, seed=5)
    module = get_recipe("visual").module(model)
    start_from(reader, model, module, tokenizer)
    saved = load_causal_lm(reader / "checkpoint").state_dict()
    assert all(torch.equal(v, saved[k]) for k, v in model.state_dict().items())
    extras = load_file(reader / "checkpoint" / "extras.safetensors")
    assert all(torch.equal(v, extras[f"pictures.{k}"]) for k, v in module.pictures.state_dict().items())


def test_a_run_from_the_reader_records_where_it_started(reader, tmp_path):
    summary = train(TrainRun(get_recipe("cot", epochs=1), "vsp", get_profile("smoke-vsp"), tmp_path / "arm",
                             extra=SIZES, init=reader), progress=False)
    assert summary["settings"]["init"] == str(reader.resolve())


def test_a_start_of_another_family_or_no_run_is_refused(reader, tmp_path):
    text = tmp_path / "text"
    train(TrainRun(get_recipe("nocot", epochs=1), "prosqa-sym", get_profile("smoke-prosqa"), text,
                   extra={"n_train": 8, "batch_size": 4, "n_valid": 2, "n_test": 2}), progress=False)
    for init, message in ((text, "its tokenizer is not this run's"), (tmp_path / "none", "not a run folder")):
        with pytest.raises(LatentspaceError, match=message):
            train(TrainRun(get_recipe("nocot", epochs=1), "vsp", get_profile("smoke-vsp"), tmp_path / "arm",
                           extra=SIZES, init=init), progress=False)
        assert not (tmp_path / "arm").exists()


def test_the_cli_starts_from_a_run(reader, run, tmp_path):
    out = tmp_path / "arm"
    done = run("train", "run", "nocot", "--task", "vsp", "--profile", "smoke-vsp", "--set", "n_train=16",
               "--set", "n_valid=4", "--set", "n_test=4", "--init", str(reader), "--out", str(out), "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["settings"]["init"] == str(reader.resolve())
    one_line_exit_2(run("train", "run", "nocot", "--task", "vsp", "--profile", "smoke-vsp", "--init", str(out),
                        "--out", str(out)), "the run's own folder")


def test_the_table_starts_every_seed_from_its_own_run(reader, run, tmp_path):
    import shutil

    for seed in (0, 1):  # a reader per seed, as bench_vsp trains them; {seed} picks each seed's
        shutil.copytree(reader, tmp_path / f"s{seed}" / "reader")
    done = run("train", "table", "--task", "vsp", "--profile", "smoke-vsp", "--recipes", "nocot", "--seeds", "0,1",
               "--set", "n_train=16", "--set", "n_valid=4", "--set", "n_test=4", "--jobs", "1",
               "--init", str(tmp_path / "s{seed}" / "reader"), "--out", str(tmp_path / "table"), "--json")
    assert done.returncode == 0, done.stderr
    starts = [row["settings"]["init"] for row in json.loads(done.stdout)]
    assert starts == [str((tmp_path / f"s{seed}" / "reader").resolve()) for seed in (0, 1)]
    one_line_exit_2(run("train", "table", "--task", "vsp", "--profile", "smoke-vsp", "--recipes", "nocot",
                        "--seeds", "2", "--init", str(tmp_path / "s{seed}" / "reader"), "--out",
                        str(tmp_path / "table2")), "not a run folder")
