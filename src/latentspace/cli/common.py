"""What every command shares: the --model/--json options, output, and loading with clear errors."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer
from rich.console import Console

from latentspace.model.registry import DEFAULT_MODEL

console = Console()
err_console = Console(stderr=True)

ModelOpt = Annotated[
    str,
    typer.Option("--model", "-m", help="Registry name, local HF folder, .gguf file, or (online) hub id."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON instead of tables.")]
DEFAULT = DEFAULT_MODEL


def emit_json(data) -> None:
    """JSON to stdout, nothing else (so `| jq` always works)."""
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def load_model(spec: str, quiet: bool = False):
    """Load a LatentModel; progress goes to stderr so --json output stays clean."""
    from latentspace.model.latent_model import LatentModel

    if quiet:
        return LatentModel.load(spec, show_progress=False)
    with err_console.status(f"loading {spec}"):
        return LatentModel.load(spec)
