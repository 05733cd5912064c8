"""`latentspace memory ...`: a persistent store of encoded documents (KV caches), recalled instantly.

Only `add` creates a store. The default store ($LATENTSPACE_HOME/memory) is made by the first `add`
and, until then, is simply empty: `list` and `gc` report nothing, `search`/`ask`/`rm` find nothing. A
--store path that does not exist is an error (most likely a typo). Everything printed for people
passes through `shown` (a stored title may hold terminal escapes); --json keeps the values.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Annotated

import typer

from latentspace.cli.common import DEFAULT, JsonOpt, ModelOpt, console, emit_json, load_model
from latentspace.cli.options import PressOpt, RatioOpt, make_press
from latentspace.core.errors import LatentspaceError

app = typer.Typer(help="Remember documents as KV caches: encode once, recall in any later session.",
                  no_args_is_help=True)

StoreOpt = Annotated[str | None, typer.Option("--store", help="Store directory (default: $LATENTSPACE_HOME/memory).")]
LockOpt = Annotated[float, typer.Option("--lock-timeout", min=0.0, max=86400.0,
                                        help="Seconds to wait for another writer of the store.")]
KOpt = 1000  # the most memories one search or ask may return


def open_store(store: str | None, create: bool = False, lock_timeout: float | None = None):
    """The store at ``store``, which must exist unless ``create`` (only `add` makes one). The default
    store may be missing: a fresh machine has no memories yet, which is no error."""
    from latentspace.memory.access import LOCK_TIMEOUT
    from latentspace.memory.store import MemoryStore
    from latentspace.model.bundled import home

    if store is not None and not store.strip():
        raise LatentspaceError("--store: empty path")
    the_store = MemoryStore(Path(store) if store else home() / "memory",
                            lock_timeout=LOCK_TIMEOUT if lock_timeout is None else lock_timeout)
    if create and store:  # a path the user typed: checked like every output (the default is ours to make)
        from latentspace.core.files import check_output

        check_output(the_store.root, "memory store", folder=True)
    elif store and not create and not the_store.exists():
        raise LatentspaceError(f"no memory store at {the_store.root}")
    return the_store


def shown(value, lines: bool = False) -> str:
    """``value`` as text safe to print for people: control and format characters (ANSI escapes,
    bidi overrides; newlines unless ``lines``) written as escapes, rich markup made inert."""
    from rich.markup import escape

    text = str(value)
    keep = "\n\t" if lines else ""
    return escape("".join(c if c.isprintable() or c == " " or c in keep
                          else c.encode("unicode_escape").decode("ascii") for c in text))


def parse_size(text: str) -> int:
    """'500MB', '2 GiB', '1000000' -> bytes."""
    found = re.fullmatch(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*([kmgt]?i?b?)\s*", text.lower())
    if not found:
        raise LatentspaceError(f"bad size {text!r}: use e.g. 500MB or 2GiB")
    units = {"": 1, "b": 1, "k": 1e3, "kb": 1e3, "kib": 2**10, "m": 1e6, "mb": 1e6, "mib": 2**20,
             "g": 1e9, "gb": 1e9, "gib": 2**30, "t": 1e12, "tb": 1e12, "tib": 2**40}
    if found.group(2) not in units:
        raise LatentspaceError(f"bad size unit in {text!r}")
    value = float(found.group(1)) * units[found.group(2)]
    if not math.isfinite(value) or value >= 2**62:
        raise LatentspaceError(f"size {text!r} is too large")
    if 0 < value < 1:
        raise LatentspaceError(f"size {text!r} is less than one byte (0 removes the budget)")
    return int(value)


def _read_document(file: Path) -> tuple[str, str]:
    import sys

    from latentspace.core.files import read_text

    if str(file) != "-":
        return read_text(file, "document file"), str(file)
    try:
        return sys.stdin.buffer.read().decode("utf-8"), "stdin"
    except UnicodeDecodeError as err:
        raise LatentspaceError(f"stdin is not UTF-8 text (byte {err.start})") from None


def _report_corrupt(corrupt) -> None:
    for c in corrupt:
        console.print(f"[red]corrupt[/red] {shown(c.id)}: {shown(c.problem)} (left untouched)")


@app.command()
def add(
    file: Annotated[Path, typer.Argument(help="A text file to remember ('-' reads stdin).")],
    model: ModelOpt = DEFAULT,
    store: StoreOpt = None,
    press: PressOpt = None,
    ratio: RatioOpt = None,
    tag: Annotated[list[str] | None, typer.Option("--tag", help="Tag (repeatable).")] = None,
    title: Annotated[str | None, typer.Option(help="Title (default: the first line).")] = None,
    lock_timeout: LockOpt = 60.0,
    json_out: JsonOpt = False,
) -> None:
    """Encode a document once and store its KV cache (optionally compressed) and retrieval key.

    Example: latentspace memory add notes.txt --tag project --press knorm --ratio 0.5
    """
    from latentspace.memory.store import check_labels

    text, source = _read_document(file)
    if not text.strip():
        raise LatentspaceError(f"empty document {source}: nothing to remember")
    check_labels(title, source, tag or ())  # every input checked before the model loads
    the_press = make_press(press, ratio)
    the_store = open_store(store, create=True, lock_timeout=lock_timeout)
    lm = load_model(model, quiet=json_out)
    info = the_store.add(lm, text, title=title, source=source, tags=tag or (), press=the_press)
    if json_out:
        emit_json(info.as_dict())
    else:
        console.print(f"remembered [bold]{shown(info.id)}[/bold] {shown(repr(info.title))}: {info.tokens} tokens -> "
                      f"{info.slots} slots ({shown(info.press or 'uncompressed')}), {info.bytes / 1e6:.1f} MB")


@app.command("list")
def list_(
    store: StoreOpt = None,
    tag: Annotated[list[str] | None, typer.Option("--tag", help="Only memories with this tag (repeatable).")] = None,
    json_out: JsonOpt = False,
) -> None:
    """List stored memories (and any corrupt index rows, which are never touched)."""
    from rich.table import Table

    the_store = open_store(store)
    good, corrupt = the_store.scan()
    infos = [i for i in good if set(tag or ()) <= set(i.tags)]
    if json_out:
        emit_json({"store": str(the_store.root), "memories": [i.as_dict() for i in infos],
                   "corrupt": [c.as_dict() for c in corrupt],
                   "bytes": sum(i.bytes for i in infos), "budget": the_store.budget()})
        return
    if not infos:
        console.print(f"no memories in {shown(the_store.root)}")
    else:
        table = Table()
        table.add_column("id", no_wrap=True)  # an id is what `rm` and `ask --memory` take: never cut
        for name in ("title", "tags", "model", "tokens", "slots", "press", "MB"):
            table.add_column(name)
        for i in infos:
            table.add_row(shown(i.id), shown(i.title), shown(",".join(i.tags)), shown(i.model_name), str(i.tokens),
                          str(i.slots), shown(i.press or "-"), f"{i.bytes / 1e6:.1f}")
        console.print(table)
    _report_corrupt(corrupt)


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="What to look for.")],
    model: ModelOpt = DEFAULT,
    store: StoreOpt = None,
    k: Annotated[int, typer.Option("-k", min=1, max=KOpt, help="How many memories.")] = 3,
    json_out: JsonOpt = False,
) -> None:
    """The memories whose retrieval keys are closest to the query (cosine)."""
    if not query.strip():
        raise LatentspaceError("empty query")
    the_store = _nonempty(store)
    lm = load_model(model, quiet=json_out)
    found = the_store.search(lm, query, k)
    if json_out:
        emit_json([{**info.as_dict(), "score": round(score, 4)} for info, score in found])
        return
    for info, score in found:
        console.print(f"{score:.3f}  [bold]{shown(info.id)}[/bold]  {shown(info.title)}")


def _nonempty(store: str | None):
    the_store = open_store(store)
    if not the_store.list():
        raise LatentspaceError(f"no memories in {the_store.root}; add a document with "
                               "`latentspace memory add FILE`")
    return the_store


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="The question.")],
    model: ModelOpt = DEFAULT,
    store: StoreOpt = None,
    memory: Annotated[list[str] | None, typer.Option("--memory", help="Recall this memory id (repeatable; "
                                                     "default: the best match).")] = None,
    k: Annotated[int, typer.Option("-k", min=1, max=KOpt, help="Recall the k best matches (without --memory).")] = 1,
    max_tokens: Annotated[int, typer.Option("--max-tokens", "-n", min=1, max=100_000, help="Most new tokens.")] = 64,
    json_out: JsonOpt = False,
) -> None:
    """Answer from remembered documents without re-reading them.

    Example: latentspace memory ask "Who wrote the report?" -k 2
    """
    import time

    if not question.strip():
        raise LatentspaceError("empty question")
    the_store = _nonempty(store)
    for memory_id in memory or ():
        the_store.get(memory_id)  # an unknown or corrupt id fails before the model loads
    lm = load_model(model, quiet=json_out)
    started = time.perf_counter()
    answer = the_store.ask(lm, question, memory or (), k=k, max_new_tokens=max_tokens)
    data = {"question": question, "answer": answer.text, "memories": answer.memories,
            "prompt_tokens": answer.prompt_tokens, "output_tokens": answer.output_tokens,
            "seconds": round(time.perf_counter() - started, 3)}
    if json_out:
        emit_json(data)
    else:
        console.print(shown(answer.text, lines=True), highlight=False)
        console.print(f"[dim]from {shown(', '.join(answer.memories))}; {answer.output_tokens} tokens, "
                      f"{data['seconds']:.2f} s[/dim]")


@app.command()
def rm(
    memory_id: Annotated[str, typer.Argument(help="Memory id (or a unique prefix).")],
    store: StoreOpt = None,
    lock_timeout: LockOpt = 60.0,
    json_out: JsonOpt = False,
) -> None:
    """Delete a memory (a corrupt one is refused and left untouched)."""
    the_store = open_store(store, lock_timeout=lock_timeout)
    if not the_store.exists():  # the default store, not made yet: there is nothing to remove
        raise LatentspaceError(f"no memory with id {memory_id!r} in {the_store.root} (it holds no memories yet)")
    info = the_store.remove(memory_id)
    if json_out:
        emit_json({"removed": info.id})
    else:
        console.print(f"removed {shown(info.id)} {shown(repr(info.title))}")


@app.command()
def gc(
    store: StoreOpt = None,
    max_size: Annotated[str | None, typer.Option("--max-size", help="Set the size budget (e.g. 500MB); "
                                                 "least recently used memories go first. 0 = no budget.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Sweep blobs even when the index is missing or "
                                        "empty (every blob is then stray and deleted).")] = False,
    lock_timeout: LockOpt = 60.0,
    json_out: JsonOpt = False,
) -> None:
    """Verify every blob, remove damaged memories and stray files, enforce the size budget.

    Corrupt index rows (a blob path outside the store, malformed fields) are reported, never touched.
    """
    size = None if max_size is None else parse_size(max_size)
    the_store = open_store(store, lock_timeout=lock_timeout)
    if not the_store.exists() and size:  # a budget is a setting of the store: it needs one
        raise LatentspaceError(f"no memory store at {the_store.root} to give a budget; the first "
                               "`latentspace memory add FILE` makes it")
    report = (the_store.gc(force=force, max_bytes=False if size is None else (size or None)) if the_store.exists()
              else {"damaged": [], "stray_files": [], "evicted": [], "corrupt": [], "not_files": []})
    report |= {"bytes": the_store.size(), "budget": the_store.budget()}
    if json_out:
        emit_json(report)
        return
    console.print(f"damaged: {len(report['damaged'])}, stray files: {len(report['stray_files'])}, "
                  f"evicted: {len(report['evicted'])}, corrupt rows: {len(report['corrupt'])}; "
                  f"{report['bytes'] / 1e6:.1f} MB in use"
                  + (f" of {report['budget'] / 1e6:.1f} MB" if report["budget"] else ""))
    for c in report["corrupt"]:
        console.print(f"[red]corrupt[/red] {shown(c['id'])}: {shown(c['problem'])} (left untouched)")
    for name in report["not_files"]:
        console.print(f"not a file, left alone: blobs/{shown(name)}")
