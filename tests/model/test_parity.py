import torch

from latentspace.model.sites import LAYER_SITES


def test_no_hook_logits_equal_plain_hf(lm):
    ids, _ = lm.tokenize("The quick brown fox")
    plain = lm.model(input_ids=ids).logits
    assert torch.equal(lm.forward(ids).logits, plain)


def test_recording_every_site_leaves_logits_unchanged(lm):
    ids, _ = lm.tokenize("The quick brown fox")
    plain = lm.model(input_ids=ids).logits
    sites = [(s, layer) for s in LAYER_SITES for layer in range(lm.n_layers)]
    sites += [("embed", None), ("final_norm", None), ("unembed", None)]
    with lm.hooks(record=sites) as rec:
        hooked = lm.forward(ids).logits
    assert torch.equal(hooked, plain)
    assert set(rec.keys()) == set(sites)
    # the recorded logits are the logits; the last block's output feeds the final norm
    assert torch.equal(rec["unembed"], plain)
    hs = lm.model(input_ids=ids, output_hidden_states=True).hidden_states
    assert torch.equal(rec["resid_post", 0], hs[1])
    assert torch.equal(rec["resid_pre", 1], hs[1])
    assert torch.equal(rec["final_norm"], hs[-1])


def test_record_stops_early_and_matches_full_run(lm):
    ids, _ = lm.tokenize("The quick brown fox")
    full = lm.model(input_ids=ids, output_hidden_states=True).hidden_states
    rec = lm.record(ids, [("resid_post", 0)], positions="last")
    assert rec["resid_post", 0].shape == (1, 1, lm.hidden_size)
    assert torch.equal(rec["resid_post", 0][:, 0], full[1][:, -1])
