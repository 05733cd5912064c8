"""Bridges between hidden spaces (issue 22): alignment, maps, their files, moved vectors."""

import pytest
import torch
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast

from latentspace.bridge import HiddenMap, align_text, fit_map, layer_pairs, paired_states, proportional
from latentspace.bridge.fit import fit_pairs
from latentspace.bridge.transfer import move_vector
from latentspace.errors import LatentspaceError
from latentspace.model.latent_model import LatentModel
from latentspace.model.tiny import byte_tokenizer, make_tiny
from latentspace.steer.adding import steer
from latentspace.steer.vector import SteeringVector

TEXTS = ["The quick brown fox jumps over the lazy dog near the river bank today.",
         "A café sells forty-two croissants; Zoë buys three of them at noon.",
         "Numbers like 1234 and 56.78 are split in different ways by tokenizers.",
         "She sells sea shells by the sea shore while the tide comes slowly in.",
         "Latent thoughts are vectors, not words: the model reads them as input.",
         "Every map is fitted on pairs of states that read the same characters."]


def word_tokenizer() -> PreTrainedTokenizerFast:
    """Whole words and punctuation as tokens (a byte tokenizer splits the same text into bytes)."""
    words = sorted({w for w in "the cat sat . café naïve".split()})
    core = Tokenizer(models.WordLevel(vocab={"[UNK]": 0, **{w: i + 1 for i, w in enumerate(words)}}, unk_token="[UNK]"))
    core.pre_tokenizer = pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(tokenizer_object=core, unk_token="[UNK]")


def test_alignment_by_characters_covers_merged_and_split_tokens():
    text = "the cat sat. café naïve"
    _, _, a = align_text(byte_tokenizer(), word_tokenizer(), text)
    assert a.receiver == [(0, 3), (4, 7), (8, 11), (11, 12), (13, 17), (18, 23)]
    # "the" is three bytes; the space before "cat" is the byte tokenizer's own token, covered by no word
    assert a.covers[0] == [0, 1, 2] and a.covers[1] == [4, 5, 6] and a.covers[3] == [11]
    # "é" is two bytes (two byte tokens on one character): both belong to "café", and "naïve" keeps its ï pieces
    assert len(a.covers[4]) == 5 and len(a.covers[5]) == 6
    ends = a.shared_ends()
    assert [j for _, j in ends] == [0, 1, 2, 3, 4, 5]  # every word ends where a byte ends
    assert all(a.sharer[i][1] == a.receiver[j][1] for i, j in ends)
    # the other way round: a byte inside a word is covered by that word only
    _, _, back = align_text(word_tokenizer(), byte_tokenizer(), text)
    assert back.covers[1] == [0] and back.covers[3] == [] and back.covers[4] == [1]


def rotated_copy(lm: LatentModel, seed: int = 0) -> tuple[LatentModel, torch.Tensor]:
    """The same llama with its residual stream rotated by a random orthogonal R: every block output
    of the copy is the original's times R (RMSNorm weights are ones at init, and a rotation keeps norms)."""
    model, tok = make_tiny("llama", seed=0)
    d = model.config.hidden_size
    q, _ = torch.linalg.qr(torch.randn(d, d, generator=torch.Generator().manual_seed(seed)))
    with torch.no_grad():
        model.model.embed_tokens.weight.copy_(lm.model.model.embed_tokens.weight @ q)  # tied: the head turns too
        for mine, theirs in zip(model.model.layers, lm.model.model.layers):
            for name in ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "mlp.gate_proj", "mlp.up_proj"):
                mine.get_submodule(name).weight.copy_(theirs.get_submodule(name).weight @ q)
            for name in ("self_attn.o_proj", "mlp.down_proj"):
                mine.get_submodule(name).weight.copy_(q.T @ theirs.get_submodule(name).weight)
    return LatentModel(model, tok, "tiny-llama-rotated"), q


@pytest.fixture(scope="module")
def pair():
    model, tok = make_tiny("llama", seed=0)
    lm = LatentModel(model, tok, "tiny-llama")
    copy, q = rotated_copy(lm)
    return lm, copy, q


def test_the_rotated_copy_is_the_same_model(pair):
    lm, copy, _ = pair
    ids, _ = lm.tokenize("check")
    torch.testing.assert_close(copy.forward(ids).logits, lm.forward(ids).logits, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("method", ["procrustes", "affine"])
def test_a_map_between_a_model_and_its_rotated_copy_recovers_the_rotation(pair, method):
    lm, copy, q = pair
    bridge = fit_map(lm, copy, TEXTS, [(0, 0), (1, 1)], method=method, heldout=0.2)
    for layer_map in bridge.layers.values():
        torch.testing.assert_close(layer_map.weight, q, atol=2e-3, rtol=0)
    assert all(fit["r2"] > 0.999 for fit in bridge.meta["heldout"].values())


def test_procrustes_between_different_models_and_widths_is_orthogonal():
    a = LatentModel(*make_tiny("llama", seed=1), "a")
    b = LatentModel(*make_tiny("gpt2", hidden=96, seed=2), "b")
    paired = paired_states(a, b, TEXTS, [(1, 1)])
    layers, quality = fit_pairs(paired, [(1, 1)], "procrustes")
    w = layers[(1, 1)].weight  # [64, 96]: orthonormal rows
    torch.testing.assert_close(w @ w.T, torch.eye(64), atol=1e-4, rtol=0)
    ridge, _ = fit_pairs(paired, [(1, 1)], "ridge")
    assert set(quality["1:1"]) >= {"r2", "cosine", "n"}


def test_a_saved_map_loads_only_for_its_two_models(pair, tmp_path):
    lm, copy, q = pair
    bridge = fit_map(lm, copy, TEXTS[:3], [(1, 1)], method="procrustes")
    path = bridge.save(tmp_path / "m.safetensors")
    again = HiddenMap.load(path, lm.fingerprint, copy.fingerprint)
    torch.testing.assert_close(again.layers[(1, 1)].weight, bridge.layers[(1, 1)].weight)
    assert again.meta["method"] == "procrustes"
    other = LatentModel(*make_tiny("gpt2", seed=3), "other")
    with pytest.raises(LatentspaceError, match=r"fitted from \[llama .*\] to \[llama .*\], not from the loaded "
                                               r"\[llama .*\] to \[gpt2 .*\]"):
        HiddenMap.load(path, lm.fingerprint, other.fingerprint)
    with pytest.raises(LatentspaceError, match="not from the loaded"):
        HiddenMap.load(path, copy.fingerprint, lm.fingerprint)  # the pair reversed is another bridge


def test_a_vector_moved_to_the_rotated_copy_steers_it_exactly_as_the_original(pair):
    lm, copy, _ = pair
    bridge = fit_map(lm, copy, TEXTS, [(0, 0), (1, 1)], method="procrustes")
    vector = SteeringVector({1: torch.randn(64, generator=torch.Generator().manual_seed(5)) * 3}, lm.fingerprint)
    moved = move_vector(vector, bridge)
    assert moved.fingerprint == copy.fingerprint and list(moved.directions) == [1]
    ids, _ = lm.tokenize("steer me")
    with steer(lm, [(vector, 1.0)]):
        want = lm.forward(ids).logits
    with steer(copy, [(moved, 1.0)]):
        got = copy.forward(ids).logits
    plain = lm.forward(ids).logits
    assert (want - plain).abs().max() > 1e-2  # the vector does something
    torch.testing.assert_close(got, want, atol=2e-3, rtol=1e-3)
    with pytest.raises(LatentspaceError, match="none in common"):
        move_vector(SteeringVector({0: torch.ones(64)}, lm.fingerprint), fit_map(lm, copy, TEXTS, [(1, 1)]))


def test_layer_pairs_go_by_relative_depth_and_refuse_blocks_out_of_range():
    assert proportional(30, 18) == [(7, 4), (14, 8), (22, 13), (29, 17)]
    assert layer_pairs("auto", 2, 2) == [(0, 0), (1, 1)]
    assert layer_pairs("3:1, 0:0", 4, 2) == [(3, 1), (0, 0)]
    assert layer_pairs("0:-1", 4, 2) == [(0, -1)]  # -1: the receiver's inputs, as the API and agents maps mean
    for bad, message in (("4:0", "out of range"), ("1-2", "SHARER:RECEIVER"), ("a:b", "SHARER:RECEIVER"),
                         ("0:2", "out of range"), ("-1:0", "out of range"), ("0:-2", "out of range")):
        with pytest.raises(LatentspaceError, match=message):
            layer_pairs(bad, 4, 2)


def test_texts_the_two_tokenizers_cannot_align_are_refused():
    a = LatentModel(*make_tiny("llama", seed=1), "a")
    words = LatentModel(make_tiny("llama", seed=1)[0], word_tokenizer(), "w")
    with pytest.raises(LatentspaceError, match="share no token ends"):
        paired_states(a, words, ["x"], [(0, 0)])


def test_an_exact_map_into_the_receivers_inputs_is_the_receiver_reading_the_text(pair):
    """The channel feeds mapped sharer vectors as the receiver's inputs: with the sharer's embeddings
    mapped exactly onto the rotated copy's, that is the copy reading the context itself."""
    from latentspace.bridge.channel import HEADER, channel_answer
    from latentspace.bridge.pairs import EMBED

    lm, copy, q = pair
    paired = paired_states(lm, copy, TEXTS, [(EMBED, EMBED)])
    layers, quality = fit_pairs(paired, [(EMBED, EMBED)], "affine", heldout=0)  # every byte the context uses
    assert quality[f"{EMBED}:{EMBED}"]["r2"] > 0.999
    context, question = "the lazy dog sells sea shells", "What is read?"
    text, positions = channel_answer(lm, copy, layers[(EMBED, EMBED)], EMBED, context, question, max_new_tokens=6)
    ids, _ = copy.tokenize(HEADER + context + "\n" + question)
    read = copy.decode(copy.encode(ids), max_new_tokens=6).texts[0]
    assert text == read and positions > len(context)
