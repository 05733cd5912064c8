"""Lens integration tests on the bundled SmolLM2-135M-Instruct."""

import pytest

from latentspace.lens import logit_lens
from latentspace.lens.decoding import read_vector

pytestmark = pytest.mark.bundled


@pytest.mark.parametrize("word", [" Paris", " dog", " blue", " computer"])
def test_patchscope_of_a_token_embedding_names_that_token(smollm2, word):
    (token,) = smollm2.tokenizer.encode(word, add_special_tokens=False)
    reading = read_vector(smollm2, smollm2.input_embeddings[token])
    assert word in [t for t, _ in reading.patchscope[:5]], reading.patchscope
    assert reading.nearest[0][0] == word


def test_logit_lens_finds_the_answer_only_in_late_layers(smollm2):
    reading = logit_lens(smollm2, "The Eiffel Tower is located in the city of", target=" Paris")[0]
    ranks = reading.target_rank[:, -1].tolist()
    assert ranks[-1] == 0 and min(ranks[:10]) > 100, ranks
