import pytest
import torch

from latentspace import Intervention, LatentspaceError


def _n_hooks(model):
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())


def test_hooks_removed_after_exception(llama):
    before = _n_hooks(llama.model)
    ivs = [Intervention("resid_post", 0, "add", torch.ones(llama.hidden_size))]
    with pytest.raises(RuntimeError, match="boom"):
        with llama.hooks(record=[("resid_post", 1)], interventions=ivs):
            assert _n_hooks(llama.model) > before
            raise RuntimeError("boom")
    assert _n_hooks(llama.model) == before


def test_interventions_change_logits_without_touching_caller_tensors(llama):
    ids, _ = llama.tokenize("Hello world")
    plain = llama.forward(ids).logits
    vec = torch.ones(llama.hidden_size)
    keep = vec.clone()
    with llama.hooks(interventions=[Intervention("resid_post", 0, "add", vec, scale=3.0)]):
        steered = llama.forward(ids).logits
    assert not torch.allclose(steered, plain)
    assert torch.equal(vec, keep)
    with llama.hooks(interventions=[Intervention("resid_post", 0, "add", torch.zeros(llama.hidden_size))]):
        assert torch.equal(llama.forward(ids).logits, plain)
    assert torch.equal(llama.forward(ids).logits, plain), "hooks must be gone after the block"


def test_project_out_removes_the_direction(llama):
    ids, _ = llama.tokenize("Hello world")
    direction = torch.randn(llama.hidden_size)
    ivs = [Intervention("resid_post", 0, "project_out", direction)]
    with llama.hooks(record=[("resid_post", 0)], interventions=ivs) as rec:
        llama.forward(ids)
    along = rec["resid_post", 0] @ (direction / direction.norm())
    assert along.abs().max() < 1e-5


def test_replace_and_fn(llama):
    ids, _ = llama.tokenize("Hi")
    value = torch.randn(llama.hidden_size)
    with llama.hooks(record=[("mlp_out", 1)], interventions=[Intervention("mlp_out", 1, "replace", value)]) as rec:
        llama.forward(ids)
    assert torch.equal(rec["mlp_out", 1][0, -1], value)
    with llama.hooks(record=[("attn_out", 0)], interventions=[Intervention("attn_out", 0, "fn", lambda h: h * 0)]) as rec:
        llama.forward(ids)
    assert rec["attn_out", 0].abs().max() == 0


def test_positions_apply_to_new_slots_during_cached_generation(llama):
    prompt_len = llama.tokenize("Hello there")[0].shape[1]
    vec = torch.randn(llama.hidden_size) * 5
    iv = Intervention("resid_post", 0, "add", vec, positions=slice(prompt_len, None))
    with llama.hooks(interventions=[iv]):
        state = llama.encode("Hello there")
    assert torch.equal(state.logits, llama.encode("Hello there").logits), "prompt slots must be untouched"
    nxt = torch.tensor([[70]])
    with llama.hooks(interventions=[iv]):
        steered = llama.feed(state.fork(), nxt)
    plain = llama.feed(state, nxt)
    assert not torch.allclose(steered.logits, plain.logits)


@pytest.mark.parametrize("site,layer", [("resid_mid", 0), ("resid_post", 2), ("resid_post", None), ("attn_out", -1)])
def test_unknown_site_or_layer_lists_valid_ones(llama, site, layer):
    with pytest.raises(LatentspaceError, match="valid"):
        llama.hooks(record=[(site, layer)])


def test_wrong_dimension_intervention_refused(llama):
    with pytest.raises(LatentspaceError, match="expected last dimension 64"):
        llama.hooks(interventions=[Intervention("resid_post", 0, "add", torch.ones(3))])


def test_slot_masks_for_lists_ranges_and_slices():
    from latentspace.model.hooks import slot_mask

    assert slot_mask(10, 4, [9, 11, 13], "cpu").tolist() == [False, True, False, True]
    assert slot_mask(10, 4, range(11, 13), "cpu").tolist() == [False, True, True, False]
    assert slot_mask(10, 4, slice(12, None), "cpu").tolist() == [False, False, True, True]
    assert slot_mask(10, 4, slice(None, 11), "cpu").tolist() == [True, False, False, False]


def test_unembed_slots_are_right_when_only_the_last_logits_are_computed(llama):
    n = llama.tokenize("Hello there")[0].shape[1]
    zero_last = Intervention("unembed", None, "fn", lambda h: h * 0, positions=[n - 1])
    with llama.hooks(record=[("unembed", None)], positions=[n - 1], interventions=[zero_last]) as rec:
        state = llama.encode("Hello there")  # computes logits for the last slot only
    assert rec["unembed"].shape[1] == 1 and state.logits.abs().max() == 0


def test_fn_returning_the_wrong_shape_or_negative_slots_are_refused(llama):
    ids, _ = llama.tokenize("Hi")
    with llama.hooks(interventions=[Intervention("mlp_out", 0, "fn", lambda h: h[:, :1])]):
        with pytest.raises(LatentspaceError, match="returned"):
            llama.forward(ids)
    with pytest.raises(LatentspaceError, match="absolute sequence slots"):
        llama.hooks(record=[("resid_post", 0)], positions=[-1])
    with pytest.raises(LatentspaceError, match="absolute sequence slots"):
        llama.hooks(interventions=[Intervention("resid_post", 0, "add", torch.ones(64), positions=slice(-2, None))])


def test_numpy_layers_and_list_values_work(llama):
    import numpy as np

    ids, _ = llama.tokenize("Hi")
    with llama.hooks(record=[("resid_post", np.int64(1))],
                     interventions=[Intervention("resid_post", np.int64(0), "add", [0.0] * 64)]) as rec:
        llama.forward(ids)
    assert rec["resid_post", 1].shape[-1] == 64


def _refuse(*args, **kwargs):
    raise RuntimeError("registration refused")


def test_handles_remove_every_hook_when_a_registration_fails_half_way(llama):
    from latentspace.model.hooks import Handles

    before = _n_hooks(llama.model)

    def hooks_then_failure():
        for layer in llama.sites.layers:
            yield layer.register_forward_pre_hook(lambda *a: None)
            yield layer.register_forward_hook(lambda *a: None)
        raise RuntimeError("registration refused")

    handles = Handles().register([llama.sites.final_norm.register_forward_hook(lambda *a: None)])
    assert _n_hooks(llama.model) == before + 1
    with pytest.raises(RuntimeError, match="refused"):
        handles.register(hooks_then_failure())  # also removes what an earlier call registered
    assert _n_hooks(llama.model) == before
    with pytest.raises(ValueError, match="body"):
        with Handles().register(layer.register_forward_hook(lambda *a: None) for layer in llama.sites.layers):
            assert _n_hooks(llama.model) == before + len(llama.sites.layers)
            raise ValueError("body")
    assert _n_hooks(llama.model) == before


@pytest.mark.parametrize("owner", ["session", "loop"])
def test_a_session_or_loop_failing_to_register_half_way_leaves_no_hook(llama, owner, monkeypatch):
    from latentspace.model.loop import LayerLoop

    before = _n_hooks(llama.model)
    monkeypatch.setattr(llama.sites.layers[1], "register_forward_hook", _refuse)  # after hooks on layer 0
    hooks = llama.hooks(record=[("resid_post", 0), ("resid_post", 1)]) if owner == "session" \
        else LayerLoop(llama.sites, 0, 1, repeats=2)
    with pytest.raises(RuntimeError, match="refused"):
        with hooks:
            pass
    assert _n_hooks(llama.model) == before
