"""The cache fuser (issue 22): closed gates are the receiver alone; a planted digit crosses models."""

import pytest
import torch
from tokenizers import Tokenizer, pre_tokenizers
from tokenizers import models as tokenizer_models
from transformers import AutoModelForCausalLM, PreTrainedTokenizerFast

from latentspace.bridge.fused import fused_state, read_both
from latentspace.bridge.fuser import CacheFuser, fuser_shape
from latentspace.bridge.fuser_train import Example, FuserConfig, train_fuser
from latentspace.errors import LatentspaceError
from latentspace.model import kv
from latentspace.model.latent_model import LatentModel
from latentspace.model.tiny import make_tiny, tiny_config

WORDS = ["[PAD]", "[EOS]", "what", "is", "the", "digit", "?", "."] + [str(d) for d in range(10)]
QUESTION = "what is the digit ?"


def word_gpt2() -> LatentModel:
    """A gpt2 of width 96 reading whole words: another family, width and tokenizer than the byte llama."""
    core = Tokenizer(tokenizer_models.WordLevel(vocab={w: i for i, w in enumerate(WORDS)}, unk_token="[PAD]"))
    core.pre_tokenizer = pre_tokenizers.Whitespace()
    tok = PreTrainedTokenizerFast(tokenizer_object=core, pad_token="[PAD]", eos_token="[EOS]", unk_token="[PAD]")
    config = tiny_config("gpt2", hidden=96, vocab_size=len(WORDS), eos_token_id=1, pad_token_id=0)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(3)
        model = AutoModelForCausalLM.from_config(config).eval()
    return LatentModel(model, tok, "words-gpt2")


def planted(d: int) -> Example:
    """The sharer reads the digit (repeated, so a random model's attention carries it); the receiver does not."""
    return Example(" ".join([str(d)] * 12) + " . " + QUESTION, QUESTION, str(d))


@pytest.fixture(scope="module")
def models():
    return LatentModel(*make_tiny("llama", seed=1), "bytes-llama"), word_gpt2()


def test_with_the_gates_closed_the_fused_receiver_is_the_receiver_alone(models):
    sharer, receiver = models
    reads = read_both(sharer, receiver, [planted(d).sharer_text for d in range(3)], [QUESTION] * 3)
    fuser = CacheFuser(fuser_shape(reads.sharer_kv, kv.to_tensors(reads.state.cache), [(0, 0), (1, 1)], 16))
    for p in fuser.parameters():  # a fuser that changes everything when open
        torch.nn.init.normal_(p, std=1.0)
    alone = receiver.encode(receiver.tokenize([QUESTION] * 3)[0]).logits
    closed = fused_state(receiver, reads, fuser, gates=torch.zeros(2)).logits
    torch.testing.assert_close(closed, alone, atol=1e-5, rtol=1e-5)
    opened = fused_state(receiver, reads, fuser, gates=torch.ones(2)).logits
    assert (opened - alone).abs().max() > 1e-2


def test_a_fuser_trained_on_a_planted_digit_carries_it_across_families_widths_and_tokenizers(models, tmp_path):
    sharer, receiver = models
    examples = [planted(d) for d in range(10)] * 4
    config = FuserConfig(steps=300, batch_size=10, lr=1e-2, hidden=64)
    fuser, losses = train_fuser(sharer, receiver, examples, config, out=tmp_path / "fuser")
    reads = read_both(sharer, receiver, [planted(d).sharer_text for d in range(10)], [QUESTION] * 10)
    said = [receiver.tokenizer.decode([int(i)]) for i in fused_state(receiver, reads, fuser).logits.argmax(-1)]
    assert sum(s == str(d) for d, s in enumerate(said)) >= 9, said  # the receiver never read the digit
    closed = fused_state(receiver, reads, fuser, gates=torch.zeros(len(fuser.shape.pairs))).logits.argmax(-1)
    assert sum(receiver.tokenizer.decode([int(i)]) == str(d) for d, i in enumerate(closed)) <= 1  # alone: one answer
    assert losses[-1] < losses[0]
    # saved with both fingerprints: loads for this pair, and the same fused answers come back
    loaded, meta = CacheFuser.load(tmp_path / "fuser" / "fuser.safetensors", sharer.fingerprint, receiver.fingerprint)
    assert meta["step"] == 300
    again = [receiver.tokenizer.decode([int(i)]) for i in fused_state(receiver, reads, loaded).logits.argmax(-1)]
    assert again == said
    with pytest.raises(LatentspaceError, match="fitted from .* not from the loaded"):
        CacheFuser.load(tmp_path / "fuser" / "fuser.safetensors", receiver.fingerprint, sharer.fingerprint)
    # a finished run resumes at its end (nothing retrained); other settings in the same folder are refused
    _, resumed = train_fuser(sharer, receiver, examples, config, out=tmp_path / "fuser")
    assert resumed == losses
    with pytest.raises(LatentspaceError, match="other settings"):
        train_fuser(sharer, receiver, examples, FuserConfig(steps=300, batch_size=10, lr=1e-3, hidden=64),
                    out=tmp_path / "fuser")


def test_a_receiver_prompt_that_is_not_the_end_of_the_sharers_is_refused(models):
    sharer, receiver = models
    with pytest.raises(LatentspaceError, match="end of the sharer's"):
        read_both(sharer, receiver, ["7 7 . what is the digit ?"], ["what is the number ?"])
