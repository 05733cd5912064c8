
from latentspace.lens.decoding import _identity_ids, nearest_embeddings, read_vector


def test_nearest_embedding_of_a_token_is_itself(llama):
    token = 70
    top = nearest_embeddings(llama, llama.input_embeddings[token], k=3)
    assert top[0][0] == llama.tokenizer.decode([token]) and abs(top[0][1] - 1) < 1e-5


def test_patchscope_replaces_exactly_the_placeholder_slot(llama):
    ids, slot = _identity_ids(llama, "a -> a; ? ->")
    assert llama.tokenizer.decode(ids[0]) == "a -> a; ? ->"
    assert llama.tokenizer.decode(ids[0, slot : slot + 1]).strip() == "?" and slot == len(ids[0]) - 4
    vector = llama.input_embeddings[70]
    reading = read_vector(llama, vector)
    # injecting the embedding of the placeholder itself must equal running the plain prompt
    plain = llama.encode(ids).logits[0]
    from latentspace.lens.decoding import patchscope
    from latentspace.trace import read_logits

    same, _ = patchscope(llama, llama.input_embeddings[int(ids[0, slot])], prompt="a -> a; ? ->")
    assert same == read_logits(plain, llama.tokenizer, 5)[1]
    assert len(reading.patchscope) == 5 and reading.norm > 0
