"""`latentspace bridge`: maps between two models' hidden spaces (fit, eval, transfer)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from latentspace import files
from latentspace.cli.common import DEFAULT, JsonOpt, console, emit_json, err_console, load_model, seed_option
from latentspace.errors import LatentspaceError

app = typer.Typer(no_args_is_help=True, help="Cross-model bridges: maps between two models' hidden spaces.")

SharerOpt = Annotated[str, typer.Option("--sharer", "-s", help="The model whose states are mapped (registry name, "
                                                               "folder or .gguf).")]
ReceiverOpt = Annotated[str, typer.Option("--receiver", "-r", help="The model they are mapped into.")]
TextsOpt = Annotated[int, typer.Option("--texts", min=2, max=10_000, help="Texts to sample, half by each model "
                                                                          "(temperature 1).")]
TokensOpt = Annotated[int, typer.Option(min=8, max=1024, help="Tokens per sampled text.")]
TextFileOpt = Annotated[Path | None, typer.Option(help="Read these texts instead (one per line, UTF-8).")]


def quality_table(title: str, quality: dict) -> Table:
    table = Table(title=title)
    for col in ("sharer:receiver block", "R²", "cosine (centred)", "pairs"):
        table.add_column(col)
    for pair, q in quality.items():
        table.add_row(pair, f"{q['r2']:.3f}", f"{q['cosine']:.3f}", str(q["n"]))
    return table


def texts_for(sharer, receiver, n: int, tokens: int, text_file: Path | None, seed: int) -> list[str]:
    from latentspace.bridge.texts import self_sampled
    from latentspace.bridge.texts import text_file as read_lines

    if text_file is not None:
        return read_lines(text_file)
    with err_console.status(f"sampling {n} texts of {tokens} tokens"):
        return self_sampled(sharer, receiver, n, tokens, seed)


@app.command("fit")
def fit(
    sharer: SharerOpt = DEFAULT,
    receiver: ReceiverOpt = "gemma3-270m",
    out: Annotated[Path, typer.Option(help="Save the map here (.safetensors).")] = Path("bridge.safetensors"),
    method: Annotated[str, typer.Option(help="ridge, affine (least squares) or procrustes (orthogonal, after "
                                             "standardising).")] = "ridge",
    l2: Annotated[float, typer.Option(min=0, max=1e6, help="Ridge penalty, relative to the data's scale.")] = 1e-2,
    layers: Annotated[str, typer.Option(help="'auto' (a quarter, half, three quarters and the last block, paired "
                                             "by relative depth) or SHARER:RECEIVER,... block pairs.")] = "auto",
    texts: TextsOpt = 64,
    tokens: TokensOpt = 96,
    text_file: TextFileOpt = None,
    heldout: Annotated[float, typer.Option(min=0, max=0.9, help="Share of texts held out for the check.")] = 0.2,
    seed: Annotated[int, seed_option("Seed of the sampled texts and of the held-out split.")] = 0,
    json_out: JsonOpt = False,
) -> None:
    """Fit a map from the sharer's hidden states to the receiver's on texts both read.

    The two tokenizations are aligned by characters; where both end a token at the same character
    the two block outputs describe the same prefix and form a pair. The held-out texts' R² says
    how much of the receiver's state the map predicts.

    Example: latentspace bridge fit -s smollm2-135m -r gemma3-270m --method procrustes --out smol-to-gemma.safetensors
    """
    from latentspace.bridge import METHODS, fit_map, layer_pairs

    if method not in METHODS:
        raise LatentspaceError(f"--method: {method[:40]!r} is not one of {', '.join(METHODS)}")
    out = files.check_output(out, "--out", inputs=(text_file,))
    a = load_model(sharer, quiet=json_out)
    b = load_model(receiver, quiet=json_out)
    pairs = layer_pairs(layers, a.n_layers, b.n_layers)
    chosen = texts_for(a, b, texts, tokens, text_file, seed)
    with err_console.status("aligning and reading both models"):
        bridge = fit_map(a, b, chosen, pairs, method, l2, heldout, seed)
    bridge.save(out)
    if json_out:
        emit_json({"out": str(out), **bridge.meta})
        return
    console.print(quality_table(f"{a.name} -> {b.name}, {method}, {len(chosen)} texts "
                                f"({bridge.meta['pairs']} aligned pairs), held out", bridge.meta["heldout"]))
    console.print(f"[dim]saved {out}[/dim]")


@app.command("eval")
def evaluate(
    path: Annotated[Path, typer.Argument(help="A map saved by `bridge fit`.")],
    sharer: SharerOpt = DEFAULT,
    receiver: ReceiverOpt = "gemma3-270m",
    texts: TextsOpt = 32,
    tokens: TokensOpt = 96,
    text_file: TextFileOpt = None,
    seed: Annotated[int, seed_option("Seed of the fresh texts (use another than the fit's).")] = 1,
    json_out: JsonOpt = False,
) -> None:
    """Score a saved map on fresh texts: R² and centred cosine per block pair.

    Example: latentspace bridge eval smol-to-gemma.safetensors -s smollm2-135m -r gemma3-270m --seed 7
    """
    from latentspace.bridge import HiddenMap, fit_quality, paired_states

    if not path.is_file():
        raise LatentspaceError(f"no bridge map at {path}")
    a = load_model(sharer, quiet=json_out)
    b = load_model(receiver, quiet=json_out)
    bridge = HiddenMap.load(path, a.fingerprint, b.fingerprint)
    chosen = texts_for(a, b, texts, tokens, text_file, seed)
    with err_console.status("aligning and reading both models"):
        paired = paired_states(a, b, chosen, bridge.pairs())
    quality = {f"{s}:{r}": fit_quality(m, paired.sharer[s], paired.receiver[r]) for (s, r), m in bridge.layers.items()}
    if json_out:
        emit_json({"map": str(path), "method": bridge.meta.get("method"), "texts": len(chosen), "quality": quality})
        return
    console.print(quality_table(f"{path.name} on {len(chosen)} fresh texts", quality))


@app.command("transfer")
def transfer(
    path: Annotated[Path, typer.Argument(help="A map saved by `bridge fit`.")],
    vector: Annotated[Path, typer.Argument(help="A steering vector of the sharer (`steer train --out`).")],
    out: Annotated[Path, typer.Option(help="Save the moved vector here (.safetensors).")],
    sharer: SharerOpt = DEFAULT,
    receiver: ReceiverOpt = "gemma3-270m",
    json_out: JsonOpt = False,
) -> None:
    """Move a steering vector from the sharer to the receiver through a map (each mapped block).

    Example: latentspace bridge transfer smol-to-gemma.safetensors happy.safetensors --out happy-gemma.safetensors
    """
    from latentspace.bridge import HiddenMap
    from latentspace.bridge.transfer import move_vector
    from latentspace.steer.vector import SteeringVector

    for flag, given in (("map", path), ("vector", vector)):
        if not given.is_file():
            raise LatentspaceError(f"{flag}: no file {given}")
    out = files.check_output(out, "--out", inputs=(path, vector))
    a = load_model(sharer, quiet=json_out)
    b = load_model(receiver, quiet=json_out)
    bridge = HiddenMap.load(path, a.fingerprint, b.fingerprint)
    moved = move_vector(SteeringVector.load(vector, a), bridge)
    moved.save(out)
    summary = {"out": str(out), "receiver_blocks": sorted(moved.directions), **moved.meta["moved"],
               "norms": {str(k): float(v.norm()) for k, v in moved.directions.items()}}
    if json_out:
        emit_json(summary)
        return
    console.print(f"moved {vector.name} to {b.name} blocks {summary['receiver_blocks']} "
                  f"({summary['method']} map): saved {out}")
