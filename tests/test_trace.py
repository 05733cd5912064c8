import torch

from latentspace.trace import Step, Trace, read_logits
from tests.conftest import tiny_lm


def test_trace_round_trips_through_json_and_counts_steps():
    trace = Trace(prompt="q", strategy="continuous", steps=[Step("latent", norm=1.0, entropy=0.5, top=[("a", 0.9)]),
                                                          Step("explicit", token="b")])
    data = __import__("json").loads(trace.to_json())
    assert data["latent_steps"] == 1 and data["explicit_tokens"] == 1
    assert Trace.from_dict(data) == trace


def test_read_logits_entropy_and_top():
    lm = tiny_lm()
    logits = torch.full((lm.vocab_size,), -1e9)
    logits[70] = 0.0
    entropy, top = read_logits(logits, lm.tokenizer, k=2)
    assert abs(entropy) < 1e-6 and top[0] == (lm.tokenizer.decode([70]), 1.0)


def test_trace_plot_writes_png(tmp_path):
    trace = Trace(prompt="q", steps=[Step("latent", entropy=1.0), Step("explicit", token="a", entropy=0.2)])
    trace.plot(tmp_path / "t.png")
    assert (tmp_path / "t.png").read_bytes()[:4] == b"\x89PNG"
