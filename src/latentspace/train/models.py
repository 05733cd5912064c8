"""Models to train: a from-scratch config of an HF family sized by a profile, around a tokenizer."""

from __future__ import annotations

import torch
from transformers import AutoModelForCausalLM

from latentspace.model.tiny import tiny_config
from latentspace.train.profiles import Profile


def from_scratch(profile: Profile, tokenizer, seed: int = 0, max_positions: int = 1024):
    """A randomly initialised causal LM of ``profile``'s family and size for ``tokenizer``'s vocabulary."""
    heads = {"n_head": profile.heads} if profile.family == "gpt2" else {"num_attention_heads": profile.heads,
                                                                         "num_key_value_heads": profile.heads}
    positions = {"n_positions": max_positions} if profile.family == "gpt2" else {"max_position_embeddings": max_positions}
    drop = profile.dropout
    dropout = ({"resid_pdrop": drop, "embd_pdrop": drop, "attn_pdrop": drop} if profile.family == "gpt2"
               else {"attention_dropout": drop})
    config = tiny_config(profile.family, layers=profile.layers, hidden=profile.hidden, vocab_size=len(tokenizer),
                         eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id, **heads, **positions,
                         **dropout)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model
