"""GGUF -> dequantized safetensors cache, so a bundled model loads in seconds after the first time.

transformers dequantizes a GGUF on every load (tens of seconds on a laptop CPU) and refuses to
`save_pretrained` the result. We rebuild a plain model from the same config, copy the weights in,
and save that under ``$LATENTSPACE_HOME/models/<name>`` (written to a temporary folder, then
renamed, so a crash never leaves a half-written cache behind).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from latentspace.core.errors import LatentspaceError

MARKER = "latentspace.json"


def home() -> Path:
    """Where latentspace keeps converted models and other data (``$LATENTSPACE_HOME``)."""
    return Path(os.environ.get("LATENTSPACE_HOME") or Path.home() / ".cache" / "latentspace")


def cache_dir(name: str) -> Path:
    return home() / "models" / name


def is_cached(name: str) -> bool:
    return (cache_dir(name) / MARKER).exists()


def clear(name: str) -> bool:
    """Delete a cached conversion (it is rebuilt on next use); False if there was none."""
    target = cache_dir(name)
    if not target.exists():
        return False
    shutil.rmtree(target)
    return True


@contextmanager
def quiet_hf() -> Iterator[None]:
    """Silence transformers' own progress bars (ours show the stages instead)."""
    from transformers.utils import logging as hf_logging

    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()


def load_gguf(path: Path, dtype: torch.dtype = torch.float32):
    """(model, tokenizer) read straight from a GGUF file, with a clear error if it is unreadable."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if not path.is_file():
        raise LatentspaceError(f"GGUF file not found: {path}")
    try:
        with quiet_hf():
            tok = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
            model = AutoModelForCausalLM.from_pretrained(str(path.parent), gguf_file=path.name, dtype=dtype)
    except Exception as err:  # noqa: BLE001 - the GGUF readers raise anything (struct.error, KeyError...) on bad bytes
        detail = (str(err).strip().splitlines() or [type(err).__name__])[0][:120]
        raise LatentspaceError(f"cannot read GGUF {path.name}: corrupt or truncated ({detail})") from err
    return model.eval(), tok


def _dequantized_copy(model):
    """A plain (non-GGUF) model of the same config holding the same weights."""
    from transformers import AutoModelForCausalLM

    config = model.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    with torch.device("meta"):
        fresh = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    fresh.load_state_dict(model.state_dict(), assign=True)
    fresh.tie_weights()
    return fresh


def convert(name: str, gguf_path: Path, show_progress: bool = True) -> Path:
    """Dequantize ``gguf_path`` once and cache it as ``name``; returns the cache folder."""
    target = cache_dir(name)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=target.parent))
    except OSError as err:
        raise LatentspaceError(f"cannot write the model cache under {home()} ({err.strerror}); set LATENTSPACE_HOME") from err
    tmp.chmod(0o755)  # mkdtemp makes it private; the cache is an ordinary folder
    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    started = time.perf_counter()
    try:
        with Progress(*columns, transient=True, disable=not show_progress) as bar:
            task = bar.add_task(f"first use of {name}: dequantizing {gguf_path.name} (once)", total=3)
            model, tok = load_gguf(gguf_path)
            bar.update(task, advance=1, description=f"{name}: writing safetensors cache")
            with quiet_hf():
                _dequantized_copy(model).save_pretrained(tmp)
                tok.save_pretrained(tmp)
            bar.update(task, advance=1)
            meta = {"name": name, "source": gguf_path.name, "convert_seconds": round(time.perf_counter() - started, 1)}
            (tmp / MARKER).write_text(json.dumps(meta, indent=2))
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target
