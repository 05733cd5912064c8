"""Every error leaves the server as OpenAI-style JSON, ``{"error": {"message", "type", "code"}}``.

Bad input is a 4xx with a one-line message; the server keeps serving. Only a bug is a 500.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException

from latentspace.core.errors import LatentspaceError
from latentspace.serve.jsonio import StrictJSON

# OpenAI's error types; a status not named here is typed by its class (a 4xx is the client's
# request, only a 5xx is the server's), so a new status can never be mistyped as a server error
TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
         404: "not_found_error", 408: "timeout_error", 413: "request_too_large", 429: "rate_limit_error",
         499: "cancelled", 504: "timeout_error"}


def error_type(status: int) -> str:
    return TYPES.get(status) or ("invalid_request_error" if 400 <= status < 500 else "server_error")


class ApiError(Exception):
    def __init__(self, status: int, message: str, code: str | None = None, headers: dict | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.code, self.headers = status, message, code, headers or {}


def error_body(status: int, message: str, code: str | None = None, param: str | None = None) -> dict:
    return {"error": {"message": message, "type": error_type(status), "param": param, "code": code}}


def error_response(status: int, message: str, code: str | None = None, headers: dict | None = None,
                   param: str | None = None) -> StrictJSON:
    return StrictJSON(error_body(status, message, code, param), status_code=status, headers=headers)


def _validation_message(err: RequestValidationError) -> tuple[str, str | None]:
    """The first problem, in one line: where it is and what is wrong."""
    first = err.errors()[0] if err.errors() else {}
    if first.get("type") == "json_invalid":
        return "the request body is not valid JSON", None
    where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
    message = first.get("msg", "invalid request")
    return (f"{where}: {message}" if where else message), where or None


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(request: Request, err: ApiError):
        return error_response(err.status, err.message, err.code, err.headers)

    @app.exception_handler(LatentspaceError)
    async def bad_input(request: Request, err: LatentspaceError):
        return error_response(400, str(err), "invalid_value")

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, err: RequestValidationError):
        message, param = _validation_message(err)
        return error_response(400, message, "invalid_request", param=param)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, err: HTTPException):
        return error_response(err.status_code, str(err.detail), headers=getattr(err, "headers", None))


LOG = logging.getLogger("latentspace.serve")


class CatchBugs:
    """A bug becomes a JSON 500 and the connection stays usable.

    Starlette's own last-resort handler (``exception_handler(Exception)``) sends the 500 and then
    re-raises, so uvicorn drops the connection and a keep-alive client sees a reset instead of the
    answer. This middleware sits inside it: it logs the traceback, answers 500 if nothing was sent
    yet, and does not re-raise (a response already under way is ended where it stands).
    """

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = [False]

        async def sending(message):
            if message["type"] == "http.response.start":
                started[0] = True
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except Exception:  # noqa: BLE001 - the last line: every bug is answered, none escapes
            LOG.exception("internal error on %s %s", scope.get("method"), scope.get("path"))
            if not started[0]:
                await error_response(500, "internal error (logged on the server)", "internal_error")(
                    scope, receive, send)
