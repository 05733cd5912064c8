"""A lean forward over an HF GPT-2's own parameters, for training small models from scratch.

At the sizes we train on a CPU (2 layers, d=32, a dozen tokens) most of HF GPT-2's step time is
Python around the arithmetic: mask builders, attention-interface dispatch, output classes. This
function computes the same numbers from the same modules (`wte`, `wpe`, each block's `ln_1`,
`c_attn`, `c_proj`, `ln_2`, `mlp`, the final `ln_f`) with one boolean mask and
`F.scaled_dot_product_attention`, so nothing about the model changes: it is saved, loaded and
evaluated as the HF model it is. Only training passes use it (`supports` says when); pretrained
models always run through HF.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class LeanOutput:
    last_hidden_state: torch.Tensor  # after the final layer norm, as HF's
    hidden_states: tuple[torch.Tensor, ...] | None  # embeddings, then each block's output (the last after ln_f)


def supports(causal_lm: nn.Module) -> bool:
    """Whether `forward` computes exactly what ``causal_lm``'s HF forward does.

    Plain GPT-2 only: the config options that change the attention arithmetic are refused, so a
    model that sets them keeps HF's code.
    """
    config = getattr(causal_lm, "config", None)
    return (getattr(config, "model_type", None) == "gpt2" and hasattr(causal_lm, "transformer")
            and config.scale_attn_weights and not config.scale_attn_by_inverse_layer_idx
            and not config.reorder_and_upcast_attn and not config.add_cross_attention)


def visible(attention_mask: torch.Tensor, queries: int) -> torch.Tensor:
    """[B, 1, queries, keys] bool: a query sees the real keys at or before its own position.

    The queries are the last ``queries`` of the mask's keys (earlier ones sit in the cache). A
    padding query with no real key before it would see nothing, which makes attention NaN; it sees
    itself instead — its output is never read, and real positions never see padding.
    """
    keys = attention_mask.shape[1]
    query_pos = torch.arange(keys - queries, keys, device=attention_mask.device)[:, None]
    causal = torch.arange(keys, device=attention_mask.device)[None, :] <= query_pos  # [queries, keys]
    mask = causal[None] & attention_mask[:, None, :].bool()
    mask |= torch.arange(keys, device=attention_mask.device)[None, None, :] == query_pos[None]
    return mask[:, None]


# HF's "gelu_new" is the tanh approximation written as five tensor ops; torch's is one fused kernel
# (equal to float rounding)
FUSED = {"gelu_new": lambda x: F.gelu(x, approximate="tanh"), "gelu_pytorch_tanh": lambda x: F.gelu(x, approximate="tanh"),
         "gelu": F.gelu, "relu": F.relu}


def mlp(module: nn.Module, hidden: torch.Tensor, activation: str) -> torch.Tensor:
    act = FUSED.get(activation, module.act)
    return module.dropout(module.c_proj(act(module.c_fc(hidden))))


def forward(transformer: nn.Module, inputs_embeds: torch.Tensor, attention_mask: torch.Tensor,
            position_ids: torch.Tensor, cache=None, output_hidden_states: bool = False) -> LeanOutput:
    """HF `GPT2Model.forward(inputs_embeds=..., attention_mask=..., position_ids=..., cache=...)`.

    ``attention_mask`` covers the cache's positions and the new ones; ``cache`` (a `DynamicCache`)
    receives each layer's keys and values, as HF's does.
    """
    config = transformer.config
    batch, length, width = inputs_embeds.shape
    heads = config.n_head
    hidden = transformer.drop(inputs_embeds + transformer.wpe(position_ids))
    mask = visible(attention_mask, length)
    drop = config.attn_pdrop if transformer.training else 0.0
    states = [hidden] if output_hidden_states else None
    for index, block in enumerate(transformer.h):
        qkv = block.attn.c_attn(block.ln_1(hidden)).view(batch, length, 3, heads, width // heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # each [B, heads, T, head_dim]
        if cache is not None:
            k, v = cache.update(k, v, index)
        mixed = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=drop)
        mixed = mixed.transpose(1, 2).reshape(batch, length, width)
        hidden = hidden + block.attn.resid_dropout(block.attn.c_proj(mixed))
        hidden = hidden + mlp(block.mlp, block.ln_2(hidden), config.activation_function)
        if states is not None:
            states.append(hidden)
    hidden = transformer.ln_f(hidden)
    if states is not None:
        states[-1] = hidden  # HF's last hidden state is after ln_f
    return LeanOutput(hidden, tuple(states) if states is not None else None)
