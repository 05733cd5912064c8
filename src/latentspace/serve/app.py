"""The FastAPI app: OpenAI-compatible and native routes, health, metrics and the Latent Explorer.

    from latentspace.serve import create_app, ServeConfig
    app = create_app([lm], ServeConfig(data_dir="serve-data"))     # then: uvicorn.run(app)
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from importlib.resources import files

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, PlainTextResponse
from fastapi.staticfiles import StaticFiles

from latentspace.serve import errors
from latentspace.serve.config import ServeConfig
from latentspace.serve.guards import Guards
from latentspace.serve.jsonio import StrictJSON
from latentspace.serve.native_api import router as native_router
from latentspace.serve.openai_api import router as openai_router
from latentspace.serve.server import Server

STATIC = files("latentspace.serve") / "static"


def create_app(models: list, config: ServeConfig) -> FastAPI:
    server = Server(models, config)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        server.close()

    # every JSON response is strict (routes returning dicts included: the class is given, not defaulted,
    # so FastAPI's own pydantic fast path, which writes tensors as errors, is not taken)
    app = FastAPI(title="latentspace", version=_version(), lifespan=lifespan, default_response_class=StrictJSON,
                  description="OpenAI-compatible API with latent extensions (`latent` in request bodies), "
                              "and latentspace's own lens, steering, memory and agents routes.")
    app.state.server = server
    errors.install(app)
    app.include_router(openai_router)
    app.include_router(native_router)

    @app.get("/health", tags=["server"])
    async def health(request: Request) -> dict:
        return {"status": "ok", "models": list(server.models),
                "queue": {name: w.depth for name, w in server.workers.items()}}

    @app.get("/metrics", tags=["server"], response_class=PlainTextResponse)
    async def metrics(request: Request) -> str:
        return server.metrics.render(server.workers)

    @app.get("/", include_in_schema=False)
    async def explorer() -> FileResponse:
        return FileResponse(str(STATIC / "index.html"))

    app.openapi = lambda: _spec(app, list(server.models))
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")
    app.add_middleware(Guards, server=server)
    app.add_middleware(errors.CatchBugs)  # outermost: a bug in Guards is answered too
    return app


def _spec(app: FastAPI, names: list[str]) -> dict:
    """The OpenAPI spec, with ``model`` fields listing the models this server actually serves
    (clients and fuzzers then know the valid values; others still get a 404, as OpenAI answers)."""
    if app.openapi_schema is None:
        from fastapi.openapi.utils import get_openapi

        spec = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        for schema in spec.get("components", {}).get("schemas", {}).values():
            model = schema.get("properties", {}).get("model")
            if model is None:
                continue
            for branch in model.get("anyOf", [model]):
                if branch.get("type") == "string":
                    branch["enum"] = names
        app.openapi_schema = spec
    return app.openapi_schema


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("latentspace")
    except PackageNotFoundError:
        return "0"
