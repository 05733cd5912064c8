"""Tour: the logit lens — what each layer would predict, as a layer × position map."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from latentspace.lens import logit_lens
from latentspace.lens.decoding import read_vector
from latentspace.lens.maps import heatmap
from latentspace.tour.section import SectionResult

if TYPE_CHECKING:  # the type only: no import at run time
    from latentspace.model.latent_model import LatentModel

PROMPT = "The Eiffel Tower is located in the city of"
TARGET = " Paris"


def lens_map(lm: LatentModel, out: Path) -> SectionResult:
    reading = logit_lens(lm, PROMPT, target=TARGET)[0]
    image = heatmap(reading, lm.tokenizer, out / "logit_lens.png", f"logit lens · {lm.name}")
    tops = reading.top_tokens(lm.tokenizer)
    ranks = reading.target_rank[:, -1].tolist()
    first = next((layer for layer, r in zip(reading.layers, ranks) if r == 0), None)
    step = max(1, len(reading.layers) // 10)
    rows = [{"layer": layer, "top token (last position)": repr(tops[i][-1][0]),
             "p": round(float(reading.top_probs[i, -1, 0]), 3), f"rank of {TARGET!r}": ranks[i],
             "KL to final": round(float(reading.kl_to_final[i, -1]), 2)}
            for i, layer in enumerate(reading.layers) if i % step == 0 or i == len(reading.layers) - 1]
    token = lm.tokenizer.encode(TARGET, add_special_tokens=False)[0]
    patch = read_vector(lm, lm.input_embeddings[token])
    found = f"first becomes the top prediction at layer {first}" if first is not None else "never becomes top-1"
    summary = (f"Each layer's residual stream read through the model's own final norm (with that layer's own "
               f"statistics) and unembedding. For {PROMPT!r}, {TARGET!r} {found} of {lm.n_layers}; early layers "
               f"rank it around {ranks[0]}. Patchscope check: the bare embedding of {TARGET!r}, put in place of "
               f"'?' in an identity prompt, is read back as {patch.patchscope[0][0]!r} "
               f"(p={patch.patchscope[0][1]:.2f}).")
    return SectionResult("Logit lens", summary, rows, [image], {"target_rank": ranks, "patchscope": patch.to_dict()})
