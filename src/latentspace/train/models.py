"""Models to train: a from-scratch config of an HF family sized by a profile, around a tokenizer, or
any registry model (bundled SmolLM2, a local folder, ...) with the latent markers added."""

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
    # a picture task's tokenizer has the PICTURE placeholder: its id goes into the config (and config.json),
    # so whatever builds the recipe's module later knows to give it a patch encoder
    from latentspace.vision.prefix import PICTURE

    pictures = {"picture_token_id": tokenizer.convert_tokens_to_ids(PICTURE)} if PICTURE in tokenizer.get_vocab() else {}
    config = tiny_config(profile.family, layers=profile.layers, hidden=profile.hidden, vocab_size=len(tokenizer),
                         eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id, **heads, **positions,
                         **dropout, **pictures)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model


def with_markers(spec: str):
    """(model, tokenizer) of a registry model, its tokenizer extended with the latent markers.

    The new embedding rows start as a copy of an existing token's (Coconut initialises them from
    ``<<``; we take ``<<`` when the vocabulary has it, else the EOS token): random rows far from
    the trained embedding distribution destabilise the first steps.
    """
    from latentspace.model.markers import MARKERS
    from latentspace.model.registry import load as load_spec

    model, tokenizer, _ = load_spec(spec, dtype=torch.float32, show_progress=False)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    known = tokenizer.get_vocab()
    added = [m for m in MARKERS if m not in known]
    if added:
        tokenizer.add_special_tokens({"additional_special_tokens": added})
        source = known.get("<<", tokenizer.eos_token_id)
        rows = model.get_input_embeddings().weight.shape[0]
        # some models pad their matrix beyond the tokenizer (Qwen): never shrink it
        model.resize_token_embeddings(max(rows, len(tokenizer)))
        with torch.no_grad():
            for row in tokenizer.convert_tokens_to_ids(added):
                model.get_input_embeddings().weight[row] = model.get_input_embeddings().weight[source]
                if model.get_output_embeddings().weight is not model.get_input_embeddings().weight:
                    model.get_output_embeddings().weight[row] = model.get_output_embeddings().weight[source]
    return model, tokenizer
