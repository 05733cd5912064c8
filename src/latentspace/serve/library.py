"""The server's own objects, in its data directory, named by id — never by a path from a request.

    DATA_DIR/vectors/<id>.safetensors   steering vectors (POST /v1/vectors, or copied in by hand)
    DATA_DIR/memory/                    a `MemoryStore` (POST /v1/memories)
    DATA_DIR/pipelines/<id>.yaml        agent pipelines beyond the built-in ones
"""

from __future__ import annotations

import re
from functools import cached_property
from pathlib import Path

from latentspace.serve.errors import ApiError

ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")


def check_id(value: str, what: str) -> str:
    if not isinstance(value, str) or not ID.match(value) or ".." in value:
        raise ApiError(400, f"bad {what} id {value!r}: letters, digits and _ . : - only", "invalid_id")
    return value


class Library:
    def __init__(self, data_dir: str | Path) -> None:
        self.root = Path(data_dir)
        self.vector_dir = self.root / "vectors"
        self.pipeline_dir = self.root / "pipelines"
        for folder in (self.vector_dir, self.pipeline_dir):
            folder.mkdir(parents=True, exist_ok=True)
        self._vectors: dict[tuple[str, str], tuple[float, object]] = {}  # (model, id) -> (mtime, vector)

    # -- steering vectors ------------------------------------------------------------------------
    def vector_file(self, vector_id: str) -> Path:
        return self.vector_dir / f"{check_id(vector_id, 'vector')}.safetensors"

    def vector(self, lm, vector_id: str):
        """The vector, checked against ``lm`` (cached until its file changes)."""
        from latentspace.steer import SteeringVector

        path = self.vector_file(vector_id)
        if not path.is_file():
            raise ApiError(404, f"no steering vector {vector_id!r} (GET /v1/vectors lists them)", "vector_not_found")
        mtime = path.stat().st_mtime
        cached = self._vectors.get((lm.name, vector_id))
        if cached is None or cached[0] != mtime:
            cached = (mtime, SteeringVector.load(path, lm))
            self._vectors[lm.name, vector_id] = cached
        return cached[1]

    def vectors(self) -> list[dict]:
        out = []
        for path in sorted(self.vector_dir.glob("*.safetensors")):
            meta = _meta(path)
            if meta is None:
                continue  # not a readable vector file: never listed, so never offered
            out.append({"id": path.stem, "object": "steering_vector", "method": meta.get("method"),
                        "concept": meta.get("concept"), "layers": meta.get("layers"), "model": meta.get("model")})
        return out

    def delete_vector(self, vector_id: str) -> None:
        path = self.vector_file(vector_id)
        if not path.is_file():
            raise ApiError(404, f"no steering vector {vector_id!r}", "vector_not_found")
        path.unlink()

    # -- memories and pipelines ---------------------------------------------------------------------
    @cached_property
    def memory(self):
        from latentspace.memory.store import MemoryStore

        return MemoryStore(self.root / "memory")

    def memory_info(self, memory_id: str):
        """A memory's record; unknown (or ambiguous) ids are a 404 that names no server path."""
        from latentspace.errors import LatentspaceError

        try:
            return self.memory.get(check_id(memory_id, "memory"))
        except LatentspaceError:
            raise ApiError(404, f"no memory {memory_id!r} (GET /v1/memories lists them)", "memory_not_found") from None

    def pipeline(self, name: str) -> str:
        """A pipeline source `load_pipeline` accepts: a built-in name or a file in pipelines/."""
        from latentspace.agents.pipelines import BUILTIN

        if name in BUILTIN:
            return name
        for suffix in (".yaml", ".yml", ".json"):
            path = self.pipeline_dir / f"{check_id(name, 'pipeline')}{suffix}"
            if path.is_file():
                return str(path)
        known = [*BUILTIN, *sorted(p.stem for p in self.pipeline_dir.iterdir())]
        raise ApiError(404, f"no pipeline {name!r}; known: {', '.join(known)}", "pipeline_not_found")


def _meta(path: Path) -> dict | None:
    import json

    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            header = f.metadata() or {}
        return json.loads(header.get("meta", "{}")) if header.get("kind") == "steering_vector" else None
    except Exception:  # noqa: BLE001 - a damaged file is skipped, not fatal for the listing
        return None
