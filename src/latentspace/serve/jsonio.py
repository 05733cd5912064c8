"""JSON in and out of the server, each checked in one place.

Out: every response body and every stream event goes through `jsonsafe.dumps`, so the server only
ever emits strict RFC 8259 JSON (an infinite option in a trace becomes ``null``, never ``Infinity``).

In: `body_problem` reads a request body once, before any route sees it (the `Guards` middleware),
and refuses what no field may hold: lone surrogates in any text or key (the tokenizer and UTF-8
encoders fail on them), ``NaN``, integers no 64-bit field can take, and absurd nesting. Checking
the whole parsed body is what makes this hold for fields added later too.
"""

from __future__ import annotations

import json
import math

from fastapi.responses import JSONResponse

from latentspace.core import jsonsafe
from latentspace.core.errors import LatentspaceError
from latentspace.core.files import check_text

MAX_INT = 2**63 - 1  # the widest integer any field (seeds included) accepts
MAX_DEPTH = 64  # far beyond any real request; keeps validators and encoders off deep recursion


class StrictJSON(JSONResponse):
    """The app's response class: strict JSON whatever the route returns."""

    def render(self, content) -> bytes:
        return dumps(content).encode("utf-8", "backslashreplace")  # a stray surrogate stays a JSON escape


def dumps(data) -> str:
    return jsonsafe.dumps(data, ensure_ascii=False, separators=(",", ":"))


def sse(data) -> str:
    """One server-sent event carrying ``data`` as strict JSON (ASCII-escaped, as streams always were)."""
    return f"data: {jsonsafe.dumps(data)}\n\n"


class _NaN(ValueError):
    pass


def _constant(name: str) -> float:
    if name == "NaN":
        raise _NaN()
    return math.inf if name == "Infinity" else -math.inf  # an option may mean "no limit" by it


def body_problem(body: bytes) -> tuple[str, str | None] | None:
    """(one-line message, where) for a JSON body no route may accept, else None.

    A body that does not parse is left to the route's own validation ("not valid JSON").
    """
    try:
        data = json.loads(body, parse_constant=_constant)
    except _NaN:
        return "the request holds NaN, which is not a number", None
    except json.JSONDecodeError:
        return None  # the route says "not valid JSON"
    except UnicodeDecodeError as err:
        return f"the request body is not UTF-8 (byte {err.start})", None
    except RecursionError:
        return f"the request body is nested deeper than {MAX_DEPTH} levels", None
    except ValueError as err:  # e.g. an integer of thousands of digits
        return f"the request body cannot be read: {(str(err).splitlines() or [''])[0][:120]}", None
    stack = [(data, (), 0)]
    while stack:
        value, path, depth = stack.pop()
        where = _where(path)
        if depth > MAX_DEPTH:
            return f"the request body is nested deeper than {MAX_DEPTH} levels (at {where})", where
        try:
            if isinstance(value, str):
                check_text(value, where)
            elif isinstance(value, bool):
                pass
            elif isinstance(value, int) and abs(value) > MAX_INT:
                return f"{where}: a {len(str(abs(value)))}-digit integer is out of range (at most 2**63-1)", where
            elif isinstance(value, dict):
                for key, item in value.items():
                    check_text(key, f"a key in {where}")
                    stack.append((item, (*path, key), depth + 1))
            elif isinstance(value, list):
                stack.extend((item, (*path, i), depth + 1) for i, item in enumerate(value))
        except LatentspaceError as err:
            return str(err), where
    return None


def _where(path: tuple) -> str:
    """A field's place as validation errors name it (``messages.0.content``), kept short."""
    text = ".".join(map(str, path)) or "the request body"
    text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)  # a key may hold a newline
    return text if len(text) <= 80 else f"{text[:77]}..."
