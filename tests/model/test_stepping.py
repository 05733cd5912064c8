import pytest
import torch

from latentspace import LatentspaceError
from latentspace.model.state import LATENT_ID


def test_step_with_token_embedding_equals_feeding_the_token(lm):
    state = lm.encode(["The capital of France is", "Two plus two"])
    token = torch.tensor([[70], [71]])
    as_vector = lm.step(state.fork(), lm.embed(token)[:, 0])
    as_token = lm.feed(state, token)
    torch.testing.assert_close(as_vector.logits, as_token.logits, atol=1e-4, rtol=0)
    torch.testing.assert_close(as_vector.hidden, as_token.hidden, atol=1e-4, rtol=0)
    assert (as_vector.ids[:, -1] == LATENT_ID).all() and (as_token.ids[:, -1] == token[:, 0]).all()


def test_several_latent_steps_at_once_equal_one_by_one(llama):
    state = llama.encode("Think:")
    vectors = torch.randn(1, 3, llama.hidden_size) * 0.1
    together = llama.step(state.fork(), vectors)
    one = state
    for i in range(3):
        one = llama.step(one, vectors[:, i])
    torch.testing.assert_close(together.logits, one.logits, atol=1e-4, rtol=0)
    assert together.next_position.tolist() == one.next_position.tolist()


def test_greedy_decode_equals_hf_generate(lm):
    ids, mask = lm.tokenize("Once upon a time")
    ours = lm.decode(lm.encode("Once upon a time"), max_new_tokens=12)
    theirs = lm.model.generate(ids, attention_mask=mask, max_new_tokens=12, do_sample=False,
                               pad_token_id=lm.tokenizer.pad_token_id)
    assert ours.token_ids[0] == theirs[0, ids.shape[1]:].tolist()
    assert len(set(ours.token_ids[0])) > 1, "the tiny model should not repeat one token (test would be weak)"


def test_sampling_is_deterministic_under_a_seed(llama):
    a = llama.decode(llama.encode("Hello"), max_new_tokens=10, temperature=1.0, top_p=0.9, seed=3)
    b = llama.decode(llama.encode("Hello"), max_new_tokens=10, temperature=1.0, top_p=0.9, seed=3)
    assert a.token_ids == b.token_ids


def test_stop_string_and_streaming(llama):
    full = llama.decode(llama.encode("Hello"), max_new_tokens=12).texts[0]
    stop = full[3:5]
    pieces = []
    cut = llama.decode(llama.encode("Hello"), max_new_tokens=12, stop=[stop], on_text=lambda r, p: pieces.append(p))
    assert cut.texts[0] == full[: full.find(stop)]
    assert cut.stop_reasons == [f"stop:{stop}"]
    assert "".join(pieces) == cut.texts[0]


def test_consumed_state_is_refused_and_fork_branches(llama):
    state = llama.encode("Hello")
    branch = state.fork()
    llama.step(state, torch.zeros(llama.hidden_size))
    with pytest.raises(LatentspaceError, match="fork"):
        llama.step(state, torch.zeros(llama.hidden_size))
    assert branch.length == len(llama.tokenize("Hello")[0][0])


@pytest.mark.parametrize("bad", [torch.zeros(7), torch.full((64,), float("nan")), torch.full((64,), float("inf"))])
def test_bad_vectors_are_refused(llama, bad):
    with pytest.raises(LatentspaceError):
        llama.step(llama.encode("Hello"), bad)


def test_empty_prompt_is_refused(llama):
    with pytest.raises(LatentspaceError, match="empty prompt"):
        llama.encode("  ")


def test_streaming_never_shows_part_of_a_stop_string(llama):
    full = llama.decode(llama.encode("Hello"), max_new_tokens=12).texts[0]
    stop = full[4:6] + "\u2603"  # starts like the text but never completes: nothing may be cut
    pieces = []
    out = llama.decode(llama.encode("Hello"), max_new_tokens=12, stop=[stop], on_text=lambda r, p: pieces.append(p))
    assert out.texts[0] == full and "".join(pieces) == full and out.stop_reasons == ["length"]
    with pytest.raises(LatentspaceError, match="must not be empty"):
        llama.decode(llama.encode("Hello"), stop=[""])


def test_decode_stops_at_the_context_limit_and_bad_ids_are_refused():
    from tests.conftest import tiny_lm

    small = tiny_lm("gpt2", n_positions=16)
    out = small.decode(small.encode("0123456789"), max_new_tokens=50)
    # slots 10..15 are fed; the 7th token comes from slot 15's logits and is never fed
    assert out.stop_reasons == ["context"] and len(out.token_ids[0]) == 7
    with pytest.raises(LatentspaceError, match="token id out of range"):
        small.feed(small.encode("hi"), torch.tensor([[small.vocab_size]]))


def test_early_stop_inside_a_live_step_marks_the_state_consumed(llama):
    from latentspace.model.hooks import StopForward

    state = llama.encode("Hello")
    with pytest.raises(StopForward):
        with llama.hooks(record=[("resid_post", 0)], stop_early=True):
            llama.feed(state, torch.tensor([[65]]))
    with pytest.raises(LatentspaceError, match="fork"):
        llama.feed(state, torch.tensor([[65]]))


def test_min_new_tokens_bars_eos_until_reached(llama):
    from latentspace.model.decode import eos_ids
    from latentspace.model.hooks import Intervention

    eos = min(eos_ids(llama))
    boost = torch.zeros(llama.vocab_size)
    boost[eos] = 1e4  # make EOS the greedy choice at every step

    def favour_eos(logits):
        return logits + boost

    with llama.hooks(interventions=[Intervention("unembed", None, "fn", favour_eos)]):
        short = llama.decode(llama.encode("hello"), max_new_tokens=8)
        held = llama.decode(llama.encode("hello"), max_new_tokens=8, min_new_tokens=5)
    assert short.token_ids[0] == [eos] and short.stop_reasons[0] == "eos"
    assert len(held.token_ids[0]) == 6 and eos not in held.token_ids[0][:5] and held.token_ids[0][5] == eos
