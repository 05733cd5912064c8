"""One finiteness policy: nothing non-finite is trained on, saved, loaded or fed silently.

Training loops call `check_loss` every step (and `check_module` before each save), saves and loads
call `check_tensors`; each raises `NonFiniteError`, a one-line `LatentspaceError` that names the
step and the setting most likely to blame, so the CLI exits 2 and no bad checkpoint is written.
"""

from __future__ import annotations

import math

import torch

from latentspace.core.errors import LatentspaceError


class NonFiniteError(LatentspaceError):
    """A NaN or inf where a number was needed."""


def check_loss(loss, step: int, setting: str = "") -> float:
    """The loss as a float; stops training at the first NaN/inf loss."""
    value = float(loss.detach()) if torch.is_tensor(loss) else float(loss)
    if not math.isfinite(value):
        hint = f" (check {setting})" if setting else ""
        raise NonFiniteError(f"training diverged: loss is {value} at step {step}{hint}; nothing non-finite was saved")
    return value


def bad_tensor(tensors: dict[str, torch.Tensor]) -> str | None:
    """The name of the first tensor holding a NaN or inf, else None."""
    for name, tensor in tensors.items():
        if torch.is_tensor(tensor) and tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            return name
    return None


def check_tensors(tensors: dict[str, torch.Tensor], what: str) -> None:
    name = bad_tensor(tensors)
    if name is not None:
        raise NonFiniteError(f"{what}: tensor {name!r} holds NaN or inf")


def check_module(module: torch.nn.Module, step: int, setting: str = "") -> None:
    """Stops training when a parameter went non-finite (a finite loss can hide an inf weight)."""
    name = bad_tensor(dict(module.named_parameters()))
    if name is not None:
        hint = f" (check {setting})" if setting else ""
        raise NonFiniteError(f"training diverged: parameter {name} is NaN or inf at step {step}{hint}; "
                             "nothing non-finite was saved")


def stream_overflows(h: torch.Tensor) -> bool:
    """Whether residual-stream vectors ``h`` cannot be normalised: NaN/inf, or a squared norm past
    float range (RMSNorm/LayerNorm then return zeros and every logit comes out equal)."""
    return not bool(torch.isfinite(h).all()) or not bool(torch.isfinite(h.float().pow(2).sum(-1)).all())
