"""Presses: ratio 0 changes nothing, each press keeps exactly what its score selects (checked
against a direct computation from the model's own attention weights / logits / keys), batches
compress each row as it would be alone, and text after a compressed context keeps its positions."""

import pytest
import torch

from latentspace.errors import LatentspaceError
from latentspace.memory.presses import PRESSES, get_press
from latentspace.model import kv
from latentspace.reason import REGISTRY as REASONERS
from tests.conftest import tiny_lm

TEXT = "the cat sat on the mat while the dog slept by the warm fire all night long"
# every registered press runs the shared tests below; a wrapper is given presses to wrap (at the ratio
# under test). A press missing here is built with its defaults: a new one is tested, or fails loudly.
WRAPPED = {
    "chunked": lambda ratio: {"press": get_press("knorm", ratio), "chunk": 8},  # several chunks of TEXT
    "per_layer": lambda ratio: {"layers": {0: get_press("knorm", ratio)}, "default": get_press("keydiff", ratio)},
}
ALL = sorted(PRESSES)


def make(name, ratio, **options):
    """The press ``name`` at ``ratio`` as the shared tests use it."""
    return get_press(name, ratio, **(WRAPPED[name](ratio) if name in WRAPPED else {}), **options)


def eager(family="llama"):
    lm = tiny_lm(family, initializer_range=0.3)
    lm.model.set_attn_implementation("eager")
    return lm


def full_keys(lm, ids):
    out = lm.model(input_ids=ids, use_cache=True, output_attentions=True)
    return kv.to_tensors(kv.output_cache(out)), out.attentions  # per layer [1, H, T, T]


def kept_keys(state):
    return [k for k, _ in kv.to_tensors(state.cache)]


def assert_kept(lm, ids, press, chosen):
    """The pressed cache holds, per layer and head, exactly the full cache's slots ``chosen[l][h]``."""
    pairs, _ = full_keys(lm, ids)
    state = lm.encode(ids, press=press)
    for (k_full, _), k_kept, pick in zip(pairs, kept_keys(state), chosen):
        for h in range(k_full.shape[1]):
            expect = k_full[0, h, sorted(pick[h])]
            assert torch.allclose(k_kept[0, h], expect, atol=1e-5), f"head {h}"


def top(scores, keep):
    """[H, T] -> per head the indices of the ``keep`` highest scores."""
    return [set(s.topk(keep).indices.tolist()) for s in scores]


@pytest.mark.parametrize("name", ALL)
def test_ratio_zero_changes_nothing(lm, name):
    ids, mask = lm.tokenize([TEXT, "a short one"])
    plain = lm.decode(lm.encode(ids, attention_mask=mask), max_new_tokens=6)
    state = lm.encode(ids, attention_mask=mask, press=make(name, 0.0))
    assert state.length == ids.shape[1]
    pressed = lm.decode(state, max_new_tokens=6)
    assert pressed.token_ids == plain.token_ids


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("ratio", [0.25, 0.75])
def test_keeps_the_share_it_promises(llama, name, ratio):
    ids, mask = llama.tokenize([TEXT, "a short one"])
    state = llama.encode(ids, attention_mask=mask, press=make(name, ratio))
    real = mask.sum(1)
    assert state.attention_mask.sum(1).tolist() == (real - (real * ratio).floor().long()).tolist()
    assert state.next_position.tolist() == real.tolist()  # positions still count every token read
    assert kv.seq_length(state.cache) == state.length


def test_knorm_keeps_the_smallest_keys():
    lm = eager()
    ids = lm.tokenize(TEXT)[0]
    pairs, _ = full_keys(lm, ids)
    keep = ids.shape[1] - int(ids.shape[1] * 0.5)
    assert_kept(lm, ids, get_press("knorm", 0.5), [top(-k[0].norm(dim=-1), keep) for k, _ in pairs])


def test_tova_keeps_what_the_last_token_attends_to():
    lm = eager()
    ids = lm.tokenize(TEXT)[0]
    _, attentions = full_keys(lm, ids)
    keep, heads = ids.shape[1] - int(ids.shape[1] * 0.5), 2
    chosen = []
    for a in attentions:
        score = a[0, :, -1].mean(0)
        score[-1] = 1e9
        chosen.append(top(score.expand(heads, -1), keep))
    assert_kept(lm, ids, get_press("tova", 0.5), chosen)


@pytest.mark.parametrize("family", ["llama", "gpt2"])
def test_snapkv_keeps_the_window_and_what_it_attends_to(family):
    lm, window = eager(family), 4
    ids = lm.tokenize(TEXT)[0]
    _, attentions = full_keys(lm, ids)
    keep, kv_heads = ids.shape[1] - int(ids.shape[1] * 0.5), lm.config.num_key_value_heads if family == "llama" else 4
    chosen = []
    for a in attentions:
        votes = a[0, :, -window:].mean(1)  # [H, T]
        votes = torch.nn.functional.avg_pool1d(votes[None], 5, 1, 2, count_include_pad=False)[0]
        votes = votes.view(kv_heads, -1, votes.shape[-1]).mean(1)
        votes[:, -window:] = 1e9
        chosen.append(top(votes, keep))
    assert_kept(lm, ids, get_press("snapkv", 0.5, window=window), chosen)


def test_h2o_keeps_the_heavy_hitters():
    lm = eager()
    ids = lm.tokenize(TEXT)[0]
    _, attentions = full_keys(lm, ids)
    keep, chosen = ids.shape[1] - int(ids.shape[1] * 0.5), []
    for a in attentions:
        total = a[0].sum(1).view(2, 2, -1).mean(1)  # accumulated over every query, per kv head
        total[:, -3:] = 1e9
        chosen.append(top(total, keep))
    assert_kept(lm, ids, get_press("h2o", 0.5, window=3), chosen)


def test_probe_keeps_what_the_probe_attends_to_and_leaves_no_trace():
    lm = eager()
    press = get_press("probe", 0.5, text=" name the facts")
    ids = lm.tokenize(TEXT)[0]
    probe = press.probe_ids(lm)
    n, m = ids.shape[1], probe.shape[1]
    _, attentions = full_keys(lm, torch.cat([ids, probe], 1))
    keep, chosen = n - n // 2, []
    for a in attentions:
        votes = a[0, :, -m:, :n].mean(1)[None]  # the probe's queries over the document
        votes = torch.nn.functional.avg_pool1d(votes, 5, 1, 2, count_include_pad=False)[0]
        chosen.append(top(votes.view(2, 2, n).mean(1), keep))
    assert_kept(lm, ids, press, chosen)
    state = lm.encode(ids, press=press)
    assert state.length == keep and int(state.next_position[0]) == n  # the probe is gone
    assert torch.equal(state.logits, lm.encode(ids).logits)  # logits are the document's, not the probe's


def test_surprisal_keeps_what_the_model_did_not_predict():
    lm = eager()
    ids = lm.tokenize(TEXT)[0]
    logp = lm.model(input_ids=ids).logits[0].log_softmax(-1)
    surprise = torch.full((ids.shape[1],), 1e9)
    surprise[1:] = -logp[:-1].gather(-1, ids[0, 1:, None])[:, 0]
    surprise[:4] = 1e9  # sinks
    keep = ids.shape[1] - int(ids.shape[1] * 0.5)
    picked = set(surprise.topk(keep).indices.tolist())
    state = lm.encode(ids, press=get_press("surprisal", 0.5, spread=0))
    assert state.ids[0].tolist() == [ids[0, i].item() for i in sorted(picked)]  # same slots in every head


def test_streaming_keeps_sinks_and_the_recent_window(lm):
    ids = lm.tokenize(TEXT)[0]
    state = lm.encode(ids, press=get_press("streaming", 0.5, sinks=4))
    keep = ids.shape[1] - int(ids.shape[1] * 0.5)
    expect = ids[0, :4].tolist() + ids[0, -(keep - 4):].tolist()
    assert state.ids[0].tolist() == expect


@pytest.mark.parametrize("name", ALL)
def test_a_batch_compresses_each_row_as_alone(lm, name):
    texts = [TEXT, "a dog barks at the moon tonight"]
    ids, mask = lm.tokenize(texts)
    press = make(name, 0.5, **({"window": 4} if name == "snapkv" else {}))
    batched = lm.decode(lm.encode(ids, attention_mask=mask, press=press), max_new_tokens=5).token_ids
    alone = [lm.decode(lm.encode(t, press=press), max_new_tokens=5).token_ids[0] for t in texts]
    assert batched == alone


def test_pressing_applies_to_every_encode_and_only_inside(llama):
    press = get_press("knorm", 0.5)
    with llama.pressing(press):
        inside = llama.encode(TEXT)
    outside = llama.encode(TEXT)
    assert inside.length < outside.length


def test_feed_press_compresses_only_the_new_chunk(llama):
    context = llama.encode("first part of the text")
    held = kv.to_tensors(context.fork().cache)
    more = llama.tokenize(" and then a much longer second part follows")[0]
    state = llama.feed(context, more, press=get_press("knorm", 0.5))
    n = held[0][0].shape[2]
    for (k_old, _), k_now in zip(held, kept_keys(state)):
        assert torch.equal(k_now[:, :, :n], k_old)
    assert state.length == n + more.shape[1] - more.shape[1] // 2


def test_chunked_keeps_the_share_in_every_chunk(llama):
    ids = llama.tokenize(TEXT)[0]
    press = get_press("chunked", press=get_press("knorm", 0.5), chunk=8)
    state = llama.encode(ids, press=press)
    plain = kv.to_tensors(llama.encode(ids).cache)
    n = ids.shape[1]
    for (k_full, _), k in zip(plain, kept_keys(state)):
        for h in range(k.shape[1]):
            rows = [int((k_full[0, h] == row).all(-1).nonzero()[0]) for row in k[0, h]]
            for s in range(0, n, 8):
                size = min(8, n - s)
                assert sum(s <= r < s + size for r in rows) == size - size // 2


def test_per_layer_uses_each_layers_press(llama):
    ids = llama.tokenize(TEXT)[0]
    mixed = llama.encode(ids, press=get_press("per_layer", 0.5, layers={0: get_press("knorm")},
                                              default=get_press("keydiff")))
    knorm = llama.encode(ids, press=get_press("knorm", 0.5))
    keydiff = llama.encode(ids, press=get_press("keydiff", 0.5))
    assert torch.equal(kept_keys(mixed)[0], kept_keys(knorm)[0])
    assert torch.equal(kept_keys(mixed)[1], kept_keys(keydiff)[1])


@pytest.mark.parametrize("ratio", [-0.1, 1.0, 1.5, "half"])
def test_bad_ratio_is_refused(ratio):
    with pytest.raises(LatentspaceError, match="ratio"):
        get_press("knorm", ratio)


def test_unknown_press_names_the_valid_ones():
    with pytest.raises(LatentspaceError, match="knorm"):
        get_press("zip", 0.5)
    with pytest.raises(LatentspaceError, match="ratio must be a number"):
        get_press("knorm:lots")


def test_chunked_compresses_a_padded_row_as_alone(lm):
    """Chunks count from each row's first token: a left-padded row keeps what it keeps alone."""
    texts = [TEXT, "a short one"]
    ids, mask = lm.tokenize(texts)
    press = get_press("chunked", press=get_press("knorm", 0.75), chunk=8)
    batched = lm.encode(ids, attention_mask=mask, press=press).attention_mask.sum(1).tolist()
    alone = [int(lm.encode(t, press=press).attention_mask.sum()) for t in texts]
    assert batched == alone


def test_every_press_is_registered():
    assert set(ALL) <= set(PRESSES)


# strategies a press cannot serve, each refused with its reason (a new strategy runs the test below)
REFUSED_UNDER_A_PRESS = {"loop": "loops layers"}


@pytest.mark.parametrize("strategy", sorted(REASONERS))
def test_every_reasoning_strategy_runs_on_a_pressed_prompt(llama, strategy):
    from latentspace.reason.base import get_reasoner

    reasoner = get_reasoner(strategy, max_new_tokens=4)
    if strategy in REFUSED_UNDER_A_PRESS:
        with llama.pressing(get_press("knorm", 0.5)), pytest.raises(LatentspaceError,
                                                                    match=REFUSED_UNDER_A_PRESS[strategy]):
            reasoner.run(llama, "what is two plus two")
        return
    plain = reasoner.run(llama, "what is two plus two")
    with llama.pressing(get_press("knorm", 0.0)):
        same = reasoner.run(llama, "what is two plus two")
    with llama.pressing(get_press("knorm", 0.5)):
        pressed = reasoner.run(llama, "what is two plus two")
    assert same.text == plain.text and isinstance(pressed.text, str)
    assert llama.press is None  # the context manager restores the model


def test_looped_layers_are_refused_with_a_reason(llama):
    from latentspace.reason.base import get_reasoner

    with llama.pressing(get_press("knorm", 0.5)), pytest.raises(LatentspaceError, match="loops layers"):
        get_reasoner("loop", max_new_tokens=4).run(llama, "what is two plus two")


def test_a_pressing_failing_to_register_half_way_leaves_no_hook(llama, monkeypatch):
    """`Pressing.__enter__` registers two hooks per attention layer: one refused at the last layer
    must not leave the earlier layers' hooks on the model."""
    def n_hooks():
        return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in llama.model.modules())

    def refuse(*args, **kwargs):
        raise RuntimeError("registration refused")

    before = n_hooks()
    last = llama.sites.module("attn_out", llama.n_layers - 1)
    monkeypatch.setattr(last, "register_forward_hook", refuse)  # its pre-hook and every earlier layer's pair succeed
    pressing = get_press("knorm", 0.5).on_pass(llama, None, torch.ones(1, 0), torch.ones(1, 3), None)
    with pytest.raises(RuntimeError, match="refused"):
        with pressing:
            pass
    assert n_hooks() == before
