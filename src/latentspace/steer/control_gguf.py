"""Export and import llama.cpp control vectors (the GGUF that ``llama-cli --control-vector`` reads).

The format, as llama.cpp's loader reads it: GGUF architecture ``controlvector``, one 1-D float32
tensor ``direction.N`` per layer, added (times the strength given on llama.cpp's command line) to
the output of block N — the same place as our ``resid_post`` of layer N, so the index is kept as
is. llama.cpp never steers block 0 (it rejects ``direction.0``), so a vector with layer 0 is
refused rather than silently changed. ``controlvector.model_hint`` names the architecture; we
also store the model fingerprint under ``latentspace.*`` keys (llama.cpp ignores them) so an
import into another model of the same architecture and size is still caught.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from latentspace.core import jsonsafe
from latentspace.core.errors import LatentspaceError
from latentspace.core.files import atomic_write, check_output
from latentspace.core.saved import check_same
from latentspace.steer.vector import SteeringVector

if TYPE_CHECKING:  # the type only: no import at run time
    from latentspace.model.latent_model import LatentModel

ARCH = "controlvector"
# llama.cpp's own tools write its architecture name as the hint, which is not always HF's model_type
LLAMA_CPP_ARCH = {"mistral": "llama", "gemma3_text": "gemma3", "gpt2": "gpt2", "phi3": "phi3", "olmo2": "olmo2"}


def export_gguf(vector: SteeringVector, path: str | Path, model_type: str | None = None) -> Path:
    import gguf

    if 0 in vector.directions:
        raise LatentspaceError("llama.cpp cannot steer layer 0 (it rejects direction.0); select layers >= 1")
    hint = model_type or (vector.fingerprint or {}).get("model_type")
    if not hint:
        raise LatentspaceError("name the model architecture (model_type) for the GGUF's model hint")
    path = check_output(path, "control vector")
    with atomic_write(path, "control vector") as tmp:  # a failed write leaves nothing behind
        writer = gguf.GGUFWriter(str(tmp), ARCH)
        try:
            writer.add_string(f"{ARCH}.model_hint", hint)
            writer.add_uint32(f"{ARCH}.layer_count", len(vector))
            if vector.fingerprint:
                writer.add_string("latentspace.fingerprint", jsonsafe.dumps(vector.fingerprint))
            writer.add_string("latentspace.meta", jsonsafe.dumps(vector.meta))
            for layer, direction in vector.directions.items():
                writer.add_tensor(f"direction.{layer}", direction.numpy().astype(np.float32))
            writer.write_header_to_file()
            writer.write_kv_data_to_file()
            writer.write_tensors_to_file()
        finally:
            writer.close()
    return path


def _text(field) -> str:
    try:
        return bytes(field.parts[field.data[0]]).decode("utf-8")
    except (UnicodeDecodeError, IndexError, TypeError):
        raise LatentspaceError("a text field of the GGUF is not UTF-8 text") from None


def _json(fields, key: str, path: Path):
    """A JSON text field we wrote (fingerprint, meta): malformed -> one line."""
    try:
        return json.loads(_text(fields[key]))
    except json.JSONDecodeError:
        raise LatentspaceError(f"{path.name}: its {key} field is not valid JSON") from None


def import_gguf(path: str | Path, lm: LatentModel) -> SteeringVector:
    """A llama.cpp control vector (ours or anyone's) as a `SteeringVector` for ``lm``."""
    import gguf

    path = Path(path)
    if not path.is_file():
        raise LatentspaceError(f"no control-vector GGUF at {path}")
    try:
        reader = gguf.GGUFReader(str(path))
    except (ValueError, OSError, IndexError) as err:
        raise LatentspaceError(f"cannot read {path.name} as GGUF ({err})") from None
    fields = reader.fields
    arch = _text(fields["general.architecture"]) if "general.architecture" in fields else None
    if arch != ARCH:
        raise LatentspaceError(f"{path.name} is a {arch or 'unknown'} GGUF, not a control vector")
    hint = _text(fields[f"{ARCH}.model_hint"]) if f"{ARCH}.model_hint" in fields else None
    model_type = lm.config.model_type
    if hint is not None and hint not in (model_type, LLAMA_CPP_ARCH.get(model_type)):
        raise LatentspaceError(f"{path.name} was made for a {hint!r} model; the loaded model is {model_type!r}")
    directions = {}
    for tensor in reader.tensors:
        name = tensor.name
        if not name.startswith("direction."):
            continue
        try:
            layer = int(name.split(".", 1)[1])
        except ValueError:
            raise LatentspaceError(f"{path.name}: tensor {name!r} has no layer number") from None
        if tensor.tensor_type != gguf.GGMLQuantizationType.F32:
            raise LatentspaceError(f"{path.name}: {name} is {tensor.tensor_type.name}, control vectors are F32")
        directions[layer] = np.array(tensor.data, dtype=np.float32).reshape(-1)
    if not directions:
        raise LatentspaceError(f"{path.name} holds no direction.N tensors")
    sizes = {v.size for v in directions.values()}
    if sizes != {lm.hidden_size}:
        raise LatentspaceError(f"{path.name} has directions of size {sorted(sizes)}; the model's is {lm.hidden_size}")
    meta = {"method": "gguf", "source": path.name}
    if "latentspace.fingerprint" in fields:
        saved = _json(fields, "latentspace.fingerprint", path)
        if not isinstance(saved, dict):
            raise LatentspaceError(f"{path.name}: its latentspace.fingerprint field is not a mapping")
        check_same(saved, lm.fingerprint, "control vector")
        if "latentspace.meta" in fields:
            meta = _json(fields, "latentspace.meta", path)
            meta = meta if isinstance(meta, dict) else {"method": "gguf", "source": path.name}
    import torch

    vector = SteeringVector({k: torch.from_numpy(v.copy()) for k, v in directions.items()}, lm.fingerprint, meta)
    vector.check_fits(lm)
    return vector
