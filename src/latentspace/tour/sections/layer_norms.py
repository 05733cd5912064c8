"""Tour: how the residual stream's norm grows through the layers (recorded with hooks)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from latentspace.core.plots import figure, save
from latentspace.tour.section import SectionResult

if TYPE_CHECKING:  # the type only: no import at run time
    from latentspace.model.latent_model import LatentModel

PROMPT = "Latent space is where a language model does its thinking."


def layer_norms(lm: LatentModel, out: Path) -> SectionResult:
    sites = [("resid_post", i) for i in range(lm.n_layers)]
    rec = lm.record(PROMPT, sites)
    mean = [float(rec[s].norm(dim=-1)[0, 1:].mean()) for s in sites]  # position 0 is an outlier sink
    last = [float(rec[s].norm(dim=-1)[0, -1]) for s in sites]
    embed_norm = float(lm.input_embeddings.norm(dim=-1).mean())
    fig, ax = figure()
    ax.plot(range(lm.n_layers), mean, marker="o", ms=3, label="mean over positions (excl. first)")
    ax.plot(range(lm.n_layers), last, marker="s", ms=3, label="last position")
    ax.axhline(embed_norm, color="grey", ls="--", label="mean input-embedding norm")
    ax.set_xlabel("layer (resid_post)")
    ax.set_ylabel("L2 norm")
    ax.set_yscale("log")
    ax.legend(fontsize=8)
    image = save(fig, out / "layer_norms.png")
    rows = [{"layer": i, "mean_norm": round(m, 2), "last_norm": round(n, 2)} for i, (m, n) in enumerate(zip(mean, last))]
    summary = (f"Recorded resid_post at all {lm.n_layers} layers in one pass. The mean norm grows from "
               f"{mean[0]:.1f} (layer 0) to {mean[-1]:.1f} (layer {lm.n_layers - 1}); input embeddings average "
               f"{embed_norm:.2f} — why a hidden state must be aligned before it is fed back as input.")
    return SectionResult("Hidden-state norms per layer", summary, rows, [image], {"embed_norm": embed_norm})
