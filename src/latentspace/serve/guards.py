"""ASGI middleware in front of every route: API key, body size limit, body check, request metrics.

Written as plain ASGI (not Starlette's BaseHTTPMiddleware) so streaming responses pass through
untouched and a client that disconnects is still seen by the route.
"""

from __future__ import annotations

import hmac
import time

from latentspace.serve.errors import error_body
from latentspace.serve.jsonio import body_problem, dumps

OPEN = ("/", "/health", "/docs", "/openapi.json", "/favicon.ico")  # no key needed (the page asks for one)


async def _send_error(send, status: int, message: str, code: str, headers: list | None = None,
                      param: str | None = None) -> None:
    body = dumps(error_body(status, message, code, param)).encode("utf-8", "backslashreplace")
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *(headers or [])]})
    await send({"type": "http.response.body", "body": body})


class Guards:
    def __init__(self, app, server) -> None:
        self.app, self.server = app, server

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started, status = time.monotonic(), [500]
        path = scope["path"]

        async def sending(message):
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            receive = await self._check(scope, receive, sending)
            if receive is not None:
                await self.app(scope, receive, sending)
        finally:
            route = scope.get("route")
            name = getattr(route, "path", None) or ("static" if path.startswith("/static/") else "other")
            self.server.metrics.request(name, status[0], time.monotonic() - started)

    async def _check(self, scope, receive, send):
        """The ``receive`` the app should use, or None when the request was refused here."""
        config = self.server.config
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        if config.api_key and not (scope["path"] in OPEN or scope["path"].startswith("/static/")):
            given = _bearer(headers.get("authorization", "")) or headers.get("x-api-key", "")
            if not hmac.compare_digest(given.encode(), config.api_key.encode()):
                await _send_error(send, 401, "missing or wrong API key (send Authorization: Bearer KEY)",
                                  "invalid_api_key", [(b"www-authenticate", b"Bearer")])
                return None
        limit = config.max_body_bytes
        declared = headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _send_error(send, 413, f"request body over the limit of {limit} bytes", "body_too_large")
            return None
        # read the whole body up to the limit (also when chunked), then hand it on
        body, more = b"", scope["method"] in ("POST", "PUT", "PATCH")
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            body += message.get("body", b"")
            if len(body) > limit:
                await _send_error(send, 413, f"request body over the limit of {limit} bytes", "body_too_large")
                return None
            more = message.get("more_body", False)
        if body and _is_json(headers.get("content-type")):
            problem = body_problem(body)  # the whole request, once: no field can slip by
            if problem is not None:
                await _send_error(send, 400, problem[0], "invalid_request", param=problem[1])
                return None
        replayed = False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # afterwards: the real channel, so disconnects are seen

        return replay


def _bearer(value: str) -> str:
    """The token of ``Authorization: Bearer TOKEN``; the scheme is case-insensitive (RFC 7235)."""
    scheme, _, token = value.strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def _is_json(content_type: str | None) -> bool:
    """Whether the body is read as JSON: the routes parse a body without a content type as JSON too."""
    return content_type is None or "json" in content_type.split(";")[0].lower()
