"""`latentspace steer ...`: train, apply, evaluate and export steering vectors."""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from latentspace.cli.common import (DEFAULT, JsonOpt, ModelOpt, console, emit_json, err_console, literal, load_model,
                                    parse_ints, say)
from latentspace.cli.options import STRENGTH_RANGE, finite, load_vector
from latentspace.core.errors import LatentspaceError
from latentspace.core.files import check_output, read_text
from latentspace.core.limits import MAX_NEW_TOKENS
from latentspace.names import STEER_METHODS, listed

app = typer.Typer(no_args_is_help=True, help="Steering vectors: find a concept's direction, then add or remove it.")

VectorArg = Annotated[Path, typer.Argument(help="A steering vector (.safetensors from `steer train`, or a .gguf).")]
PositionsOpt = Annotated[str, typer.Option(help="Where to steer: all, prompt or generated.")]
def _layers(spec: str | None, n_layers: int):
    """None -> the default (middle half); 'all' -> every layer; 'best'; or a list / range."""
    if spec is None:
        return None
    if spec.strip() == "best":
        return "best"
    if spec.strip().lower() == "all":
        return list(range(n_layers))
    return parse_ints(spec, "layer", n_layers)


@app.command("concepts")
def concepts_cmd(json_out: JsonOpt = False) -> None:
    """List the built-in concept sets (use a name as --pairs)."""
    from latentspace.steer.pairs import concepts, expand_spec

    rows = [{"name": n, "pairs": len(expand_spec(s, n)), "description": s.get("description", "")}
            for n, s in concepts().items()]
    if json_out:
        emit_json({"concepts": rows})
        return
    table = Table(title="built-in concept sets")
    for col in ("name", "pairs", "description"):
        table.add_column(col)
    for r in rows:
        table.add_row(literal(r["name"]), str(r["pairs"]), literal(r["description"]))
    console.print(table)


@app.command("train")
def train_cmd(
    out: Annotated[Path, typer.Option(help="Where to save the vector (.safetensors).")],
    pairs: Annotated[str | None, typer.Option(help="Built-in concept name, pairs .jsonl, or template spec .json.")] = None,
    model: ModelOpt = DEFAULT,
    method: Annotated[str, typer.Option(help=f"{listed(STEER_METHODS)}.")] = "mean_diff",
    layers: Annotated[str | None, typer.Option(help="'10-20', '8,12,16', 'all' or 'best' (default: middle half).")] = None,
    position: Annotated[str, typer.Option(help="Token(s) to read: last, mean or completion.")] = "last",
    from_probe: Annotated[Path | None, typer.Option(help="Read the direction from a probe file instead of pairs.")] = None,
    positive: Annotated[str | None, typer.Option(help="With --from-probe: the class to steer towards.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Find a concept's direction from contrastive pairs and save it.

    Example: latentspace steer train --pairs sentiment --method pca_center --layers 8-21 --out happy.safetensors
    """
    from latentspace.steer import from_probe as probe_vector
    from latentspace.steer import load_pairs, train_vector

    if (pairs is None) == (from_probe is None):
        raise LatentspaceError("give exactly one of --pairs (contrastive pairs) or --from-probe (a probe file)")
    if out.suffix != ".safetensors":
        raise LatentspaceError(f"--out {out.name}: save as .safetensors (export to llama.cpp with `steer export-gguf`)")
    check_output(out, "--out", inputs=(pairs, from_probe))  # a concept name is not a file: ignored
    data = None if from_probe else load_pairs(pairs)  # read (and check) the data before loading a model
    lm = load_model(model, quiet=json_out)
    if from_probe:
        layer = _layers(layers, lm.n_layers)
        if layer is not None and (layer == "best" or len(layer) != 1):
            raise LatentspaceError("a probe gives one layer's direction: --layers N (default: the probe's own layer)")
        vector = probe_vector(lm, from_probe, layer[0] if layer else None, positive)
    else:
        concept = pairs if not Path(pairs).exists() else Path(pairs).stem
        with err_console.status(f"reading {len(data)} pairs") if not json_out else nullcontext():
            vector = train_vector(lm, data, method=method, layers=_layers(layers, lm.n_layers), position=position,
                                  concept=concept)
    vector.save(out)
    info = {"out": str(out), "model": lm.name, "layers": vector.layers, "norms": vector.norms(), **{
        k: v for k, v in vector.meta.items() if k not in ("layers", "layer_scores")}}
    if json_out:
        emit_json({**info, "layer_scores": vector.meta.get("layer_scores")})
        return
    norms = ", ".join(f"{k}:{v:.1f}" for k, v in vector.norms().items())
    say(f"saved {out}: {vector.meta.get('method')} over {len(vector)} layer(s) "
                  f"from {vector.meta.get('n_pairs', '-')} pairs in {vector.meta.get('seconds', 0):.1f} s")
    console.print(f"[dim]norm per layer: {literal(norms)}[/dim]")


@app.command("apply")
def apply_cmd(
    vector: VectorArg,
    prompt: Annotated[str, typer.Argument(help="The prompt (a user message unless --raw).")],
    strength: Annotated[float, typer.Option("--strength", "-s", help="Multiple of the vector to add.",
                                            callback=finite, **STRENGTH_RANGE)] = 1.0,
    model: ModelOpt = DEFAULT,
    positions: PositionsOpt = "all",
    ablate: Annotated[bool, typer.Option("--ablate", help="Project the direction out instead of adding it.")] = False,
    max_tokens: Annotated[int, typer.Option("--max-tokens", "-n", min=1, max=MAX_NEW_TOKENS, help="Most new tokens.")] = 48,
    raw: Annotated[bool, typer.Option("--raw", help="Do not apply the chat template.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Generate with and without the vector, side by side (greedy, same prompt).

    Example: latentspace steer apply happy.safetensors --strength 0.3 "Tell me about your weekend."
    """
    from latentspace.steer import ablate as ablate_ctx

    lm = load_model(model, quiet=json_out)
    vec = load_vector(lm, vector)
    plain = lm.generate(prompt, max_new_tokens=max_tokens, chat=not raw)
    context = (ablate_ctx(lm, vec, positions=positions) if ablate
               else vec.apply(lm, strength, positions=positions, name=vector.name))
    with context:
        steered = lm.generate(prompt, max_new_tokens=max_tokens, chat=not raw)
    label = "ablated" if ablate else f"steered ({strength:+g})"
    if json_out:
        emit_json({"model": lm.name, "prompt": prompt, "vector": str(vector), "strength": None if ablate else strength,
                   "ablate": ablate, "positions": positions, "unsteered": plain, "steered": steered})
        return
    table = Table(title=literal(prompt), show_lines=True)
    table.add_column("unsteered", ratio=1)
    table.add_column(label, ratio=1)
    table.add_row(literal(plain.strip()), literal(steered.strip()))
    console.print(table)


@app.command("eval")
def eval_cmd(
    vector: VectorArg,
    strengths: Annotated[str, typer.Option(help="Comma-separated strengths to sweep.")] = "-0.6,-0.3,0.3,0.6",
    scorer: Annotated[str, typer.Option(help="vader, or probe:FILE[:CLASS] (a held-out probe).")] = "vader",
    prompts: Annotated[Path | None, typer.Option(help="Text file, one prompt per line (default: six neutral).")] = None,
    model: ModelOpt = DEFAULT,
    positions: PositionsOpt = "all",
    max_tokens: Annotated[int, typer.Option("--max-tokens", "-n", min=1, max=MAX_NEW_TOKENS,
                                            help="Tokens per completion.")] = 48,
    png: Annotated[Path | None, typer.Option(help="Write the effect/cost curves here.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Strength sweep: effect (scorer) and cost (perplexity ratio, repetition) per strength.

    Example: latentspace steer eval happy.safetensors --strengths -0.6,-0.3,0.3,0.6 --png sweep.png
    """
    from latentspace.steer.evaluate import NEUTRAL_PROMPTS, plot, sweep
    from latentspace.steer.scorers import get_scorer

    values = parse_strengths(strengths)
    if png:
        check_output(png, "--png", inputs=(vector, prompts))  # before the sweep, not after it
    texts = NEUTRAL_PROMPTS
    if prompts is not None:
        texts = [line.strip() for line in read_text(prompts, "prompts file").splitlines() if line.strip()]
        if not texts:
            raise LatentspaceError(f"prompts file {prompts.name} holds no prompt")
    lm = load_model(model, quiet=json_out)
    vec = load_vector(lm, vector)
    judge = get_scorer(lm, scorer)

    def progress(p) -> None:
        if not json_out:
            label = "unsteered" if p.strength is None else f"{p.strength:+g}"
            err_console.print(f"[dim]{label}: effect {p.effect:+.3f}, perplexity x{p.perplexity_ratio:.2f}[/dim]")

    points = sweep(lm, vec, values, judge, texts, max_tokens, positions, on_point=progress)
    if png:
        plot(points, png, f"{vector.name} on {lm.name}", judge.name)
    if json_out:
        emit_json({"model": lm.name, "vector": str(vector), "scorer": judge.name, "positions": positions,
                   "prompts": texts, "points": [p.to_dict() for p in points], "png": str(png) if png else None})
        return
    table = Table(title=literal(f"{vector.name}: {judge.name} effect vs cost over {len(texts)} prompts"))
    for col in ("strength", "effect", "perplexity", "ratio", "repetition", "sample"):
        table.add_column(col, justify="right" if col != "sample" else "left")
    for p in points:
        table.add_row("unsteered" if p.strength is None else f"{p.strength:+g}", f"{p.effect:+.3f}",
                      f"{p.perplexity:.2f}", f"{p.perplexity_ratio:.2f}", f"{p.repetition:.2f}",
                      literal(p.texts[0].strip().replace("\n", " ")[:60]))
    console.print(table)
    if png:
        say(f"wrote {png}")


def parse_strengths(spec: str) -> list[float]:
    """``-0.5,0.5`` -> finite numbers within the strength range, at least one."""
    try:
        values = [float(s) for s in spec.split(",") if s.strip()]
    except ValueError:
        raise LatentspaceError(f"--strengths {spec[:80]!r}: give numbers like -0.5,0.5") from None
    low, high = STRENGTH_RANGE["min"], STRENGTH_RANGE["max"]
    bad = [v for v in values if not low <= v <= high]  # NaN fails both comparisons
    if bad or not values:
        raise LatentspaceError(f"--strengths {spec[:80]!r}: give finite numbers in [{low:g}, {high:g}]")
    return values


@app.command("export-gguf")
def export_cmd(vector: VectorArg, out: Annotated[Path, typer.Argument(help="The .gguf to write.")],
               model: ModelOpt = DEFAULT,
               layers: Annotated[str | None, typer.Option(help="Export only these layers (llama.cpp skips 0).")] = None,
               json_out: JsonOpt = False) -> None:
    """Write a llama.cpp control vector (use with llama-cli --control-vector FILE).

    Example: latentspace steer export-gguf happy.safetensors happy.gguf
    """
    from latentspace.steer import export_gguf

    check_output(out, "control vector", inputs=(vector,), suffix=".gguf")
    lm = load_model(model, quiet=json_out)
    vec = load_vector(lm, vector)
    chosen = _layers(layers, lm.n_layers)
    if chosen == "best":
        raise LatentspaceError("--layers: give layers to export, not 'best'")
    vec = vec.select(chosen) if chosen else vec
    path = export_gguf(vec, out, lm.config.model_type)
    if json_out:
        emit_json({"out": str(path), "model": lm.name, "layers": vec.layers, "model_hint": lm.config.model_type})
        return
    say(f"wrote {path} (llama.cpp: --control-vector-scaled {path.name} STRENGTH)")


@app.command("import-gguf")
def import_cmd(gguf_file: Annotated[Path, typer.Argument(help="A llama.cpp control vector .gguf.")],
               out: Annotated[Path, typer.Argument(help="The .safetensors to write.")],
               model: ModelOpt = DEFAULT, json_out: JsonOpt = False) -> None:
    """Read a llama.cpp control vector (ours or another tool's) into our format."""
    from latentspace.steer import import_gguf

    check_output(out, "output vector", inputs=(gguf_file,), suffix=".safetensors")
    lm = load_model(model, quiet=json_out)
    vector = import_gguf(gguf_file, lm)
    vector.save(out)
    if json_out:
        emit_json({"out": str(out), "model": lm.name, "layers": vector.layers, "norms": vector.norms()})
        return
    say(f"wrote {out}: {len(vector)} layer(s) {vector.layers}")
