import pytest
import torch

from latentspace import LatentspaceError
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
