"""`latentspace bridge`: maps between two models' hidden spaces (fit, eval, transfer)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from latentspace.cli.common import (DEFAULT, JsonOpt, console, emit_json, err_console, literal, load_model, say,
                                    seed_option)
from latentspace.core import files
from latentspace.core.errors import LatentspaceError
from latentspace.core.limits import MAX_BATCH

app = typer.Typer(no_args_is_help=True, help="Cross-model bridges: maps between two models' hidden spaces.")

SharerOpt = Annotated[str, typer.Option("--sharer", "-s", help="The model whose states are mapped (registry name, "
                                                               "folder or .gguf).")]
ReceiverOpt = Annotated[str, typer.Option("--receiver", "-r", help="The model they are mapped into.")]
TextsOpt = Annotated[int, typer.Option("--texts", min=2, max=10_000, help="Texts to sample, half by each model "
                                                                          "(temperature 1).")]
TokensOpt = Annotated[int, typer.Option(min=8, max=1024, help="Tokens per sampled text.")]
TextFileOpt = Annotated[Path | None, typer.Option(help="Read these texts instead (one per line, UTF-8).")]


def quality_table(title: str, quality: dict) -> Table:
    table = Table(title=literal(title))
    for col in ("sharer:receiver block", "R²", "cosine (centred)", "pairs"):
        table.add_column(col)
    for pair, q in quality.items():
        table.add_row(literal(pair), f"{q['r2']:.3f}", f"{q['cosine']:.3f}", str(q["n"]))
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
                                             "by relative depth) or SHARER:RECEIVER,... block pairs; RECEIVER -1 is "
                                             "the receiver's inputs (a map an agents pipeline hands over "
                                             "through: docs/agents.md).")] = "auto",
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
    console.print(f"[dim]saved {literal(out)}[/dim]")


@app.command("eval")
def evaluate(
    path: Annotated[Path, typer.Argument(help="A map saved by `bridge fit`.")],
    sharer: SharerOpt = DEFAULT,
    receiver: ReceiverOpt = "gemma3-270m",
    texts: TextsOpt = 32,
    tokens: TokensOpt = 96,
    text_file: TextFileOpt = None,
    n: Annotated[int, typer.Option("--n", min=1, max=100_000, help="Facts to answer (a fuser folder).")] = 100,
    seed: Annotated[int, seed_option("Seed of the fresh texts or facts (use another than the fit's).")] = 1,
    json_out: JsonOpt = False,
) -> None:
    """Score a saved map on fresh texts (R² and centred cosine per block pair), or a trained fuser
    (a `bridge train` folder) on fresh facts beside the receiver alone and the receiver reading them.

    Example: latentspace bridge eval smol-to-gemma.safetensors -s smollm2-135m -r gemma3-270m --seed 7
    """
    from latentspace.bridge import HiddenMap, fit_quality, paired_states

    if path.is_dir():
        evaluate_fuser(path, sharer, receiver, n, seed, json_out)
        return
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
    say(f"moved {vector.name} to {b.name} blocks {summary['receiver_blocks']} "
                  f"({summary['method']} map): saved {out}")


def evaluate_fuser(folder: Path, sharer: str, receiver: str, n: int, seed: int, json_out: bool) -> None:
    from latentspace.bridge.fused import fused_answers
    from latentspace.bridge.fuser import CacheFuser
    from latentspace.tasks.facts import make_facts

    if not (folder / "fuser.safetensors").is_file():
        raise LatentspaceError(f"{folder} holds no fuser.safetensors (train one with `latentspace bridge train --out`)")
    from latentspace.core.saved import header_json, read_header

    saved = header_json(read_header(folder / "fuser.safetensors", "cache fuser"), "meta",
                           folder / "fuser.safetensors", default={})
    if isinstance(saved, dict) and isinstance(saved.get("config"), dict) and seed == saved["config"].get("seed"):
        raise LatentspaceError(f"--seed {seed}: those are the facts this fuser was trained on; give another seed")
    a = load_model(sharer, quiet=json_out)
    b = load_model(receiver, quiet=json_out)
    fuser, _ = CacheFuser.load(folder / "fuser.safetensors", a.fingerprint, b.fingerprint)
    facts = make_facts(n, seed=seed)
    with err_console.status(f"answering {n} facts"):
        fused = fused_answers(a, b, fuser, [f.prompt(True) for f in facts], [f.prompt(False) for f in facts], 12)
        ids, mask = b.tokenize([f.prompt(False) for f in facts])
        alone = b.decode(b.encode(ids, attention_mask=mask), max_new_tokens=12).texts
    summary = {"fuser": str(folder), "n": n, "seed": seed,
               "fused_accuracy": sum(f.check(t) for f, (t, _) in zip(facts, fused)) / n,
               "receiver_alone_accuracy": sum(f.check(t) for f, t in zip(facts, alone)) / n,
               "gates_open": int(fuser.gates().sum()), "layers": len(fuser.shape.pairs)}
    if json_out:
        emit_json(summary)
        return
    say(f"{b.name} answering {n} facts it never read: {100 * summary['fused_accuracy']:.1f}% through the "
                  f"fused cache of {a.name}, {100 * summary['receiver_alone_accuracy']:.1f}% alone "
                  f"({summary['gates_open']}/{summary['layers']} gates open)")


@app.command("train")
def train(
    sharer: SharerOpt = DEFAULT,
    receiver: ReceiverOpt = "gemma3-270m",
    out: Annotated[Path, typer.Option(help="Run folder: fuser.safetensors, the optimizer, progress.json (a rerun "
                                           "resumes).")] = Path("runs/bridge-fuser"),
    examples: Annotated[int, typer.Option(min=1, max=1_000_000, help="Training facts (task `facts`: the sharer "
                                                                     "reads them, the receiver only the question).")] = 2000,
    steps: Annotated[int, typer.Option(min=1, max=1_000_000, help="Optimizer steps.")] = 800,
    batch_size: Annotated[int, typer.Option(min=1, max=MAX_BATCH, help="Examples per step.")] = 16,
    lr: Annotated[float, typer.Option(min=1e-8, max=1.0, help="AdamW learning rate.")] = 1e-3,
    hidden: Annotated[int, typer.Option(min=1, max=65_536, help="Width of each projector's MLP.")] = 256,
    seed: Annotated[int, seed_option("Seed of the training facts, batches and gate noise.")] = 0,
    json_out: JsonOpt = False,
) -> None:
    """Train a C2C-style cache fuser: the receiver answers from its cache enriched by the sharer's.

    Only the fuser learns (both models frozen), with the receiver's next-token loss on the answer.
    Every receiver layer gets a K and a V projector and a gate (Gumbel-sigmoid while training, hard
    after). Evaluate with `latentspace bridge eval OUT`.

    Example: latentspace bridge train -s smollm2-135m -r gemma3-270m --steps 800 --out runs/smol-to-gemma
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from latentspace.bridge.fuser_train import Example, FuserConfig, train_fuser
    from latentspace.tasks.facts import make_facts

    if out.parent == Path("runs"):
        Path("runs").mkdir(exist_ok=True)  # the default's home, made as `train run` makes it
    out = files.check_output(out, "--out", folder=True)
    config = FuserConfig(steps=steps, batch_size=batch_size, lr=lr, hidden=hidden, seed=seed)
    a = load_model(sharer, quiet=json_out)
    b = load_model(receiver, quiet=json_out)
    train_set = [Example(f.prompt(True), f.prompt(False), " " + f.answer) for f in make_facts(examples, seed=seed)]
    columns = (TextColumn("fuser"), BarColumn(), MofNCompleteColumn(), TextColumn("loss {task.fields[loss]}"),
               TimeRemainingColumn())
    with Progress(*columns, disable=json_out, transient=True, console=err_console) as bar:
        task = bar.add_task("steps", total=steps, loss="-")
        fuser, losses = train_fuser(a, b, train_set, config, out=out,
                                    progress=lambda step, loss: bar.update(task, completed=step, loss=f"{loss:.3f}"))
    summary = {"out": str(out), "steps": steps, "examples": examples, "loss_first": losses[0] if losses else None,
               "loss_last": losses[-1] if losses else None, "params": fuser.parameter_count(),
               "gates_open": int(fuser.gates().sum()), "layers": len(fuser.shape.pairs)}
    if json_out:
        emit_json(summary)
        return
    say(f"trained {summary['params']:,} fuser parameters ({summary['gates_open']}/{summary['layers']} gates "
                  f"open), loss {summary['loss_first']:.3f} -> {summary['loss_last']:.3f}: {out}")
