"""World-model files: safetensors with the environment configuration they were trained on and the
model's kind and settings; loading one for another configuration is refused, naming what differs."""

from __future__ import annotations

from pathlib import Path

from safetensors.torch import load_file

from latentspace import io
from latentspace.errors import LatentspaceError
from latentspace.world.two_rooms import RoomsConfig

KIND = "world_model"


def build(kind: str, size: int, settings: dict | None = None):
    """A fresh model of ``kind`` (jepa, pixel, bc) for ``size``-pixel observations."""
    from latentspace.world.bc import BcConfig, GoalPolicy
    from latentspace.world.jepa import JepaConfig, JepaWorldModel
    from latentspace.world.pixel import PixelConfig, PixelWorldModel

    kinds = {"jepa": (JepaWorldModel, JepaConfig), "pixel": (PixelWorldModel, PixelConfig), "bc": (GoalPolicy, BcConfig)}
    if kind not in kinds:
        raise LatentspaceError(f"unknown world model {kind!r}; valid: {', '.join(kinds)}")
    cls, config = kinds[kind]
    try:
        return cls(size, config(**(settings or {})))
    except TypeError as err:
        raise LatentspaceError(f"{kind} settings: {err}") from None


def save_world(path: str | Path, model, config: RoomsConfig, meta: dict | None = None) -> Path:
    return io.save_tensors(path, model.state_dict(), KIND, {"environment": config.key()},
                           {**(meta or {}), "kind": model.kind, "settings": model.config.to_dict()})


def load_world(path: str | Path, config: RoomsConfig | None = None):
    """(model, meta, the configuration it was trained on); refused for another ``config``."""
    path = Path(path)
    header = io.read_header(path, "world model")
    if header.get("kind") != KIND:
        raise LatentspaceError(f"{path.name} is not a saved world model (it holds: {header.get('kind', 'unknown')})")
    saved = io.header_json(header, "fingerprint", path)
    meta = io.header_json(header, "meta", path, default={})
    try:
        trained = RoomsConfig(**saved["environment"])
    except (KeyError, TypeError) as err:
        raise LatentspaceError(f"{path.name}: malformed environment header ({err})") from None
    if config is not None and trained.key() != config.key():
        diff = ", ".join(f"{k} {v} there, {config.key()[k]} here" for k, v in trained.key().items() if config.key()[k] != v)
        raise LatentspaceError(f"{path.name} was trained on another environment configuration: {diff}")
    model = build(meta.get("kind", ""), trained.size, meta.get("settings"))
    try:
        model.load_state_dict(load_file(str(path)))
    except RuntimeError as err:
        raise LatentspaceError(f"{path.name}: its weights do not fit a {meta.get('kind')} model ({str(err)[:80]})") from None
    return model.eval(), meta, trained
