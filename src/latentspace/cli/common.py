"""What every command shares: the --model/--json options, output, and loading with clear errors."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from latentspace.core import jsonsafe
from latentspace.core.errors import LatentspaceError
from latentspace.model.names import DEFAULT_MODEL

console = Console(emoji=False)  # no ":cat:" in an answer turns into a picture; we never write emoji codes
err_console = Console(stderr=True, emoji=False)


# Rich reads square brackets as markup: `pip install -e '.[gemma]'` would print as `pip install -e '.'`
# and a question holding "[bold]" would vanish. Text that is not ours to style (a question, a model's
# answer, a path, a name, anything that may hold brackets) goes through one of these two.
def literal(value) -> str:
    """``value`` as text rich prints as it is, to put inside markup, a table cell, a title or a status."""
    return escape(str(value))


def say(text, *, err: bool = False, **options) -> None:
    """Print ``text`` with no markup and no highlighting: it shows exactly as it is."""
    (err_console if err else console).print(text, markup=False, highlight=False, emoji=False, **options)

ModelOpt = Annotated[
    str,
    typer.Option("--model", "-m", help="Registry name, local HF folder, .gguf file, or (online) hub id."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON instead of tables.")]
DEFAULT = DEFAULT_MODEL
# every --seed takes this range (as the server's `seed`): typer refuses others in one line
SEED_RANGE = {"min": 0, "max": 2**63 - 1}


def seed_option(help_text: str):
    """A ``--seed`` option bounded to `SEED_RANGE` (a seed of 2**64 would overflow torch's generator)."""
    return typer.Option(help=help_text, **SEED_RANGE)


def emit_json(data) -> None:
    """JSON to stdout, nothing else (so `| jq` always works)."""
    sys.stdout.write(jsonsafe.dumps(data, indent=2) + "\n")


def load_model(spec: str, quiet: bool = False):
    """Load a LatentModel; progress goes to stderr so --json output stays clean."""
    from latentspace.model.latent_model import LatentModel

    if quiet:
        return LatentModel.load(spec, show_progress=False)
    with err_console.status(f"loading {literal(spec)}"):
        return LatentModel.load(spec)


MAX_LIST = 10_000  # a list or range on the command line holds at most this many numbers


def parse_ints(spec: str | None, what: str, n: int | None = None) -> list[int] | None:
    """'all' / None -> None; '0,5,-1' and ranges '3-7' -> ints (one-line error otherwise)."""
    if spec is None or spec.strip().lower() == "all":
        return None
    out: list[int] = []
    try:
        for part in spec.split(","):
            part = part.strip()
            if "-" in part[1:]:
                lo, hi = part[0] + part[1:].split("-", 1)[0], part[1:].split("-", 1)[1]
                span = int(hi) - int(lo) + 1
                if span < 1 or len(out) + span > MAX_LIST:  # checked before the range is built
                    raise LatentspaceError(f"bad {what} range {part!r}: at most {MAX_LIST} numbers, low to high")
                out.extend(range(int(lo), int(hi) + 1))
            else:
                out.append(int(part))
            if len(out) > MAX_LIST:
                raise LatentspaceError(f"bad {what}: at most {MAX_LIST} numbers")
    except LatentspaceError:
        raise
    except ValueError:
        raise LatentspaceError(f"bad {what} {spec!r}: use 'all', a list like 0,5,-1 or a range like 3-7") from None
    if n is not None:
        bad = [i for i in out if not -n <= i < n]
        if bad:
            raise LatentspaceError(f"{what} {bad[0]} out of range: valid 0..{n - 1} (or negative from the end)")
        out = [i % n for i in out]
    return out


def default_group(default: str):
    """A command group that runs ``default`` when the first argument is not a sub-command.

    So ``latentspace lens "text"`` and ``latentspace lens train ...`` both work.
    """
    from typer.core import TyperGroup

    class DefaultGroup(TyperGroup):
        def parse_args(self, ctx, args):
            if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
                args = [default, *args]
            return super().parse_args(ctx, args)

    return DefaultGroup


def parse_sets(sets: list[str] | None) -> dict:
    """``key=value`` pairs; values parsed as JSON when they can be (numbers, true/false, null)."""
    options = {}
    for item in sets or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise LatentspaceError(f"--set expects key=value, got {item!r}")
        try:
            options[key.strip().replace("-", "_")] = json.loads(value)
        except json.JSONDecodeError:
            options[key.strip().replace("-", "_")] = value
    return options
