"""`latentspace models` and `latentspace info`."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from latentspace.cli.common import DEFAULT, JsonOpt, console, emit_json, literal, load_model, say
from latentspace.core.errors import LatentspaceError


def models(
    clear: Annotated[str | None, typer.Option("--clear", metavar="NAME", help="Delete NAME's cached conversion.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """List the models latentspace knows by name, and whether each is cached.

    Any local Hugging Face folder or .gguf file also works wherever a model is asked for.

    Examples: latentspace models --json ; latentspace models --clear smollm2-135m
    """
    from latentspace.model import bundled
    from latentspace.model.registry import REGISTRY

    if clear is not None:
        if clear not in REGISTRY or REGISTRY[clear].gguf is None:
            bundled_names = [e.name for e in REGISTRY.values() if e.gguf]
            raise LatentspaceError(f"--clear takes a bundled model name: {', '.join(bundled_names)}")
        removed = bundled.clear(clear)
        if json_out:
            emit_json({"cleared": clear, "removed": removed})
        else:
            say(f"{clear}: " + ("cache deleted; it is rebuilt on next use" if removed else "was not cached"))
        return
    rows = [
        {"name": e.name, "family": e.family, "params": e.params, "cached": e.cached, "description": e.description}
        for e in REGISTRY.values()
    ]
    if json_out:
        emit_json({"models": rows, "home": str(bundled.home())})
        return
    table = Table(title=f"models (cache: {literal(bundled.home())})")
    for col in ("name", "family", "params", "cached", "description"):
        table.add_column(col)
    for r in rows:
        cached = {True: "yes", False: "no (converted on first use)", None: "-"}[r["cached"]]
        table.add_row(*(literal(cell) for cell in (r["name"], r["family"], r["params"], cached, r["description"])))
    console.print(table)


def info(
    model_arg: Annotated[str | None, typer.Argument(metavar="MODEL", help="Model to describe.")] = None,
    model: Annotated[str | None, typer.Option("--model", "-m", help="Same as MODEL.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Describe a model: sizes, canonical sites and their module paths, fingerprint.

    Examples: latentspace info tiny ; latentspace info smollm2-135m --json
    """
    if model_arg is not None and model is not None and model_arg != model:
        raise LatentspaceError(f"two models named: MODEL {model_arg[:80]!r} and --model {model[:80]!r}; give one")
    chosen = model_arg if model_arg is not None else model if model is not None else DEFAULT  # '' is an error, not the default
    lm = load_model(chosen, quiet=json_out)
    cfg = lm.config
    data = {
        "name": lm.name,
        "family": lm.sites.family,
        "sites_from": "table" if lm.sites.from_table else "name search",
        "layers": lm.n_layers,
        "hidden_size": lm.hidden_size,
        "vocab_size": lm.vocab_size,
        "attention_heads": getattr(cfg, "num_attention_heads", None),
        "kv_heads": getattr(cfg, "num_key_value_heads", getattr(cfg, "num_attention_heads", None)),
        "parameters": sum(p.numel() for p in lm.model.parameters()),
        "dtype": str(lm.dtype).removeprefix("torch."),
        "device": str(lm.device),
        "chat_template": bool(getattr(lm.tokenizer, "chat_template", None)),
        "sites": lm.sites.paths(lm.model),
        "fingerprint": lm.fingerprint,
    }
    if json_out:
        emit_json(data)
        return
    table = Table(title=literal(lm.name), show_header=False)
    for key, value in data.items():
        if key not in ("sites", "fingerprint"):
            is_count = isinstance(value, int) and not isinstance(value, bool)
            table.add_row(key, f"{value:,}" if is_count else literal(value))
    table.add_row("fingerprint", literal(", ".join(f"{k}={v}" for k, v in data["fingerprint"].items())))
    console.print(table)
    sites = Table(title="canonical sites (layer sites shown for layer 0)")
    sites.add_column("site")
    sites.add_column("module path")
    for site, path in data["sites"].items():
        sites.add_row(site, literal(path))
    console.print(sites)
