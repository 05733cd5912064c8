import pytest
import torch

from latentspace import LatentspaceError
from latentspace.model.loop import LayerLoop
from latentspace.reason import get_reasoner

QUESTION = "What is two plus two?"


def _greedy_tokens(lm, reasoner, n):
    ids, _ = lm.tokenize(reasoner.prompt(lm, QUESTION), chat=False)
    return lm.decode(lm.encode(ids), max_new_tokens=n).token_ids[0]


def test_soft_with_top_k_1_is_greedy_decoding_token_for_token(lm):
    soft = get_reasoner("soft", top_k=1, max_latent_steps=4, max_new_tokens=6, cold_stop_window=99)
    trace = soft.run(lm, QUESTION)
    latent_tokens = [s.top[0][0] for s in trace.steps if s.kind == "latent"]
    explicit = [s.token for s in trace.steps if s.kind == "explicit"]
    assert len(latent_tokens) == 4
    greedy = [lm.tokenizer.decode([t]) for t in _greedy_tokens(lm, soft, 4 + len(explicit))]
    assert latent_tokens + explicit == greedy


def test_continuous_soft_alignment_at_low_temperature_is_greedy(llama):
    cont = get_reasoner("continuous", alignment="soft", temperature=1e-4, max_latent_steps=3, max_new_tokens=5)
    trace = cont.run(llama, QUESTION)
    latent_tokens = [s.top[0][0] for s in trace.steps if s.kind == "latent"]
    explicit = [s.token for s in trace.steps if s.kind == "explicit"]
    greedy = [llama.tokenizer.decode([t]) for t in _greedy_tokens(llama, cont, 3 + len(explicit))]
    assert latent_tokens + explicit == greedy


def test_pause_with_zero_steps_equals_direct(llama):
    pause = get_reasoner("pause", max_latent_steps=0).run(llama, QUESTION)
    direct = get_reasoner("direct").run(llama, QUESTION)
    assert pause.text == direct.text and pause.latent_steps == 0
    with_pauses = get_reasoner("pause", max_latent_steps=3).run(llama, QUESTION)
    assert with_pauses.latent_steps == 3 and with_pauses.positions == direct.positions + 3


def test_a_nan_latent_is_caught_and_reported_not_fed(llama):
    pause = get_reasoner("pause", embedding=torch.full((llama.hidden_size,), float("nan")), max_latent_steps=3)
    trace = pause.run(llama, QUESTION)
    assert trace.latent_steps == 0 and trace.stop_reason.startswith("latent went bad: NaN")
    direct = get_reasoner("direct").run(llama, QUESTION)
    assert trace.text == direct.text  # answered from the last good state, not from garbage


def test_an_exploding_latent_is_caught(llama):
    huge = llama.input_embeddings[70] * 1e4
    trace = get_reasoner("pause", embedding=huge, max_latent_steps=2).run(llama, QUESTION)
    assert "norm" in trace.stop_reason and trace.latent_steps == 0


def test_early_stop_when_latents_converge(llama):
    trace = get_reasoner("continuous", alignment="norm", max_latent_steps=8, early_stop=-1.0).run(llama, QUESTION)
    assert trace.latent_steps == 2 and trace.stop_reason.startswith("converged")


def test_soft_cold_stop(llama):
    trace = get_reasoner("soft", top_k=1, max_latent_steps=8, cold_stop_window=2).run(llama, QUESTION)
    assert trace.latent_steps == 2 and trace.stop_reason.startswith("cold stop")


def test_trace_is_json_ready_and_deterministic(llama):
    a = get_reasoner("soft", max_latent_steps=2).run(llama, QUESTION, seed=1)
    b = get_reasoner("soft", max_latent_steps=2).run(llama, QUESTION, seed=1)
    assert a.text == b.text and a.to_json()
    assert a.meta["options"]["top_k"] == 10


@pytest.mark.parametrize("name,options,match", [
    ("telepathy", {}, "unknown strategy"),
    ("soft", {"top_q": 3}, "has no option 'top_q'"),
])
def test_bad_strategy_names_and_options(name, options, match):
    with pytest.raises(LatentspaceError, match=match):
        get_reasoner(name, **options)


def test_empty_question(llama):
    with pytest.raises(LatentspaceError, match="empty question"):
        get_reasoner("direct").run(llama, " ")


def test_optimize_lowers_the_answer_entropy_and_leaves_the_model_untouched(llama):
    before = [p.clone() for p in llama.model.parameters()]
    trace = get_reasoner("optimize", max_latent_steps=2, opt_steps=6, lr=0.05).run(llama, QUESTION)
    losses = trace.meta["losses"]
    assert len(losses) == 7 and losses[-1] < losses[0]
    assert trace.latent_steps == 2
    assert all(torch.equal(a, b) for a, b in zip(before, llama.model.parameters()))
    assert all(p.requires_grad for p in llama.model.parameters())


def test_switch_alternates_by_entropy_and_respects_its_budgets(llama):
    trace = get_reasoner("switch", max_latent_steps=4, max_explicit_steps=4, max_switches=10,
                         max_new_tokens=2).run(llama, QUESTION)
    thinking = [s for s in trace.steps if s.note in ("latent block", "thinking")]
    assert 0 < len(thinking) <= 8
    assert sum(s.kind == "latent" for s in thinking) <= 4 and sum(s.kind == "explicit" for s in thinking) <= 4
    kinds = [s.kind for s in thinking]
    switches = sum(a != b for a, b in zip(kinds, kinds[1:]))
    assert switches == trace.meta.get("switches", 0)
    capped = get_reasoner("switch", max_latent_steps=6, max_explicit_steps=6, max_switches=0).run(llama, QUESTION)
    assert {s.kind for s in capped.steps if s.note in ("latent block", "thinking")} <= {"latent"}


def test_loop_with_one_repeat_is_the_plain_model_and_more_repeats_change_it(lm):
    plain = get_reasoner("direct", max_new_tokens=6).run(lm, QUESTION)
    once = get_reasoner("loop", repeats=1, max_new_tokens=6, start=0, end=1).run(lm, QUESTION)
    assert once.text == plain.text
    assert [s.token for s in once.steps] == [s.token for s in plain.steps]
    twice = get_reasoner("loop", repeats=3, max_new_tokens=6, start=0, end=1).run(lm, QUESTION)
    assert [s.top for s in twice.steps][0] != [s.top for s in once.steps][0]
    assert twice.meta["layer_applications"] > 0


def _recomputed_loop_tokens(lm, loop, n):
    """Greedy tokens with the loop active and no cache: the whole sequence recomputed per token."""
    start, end = loop.block(lm)
    ids, mask = lm.tokenize(loop.prompt(lm, QUESTION), chat=False)
    tokens, first_logits = [], None
    with LayerLoop(lm.sites, start, end, loop.repeats, loop.alpha):
        for _ in range(n):
            logits = lm.forward(ids, mask).logits[:, -1]
            first_logits = logits if first_logits is None else first_logits
            tokens.append(int(logits.argmax(-1)))
            ids = torch.cat([ids, torch.tensor([[tokens[-1]]])], 1)
            mask = torch.cat([mask, torch.ones(1, 1, dtype=mask.dtype)], 1)
    return tokens, first_logits


@pytest.mark.parametrize("repeats, alpha", [(2, 1.0), (3, 0.5)])
def test_cached_loop_equals_recomputing_the_sequence(lm, repeats, alpha):
    loop = get_reasoner("loop", start=0, end=1, repeats=repeats, alpha=alpha, max_new_tokens=6)
    trace = loop.run(lm, QUESTION)
    explicit = [s for s in trace.steps if s.kind == "explicit"]
    tokens, first_logits = _recomputed_loop_tokens(lm, loop, len(explicit))
    assert [s.token for s in explicit] == [lm.tokenizer.decode([t]) for t in tokens]
    ids, _ = lm.tokenize(loop.prompt(lm, QUESTION), chat=False)
    with LayerLoop(lm.sites, 0, 1, repeats, alpha):
        cached = lm.encode(ids).logits
    assert torch.allclose(cached, first_logits, atol=1e-5)
    assert trace.meta["layer_applications"] == trace.positions * 2 * (repeats - 1)
    assert all(isinstance(m.layer_idx, int) and m.layer_idx < lm.n_layers
               for m in lm.model.modules() if hasattr(m, "layer_idx"))  # every slot lent back


def test_layer_loop_refuses_a_cache_filled_otherwise(lm):
    from transformers import DynamicCache

    ids, mask = lm.tokenize("hello there", chat=False)
    with pytest.raises(LatentspaceError, match="grows extra layers"):  # GPT-2 passes its cache by position
        with LayerLoop(lm.sites, 0, 1, repeats=2):
            lm.forward(ids, mask, cache=DynamicCache(config=lm.model.config))
    plain = lm.encode(ids)
    with pytest.raises(LatentspaceError, match="not filled under the same layer loop"):
        with LayerLoop(lm.sites, 0, 1, repeats=2):
            lm.decode(plain, max_new_tokens=2)
    with LayerLoop(lm.sites, 0, 0, repeats=2):
        looped = lm.encode(ids)
    with pytest.raises(LatentspaceError, match="not filled under the same layer loop"):
        with LayerLoop(lm.sites, 1, 1, repeats=2):  # same width, same slots: only the record tells
            lm.decode(looped, max_new_tokens=2)


def test_layer_loop_refuses_caches_it_cannot_extend_and_bad_ranges(llama, monkeypatch):
    from transformers import DynamicCache

    ids, mask = llama.tokenize("hello", chat=False)
    with pytest.raises(LatentspaceError, match="grows extra layers"):
        with LayerLoop(llama.sites, 0, 1, repeats=2):
            llama.forward(ids, mask, cache=DynamicCache(config=llama.model.config))
    attention = next(m for m in llama.sites.layers[1].modules() if hasattr(m, "layer_idx"))
    monkeypatch.setattr(attention, "layer_idx", None)
    with pytest.raises(LatentspaceError, match="holds no layer_idx"):
        with LayerLoop(llama.sites, 0, 1, repeats=2):
            llama.encode(ids)
    with pytest.raises(LatentspaceError, match="start <= end"):
        LayerLoop(llama.sites, 1, 0)
    assert sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in llama.model.modules()) == 0
def test_stable_lens_stop_ends_thinking_at_the_first_stable_window(llama):
    options = dict(top_k=1, max_latent_steps=10, cold_stop_window=99, stable_stop=2, stable_entropy=100.0,
                   instruction="")  # this prompt repeats a top-1 within 10 steps on the tiny model
    trace = get_reasoner("soft", **options).run(llama, QUESTION)
    tops = [s.top[0][0] for s in trace.steps if s.kind == "latent"]
    first = next(i for i in range(1, 10) if i < len(tops) and tops[i] == tops[i - 1])
    assert len(tops) == first + 1 and trace.stop_reason.startswith("stable")
    confident_only = get_reasoner("soft", **{**options, "stable_entropy": 0.0}).run(llama, QUESTION)
    assert confident_only.latent_steps == 10, "entropy above the threshold must not count as stable"


def test_switch_text_includes_its_explicit_thinking(llama):
    trace = get_reasoner("switch", max_latent_steps=2, max_explicit_steps=4, max_switches=10,
                         max_new_tokens=3).run(llama, QUESTION)
    written = "".join(s.token for s in trace.steps if s.kind == "explicit")
    assert any(s.note == "thinking" for s in trace.steps)
    assert trace.text == written  # thinking tokens, then the answer's, in order (byte-level: exact)


def test_continuous_refuses_a_model_whose_thoughts_are_read_at_their_own_slot(llama):
    # a `coconut --set thought_from=slot` run feeds a different state than this strategy would
    llama.model.config.latentspace = {"recipe": "coconut", "layout": "coconut", "thought_from": "slot"}
    try:
        with pytest.raises(LatentspaceError, match="thought_from=slot"):
            get_reasoner("continuous", max_latent_steps=2, max_new_tokens=2).run(llama, QUESTION)
    finally:
        del llama.model.config.latentspace
