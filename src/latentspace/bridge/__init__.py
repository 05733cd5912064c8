"""Cross-model latent communication: token alignment, maps between hidden spaces, moving vectors.

    from latentspace.bridge import fit_map, layer_pairs, HiddenMap
    pairs = layer_pairs("auto", a.n_layers, b.n_layers)
    bridge = fit_map(a, b, texts, pairs, method="procrustes")
    bridge.save("a-to-b.safetensors")
"""

from latentspace.bridge.align import Alignment, align, align_text, token_spans
from latentspace.bridge.fit import METHODS, fit_map, fit_pairs
from latentspace.bridge.hidden_map import HiddenMap, LayerMap, fit_quality
from latentspace.bridge.layers import layer_pairs, proportional
from latentspace.bridge.pairs import Paired, paired_states

__all__ = ["Alignment", "HiddenMap", "LayerMap", "METHODS", "Paired", "align", "align_text", "fit_map",
           "fit_pairs", "fit_quality", "layer_pairs", "paired_states", "proportional", "token_spans"]
