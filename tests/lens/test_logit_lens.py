import pytest
import torch

from latentspace import LatentspaceError
from latentspace.lens import logit_lens

PROMPTS = ["The quick brown fox jumps", "Hi", "A medium prompt"]


def test_last_layer_reproduces_the_models_own_distribution_exactly(lm):
    ids, _ = lm.tokenize(PROMPTS[0])
    logits = lm.model(input_ids=ids).logits[0]
    rec = lm.record(ids, [("resid_post", lm.n_layers - 1)])
    with torch.no_grad():
        assert torch.equal(lm.head(rec["resid_post", lm.n_layers - 1][0]), logits)
    reading = logit_lens(lm, PROMPTS[0], k=5)[0]
    top = torch.softmax(logits.float(), -1).topk(5)
    assert torch.equal(reading.top_ids[-1], top.indices)
    torch.testing.assert_close(reading.top_probs[-1], top.values, rtol=0, atol=1e-7)
    assert reading.kl_to_final[-1].abs().max() == 0
    assert reading.kl_to_final[0].mean() > 0, "earlier layers must differ (else the test is empty)"


def test_each_layer_is_normed_with_its_own_statistics(llama):
    reading = logit_lens(llama, PROMPTS[0], layers=[0])[0]
    h = llama.record(PROMPTS[0], [("resid_post", 0)])["resid_post", 0][0]
    rms = h.pow(2).mean(-1, keepdim=True).add(llama.config.rms_norm_eps).rsqrt()
    expected = (h * rms * llama.sites.final_norm.weight) @ llama.sites.unembed.weight.T
    top = torch.softmax(expected, -1).topk(5)
    torch.testing.assert_close(reading.top_probs[0], top.values, rtol=1e-5, atol=1e-6)


def test_batch_equals_each_prompt_alone(lm):
    batch = logit_lens(lm, PROMPTS, k=3, target="o")
    for prompt, together in zip(PROMPTS, batch):
        alone = logit_lens(lm, prompt, k=3, target="o")[0]
        assert together.text_tokens == alone.text_tokens
        assert torch.equal(together.top_ids, alone.top_ids)
        torch.testing.assert_close(together.top_probs, alone.top_probs, atol=1e-5, rtol=0)
        torch.testing.assert_close(together.entropy, alone.entropy, atol=1e-4, rtol=0)
        torch.testing.assert_close(together.target_prob, alone.target_prob, atol=1e-5, rtol=0)


def test_target_rank_and_positions(llama):
    reading = logit_lens(llama, PROMPTS[0], positions=[-1, 0], target=70)[0]
    assert reading.positions == [len(reading.positions) and reading.positions[0], 0]
    assert reading.top_ids.shape[:2] == (llama.n_layers, 2)
    top1 = reading.top_ids[:, :, 0] == 70
    assert torch.equal(reading.target_rank == 0, top1)


@pytest.mark.parametrize("kwargs,match", [
    (dict(layers=[7]), "layer 7 out of range"),
    (dict(site="resid_mid"), "unknown site"),
    (dict(positions=[99]), "position 99 out of range"),
    (dict(k=0), "k must be"),
])
def test_bad_arguments(llama, kwargs, match):
    with pytest.raises(LatentspaceError, match=match):
        logit_lens(llama, "hello", **kwargs)


def test_empty_text_refused(llama):
    with pytest.raises(LatentspaceError, match="empty prompt"):
        logit_lens(llama, "")
