"""Compressing a finished memory (key-only presses) and compressed hand-overs between agents."""

import pytest
import torch

from latentspace.agents.pipelines import from_dict, run
from latentspace.errors import LatentspaceError
from latentspace.memory.presses import get_press
from latentspace.memory.presses.after import KEY_ONLY, compress_state, decode_shrink
from latentspace.model import kv

TEXT = "the cat sat on the mat while the dog slept by the warm fire"


@pytest.mark.parametrize("name", KEY_ONLY)  # every press that works after the fact
def test_after_the_fact_equals_during_the_prefill(lm, name):
    ids, mask = lm.tokenize([TEXT, "a short one"])
    during = lm.encode(ids, attention_mask=mask, press=get_press(name, 0.5))
    after = compress_state(lm, lm.encode(ids, attention_mask=mask), get_press(name, 0.5))
    for (k1, v1), (k2, v2) in zip(kv.to_tensors(during.cache), kv.to_tensors(after.cache)):
        assert torch.equal(k1, k2) and torch.equal(v1, v2)
    assert torch.equal(during.attention_mask, after.attention_mask) and torch.equal(during.ids, after.ids)
    assert lm.decode(during, 4).token_ids == lm.decode(after, 4).token_ids


def test_presses_that_need_the_pass_are_refused_after_it(llama):
    with pytest.raises(LatentspaceError, match="needs the pass"):
        compress_state(llama, llama.encode(TEXT), get_press("snapkv", 0.5))


def pipeline(press=None):
    spec = {"kind": "sequential", "agents": [
        {"name": "reader", "role": "Read: {question}", "latent_steps": 2},
        {"name": "answerer", "role": "Answer: {question}"}]}
    return from_dict(spec | ({"press": press} if press else {}), "test")


def test_compressed_hand_over(llama):
    plain = run(llama, pipeline(), ["two plus two", "what is red"], max_new_tokens=4)
    zero = run(llama, pipeline("knorm:0.0"), ["two plus two", "what is red"], max_new_tokens=4)
    half = run(llama, pipeline("knorm:0.5"), ["two plus two", "what is red"], max_new_tokens=4)
    assert zero.token_ids == plain.token_ids
    got, full = half.turns[1].received_slots, plain.turns[1].received_slots
    assert 0 < got < full


def test_hand_over_press_must_be_key_only():
    with pytest.raises(LatentspaceError, match="cannot compress a hand-over"):
        pipeline("snapkv:0.5")


def test_memory_example_runs_on_tiny():
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[2] / "examples" / "memory.py"
    out = subprocess.run([sys.executable, str(script), "--model", "tiny"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "cache:" in out.stdout and "answer from memory" in out.stdout


def test_compress_once_ask_many_equals_compressing_for_each_question(llama):
    from latentspace.memory import layout
    from latentspace.memory.ask_many import ask_many

    context, questions = TEXT * 2, ["where is the cat?", "who slept?", "what is warm?"]
    press = get_press("snapkv", 0.5, window=8)
    many = ask_many(llama, context, questions, press=press, max_new_tokens=5)
    for question, answer in zip(questions, many):
        state = llama.encode(layout.ids(llama, layout.memory_text(llama, context), True), press=press)
        state = llama.feed(state, layout.ids(llama, layout.question_text(llama, question), False))
        assert llama.decode(state, 5).texts[0] == answer


def test_decode_time_compression_bounds_the_cache(llama, monkeypatch):
    prompt = llama.tokenize(TEXT)[0]
    plain = llama.decode(llama.encode(prompt), max_new_tokens=12)
    roomy = llama.decode(llama.encode(prompt), max_new_tokens=12, max_cache=1000, shrink=decode_shrink())
    assert roomy.token_ids == plain.token_ids  # the limit is never reached: nothing changes
    lengths = []
    feed = llama.feed

    def watch(state, *args, **kwargs):
        lengths.append(state.length)
        return feed(state, *args, **kwargs)

    monkeypatch.setattr(llama, "feed", watch)
    out = llama.decode(llama.encode(prompt), max_new_tokens=40, max_cache=32, shrink=decode_shrink())
    assert out.n_tokens == 40 and max(lengths[1:]) <= 32 < prompt.shape[1]
    with pytest.raises(LatentspaceError, match="max_cache"):
        llama.decode(llama.encode(prompt), max_new_tokens=4, max_cache=2, shrink=decode_shrink())
    with pytest.raises(LatentspaceError, match="shrink"):  # the model layer knows no press of its own
        llama.decode(llama.encode(prompt), max_new_tokens=4, max_cache=32)
