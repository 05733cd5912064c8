"""The lean GPT-2 forward computes what HF's GPT-2 computes, from the same parameters."""

import pytest
import torch

from latentspace.model import kv, lean_gpt2
from latentspace.model.tiny import make_tiny


def _gpt2(**extra):
    # float64 and large weights: differences in the arithmetic show instead of drowning in rounding
    model, _ = make_tiny("gpt2", layers=2, hidden=32, n_head=4, initializer_range=0.3, resid_pdrop=0.0,
                         embd_pdrop=0.0, attn_pdrop=0.0, **extra)
    return model.double()


def _inputs(batch=4, length=9):
    torch.manual_seed(0)
    embeds = torch.randn(batch, length, 32, dtype=torch.float64)
    mask = torch.ones(batch, length, dtype=torch.long)
    mask[1, :3] = 0  # left padding (how `collate` lines up thoughts)
    mask[2, -2:] = 0  # right padding
    positions = (mask.cumsum(1) - 1).clamp(min=0)
    return embeds, mask, positions


def test_hidden_states_equal_hf_at_every_real_position():
    model = _gpt2()
    embeds, mask, positions = _inputs()
    ref = model.transformer(inputs_embeds=embeds, attention_mask=mask, position_ids=positions,
                            output_hidden_states=True)
    out = lean_gpt2.forward(model.transformer, embeds, mask, positions, output_hidden_states=True)
    real = mask.bool()
    assert len(out.hidden_states) == len(ref.hidden_states) == 3
    for ours, theirs in zip(out.hidden_states, ref.hidden_states):
        assert torch.allclose(ours[real], theirs[real], atol=1e-10)
    assert torch.allclose(out.last_hidden_state[real], ref.last_hidden_state[real], atol=1e-10)
    assert torch.isfinite(out.last_hidden_state).all()  # padding rows that see no real key: no NaN


def test_gradients_equal_hf():
    embeds, mask, positions = _inputs()
    grads = []
    for lean in (False, True):
        model = _gpt2()
        x = embeds.clone().requires_grad_(True)
        out = (lean_gpt2.forward(model.transformer, x, mask, positions) if lean else
               model.transformer(inputs_embeds=x, attention_mask=mask, position_ids=positions))
        logits = model.lm_head(out.last_hidden_state)
        logits[mask.bool()].square().mean().backward()
        grads.append([x.grad] + [p.grad for p in model.parameters()])
    for ours, theirs in zip(grads[1], grads[0]):
        assert torch.allclose(ours, theirs, atol=1e-9)


def test_a_cache_filled_in_two_passes_equals_one_pass_and_hf():
    model = _gpt2()
    embeds, mask, positions = _inputs()
    whole = lean_gpt2.forward(model.transformer, embeds, mask, positions).last_hidden_state
    ours, theirs = kv.new_cache(), kv.new_cache()
    lean_gpt2.forward(model.transformer, embeds[:, :5], mask[:, :5], positions[:, :5], ours)
    second = lean_gpt2.forward(model.transformer, embeds[:, 5:], mask, positions[:, 5:], ours).last_hidden_state
    model.transformer(inputs_embeds=embeds[:, :5], attention_mask=mask[:, :5], position_ids=positions[:, :5],
                      use_cache=True, **{kv.cache_kwarg(model.transformer): theirs})
    real = mask[:, 5:].bool()
    assert torch.allclose(second[real], whole[:, 5:][real], atol=1e-10)
    first = mask[:, :5].bool()  # padding keys are never attended to: only real ones are compared
    for ours_kv, theirs_kv in zip(kv.to_tensors(ours), kv.to_tensors(theirs)):
        for a, b in zip(ours_kv, theirs_kv):
            assert torch.allclose(a[:, :, :5].transpose(1, 2)[first], b.transpose(1, 2)[first], atol=1e-10)
    assert kv.seq_length(ours) == 9


def test_dropout_is_the_models_own_and_off_in_eval():
    model, _ = make_tiny("gpt2", layers=2, hidden=32, n_head=4, resid_pdrop=0.5, embd_pdrop=0.5, attn_pdrop=0.5)
    embeds, mask, positions = _inputs()
    embeds = embeds.float()
    model.train()
    a = lean_gpt2.forward(model.transformer, embeds, mask, positions).last_hidden_state
    b = lean_gpt2.forward(model.transformer, embeds, mask, positions).last_hidden_state
    assert not torch.allclose(a, b)  # training: dropout draws
    model.eval()
    ref = model.transformer(inputs_embeds=embeds, attention_mask=mask, position_ids=positions).last_hidden_state
    ours = lean_gpt2.forward(model.transformer, embeds, mask, positions).last_hidden_state
    assert torch.allclose(ours[mask.bool()], ref[mask.bool()], atol=1e-5)


@pytest.mark.parametrize("extra,ok", [({}, True), ({"scale_attn_by_inverse_layer_idx": True}, False),
                                      ({"reorder_and_upcast_attn": True}, False)])
def test_supports_plain_gpt2_only(extra, ok):
    assert lean_gpt2.supports(_gpt2(**extra)) is ok
    llama, _ = make_tiny("llama")
    assert not lean_gpt2.supports(llama)
