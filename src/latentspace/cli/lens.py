"""`latentspace lens "text"` (read every layer) and `latentspace lens train` (fit a tuned lens)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from latentspace.cli.common import (DEFAULT, JsonOpt, ModelOpt, console, default_group, emit_json, literal,
                                    load_model, parse_ints, say, seed_option)
from latentspace.core import files
from latentspace.core.limits import MAX_TRAIN_BATCH

app = typer.Typer(cls=default_group("show"), no_args_is_help=True,
                  help='Logit / tuned lens. `latentspace lens "text"` reads every layer; `lens train` fits a tuned lens.')


@app.command("show")
def show(
    text: Annotated[str, typer.Argument(help="Text to read (the lens reads the prediction at each token).")],
    model: ModelOpt = DEFAULT,
    tuned: Annotated[Path | None, typer.Option(help="A tuned lens saved by `lens train`.")] = None,
    layers: Annotated[str | None, typer.Option(help="'all', '0,10,-1' or '20-29'.")] = None,
    positions: Annotated[str | None, typer.Option(help="Token positions: 'all', '-1' or '0,3,-2'.")] = None,
    k: Annotated[int, typer.Option("-k", min=1, max=50, help="Top-k tokens kept per cell.")] = 5,
    target: Annotated[str | None, typer.Option(help="Report this token's probability and rank.")] = None,
    png: Annotated[Path, typer.Option(help="Where to write the heatmap.")] = Path("lens.png"),
    html_out: Annotated[Path | None, typer.Option("--html", help="Also write a self-contained HTML view.")] = None,
    chat: Annotated[bool, typer.Option(help="Wrap the text in the chat template first.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Read every layer's residual stream through the model's own head.

    Examples: latentspace lens "The Eiffel Tower is in the city of" --target " Paris" ;
    latentspace lens "2 + 2 =" --layers 20-29 --positions -1 --json
    """
    from latentspace.lens import TunedLens, logit_lens
    from latentspace.lens.maps import heatmap, html_view
    from latentspace.core.plots import check_picture

    files.check_text(text, "text")
    check_picture(png, inputs=(tuned,))  # outputs first: a bad path costs nothing, and the path reported is the one written
    if html_out:
        files.check_output(html_out, "--html", inputs=(tuned, png))
    lm = load_model(model, quiet=json_out)
    lens = TunedLens.load(tuned, lm) if tuned else None
    reading = logit_lens(lm, text, layers=parse_ints(layers, "layer", lm.n_layers), positions=parse_ints(
        positions, "position"), k=k, target=target, tuned=lens, chat=chat)[0]
    title = f"{'tuned' if lens else 'logit'} lens · {lm.name}"
    image = heatmap(reading, lm.tokenizer, png, title)
    page = html_view(reading, lm.tokenizer, [image], html_out, title) if html_out else None
    if json_out:
        emit_json({"model": lm.name, "lens": "tuned" if lens else "logit", "png": str(image),
                   "html": str(page) if page else None, **reading.to_dict(lm.tokenizer)})
        return
    console.print(_table(reading, lm.tokenizer, title))
    if target is not None:
        say(f"target {target!r}: rank at the last position per layer {reading.target_rank[:, -1].tolist()}")
    say(f"heatmap: {image}" + (f"  html: {page}" if page else ""))


def _table(reading, tokenizer, title: str, max_positions: int = 10) -> Table:
    tops = reading.top_tokens(tokenizer)
    shown = list(range(len(reading.positions)))[-max_positions:]
    title += "" if len(shown) == len(reading.positions) else f" (last {len(shown)} positions)"
    table = Table(title=literal(title))
    table.add_column("layer", justify="right")
    for p in shown:
        table.add_column(literal(repr(reading.text_tokens[p])), overflow="fold")
    for li in reversed(range(len(reading.layers))):
        cells = [literal(f"{tops[li][p][0]!r} {float(reading.top_probs[li, p, 0]):.2f}") for p in shown]
        table.add_row(str(reading.layers[li]), *cells)
    return table


@app.command("train")
def train(
    out: Annotated[Path, typer.Option(help="Where to save the tuned lens (.safetensors).")],
    model: ModelOpt = DEFAULT,
    text: Annotated[Path | None, typer.Option(help="Training text file; default: text the model samples itself.")] = None,
    samples: Annotated[int, typer.Option(min=2, max=10_000, help="Self-sampled texts when no --text is given.")] = 32,
    steps: Annotated[int, typer.Option(min=1, max=1_000_000, help="Optimisation steps.")] = 200,
    seq_len: Annotated[int, typer.Option(min=4, max=1_000_000, help="Tokens per training window.")] = 64,
    batch_size: Annotated[int, typer.Option(min=1, max=MAX_TRAIN_BATCH, help="Windows per step.")] = 8,
    lr: Annotated[float, typer.Option(help="Adam learning rate (above 0).")] = 1e-3,
    layers_per_step: Annotated[int | None, typer.Option(min=1, max=100_000, help="Train a random subset of layers "
                                                       "per step (cheaper on large vocabularies).")] = None,
    seed: Annotated[int, seed_option("Data split and init seed.")] = 0,
    png: Annotated[Path | None, typer.Option(help="Also plot held-out KL per layer (logit vs tuned).")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Fit a tuned lens (one affine translator per layer) and report held-out KL per layer.

    Examples: latentspace lens train --out lens.safetensors --steps 100 ;
    latentspace lens train --out lens.safetensors --text corpus.txt --png kl.png
    """
    from latentspace.lens import TunedLensConfig, sample_text, train_tuned_lens
    from latentspace.lens.tuned_train import check_config
    from latentspace.lens.maps import layer_curves
    from latentspace.core.plots import check_picture

    # settings (their declared ranges), outputs and the text file, all before the model loads
    cfg = TunedLensConfig(steps=steps, seq_len=seq_len, batch_size=batch_size, lr=lr, seed=seed,
                          layers_per_step=layers_per_step)
    check_config(cfg)
    files.check_output(out, "--out", inputs=(text,))
    if png:
        check_picture(png, inputs=(text, out))
    corpus = files.read_text(text, "text file") if text is not None else None
    lm = load_model(model, quiet=json_out)
    check_config(cfg, lm)  # its context, before minutes of sampling
    if corpus is not None:
        texts = [t for t in corpus.split("\n\n") if t.strip()]
    else:
        with console.status(f"sampling {samples} training texts from {literal(lm.name)}"):
            texts = sample_text(lm, n_samples=samples, seed=seed)
    lens, report = train_tuned_lens(lm, texts, cfg, show_progress=not json_out)
    path = lens.save(out)
    if png:
        layer_curves({"logit lens": report.logit_kl, "tuned lens": report.tuned_kl}, png)
    if json_out:
        emit_json({"model": lm.name, "out": str(path), "png": str(png) if png else None, **report.to_dict()})
        return
    table = Table(title=f"held-out KL(final ‖ lens) per layer, {report.heldout_windows} windows")
    for col in ("layer", "logit lens", "tuned lens"):
        table.add_column(col, justify="right")
    for i, (a, b) in enumerate(zip(report.logit_kl, report.tuned_kl)):
        table.add_row(str(i), f"{a:.3f}", f"{b:.3f}")
    console.print(table)
    say(f"saved {path}" + (f"; plot {png}" if png else ""))
