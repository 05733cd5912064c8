"""Latent maps: pictures of what each layer and each latent step holds.

- `heatmap`: layers × positions, colour = probability of the lens's top token, text = that token;
- `layer_curves`: per-layer KL to the final distribution and entropy (logit vs tuned lens);
- `trajectory`: 2-D PCA of a sequence of latent vectors drawn among the token embeddings;
- `html_view`: a self-contained page (pictures embedded) with the lens table.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from latentspace.core import files
from latentspace.core.plots import figure, save

if TYPE_CHECKING:  # the type only: no import at run time
    from latentspace.model.latent_model import LatentModel


def _short(token: str, width: int = 7) -> str:
    token = "".join(c if c.isprintable() else repr(c)[1:-1] for c in token)  # \n, \x08... stay visible
    return token if len(token) <= width else token[: width - 1] + "…"


def heatmap(reading, tokenizer, path: Path, title: str = "logit lens") -> Path:
    """Layer × position map of the top token and its probability."""
    probs = reading.top_probs[:, :, 0].cpu().numpy()
    tops = reading.top_tokens(tokenizer)
    n_layers, n_pos = probs.shape
    fig, ax = figure(width=min(2 + 0.75 * n_pos, 24), height=min(1.5 + 0.3 * n_layers, 16))
    image = ax.imshow(probs, aspect="auto", origin="lower", cmap="Blues", vmin=0, vmax=1)
    for li in range(n_layers):
        for pi in range(n_pos):
            colour = "white" if probs[li, pi] > 0.6 else "black"
            ax.text(pi, li, _short(tops[li][pi][0]), ha="center", va="center", fontsize=6, color=colour)
    ax.set_xticks(range(n_pos), [_short(t, 9) for t in reading.text_tokens], rotation=60, fontsize=7)
    ax.set_yticks(range(n_layers), [str(layer) for layer in reading.layers], fontsize=6)
    ax.set_xlabel("input token (the lens reads the prediction made there)")
    ax.set_ylabel(f"layer ({reading.site})")
    ax.set_title(title)
    fig.colorbar(image, ax=ax, label="top-token probability")
    return save(fig, path)


def layer_curves(curves: dict[str, list[float]], path: Path, ylabel: str = "KL(final ‖ lens), nats") -> Path:
    """One line per named curve over layers (e.g. logit lens vs tuned lens KL)."""
    fig, ax = figure()
    for name, values in curves.items():
        ax.plot(range(len(values)), values, marker="o", ms=3, label=name)
    ax.set_xlabel("layer")
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=8)
    return save(fig, path)


def trajectory(lm: LatentModel, vectors: torch.Tensor, path: Path, labels: list[str] | None = None,
               n_background: int = 2000) -> Path:
    """PCA (fitted on token embeddings) of latent vectors ``[n, d]``, drawn over the embeddings."""
    emb = lm.input_embeddings.float().cpu()
    gen = torch.Generator().manual_seed(0)
    sample = emb[torch.randperm(len(emb), generator=gen)[:n_background]]
    mean = sample.mean(0)
    _, _, v = torch.pca_lowrank(sample - mean, q=2, center=False)
    background = (sample - mean) @ v
    points = (vectors.detach().float().cpu() - mean) @ v
    fig, ax = figure(5.5, 5)
    ax.scatter(background[:, 0], background[:, 1], s=3, color="#bbbbbb", label="token embeddings")
    ax.plot(points[:, 0], points[:, 1], "-o", color="#d1495b", ms=5, label="latent steps")
    for i, (x, y) in enumerate(points.tolist()):
        ax.annotate(labels[i] if labels else str(i), (x, y), fontsize=7, xytext=(3, 3), textcoords="offset points")
    ax.set_xlabel("PC 1 of token embeddings")
    ax.set_ylabel("PC 2")
    ax.legend(fontsize=8)
    return save(fig, path)


def html_view(reading, tokenizer, images: list[Path], path: Path, title: str = "latentspace lens") -> Path:
    """A self-contained page: the pictures and a layers × positions table of top tokens."""
    tops = reading.top_tokens(tokenizer)
    head = "".join(f"<th>{html.escape(t)}</th>" for t in reading.text_tokens)
    rows = []
    for li in reversed(range(len(reading.layers))):
        cells = "".join(
            f"<td style='background:rgba(59,110,168,{float(reading.top_probs[li, pi, 0]):.2f})'>"
            f"{html.escape(tops[li][pi][0])}<br><small>{float(reading.top_probs[li, pi, 0]):.2f}</small></td>"
            for pi in range(len(reading.positions)))
        rows.append(f"<tr><th>{reading.layers[li]}</th>{cells}</tr>")
    pictures = "".join(f'<img src="data:image/png;base64,{base64.b64encode(p.read_bytes()).decode()}">'
                       for p in images)
    page = (f"<!doctype html><meta charset=utf-8><title>{html.escape(title)}</title>"
            "<style>body{font-family:system-ui,sans-serif;margin:2em}table{border-collapse:collapse;font-size:.8em}"
            "td,th{border:1px solid #ccc;padding:2px 4px;text-align:center}img{max-width:100%}</style>"
            f"<h1>{html.escape(title)}</h1>{pictures}<table><tr><th>layer</th>{head}</tr>{''.join(rows)}</table>")
    return files.write_text(path, page, "HTML page")
