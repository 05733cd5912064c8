"""`latentspace serve`: the OpenAI-compatible server and the Latent Explorer page."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from latentspace.cli.common import DEFAULT, err_console, literal, say
from latentspace.core.errors import LatentspaceError
from latentspace.core.limits import MAX_NEW_TOKENS

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def serve(
    model: Annotated[list[str] | None, typer.Option("--model", "-m", help="Model to serve (repeatable; "
                                                    "default: the bundled one).")] = None,
    host: Annotated[str, typer.Option(help="Address to bind. Anything but loopback exposes the models.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port (0 = any free port).")] = 8000,
    data_dir: Annotated[Path, typer.Option(help="The server's vectors, memories and pipelines.")] = Path("serve-data"),
    api_key: Annotated[str | None, typer.Option(help="Require this key (or set LATENTSPACE_API_KEY).",
                                                envvar="LATENTSPACE_API_KEY", show_envvar=True)] = None,
    queue_size: Annotated[int, typer.Option(min=1, help="Requests that may wait per model (then 429).")] = 16,
    max_batch: Annotated[int, typer.Option(min=1, help="Greedy requests decoded together (1 = no batching).")] = 8,
    timeout: Annotated[float, typer.Option(min=1, help="Seconds a request may take.")] = 300.0,
    max_body: Annotated[int, typer.Option(min=1024, help="Largest request body, bytes.")] = 1_000_000,
    max_tokens: Annotated[int, typer.Option(min=1, help="Most tokens one request may ask for.")] = MAX_NEW_TOKENS,
) -> None:
    """Serve models over an OpenAI-compatible API, with the Latent Explorer at http://HOST:PORT/.

    Examples: latentspace serve ; latentspace serve --model tiny --port 0 ;
    then: curl localhost:8000/v1/chat/completions -d '{"model": "smollm2-135m", "messages": [...]}'
    """
    import uvicorn

    from latentspace.cli.common import load_model
    from latentspace.core.files import check_output
    from latentspace.serve import ServeConfig, create_app

    check_output(data_dir, "--data-dir", folder=True)  # a typo in its parent fails now, not after loading

    if host not in LOOPBACK:
        err_console.print(f"[yellow]warning:[/yellow] binding {literal(host)}: the models are reachable from other "
                          "machines" + ("" if api_key else " and no --api-key is set"))
    specs = model or [DEFAULT]
    models = [load_model(spec) for spec in specs]
    if len({lm.name for lm in models}) != len(models):
        raise LatentspaceError("two --model options load models of the same name")
    config = ServeConfig(data_dir=data_dir, api_key=api_key or None, max_body_bytes=max_body,
                         queue_size=queue_size, request_timeout=timeout, max_batch=max_batch,
                         max_tokens_limit=max_tokens)
    app = create_app(models, config)
    sock = _bind(host, port)  # bound here, so the address printed is the real one (also for --port 0)
    bound = sock.getsockname()[1]
    say(f"serving {', '.join(lm.name for lm in models)} — Latent Explorer: http://{host}:{bound}/ "
        f"(data: {os.fspath(data_dir)}; Ctrl+C stops)", err=True)
    uvicorn.Server(uvicorn.Config(app, log_level="warning")).run(sockets=[sock])


def _bind(host: str, port: int):
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as err:
        sock.close()
        raise LatentspaceError(f"cannot bind {host}:{port}: {err.strerror}") from None
    sock.listen(128)
    return sock
