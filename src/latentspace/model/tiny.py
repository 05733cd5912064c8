"""Tiny randomly initialised models with a real tokenizer, for tests and examples.

The tokenizer is byte-level (every byte is a token, no merges), so it encodes any text exactly and
builds in milliseconds without files. Chat formatting follows the ChatML style of SmolLM2, so code
written against the tiny model runs unchanged on the bundled one.
"""

from __future__ import annotations

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers
from transformers import AutoModelForCausalLM, PreTrainedTokenizerFast
from transformers import GPT2Config, LlamaConfig, Qwen2Config

from latentspace.core.errors import LatentspaceError

SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
FAMILIES = ("llama", "qwen2", "gpt2")


def byte_tokenizer() -> PreTrainedTokenizerFast:
    """A byte-level tokenizer: 3 special tokens + 256 byte tokens."""
    alphabet = pre_tokenizers.ByteLevel.alphabet()
    vocab = {tok: i for i, tok in enumerate(SPECIAL_TOKENS)}
    vocab.update({ch: len(SPECIAL_TOKENS) + i for i, ch in enumerate(sorted(alphabet))})
    core = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    core.decoder = decoders.ByteLevel()
    core.add_special_tokens(SPECIAL_TOKENS)
    tok = PreTrainedTokenizerFast(
        tokenizer_object=core,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        bos_token=None,
        unk_token=None,
    )
    tok.chat_template = CHAT_TEMPLATE
    return tok


def tiny_config(family: str = "llama", layers: int = 2, hidden: int = 64, vocab_size: int = 259, **extra):
    """A small config of one HF family; ``extra`` overrides any config field."""
    common = dict(vocab_size=vocab_size, bos_token_id=None, eos_token_id=2, pad_token_id=0)
    if family in ("llama", "qwen2"):
        cls = LlamaConfig if family == "llama" else Qwen2Config
        fields = dict(
            hidden_size=hidden,
            intermediate_size=2 * hidden,
            num_hidden_layers=layers,
            num_attention_heads=4,
            num_key_value_heads=2,
            max_position_embeddings=1024,
            tie_word_embeddings=True,
            rms_norm_eps=1e-5,
        )
    elif family == "gpt2":
        cls = GPT2Config
        fields = dict(n_embd=hidden, n_layer=layers, n_head=4, n_positions=1024, tie_word_embeddings=True)
    else:
        raise LatentspaceError(f"unknown tiny family {family!r}; valid: {', '.join(FAMILIES)}")
    return cls(**{**common, **fields, **extra})


def make_tiny(family: str = "llama", layers: int = 2, hidden: int = 64, seed: int = 0, **extra):
    """(model, tokenizer): a randomly initialised model, identical for the same arguments."""
    tok = byte_tokenizer()
    config = tiny_config(family, layers, hidden, vocab_size=len(tok), **extra)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    return model.eval(), tok
