"""What a server is started with (every field is a `latentspace serve` option)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from latentspace.core.limits import MAX_NEW_TOKENS


@dataclass
class ServeConfig:
    data_dir: Path  # the server's own objects: vectors/, memory/ (requests name them by id, never by path)
    api_key: str | None = None  # when set, every /v1 request needs `Authorization: Bearer KEY`
    max_body_bytes: int = 1_000_000  # larger request bodies get 413
    queue_size: int = 16  # requests waiting per model; more get 429 with Retry-After
    request_timeout: float = 300.0  # seconds from arrival; a request still running then is stopped (504)
    max_batch: int = 8  # concurrent greedy requests with the same settings decode as one batch
    max_tokens_limit: int = MAX_NEW_TOKENS  # the most tokens one request may ask for
    default_max_tokens: int = 256  # when a request does not say
