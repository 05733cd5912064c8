"""Entry point: registers the commands and turns bad input into one line and exit code 2."""

from __future__ import annotations

import os
import sys
import warnings

import typer

from latentspace.cli import agents, bench, bridge, generate, lens, memory, models, probe, serve, steer, think, tour, train, world
from latentspace.cli import audit as audit_cli
from latentspace.cli.common import err_console
from latentspace.core.errors import LatentspaceError

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
app.command()(audit_cli.audit)
app.add_typer(lens.app, name="lens")
app.add_typer(probe.app, name="probe")
app.add_typer(train.app, name="train")
app.add_typer(steer.app, name="steer")
app.add_typer(memory.app, name="memory")
app.add_typer(bridge.app, name="bridge")
app.add_typer(world.app, name="world")


# typer >= 0.2x vendors its own click; take its UsageError from a public class rather than a private module
UsageError = typer.BadParameter.__base__


def _fail(message: str, code: int = 2) -> None:
    line = " ".join(str(message).split())  # one line, whatever the message held
    err_console.print(f"error: {line[:500]}", highlight=False, markup=False, soft_wrap=True)
    sys.exit(code)


def _bad_argument() -> str | None:
    """A command-line argument that is not valid UTF-8 (Python hands its bytes on as lone surrogates)."""
    for i, arg in enumerate(sys.argv[1:], 1):
        try:
            arg.encode("utf-8")
        except UnicodeEncodeError:
            return f"argument {i} is not valid UTF-8 text"
    return None


def _environment_message(err: BaseException) -> str:
    """One line for errors the user's environment causes (a file, a folder, a number too large)."""
    if isinstance(err, OSError):
        where = f": {err.filename}" if err.filename else ""
        return f"{err.strerror or ' '.join(str(err).split()) or type(err).__name__}{where}"
    if isinstance(err, UnicodeError):
        return f"text is not valid UTF-8 ({err.reason})" if hasattr(err, "reason") else "text is not valid UTF-8"
    return f"number out of range ({err})"


def main() -> None:
    # warnings (from torch, transformers, ...) are held back: printed after a success, dropped when the
    # command fails, so a failure is always exactly one line on stderr
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    bad = _bad_argument()
    if bad:
        _fail(bad)
    with warnings.catch_warnings(record=True) as held:
        warnings.simplefilter("default")
        code = _run()
    for w in held:
        err_console.print(f"warning: {w.message}", highlight=False, markup=False, soft_wrap=True)
    sys.exit(code)


def _run() -> int:
    try:
        # standalone_mode=False: usage errors reach us, so they too are one line (not a box)
        code = app(standalone_mode=False)
    except UsageError as err:
        if type(err).__name__ == "NoArgsIsHelpError" and err.ctx:
            err_console.print(err.ctx.get_help())  # `latentspace` alone: show the help, as before
            sys.exit(2)
        hint = f" (see: {err.ctx.command_path} --help)" if err.ctx else ""
        _fail(err.format_message().replace("\n", " ") + hint)
    except typer.Abort as err:
        # click turns an EOFError into Abort as if it were Ctrl-D at a prompt; we never prompt, so it is an
        # input that ended early (an empty or truncated file a reader trusted): bad input, not an abort
        if isinstance(err.__cause__ or err.__context__, EOFError):
            _fail("unexpected end of input (an empty or truncated file?)")
        _fail("aborted", 130)
    except LatentspaceError as err:
        _fail(str(err))
    except (OSError, UnicodeError, OverflowError) as err:  # the environment, not a bug: one line, exit 2
        _fail(_environment_message(err))
    except KeyboardInterrupt:
        _fail("interrupted", 130)
    return code if isinstance(code, int) else 0


if __name__ == "__main__":
    main()
