"""`latentspace probe fit`: linear probes per layer, with a shuffled-label control."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from latentspace.cli.common import (DEFAULT, JsonOpt, ModelOpt, console, emit_json, literal, load_model, parse_ints,
                                    say, seed_option)
from latentspace.core import files
from latentspace.core.errors import LatentspaceError

app = typer.Typer(no_args_is_help=True, help="Linear probes on recorded activations.")


def read_jsonl(path: Path) -> tuple[list[str], list]:
    """Texts and labels from JSONL lines ``{"text": ..., "label": ...}``."""
    texts, labels = [], []
    for n, line in enumerate(files.read_text(path, "data file").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            text, label = row["text"], row["label"]
        except (json.JSONDecodeError, KeyError, TypeError, IndexError):
            raise LatentspaceError(f"{path.name} line {n}: expected {{\"text\": ..., \"label\": ...}}") from None
        if not isinstance(text, str) or not text.strip():
            raise LatentspaceError(f"{path.name} line {n}: text must be a non-empty string")
        texts.append(files.check_text(text, f"{path.name} line {n}: text"))
        labels.append(label)
    if not texts:
        raise LatentspaceError(f"{path.name} holds no examples")
    return texts, labels


@app.command("fit")
def fit(
    data: Annotated[Path, typer.Option(help='JSONL, one {"text": ..., "label": ...} per line (numbers -> ridge).')],
    out: Annotated[Path | None, typer.Option(help="Save the best layer's probe here (.safetensors).")] = None,
    model: ModelOpt = DEFAULT,
    site: Annotated[str, typer.Option(help="resid_post, resid_pre, attn_out or mlp_out.")] = "resid_post",
    layers: Annotated[str | None, typer.Option(help="'all', '0,10,-1' or '5-15'.")] = None,
    position: Annotated[str, typer.Option(help="'last' token or 'mean' over tokens.")] = "last",
    task: Annotated[str, typer.Option(help="auto, classification or regression.")] = "auto",
    seed: Annotated[int, seed_option("Split seed.")] = 0,
    png: Annotated[Path | None, typer.Option(help="Plot test and control score per layer.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Fit one linear probe per layer; report held-out score next to a shuffled-label control.

    Example: latentspace probe fit --data sentiment.jsonl --position mean --out probe.safetensors
    """
    from latentspace.lens.maps import layer_curves
    from latentspace.lens.probes import probe_layers, probe_task
    from latentspace.core.plots import check_picture

    # every input and output checked before the model loads: a bad one costs nothing
    if out:
        files.check_output(out, "--out", inputs=(data,))
    if png:
        check_picture(png, inputs=(data, out))
    if position not in ("last", "mean"):
        raise LatentspaceError(f"--position must be 'last' or 'mean', not {position[:80]!r}")
    texts, labels = read_jsonl(data)
    task = probe_task(labels, task)
    lm = load_model(model, quiet=json_out)
    scores, probe, best = probe_layers(lm, texts, labels, site, parse_ints(layers, "layer", lm.n_layers),
                                       position, task, seed)
    if out:
        probe.save(out, lm.fingerprint, {"layer": best, "site": site, "position": position, "data": data.name})
    if png:
        layer_curves({"held-out": [s.test for s in scores], "shuffled-label control": [s.control for s in scores]},
                     png, ylabel="accuracy" if scores[0].task == "classification" else "R²")
    if json_out:
        emit_json({"model": lm.name, "best_layer": best, "out": str(out) if out else None,
                   "scores": [s.to_dict() for s in scores]})
        return
    table = Table(title=literal(f"{scores[0].task} probes on {site} ({position} token), {scores[0].n_test} held out"))
    for col in ("layer", "train", "held-out", "control"):
        table.add_column(col, justify="right")
    for s in scores:
        style = "bold" if s.layer == best else None
        table.add_row(str(s.layer), f"{s.train:.3f}", f"{s.test:.3f}", f"{s.control:.3f}", style=style)
    console.print(table)
    say(f"best layer {best}" + (f"; saved {out}" if out else ""))
