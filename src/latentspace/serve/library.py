"""The server's own objects, in its data directory, named by id — never by a path from a request.

    DATA_DIR/vectors/<id>.safetensors   steering vectors (POST /v1/vectors, or copied in by hand)
    DATA_DIR/memory/                    a `MemoryStore` (POST /v1/memories)
    DATA_DIR/pipelines/<id>.yaml        agent pipelines beyond the built-in ones
    DATA_DIR/probes/<id>.safetensors    linear probes (`latentspace audit --out`, `probe fit --out`), read
                                        at every thought by the Explorer's audit view (POST /v1/audit)

Files copied in by hand can be anything, so each kind has one inspection (`_vector_file`,
`_pipeline_file`, `_probe_file`) that fully loads the file and says what is wrong with it. The listing shows its
verdict (``usable`` and ``problem``) and every use goes through the same verdict, so an object
listed as usable loads, and a broken one is a 4xx naming the problem, never a 500. A pipeline is
also judged against the models the server was started with (`unserved`): the server never loads
a model for one, so a pipeline whose agents name another model is broken here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from latentspace.core.errors import LatentspaceError
from latentspace.serve.errors import ApiError

if TYPE_CHECKING:  # the type only: no import at run time
    from latentspace.model.latent_model import LatentModel

ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")
PIPELINE_SUFFIXES = (".yaml", ".yml", ".json")  # in the order a name is looked up


def check_id(value: str, what: str) -> str:
    if not isinstance(value, str) or not ID.match(value) or ".." in value:
        raise ApiError(400, f"bad {what} id {value!r}: letters, digits and _ . : - only", "invalid_id")
    return value


@dataclass(frozen=True)
class Inspected:
    """One file's verdict: the loaded object, or why it cannot be used."""

    value: object | None
    problem: str | None


def unserved(pipeline, served) -> str | None:
    """Why ``pipeline`` cannot run on the ``served`` model names (None: it can): every model its
    agents name must be one of them."""
    missing = [name for name in dict.fromkeys(pipeline.models) if name is not None and name not in served]
    if not missing:
        return None
    return (f"its agents run on {', '.join(missing)}, not served here (served: {', '.join(served)}); "
            "start the server with --model for each")[:300]


class Library:
    def __init__(self, data_dir: str | Path, served: tuple[str, ...] = ()) -> None:
        self.root = Path(data_dir)
        self.served = tuple(served)  # the model names the server was started with
        self.vector_dir = self.root / "vectors"
        self.pipeline_dir = self.root / "pipelines"
        self.probe_dir = self.root / "probes"
        for folder in (self.vector_dir, self.pipeline_dir, self.probe_dir):
            folder.mkdir(parents=True, exist_ok=True)
        self._seen: dict[Path, tuple[tuple, Inspected]] = {}  # path -> (stat signature, verdict)

    def _inspect(self, path: Path, load) -> Inspected:
        """``load(path)``'s verdict, cached until the file changes (listings stay cheap)."""
        if not path.is_file():
            return Inspected(None, "not a regular file")
        stat = path.stat()
        signature = (stat.st_mtime_ns, stat.st_size)
        cached = self._seen.get(path)
        if cached is None or cached[0] != signature:
            try:
                if not ID.match(path.stem) or ".." in path.stem:
                    raise LatentspaceError("its name is not a valid id (letters, digits and _ . : - only)")
                cached = (signature, Inspected(load(path), None))
            except LatentspaceError as err:
                cached = (signature, Inspected(None, (str(err).splitlines() or ["unreadable"])[0][:300]))
            self._seen[path] = cached
        return cached[1]

    # -- steering vectors ------------------------------------------------------------------------
    def vector_file(self, vector_id: str) -> Path:
        return self.vector_dir / f"{check_id(vector_id, 'vector')}.safetensors"

    def vector(self, lm: LatentModel, vector_id: str):
        """The vector, checked usable and made for ``lm``."""
        path = self.vector_file(vector_id)
        if not path.exists():
            raise ApiError(404, f"no steering vector {vector_id!r} (GET /v1/vectors lists them)", "vector_not_found")
        found = self._inspect(path, _vector_file)
        if found.problem:
            raise ApiError(400, f"steering vector {vector_id!r} is broken: {found.problem}", "vector_broken")
        found.value.check_fits(lm)  # made from another model: a one-line LatentspaceError (400)
        return found.value

    def vectors(self) -> list[dict]:
        out = []
        for path in sorted(self.vector_dir.glob("*.safetensors")):
            found = self._inspect(path, _vector_file)
            meta = found.value.meta if found.value is not None else {}
            out.append({"id": path.stem, "object": "steering_vector", "method": meta.get("method"),
                        "concept": meta.get("concept"), "layers": found.value.layers if found.value else None,
                        "model": meta.get("model"), "usable": found.problem is None, "problem": found.problem})
        return out

    def delete_vector(self, vector_id: str) -> None:
        path = self.vector_file(vector_id)
        if not path.is_file():
            raise ApiError(404, f"no steering vector {vector_id!r}", "vector_not_found")
        path.unlink()

    # -- probes -----------------------------------------------------------------------------------
    def probe(self, lm: LatentModel, probe_id: str) -> tuple:
        """(probe, meta), checked usable and made for ``lm``."""
        path = self.probe_dir / f"{check_id(probe_id, 'probe')}.safetensors"
        if not path.exists():
            raise ApiError(404, f"no probe {probe_id!r} (GET /v1/probes lists them)", "probe_not_found")
        found = self._inspect(path, _probe_file)
        if found.problem:
            raise ApiError(400, f"probe {probe_id!r} is broken: {found.problem}", "probe_broken")
        from latentspace.lens.probes import LinearProbe

        return LinearProbe.load_with_meta(path, lm.fingerprint)  # another model's: a one-line 400

    def probes(self) -> list[dict]:
        out = []
        for path in sorted(self.probe_dir.glob("*.safetensors")):
            found = self._inspect(path, _probe_file)
            meta = found.value[1] if found.value is not None else {}
            out.append({"id": path.stem, "object": "probe", "site": meta.get("site"), "layer": meta.get("layer"),
                        "thought": meta.get("thought"), "task": meta.get("task"), "usable": found.problem is None,
                        "problem": found.problem})
        return out

    # -- memories ---------------------------------------------------------------------------------
    @cached_property
    def memory(self):
        from latentspace.memory.store import MemoryStore

        return MemoryStore(self.root / "memory")

    def memory_info(self, memory_id: str):
        """A usable memory's record: a corrupt one is a 400 with the store's reason; unknown (or
        ambiguous) ids a 404 that names no server path."""
        check_id(memory_id, "memory")
        broken = next((c for c in self.memory.scan()[1] if c.id == memory_id), None)
        if broken is not None:
            raise ApiError(400, f"memory {memory_id!r} is broken: {broken.problem}", "memory_broken")
        try:
            return self.memory.get(memory_id)
        except LatentspaceError:
            raise ApiError(404, f"no memory {memory_id!r} (GET /v1/memories lists them)", "memory_not_found") from None

    def memories(self) -> list[dict]:
        """Usable memories, then the rows the store found corrupt (its `scan` is the one verdict)."""
        good, bad = self.memory.scan()
        return ([{**info.as_dict(), "usable": True, "problem": None} for info in good]
                + [{**row.as_dict(), "usable": False} for row in bad])

    # -- pipelines --------------------------------------------------------------------------------
    def _pipeline_path(self, name: str) -> Path | None:
        for suffix in PIPELINE_SUFFIXES:
            path = self.pipeline_dir / f"{name}{suffix}"
            if path.exists():
                return path
        return None

    def pipeline(self, name: str) -> str:
        """A pipeline source `load_pipeline` accepts (a built-in name or a file in pipelines/),
        checked loadable: unknown is a 404, broken a 400 naming the problem."""
        from latentspace.agents.pipelines import BUILTIN

        if name in BUILTIN:
            return name
        path = self._pipeline_path(check_id(name, "pipeline"))
        if path is None:
            known = [p["id"] for p in self.pipelines() if p["usable"]]
            raise ApiError(404, f"no pipeline {name!r}; known: {', '.join(known)}", "pipeline_not_found")
        problem = self._pipeline_problem(path)
        if problem:
            raise ApiError(400, f"pipeline {name!r} is broken: {problem}", "pipeline_broken")
        return str(path)

    def _pipeline_problem(self, path: Path) -> str | None:
        """The file's verdict, then whether this server serves every model its agents name."""
        found = self._inspect(path, _pipeline_file)
        return found.problem or unserved(found.value, self.served)

    def pipelines(self) -> list[dict]:
        from latentspace.agents.pipelines import BUILTIN

        out = [{"id": name, "builtin": True, "usable": True, "problem": None} for name in BUILTIN]
        stems = sorted({p.stem for p in self.pipeline_dir.iterdir() if p.suffix in PIPELINE_SUFFIXES} - set(BUILTIN))
        for stem in stems:  # the file `pipeline(stem)` would use, so the listing and the use agree
            problem = self._pipeline_problem(self._pipeline_path(stem))
            out.append({"id": stem, "builtin": False, "usable": problem is None, "problem": problem})
        return out


def _vector_file(path: Path):
    """The steering vector in ``path``, fully loaded against its own fingerprint (tensors, kind,
    finiteness, layer keys); any defect is a one-line LatentspaceError."""
    from latentspace.steer import SteeringVector

    return SteeringVector.load(path, fingerprint=_own_fingerprint(path, "steering vector"))


def _own_fingerprint(path: Path, what: str) -> dict:
    """The fingerprint a file's header carries, with every field a model check reads."""
    from latentspace.core.saved import header_json, read_header, saved_fingerprint

    return saved_fingerprint(header_json(read_header(path, what), "fingerprint", path), f"{what} {path.name}")


def _probe_file(path: Path):
    """The probe in ``path`` and its meta, loaded against its own fingerprint."""
    from latentspace.lens.probes import LinearProbe

    return LinearProbe.load_with_meta(path, _own_fingerprint(path, "probe"))


def _pipeline_file(path: Path):
    from latentspace.agents.pipelines import load_pipeline
    from latentspace.core.files import read_text

    read_text(path, "pipeline file")  # binary or not UTF-8: one line, before the parser sees it
    return load_pipeline(path)
