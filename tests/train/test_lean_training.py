"""Training passes through the lean GPT-2 forward give every recipe the loss and gradients HF's code gives."""

import copy
import random

import pytest
import torch

from latentspace.model.markers import END_LATENT, LATENT, START_LATENT
from latentspace.model.tiny import make_tiny
from latentspace.tasks import mnns
from latentspace.train.data import encode_examples
from latentspace.train.latent_forward import LeanSwitch, use_lean
from latentspace.train.recipes import get_recipe
from latentspace.train.sequences import MarkerIds
from latentspace.train.vocab import symbol_tokenizer


@pytest.fixture(scope="module")
def setup():
    items = [mnns.item([1, 6, 1, 1]), mnns.item([3, 5, 7, 2]), mnns.item([2, 2, 9, 4])]
    tok = symbol_tokenizer([t for i in items for t in (i.question, i.answer, *i.steps)], extra=mnns.VOCABULARY)
    examples = encode_examples(tok, items, need_steps=True, need_targets=True)
    markers = MarkerIds(*tok.convert_tokens_to_ids([START_LATENT, LATENT, END_LATENT]))
    return tok, examples, markers


CASES = [("nocot", {}, 0), ("cot", {}, 0), ("coconut", {}, 2), ("coconut", {"thought_from": "slot"}, 3),
         ("coconut", {"latent_markers": False}, 1), ("pause", {}, 2), ("codi", {"thoughts": 2}, 0),
         ("cot2", {}, 0)]


@pytest.mark.parametrize("name,options,epoch", CASES)
def test_lean_and_hf_passes_give_the_same_loss_and_gradients(setup, name, options, epoch):
    tok, examples, markers = setup
    recipe = get_recipe(name, **options, **({"epochs_per_stage": 1} if name in ("coconut", "pause") else {}))
    rng = random.Random(0)
    batch = recipe.batch([recipe.sequence(ex, epoch, markers, rng) for ex in examples], tok.pad_token_id,
                         markers.latent)
    base, _ = make_tiny("gpt2", layers=2, hidden=32, n_head=4, initializer_range=0.3, resid_pdrop=0.0,
                        embd_pdrop=0.0, attn_pdrop=0.0)
    base.resize_token_embeddings(len(tok))
    results = []
    for lean in (False, True):
        torch.manual_seed(0)  # CODI's projector: the same initial weights both times
        module = recipe.module(copy.deepcopy(base)).double()
        assert use_lean(module, module.causal_lm) if lean else True
        parts = module(batch, parts=True)
        loss = sum(value for value, _ in parts.values())
        loss.backward()
        results.append(({k: (v.item(), n) for k, (v, n) in parts.items()},
                         [p.grad.clone() for p in module.parameters() if p.grad is not None]))
        assert any(isinstance(p, LeanSwitch) and p.lean == lean for p in module.modules())
    (hf_parts, hf_grads), (lean_parts, lean_grads) = results
    assert hf_parts.keys() == lean_parts.keys()
    for key in hf_parts:
        assert lean_parts[key][1] == hf_parts[key][1]
        assert lean_parts[key][0] == pytest.approx(hf_parts[key][0], rel=1e-9, abs=1e-9)
    assert len(hf_grads) == len(lean_grads) > 0
    for ours, theirs in zip(lean_grads, hf_grads):
        assert torch.allclose(ours, theirs, atol=1e-8)


def test_use_lean_leaves_other_families_on_hf(setup):
    llama, _ = make_tiny("llama")
    module = get_recipe("coconut").module(llama)
    assert use_lean(module, llama) is False and module.lean is False


def test_the_trainers_adamw_is_the_fused_kernel_and_takes_the_loop_versions_state():
    """The fused AdamW updates as the per-parameter loop does, and a checkpoint of either resumes in it."""
    from types import SimpleNamespace

    from latentspace.train.distributed import new_optimizer

    class _Plain:
        def prepare_optimizer(self, optimizer):
            return optimizer

    run = SimpleNamespace(setting={"lr": 1e-2, "weight_decay": 0.01}.get)
    torch.manual_seed(0)
    ours, theirs = torch.nn.Linear(4, 3), torch.nn.Linear(4, 3)
    theirs.load_state_dict(ours.state_dict())
    fused = new_optimizer(run, ours, _Plain())
    loop = torch.optim.AdamW(theirs.parameters(), lr=1e-2, weight_decay=0.01)
    assert fused.defaults["fused"] is True and not loop.defaults["fused"]
    for step in range(3):
        x = torch.randn(5, 4)
        for model, opt in ((ours, fused), (theirs, loop)):
            model(x).square().sum().backward()
            opt.step()
            opt.zero_grad()
    for a, b in zip(ours.parameters(), theirs.parameters()):
        assert torch.allclose(a, b, atol=1e-6)
    resumed = new_optimizer(run, theirs, _Plain())
    resumed.load_state_dict(loop.state_dict())  # a checkpoint the loop version wrote
    assert float(resumed.state_dict()["state"][0]["step"]) == 3
