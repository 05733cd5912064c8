"""Smoke runs: every recipe lowers its loss, checkpoints resume exactly, bad runs are refused."""

import json

import pytest
import torch

from latentspace import LatentspaceError
from latentspace.train.profiles import get_profile
from latentspace.train.recipes import RECIPES, get_recipe
from latentspace.train.run import TrainRun
from latentspace.train.trainer import train


def _losses(out):
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    return [r["loss"] for r in rows if r["kind"] == "step"]


# a recipe's smoke task where ProsQA will not do (cot2 needs target traces); every other recipe: prosqa
TASK = {"cot2": "mnns", "visual": "vsp", "visual-pause": "vsp", "visual-s1": "vsp", "visual-change": "vsp",
        "visual-filled": "vsp"}
# visual's two stages weigh different losses (0.1·CE + 1 − cos, then CE): one stage, so losses compare
ONE_STAGE = {name: {"teacher_epochs": 100} for name in ("visual", "visual-pause", "visual-change", "visual-filled")}


def _run(recipe, out, **options):
    profile = get_profile("smoke")
    recipe_options = {**profile.recipe_options.get(recipe, {}), **ONE_STAGE.get(recipe, {}), **options}
    return TrainRun(get_recipe(recipe, **recipe_options), TASK.get(recipe, "prosqa"),
                    profile, out, extra={"n_train": 16, "batch_size": 4, "n_valid": 4, "n_test": 4})


@pytest.mark.parametrize("recipe", sorted(RECIPES))
def test_a_smoke_run_lowers_the_training_loss(recipe, tmp_path):
    run = _run(recipe, tmp_path, epochs=4)
    summary = train(run, progress=False)
    losses = _losses(tmp_path)
    first, last = sum(losses[:4]) / 4, sum(losses[-4:]) / 4
    assert last < first, (recipe, losses)
    assert summary["test_n"] == 4 and 0 <= summary["test_accuracy"] <= 1
    assert (tmp_path / "checkpoint" / "model.safetensors").exists()
    assert (tmp_path / "checkpoint" / "state.json").exists()


@pytest.mark.parametrize("recipe,options", [("coconut", {"epochs_per_stage": 2}), ("codi", {})])
def test_a_checkpoint_resumes_to_the_identical_next_step_loss(tmp_path, recipe, options):
    # coconut: epochs 0-1 train stage 0 and epoch 2 stage 1, so the resume restores the optimizer
    # mid-stage, then re-creates it; codi: its projector lives outside the HF model
    whole, resumed = tmp_path / "whole", tmp_path / "resumed"
    train(_run(recipe, whole, epochs=3, **options), progress=False)
    paused = train(_run(recipe, resumed, epochs=3, **options), progress=False, until_epoch=0)
    assert paused == {"paused_after_epoch": 0} and len(_losses(resumed)) == 4  # 16 items / batch 4
    train(_run(recipe, resumed, epochs=3, **options), progress=False)
    assert len(_losses(resumed)) == len(_losses(whole)) == 12
    assert _losses(resumed) == pytest.approx(_losses(whole), abs=1e-6)


@pytest.mark.parametrize("reset", [True, False])
def test_coconut_keeps_one_optimizer_across_stages_when_told(tmp_path, reset):
    # epochs 0-1 train stage 0, epoch 2 stage 1: a reset optimizer has taken only stage 1's 4 steps
    train(_run("coconut", tmp_path, epochs=3, epochs_per_stage=2, reset_optimizer=reset), progress=False)
    saved = torch.load(tmp_path / "checkpoint" / "optimizer.pt", weights_only=False)
    steps = {int(s["step"]) for s in saved["state"].values()}
    assert steps == ({4} if reset else {12})


def test_a_run_without_resets_resumes_into_a_new_stage_exactly(tmp_path):
    # paused after stage 0: the resumed stage 1 must continue the saved optimizer, not a fresh one
    options = {"epochs": 3, "epochs_per_stage": 2, "reset_optimizer": False}
    whole, resumed = tmp_path / "whole", tmp_path / "resumed"
    train(_run("coconut", whole, **options), progress=False)
    train(_run("coconut", resumed, **options), progress=False, until_epoch=1)
    train(_run("coconut", resumed, **options), progress=False)
    assert _losses(resumed) == pytest.approx(_losses(whole), abs=1e-6)


def test_a_checkpoint_of_another_recipe_is_refused(tmp_path):
    train(_run("cot", tmp_path, epochs=1), progress=False)
    with pytest.raises(LatentspaceError, match="holds a checkpoint of recipe cot"):
        train(_run("coconut", tmp_path, epochs=1), progress=False)


def test_two_processes_make_the_same_update_as_one(tmp_path):
    """DDP over gloo on CPU (2 processes) == one process with the same global batch."""
    import os
    import subprocess
    import sys

    from safetensors.torch import load_file

    # 9 items in batches of 8: the last batch has one row, so one process gets none (zero-loss path)
    args = ["train", "coconut", "--set", "n_train=9", "--set", "batch_size=8", "--set", "epochs=1",
            "--set", "mix_prob=1.0", "--set", "n_valid=2", "--set", "n_test=2", "--until-epoch", "0", "--quiet"]
    # `accelerate launch --multi_gpu` also starts gloo DDP on a machine without GPUs
    launch = os.path.join(os.path.dirname(sys.executable), "accelerate")
    for cmd in ([sys.executable, "-m", "latentspace.cli.app", *args, "--out", str(tmp_path / "one")],
                [launch, "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1", "--mixed_precision",
                 "no", "--dynamo_backend", "no", "-m", "latentspace.cli.app", *args, "--out", str(tmp_path / "two")]):
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
    one, two = (load_file(tmp_path / name / "checkpoint" / "model.safetensors") for name in ("one", "two"))
    assert max(float((one[k] - two[k]).abs().max()) for k in one) < 1e-5
    assert _losses(tmp_path / "one") == pytest.approx(_losses(tmp_path / "two"), abs=1e-5)
    # mix_prob=1 trains random stages: the step really had continuous thoughts in it
    from latentspace.train.data import encode_examples
    from latentspace.train.sequences import MarkerIds
    from latentspace.train.rundata import epoch_batches, prepare_data, prepare_tokenizer

    class _Solo:
        is_main_process, num_processes = True, 1

        def wait_for_everyone(self):
            pass

    run = _run("coconut", tmp_path / "one", epochs=1, mix_prob=1.0)
    run.extra.update(n_train=9, batch_size=8, n_valid=2, n_test=2)
    splits = prepare_data(run, _Solo())
    tok, _ = prepare_tokenizer(run, splits, _Solo())
    markers = MarkerIds(*tok.convert_tokens_to_ids(["<|start-latent|>", "<|latent|>", "<|end-latent|>"]))
    batch, last = epoch_batches(run, encode_examples(tok, splits["train"]), 0, markers, tok)
    assert batch.latent.any() and last.size == 1


def test_a_trained_model_loads_by_path_and_thinks_with_the_reasoners(tmp_path):
    from latentspace import LatentModel
    from latentspace.reason import get_reasoner
    from latentspace.tasks import load_jsonl

    train(_run("coconut", tmp_path, epochs=3), progress=False)
    lm = LatentModel.load(str(tmp_path / "checkpoint"), show_progress=False)
    item = load_jsonl(tmp_path / "data" / "test.jsonl")[0]
    reasoner = get_reasoner("continuous", max_latent_steps=2, max_new_tokens=8)
    assert reasoner.prompt(lm, item.question) == item.question + "\n"  # the trained layout, no instruction
    trace = reasoner.run(lm, item.question)
    assert trace.meta["markers"] is True and trace.meta["alignment"] == "none" and trace.latent_steps == 2
    # the same thoughts as the trainer's own evaluation takes
    from latentspace.train.evaluate import evaluate
    from latentspace.train.data import encode_examples

    result = evaluate(lm.model, lm.tokenizer, get_recipe("coconut", max_stage=2), [item],
                      encode_examples(lm.tokenizer, [item]), stage=2, max_new_tokens=8)
    assert result.rows[0]["text"] == trace.text


def test_fine_tuning_a_registry_model_adds_the_markers_and_learns(tmp_path):
    from latentspace.model.markers import MARKERS
    from latentspace.train.models import with_markers

    model, tok = with_markers("tiny")
    ids = tok.convert_tokens_to_ids(list(MARKERS))
    assert len(set(ids)) == 3 and all(i >= 259 for i in ids)  # new tokens after the byte vocabulary
    weight = model.get_input_embeddings().weight
    assert all(torch.equal(weight[i], weight[tok.eos_token_id]) for i in ids)  # initialised from an existing token
    data = tmp_path / "sums.jsonl"
    data.write_text("".join(json.dumps({"question": f"{a}+{b}?", "steps": [f"{a}+{b}={a + b}"], "answer": str(a + b)})
                            + "\n" for a in range(4) for b in range(4)))
    run = TrainRun(get_recipe("coconut", epochs=3, epochs_per_stage=1, max_stage=1), str(data), get_profile("smoke"),
                   tmp_path / "run", model="tiny", extra={"n_train": 12, "batch_size": 4, "n_valid": 2, "n_test": 2})
    assert train(run, progress=False, until_epoch=0) == {"paused_after_epoch": 0}
    assert train(run, progress=False, until_epoch=0) == {"paused_after_epoch": 0}  # already there: no epoch trained
    summary = train(run, progress=False)  # resumes: the markers are part of the saved tokenizer
    losses = _losses(tmp_path / "run")
    assert sum(losses[-3:]) < sum(losses[:3]) and summary["test_n"] == 2
    state = json.loads((tmp_path / "run" / "checkpoint" / "state.json").read_text())
    assert state["model"] == "tiny"
    with pytest.raises(LatentspaceError, match="checkpoint of model tiny"):
        train(TrainRun(run.recipe, str(data), get_profile("smoke"), tmp_path / "run",
                       extra=run.extra), progress=False)


def test_runs_refuse_changed_settings_and_too_little_data(tmp_path):
    train(_run("nocot", tmp_path, epochs=1), progress=False)
    changed = _run("nocot", tmp_path, epochs=1)
    changed.extra["lr"] = 0.5
    with pytest.raises(LatentspaceError, match="was trained with"):
        train(changed, progress=False)
    data = tmp_path / "few.jsonl"
    data.write_text('{"question": "q?", "answer": "a"}\n' * 3)
    few = TrainRun(get_recipe("nocot", epochs=1), str(data), get_profile("smoke"), tmp_path / "few",
                   extra={"n_valid": 2})
    with pytest.raises(LatentspaceError, match="too few"):
        train(few, progress=False)


def test_markers_are_initialised_also_when_the_embedding_matrix_is_padded(monkeypatch):
    from latentspace.model import registry
    from latentspace.model.markers import MARKERS
    from latentspace.model.tiny import make_tiny
    from latentspace.train.models import with_markers

    def padded(spec, dtype, show_progress):
        model, tok = make_tiny("llama")
        model.resize_token_embeddings(320)  # like Qwen: more rows than the tokenizer has tokens
        return model, tok, "padded"

    monkeypatch.setattr(registry, "load", padded)
    model, tok = with_markers("padded")
    weight = model.get_input_embeddings().weight
    assert weight.shape[0] == 320
    assert all(torch.equal(weight[i], weight[tok.eos_token_id]) for i in tok.convert_tokens_to_ids(list(MARKERS)))


def test_a_checkpoint_saved_before_an_option_existed_counts_it_at_its_default(tmp_path):
    from latentspace.train.checkpoint import with_defaults

    run = _run("coconut", tmp_path, epochs=2)
    older = {k: v for k, v in run.recipe.options().items() if k != "thought_from"}  # saved before it existed
    assert with_defaults(run, older) == run.recipe.options()
    changed = {**older, "thought_from": "slot"}  # a value that differs is still another run
    assert with_defaults(run, changed) != run.recipe.options()
