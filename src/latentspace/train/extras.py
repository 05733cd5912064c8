"""A recipe module's own parameters beyond its Hugging Face model (CODI's projector), in their one file.

The engine never reads or writes this file itself: it asks the recipe (`Recipe.save_extras`,
`Recipe.load_extras`), whose default is this format. ``extras.safetensors`` sits beside the model's
weights in a model folder (``RUN/checkpoint``, ``RUN/best``) and holds the module's state-dict entries
outside ``causal_lm``, under their names in the module — the layout saved runs already have.
"""

from __future__ import annotations

from pathlib import Path

import torch

from latentspace.core.checked import DamagedFile
from latentspace.train.run_folder import read_tensors, reason

FILE = "extras.safetensors"


def own_state(module) -> dict[str, torch.Tensor]:
    """The module's state outside its HF model, by its names in ``module.state_dict()``."""
    return {k: v.detach().contiguous() for k, v in module.state_dict().items() if "causal_lm." not in k}


def save_extras(module, folder: Path) -> None:
    """Write ``folder/extras.safetensors`` when the module has parameters of its own (none: no file)."""
    extras = own_state(module)
    if extras:
        from safetensors.torch import save_file

        save_file(extras, folder / FILE)


def load_extras(module, folder: Path) -> None:
    """Load ``extras.safetensors`` into the recipe's ``module``: exactly its own parameters (not the HF model's)."""
    own = list(own_state(module))
    path = folder / FILE
    if not own and not path.exists():
        return
    tensors = read_tensors(path, "extra parameters")
    unknown, missing = sorted(set(tensors) - set(own)), sorted(set(own) - set(tensors))
    if unknown or missing:
        fault = f"{unknown[0][:60]} is not one of its parameters" if unknown else f"its {missing[0][:60]} is missing"
        raise DamagedFile(f"extra parameters {path} do not fit recipe module {type(module).__name__} ({fault})")
    try:
        module.load_state_dict(tensors, strict=False)
    except RuntimeError as err:  # other shapes
        raise DamagedFile(f"extra parameters {path} do not fit recipe module ({reason(err)})") from None
