"""`latentspace memory ...`: a persistent store of encoded documents (KV caches), recalled instantly."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from latentspace.cli.common import DEFAULT, JsonOpt, ModelOpt, console, emit_json, load_model
from latentspace.errors import LatentspaceError

app = typer.Typer(help="Remember documents as KV caches: encode once, recall in any later session.",
                  no_args_is_help=True)

StoreOpt = Annotated[Path | None, typer.Option("--store", help="Store directory (default: $LATENTSPACE_HOME/memory).")]
PressOpt = Annotated[str | None, typer.Option("--press", help="Compress the stored cache with this press "
                                              "(knorm, keydiff, streaming, snapkv, tova, h2o, expected_attention, surprisal).")]
RatioOpt = Annotated[float, typer.Option("--ratio", help="Share of the cache the press drops, in [0, 1).")]


def open_store(store: Path | None):
    from latentspace.memory.store import MemoryStore
    from latentspace.model.bundled import home

    return MemoryStore(store or home() / "memory")


def make_press(name: str | None, ratio: float):
    if name is None:
        return None
    from latentspace.memory.presses import get_press

    return get_press(name, ratio)


def parse_size(text: str) -> int:
    """'500MB', '2 GiB', '1000000' -> bytes."""
    found = re.fullmatch(r"\s*([\d.]+)\s*([kmgt]?i?b?)\s*", text.lower())
    if not found:
        raise LatentspaceError(f"bad size {text!r}: use e.g. 500MB or 2GiB")
    units = {"": 1, "b": 1, "k": 1e3, "kb": 1e3, "kib": 2**10, "m": 1e6, "mb": 1e6, "mib": 2**20,
             "g": 1e9, "gb": 1e9, "gib": 2**30, "t": 1e12, "tb": 1e12, "tib": 2**40}
    if found.group(2) not in units:
        raise LatentspaceError(f"bad size unit in {text!r}")
    return int(float(found.group(1)) * units[found.group(2)])


@app.command()
def add(
    file: Annotated[Path, typer.Argument(help="A text file to remember ('-' reads stdin).")],
    model: ModelOpt = DEFAULT,
    store: StoreOpt = None,
    press: PressOpt = None,
    ratio: RatioOpt = 0.5,
    tag: Annotated[list[str] | None, typer.Option("--tag", help="Tag (repeatable).")] = None,
    title: Annotated[str | None, typer.Option(help="Title (default: the first line).")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Encode a document once and store its KV cache (optionally compressed) and retrieval key.

    Example: latentspace memory add notes.txt --tag project --press knorm --ratio 0.5
    """
    import sys

    if str(file) == "-":
        text, source = sys.stdin.read(), "stdin"
    else:
        if not file.is_file():
            raise LatentspaceError(f"no such file: {file}")
        try:
            text, source = file.read_text(encoding="utf-8"), str(file)
        except UnicodeDecodeError:
            raise LatentspaceError(f"{file} is not UTF-8 text") from None
    the_press = make_press(press, ratio)
    the_store = open_store(store)
    lm = load_model(model, quiet=json_out)
    info = the_store.add(lm, text, title=title, source=source, tags=tag or (), press=the_press)
    if json_out:
        emit_json(info.as_dict())
    else:
        console.print(f"remembered [bold]{info.id}[/bold] {info.title!r}: {info.tokens} tokens -> "
                      f"{info.slots} slots ({info.press or 'uncompressed'}), {info.bytes / 1e6:.1f} MB")


@app.command("list")
def list_(
    store: StoreOpt = None,
    tag: Annotated[list[str] | None, typer.Option("--tag", help="Only memories with this tag (repeatable).")] = None,
    json_out: JsonOpt = False,
) -> None:
    """List stored memories."""
    the_store = open_store(store)
    infos = the_store.list(tag or ())
    if json_out:
        emit_json({"store": str(the_store.root), "memories": [i.as_dict() for i in infos],
                   "bytes": sum(i.bytes for i in infos), "budget": the_store.budget()})
        return
    if not infos:
        console.print(f"no memories in {the_store.root}")
        return
    table = Table("id", "title", "tags", "model", "tokens", "slots", "press", "MB")
    for i in infos:
        table.add_row(i.id, i.title, ",".join(i.tags), i.model_name, str(i.tokens), str(i.slots), i.press or "-",
                      f"{i.bytes / 1e6:.1f}")
    console.print(table)


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="What to look for.")],
    model: ModelOpt = DEFAULT,
    store: StoreOpt = None,
    k: Annotated[int, typer.Option("-k", min=1, help="How many memories.")] = 3,
    json_out: JsonOpt = False,
) -> None:
    """The memories whose retrieval keys are closest to the query (cosine)."""
    the_store = open_store(store)
    if not the_store.list():
        raise LatentspaceError(f"the memory store {the_store.root} is empty; add a document with "
                               "`latentspace memory add FILE`")
    lm = load_model(model, quiet=json_out)
    found = the_store.search(lm, query, k)
    if json_out:
        emit_json([{**info.as_dict(), "score": round(score, 4)} for info, score in found])
        return
    for info, score in found:
        console.print(f"{score:.3f}  [bold]{info.id}[/bold]  {info.title}")


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="The question.")],
    model: ModelOpt = DEFAULT,
    store: StoreOpt = None,
    memory: Annotated[list[str] | None, typer.Option("--memory", help="Recall this memory id (repeatable; "
                                                     "default: the best match).")] = None,
    k: Annotated[int, typer.Option("-k", min=1, help="Recall the k best matches (without --memory).")] = 1,
    max_tokens: Annotated[int, typer.Option("--max-tokens", "-n", min=1, help="Most new tokens.")] = 64,
    json_out: JsonOpt = False,
) -> None:
    """Answer from remembered documents without re-reading them.

    Example: latentspace memory ask "Who wrote the report?" -k 2
    """
    import time

    the_store = open_store(store)
    if not the_store.list():
        raise LatentspaceError(f"the memory store {the_store.root} is empty; add a document with "
                               "`latentspace memory add FILE`")
    lm = load_model(model, quiet=json_out)
    started = time.perf_counter()
    answer = the_store.ask(lm, question, memory or (), k=k, max_new_tokens=max_tokens)
    data = {"question": question, "answer": answer.text, "memories": answer.memories,
            "prompt_tokens": answer.prompt_tokens, "output_tokens": answer.output_tokens,
            "seconds": round(time.perf_counter() - started, 3)}
    if json_out:
        emit_json(data)
    else:
        console.print(answer.text, highlight=False)
        console.print(f"[dim]from {', '.join(answer.memories)}; {answer.output_tokens} tokens, "
                      f"{data['seconds']:.2f} s[/dim]")


@app.command()
def rm(
    memory_id: Annotated[str, typer.Argument(help="Memory id (or a unique prefix).")],
    store: StoreOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Delete a memory."""
    info = open_store(store).remove(memory_id)
    if json_out:
        emit_json({"removed": info.id})
    else:
        console.print(f"removed {info.id} {info.title!r}")


@app.command()
def gc(
    store: StoreOpt = None,
    max_size: Annotated[str | None, typer.Option("--max-size", help="Set the size budget (e.g. 500MB); "
                                                 "least recently used memories go first. 0 = no budget.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Verify every blob, remove damaged memories and stray files, enforce the size budget."""
    the_store = open_store(store)
    if max_size is not None:
        size = parse_size(max_size)
        the_store.set_budget(size or None)
    report = the_store.gc()
    report |= {"bytes": the_store.size(), "budget": the_store.budget()}
    if json_out:
        emit_json(report)
    else:
        console.print(f"damaged: {len(report['damaged'])}, stray files: {len(report['stray_files'])}, "
                      f"evicted: {len(report['evicted'])}; {report['bytes'] / 1e6:.1f} MB in use"
                      + (f" of {report['budget'] / 1e6:.1f} MB" if report["budget"] else ""))
