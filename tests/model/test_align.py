import pytest
import torch

from latentspace import LatentspaceError
from tests.conftest import tiny_lm


def test_ridge_on_tied_embeddings_is_close_to_identity(llama):
    assert llama.sites.embed.weight is llama.sites.unembed.weight
    w_a = llama.aligner.ridge_matrix
    torch.testing.assert_close(w_a, torch.eye(llama.hidden_size), atol=1e-3, rtol=0)


def test_ridge_on_untied_embeddings_is_not_identity():
    lm = tiny_lm("llama", tie_word_embeddings=False)
    assert (lm.aligner.ridge_matrix - torch.eye(lm.hidden_size)).abs().max() > 0.1


def test_norm_and_ridge_rescale_to_mean_embedding_norm(llama):
    hidden = llama.encode(["Hello", "a b c"]).hidden
    target = llama.input_embeddings.norm(dim=-1).mean()
    for method in ("norm", "ridge"):
        torch.testing.assert_close(llama.align(hidden, method).norm(dim=-1), target.expand(2), atol=1e-4, rtol=1e-4)
    assert torch.equal(llama.align(hidden, "none"), hidden)


def test_soft_is_the_expected_embedding(llama):
    state = llama.encode("Hello")
    soft = llama.align(state.hidden, "soft", state.logits)
    expected = torch.softmax(state.logits, -1) @ llama.input_embeddings
    torch.testing.assert_close(soft, expected)


def test_unknown_alignment(llama):
    with pytest.raises(LatentspaceError, match="valid: none, norm, ridge, soft"):
        llama.align(torch.zeros(1, llama.hidden_size), "procrustes")


def test_alignment_keeps_the_callers_dtype(llama):
    hidden = llama.encode("Hello").hidden.double()
    for method in ("norm", "ridge", "soft"):
        assert llama.align(hidden, method).dtype == torch.float64
