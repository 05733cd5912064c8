"""Entry point: registers the commands and turns bad input into one line and exit code 2."""

from __future__ import annotations

import sys

import typer

from latentspace.cli import agents, bench, generate, lens, memory, models, probe, serve, steer, think, tour, train
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
app.command()(think.think)
app.command()(agents.agents)
app.command()(bench.bench)
app.command()(serve.serve)
app.add_typer(lens.app, name="lens")
app.add_typer(probe.app, name="probe")
app.add_typer(train.app, name="train")
app.add_typer(steer.app, name="steer")
app.add_typer(memory.app, name="memory")


# typer >= 0.2x vendors its own click; take its UsageError from a public class rather than a private module
UsageError = typer.BadParameter.__base__


def _fail(message: str, code: int = 2) -> None:
    err_console.print(f"error: {message}", highlight=False, markup=False, soft_wrap=True)
    sys.exit(code)


def main() -> None:
    try:
        # standalone_mode=False: usage errors reach us, so they too are one line (not a box)
        code = app(standalone_mode=False)
    except UsageError as err:
        if type(err).__name__ == "NoArgsIsHelpError" and err.ctx:
            err_console.print(err.ctx.get_help())  # `latentspace` alone: show the help, as before
            sys.exit(2)
        hint = f" (see: {err.ctx.command_path} --help)" if err.ctx else ""
        _fail(err.format_message().replace("\n", " ") + hint)
    except typer.Abort:
        _fail("aborted", 130)
    except LatentspaceError as err:
        _fail(str(err))
    except KeyboardInterrupt:
        _fail("interrupted", 130)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
