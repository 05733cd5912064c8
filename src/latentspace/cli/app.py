"""Entry point: registers the commands and turns bad input into one line and exit code 2."""

from __future__ import annotations

import sys

import typer

from latentspace.cli import generate, lens, models, probe, tour
from latentspace.cli.common import err_console
from latentspace.errors import LatentspaceError

app = typer.Typer(
    name="latentspace",
    help="Compute in the latent space of language models. Start with: latentspace tour",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.command()(models.models)
app.command()(models.info)
app.command()(generate.generate)
app.command()(tour.tour)
app.add_typer(lens.app, name="lens")
app.add_typer(probe.app, name="probe")


def main() -> None:
    try:
        app()
    except LatentspaceError as err:
        err_console.print(f"error: {err}", highlight=False, markup=False, soft_wrap=True)
        sys.exit(2)
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(130)


if __name__ == "__main__":
    main()
