"""Texts both models read when a map is fitted: written by the models themselves (no hub data),
half by each, so the map sees both models' own distributions."""

from __future__ import annotations

from latentspace.core.errors import LatentspaceError
from latentspace.core.files import check_text, read_text
from latentspace.lens.tuned_train import sample_text


def self_sampled(sharer, receiver, n: int, tokens: int = 96, seed: int = 0) -> list[str]:
    half = (n + 1) // 2
    texts = sample_text(sharer, half, tokens, seed) + (sample_text(receiver, n - half, tokens, seed) if n > half else [])
    return [t for t in texts if t.strip()]


def text_file(path, limit: int = 100_000) -> list[str]:
    """One text per non-empty line of a UTF-8 file."""
    texts = [check_text(line, f"{path} line {i}") for i, line in enumerate(read_text(path, "text file").splitlines(), 1)
             if line.strip()]
    if not texts:
        raise LatentspaceError(f"{path} holds no text")
    return texts[:limit]
