"""Coconut's "BFS loss" (`frontier_weight`): each thought's fed-back state pulled to its step's full set."""

import json
import random

import pytest
import torch

from latentspace.errors import LatentspaceError
from latentspace.model.markers import END_LATENT, LATENT, START_LATENT
from latentspace.tasks import get_task
from latentspace.train.data import encode_examples
from latentspace.train.latent_forward import LatentLM
from latentspace.train.models import from_scratch
from latentspace.train.profiles import get_profile
from latentspace.train.recipes import get_recipe
from latentspace.train.recipes.frontier_loss import FrontierLM
from latentspace.train.sequences import LatentSequence, MarkerIds
from latentspace.train.vocab import symbol_tokenizer


@pytest.fixture(scope="module")
def setup():
    items = get_task("prosqa-sym").generate(3, seed=0)
    tok = symbol_tokenizer([t for i in items for t in (i.question, i.answer, *i.steps)])
    examples = encode_examples(tok, items, need_steps=True, need_targets=True)
    markers = MarkerIds(*tok.convert_tokens_to_ids([START_LATENT, LATENT, END_LATENT]))
    return items, tok, examples, markers


def names(tok, ids):
    return sorted(tok.convert_ids_to_tokens(ids))


def test_thought_k_targets_every_node_k_plus_1_hops_from_the_root(setup):
    items, tok, examples, markers = setup
    recipe = get_recipe("coconut", frontier_weight=1.0, epochs_per_stage=1, max_stage=6)
    for stage in (0, 1, 2):
        sequence, targets = recipe.sequence(examples[0], stage, markers, random.Random(0))
        assert sequence.n_latent == stage and len(targets) == stage
        assert [names(tok, t) for t in targets] == [sorted(f) for f in items[0].meta["frontier"][:stage]]
    # padded to the longest item's thoughts: the extra thoughts have no target (they weigh nothing)
    padded = get_recipe("coconut", frontier_weight=1.0, max_stage=6, pad_latent_to_max=True)
    sequence, targets = padded.sequence(examples[0], 10**6, markers, random.Random(0))
    hops = len(items[0].steps)
    assert sequence.n_latent == 6 and targets[hops:] == [[]] * (6 - hops)


def test_off_by_default_coconut_is_unchanged(setup):
    items, tok, examples, markers = setup
    recipe = get_recipe("coconut")
    assert not recipe.needs_targets and recipe.loss_weights() == {"ce": 1.0}
    assert isinstance(recipe.sequence(examples[0], 0, markers, random.Random(0)), LatentSequence)
    assert type(recipe.module(from_scratch(get_profile("smoke"), tok, seed=0))) is LatentLM
    on = get_recipe("coconut", frontier_weight=0.5)
    assert on.needs_targets and on.loss_weights() == {"ce": 1.0, "frontier": 0.5}
    assert get_recipe("pause", frontier_weight=0.5).needs_targets  # the control can take the same loss


def test_the_frontier_part_is_the_kl_at_each_state_fed_back(setup):
    items, tok, examples, markers = setup
    recipe = get_recipe("coconut", frontier_weight=1.0, epochs_per_stage=1)
    model = from_scratch(get_profile("smoke"), tok, seed=0).eval()
    rng = random.Random(0)
    soft = recipe.batch([recipe.sequence(ex, 2, markers, rng) for ex in examples], tok.pad_token_id, markers.latent)
    module = recipe.module(model)
    assert isinstance(module, FrontierLM)
    with torch.no_grad():
        parts = module(soft, parts=True)
        logits, _ = LatentLM(model).run(soft.batch)
        plain = LatentLM(model)(soft.batch, parts=True)
    assert torch.equal(parts["ce"][0], plain["ce"][0]) and parts["ce"][1] == plain["ce"][1]  # CE unchanged
    # by hand: for each item and thought k, KL(uniform over step k's set || softmax at the slot's previous column)
    total, count = 0.0, 0
    for row, (item, ex) in enumerate(zip(items, examples)):
        slots = soft.batch.latent[row].nonzero().flatten().tolist()
        assert len(slots) == 2
        for k, column in enumerate(slots):
            logp = torch.log_softmax(logits[row, column - 1].float(), -1)
            ids = tok.convert_tokens_to_ids(item.meta["frontier"][k])
            total += float(-(logp[ids].mean()) - torch.log(torch.tensor(float(len(ids)))))
            count += 1
    assert parts["frontier"][1] == count == 6
    assert abs(float(parts["frontier"][0]) - total) < 1e-4


def test_training_on_the_frontier_part_puts_the_thoughts_mass_on_the_frontier(setup):
    items, tok, examples, markers = setup
    recipe = get_recipe("coconut", frontier_weight=1.0, epochs_per_stage=1)  # epoch 2: stage 2, two thoughts
    torch.manual_seed(0)
    model = from_scratch(get_profile("smoke"), tok, seed=0)
    module = recipe.module(model)
    soft = recipe.batch([recipe.sequence(ex, 2, markers, random.Random(0)) for ex in examples], tok.pad_token_id,
                        markers.latent)
    optimizer = torch.optim.AdamW(module.parameters(), lr=3e-3)
    first = None
    for _ in range(40):
        summed, count = module(soft, parts=True)["frontier"]
        assert count == 6
        loss = summed / count
        first = float(loss.detach()) if first is None else first
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert float(loss.detach()) < 0.3 * first  # the gradient reaches the thoughts' states: the pull works
    with torch.no_grad():  # read as the lens reads a thought: the fed-back state through the LM head
        logits, _ = module.run(soft.batch)
    for row, item in enumerate(items):
        second = soft.batch.latent[row].nonzero().flatten().tolist()[1]
        ids = tok.convert_tokens_to_ids(item.meta["frontier"][1])
        assert float(logits[row, second - 1].softmax(-1)[ids].sum()) > 0.5


@pytest.mark.parametrize("options, message", [
    ({"frontier_weight": -1.0}, "frontier_weight"),
    ({"frontier_weight": 1.0, "thoughts_per_step": 2}, "thoughts_per_step 1"),
    ({"frontier_weight": 1.0, "thought_from": "slot"}, "thought_from previous"),
])
def test_settings_it_cannot_serve_are_refused(options, message):
    with pytest.raises(LatentspaceError, match=message):
        get_recipe("coconut", **options)


def test_a_run_with_the_frontier_loss_trains_and_a_task_without_sets_exits_2(tmp_path, capsys, monkeypatch):
    from tests.cli.test_cli import one_line_exit_2, run_here

    out = tmp_path / "run"
    done = run_here(capsys, monkeypatch, "train", "run", "coconut", "--task", "prosqa-sym", "--profile",
                    "smoke-prosqa", "--set", "frontier_weight=1", "--set", "epochs=2", "--set", "epochs_per_stage=1",
                    "--set", "n_train=8", "--set", "n_valid=2", "--set", "n_test=4", "--out", str(out))
    assert done.returncode == 0, done.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["options"]["frontier_weight"] == 1.0  # the run says how it was trained
    one_line_exit_2(run_here(capsys, monkeypatch, "train", "run", "coconut", "--task", "prosqa-small", "--profile",
                             "smoke", "--set", "frontier_weight=1", "--out", str(tmp_path / "r")), "target traces")
    assert not (tmp_path / "r").exists()
