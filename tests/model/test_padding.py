import torch

PROMPTS = ["A much longer prompt than the other one, with padding needed", "Short", "Mid-length prompt"]


def test_left_padded_batch_equals_single_prompts(lm):
    ids, mask = lm.tokenize(PROMPTS)
    assert (mask[:, 0] == 0).any(), "the batch must actually be padded"
    batched = lm.forward(ids, mask).logits[:, -1]
    for i, prompt in enumerate(PROMPTS):
        alone, _ = lm.tokenize(prompt)
        single = lm.forward(alone).logits[0, -1]
        torch.testing.assert_close(batched[i], single, atol=1e-4, rtol=0)


def test_encoded_batch_state_matches_single_and_continues_alike(lm):
    state = lm.encode(PROMPTS)
    first = state.logits.clone()
    nxt = state.logits.argmax(-1)
    stepped = lm.feed(state, nxt[:, None])
    for i, prompt in enumerate(PROMPTS):
        alone = lm.encode(prompt)
        torch.testing.assert_close(first[i], alone.logits[0], atol=1e-4, rtol=0)
        single = lm.feed(alone, nxt[i : i + 1, None])
        torch.testing.assert_close(stepped.logits[i], single.logits[0], atol=1e-4, rtol=0)
        torch.testing.assert_close(stepped.hidden[i], single.hidden[0], atol=1e-4, rtol=0)


def test_batched_greedy_decode_equals_single(lm):
    batch = lm.decode(lm.encode(PROMPTS), max_new_tokens=8)
    for i, prompt in enumerate(PROMPTS):
        single = lm.decode(lm.encode(prompt), max_new_tokens=8)
        assert batch.token_ids[i] == single.token_ids[0]
