"""Canonical sites -> module paths, one declarative table per architecture family.

This file (with `hooks.py`) is the only place that knows where things live inside a Hugging Face
model. Everything else names sites canonically:

- ``embed``      output of the token-embedding module (per-model scaling included, e.g. Gemma),
                 before any absolute position embedding (GPT-2 adds ``wpe`` after it).
- ``resid_pre``  input of block ``i`` (the residual stream entering the block).
- ``resid_post`` output of block ``i`` (HF's ``hidden_states[i + 1]``, except for the last block:
                 HF's last entry has the final norm applied, ours does not).
- ``attn_out``   output of block ``i``'s attention module (before it is added to the residual).
- ``mlp_out``    output of block ``i``'s MLP (before it is added to the residual).
- ``final_norm`` output of the final norm (HF's last ``hidden_states`` entry).
- ``unembed``    output of the LM head: the logits.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field

import torch.nn as nn

from latentspace.core.errors import LatentspaceError

SITES = ("embed", "resid_pre", "resid_post", "attn_out", "mlp_out", "final_norm", "unembed")
LAYER_SITES = ("resid_pre", "resid_post", "attn_out", "mlp_out")


@dataclass(frozen=True)
class FamilyLayout:
    """Where the pieces of one architecture family live (dotted paths from the top model)."""

    embed: str
    layers: str
    attn: str  # relative to a block
    mlp: str  # relative to a block
    final_norm: str
    unembed: str


_LLAMA_LIKE = FamilyLayout(
    embed="model.embed_tokens",
    layers="model.layers",
    attn="self_attn",
    mlp="mlp",
    final_norm="model.norm",
    unembed="lm_head",
)

# model_type -> layout. Add a family by adding a row (and a tiny config in tiny.py to test it).
LAYOUTS: dict[str, FamilyLayout] = {
    "llama": _LLAMA_LIKE,
    "mistral": _LLAMA_LIKE,
    "qwen2": _LLAMA_LIKE,
    "qwen3": _LLAMA_LIKE,
    "gemma": _LLAMA_LIKE,
    "gemma2": _LLAMA_LIKE,
    "gemma3_text": _LLAMA_LIKE,
    "olmo2": _LLAMA_LIKE,
    "phi3": _LLAMA_LIKE,
    "gpt2": FamilyLayout(
        embed="transformer.wte",
        layers="transformer.h",
        attn="attn",
        mlp="mlp",
        final_norm="transformer.ln_f",
        unembed="lm_head",
    ),
}


@dataclass
class SiteMap:
    """The resolved modules of one loaded model."""

    family: str
    embed: nn.Module = field(repr=False)
    layers: nn.ModuleList = field(repr=False)
    final_norm: nn.Module = field(repr=False)
    unembed: nn.Module = field(repr=False)
    attn_name: str
    mlp_name: str
    from_table: bool

    @property
    def n_layers(self) -> int:
        return len(self.layers)

    def module(self, site: str, layer: int | None = None) -> nn.Module:
        """The module whose input (``resid_pre``) or output (all others) is the site."""
        check_site(site, layer, self.n_layers)
        if site == "embed":
            return self.embed
        if site == "final_norm":
            return self.final_norm
        if site == "unembed":
            return self.unembed
        block = self.layers[int(layer)]
        if site in ("resid_pre", "resid_post"):
            return block
        return getattr(block, self.attn_name if site == "attn_out" else self.mlp_name)


    def paths(self, model: nn.Module, layer: int = 0) -> dict[str, str]:
        """Canonical site -> dotted module path (layer sites shown for ``layer``)."""
        names = {id(m): n for n, m in model.named_modules()}
        return {s: names[id(self.module(s, layer if s in LAYER_SITES else None))] for s in SITES}


def check_site(site: str, layer: int | None, n_layers: int) -> None:
    """Raise a one-line error naming the valid choices."""
    if site not in SITES:
        raise LatentspaceError(f"unknown site {site!r}; valid sites: {', '.join(SITES)}")
    if site in LAYER_SITES:
        if layer is None:
            raise LatentspaceError(f"site {site!r} needs a layer: valid 0..{n_layers - 1}")
        try:
            layer = operator.index(layer)  # numpy / torch integers are fine, floats are not
        except TypeError:
            raise LatentspaceError(f"layer {layer!r} is not an integer: valid 0..{n_layers - 1}") from None
        if not 0 <= layer < n_layers:
            raise LatentspaceError(f"layer {layer} out of range for {site!r}: valid 0..{n_layers - 1}")


def _get(model: nn.Module, path: str) -> nn.Module | None:
    try:
        return model.get_submodule(path)
    except AttributeError:
        return None


def resolve(model: nn.Module) -> SiteMap:
    """Map the sites of ``model``: the family table first, a name-based search otherwise."""
    family = getattr(model.config, "model_type", "unknown")
    n_layers = model.config.get_text_config().num_hidden_layers
    layout = LAYOUTS.get(family)
    if layout is not None:
        parts = [_get(model, p) for p in (layout.embed, layout.layers, layout.final_norm, layout.unembed)]
        if all(p is not None for p in parts):
            site_map = SiteMap(family, *parts, layout.attn, layout.mlp, from_table=True)
            _validate(site_map, n_layers)
            return site_map
    site_map = _search(model, family, n_layers)
    _validate(site_map, n_layers)
    return site_map


def _search(model: nn.Module, family: str, n_layers: int) -> SiteMap:
    """Fallback for families not in the table: find the pieces by shape and name."""
    lists = [(n, m) for n, m in model.named_modules() if isinstance(m, nn.ModuleList) and len(m) == n_layers]
    if not lists:
        raise LatentspaceError(f"cannot find the {n_layers} transformer blocks of a {family!r} model")
    layers_name, layers = lists[0]
    parent = layers_name.rsplit(".", 1)[0] if "." in layers_name else ""
    norm = None
    for name in ("norm", "ln_f", "final_layernorm", "final_layer_norm", "norm_f"):
        norm = _get(model, f"{parent}.{name}" if parent else name)
        if norm is not None:
            break
    block_children = dict(layers[0].named_children())
    attn = next((n for n in block_children if "attn" in n or "attention" in n), None)
    mlp = next((n for n in block_children if n in ("mlp", "feed_forward", "ffn")), None)
    missing = [what for what, found in (("final norm", norm), ("attention", attn), ("mlp", mlp)) if found is None]
    if missing:
        raise LatentspaceError(f"cannot map sites of a {family!r} model: no {', '.join(missing)} found")
    return SiteMap(
        family, model.get_input_embeddings(), layers, norm, model.get_output_embeddings(), attn, mlp, from_table=False
    )


def _validate(site_map: SiteMap, n_layers: int) -> None:
    if site_map.n_layers != n_layers:
        raise LatentspaceError(f"{site_map.family}: found {site_map.n_layers} blocks, config says {n_layers}")
    for i, block in enumerate(site_map.layers):
        for name in (site_map.attn_name, site_map.mlp_name):
            if not hasattr(block, name):
                raise LatentspaceError(f"{site_map.family}: block {i} has no {name!r} module")


def rotary_module(model: nn.Module) -> nn.Module | None:
    """The model's rotary embedding module (None for absolute-position models like GPT-2): presses
    and recall re-rotate keys with it. HF names it ``rotary_emb`` in every rotary family."""
    return next((m for name, m in model.named_modules() if name.endswith("rotary_emb")), None)
