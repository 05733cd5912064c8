"""Options and helpers several commands share (generate, think and agents steer, press and cap
their tokens alike): declared once here, so a command module never imports another's."""

from __future__ import annotations

import math
from contextlib import nullcontext
from pathlib import Path
from typing import Annotated, TYPE_CHECKING

import typer

from latentspace.core.errors import LatentspaceError
from latentspace.names import press_names

if TYPE_CHECKING:  # the type only: no import at run time
    from latentspace.model.latent_model import LatentModel

# as the server's `strength`: a bound the CLI and a request share
STRENGTH_RANGE = {"min": -1000.0, "max": 1000.0}


def finite(value):
    """A typer callback for float options: click's min/max let NaN through, and inf means nothing here."""
    values = value if isinstance(value, (list, tuple)) else [value]
    if any(v is not None and not math.isfinite(v) for v in values):
        raise typer.BadParameter("must be a finite number")
    return value


def positive(value):
    """A typer callback: a finite number above 0 (click's min is inclusive)."""
    finite(value)
    if value is not None and value <= 0:
        raise typer.BadParameter("must be above 0")
    return value


StrengthOpt = Annotated[float | None, typer.Option(help="Steering strength (with --steer; default 1).",
                                                   callback=finite, **STRENGTH_RANGE)]


def load_vector(lm: LatentModel, path: Path):
    """A vector from our safetensors or a llama.cpp control-vector GGUF, checked against ``lm``."""
    from latentspace.steer import SteeringVector, import_gguf

    if path.suffix == ".gguf":
        return import_gguf(path, lm)
    return SteeringVector.load(path, lm)


def steering(lm: LatentModel, path: Path | None, strength: float | None, positions: str = "all"):
    """The context for `generate --steer` / `think --steer` (nothing when no vector is given)."""
    if path is None:
        if strength is not None or positions != "all":
            raise LatentspaceError("--strength and --steer-positions need --steer VECTOR")
        return nullcontext()
    return load_vector(lm, path).apply(lm, 1.0 if strength is None else strength, positions=positions,
                                       name=path.name)


PressOpt = Annotated[str | None, typer.Option("--press", help="Compress the stored cache with this press "
                                              f"({', '.join(press_names())}).")]


def _ratio(text) -> float:
    """--ratio as a float in [0, 1) (typer has no half-open range; NaN fails the comparison too)."""
    try:
        value = float(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a number") from None
    if not 0 <= value < 1:
        raise typer.BadParameter(f"{text} is not in the range 0<=x<1")
    return value


RatioOpt = Annotated[float | None, typer.Option("--ratio", parser=_ratio, metavar="FLOAT",
                                                help="Share of the cache the press drops, in [0, 1) "
                                                "(with --press; default 0.5).")]
def _given(param: str, value) -> bool:
    """Whether the user typed ``param`` (not its default), so a command whose default ratio is a
    number and one whose default is None both refuse `--ratio` without `--press`."""
    import click
    from click.core import ParameterSource

    ctx = click.get_current_context(silent=True)
    if ctx is not None and param in ctx.params:
        return ctx.get_parameter_source(param) not in (None, ParameterSource.DEFAULT, ParameterSource.DEFAULT_MAP)
    return value is not None


def make_press(name: str | None, ratio: float | None):
    """The press named by --press (with --ratio, default 0.5); None without --press."""
    if name is None:
        if _given("ratio", ratio):
            raise LatentspaceError("--ratio needs --press (a ratio alone compresses nothing)")
        return None
    from latentspace.memory.presses import get_press

    if ":" in name and _given("ratio", ratio):
        raise LatentspaceError(f"--press {name} already carries its ratio; drop --ratio")
    return get_press(name, 0.5 if ratio is None else ratio)
