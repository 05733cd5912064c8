"""World-model files: safetensors with the environment configuration they were trained on and the
model's kind and settings; loading one for another configuration is refused, naming what differs.

`load_world` is the one reader: the header (environment, kind, settings) is conformed to the
dataclasses below before anything is built from it, the weights through `saved.read_tensors`
(corrupt, truncated or non-finite -> one line), so a damaged file never reaches the model code.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from latentspace.core import saved
from latentspace.core.checked import conform
from latentspace.core.errors import LatentspaceError
from latentspace.world.two_rooms import RoomsConfig

KIND = "world_model"


@dataclass
class Trained:
    """The fingerprint header of a world model: the environment it was trained on."""

    environment: RoomsConfig


@dataclass
class WorldMeta:
    """The meta header: the model's kind and settings, and (from `world train`) what it was trained with."""

    kind: str
    settings: dict
    step: int | None = None
    train: dict | None = None
    data_seed: int | None = None
    episodes: int | None = None
    steps: int | None = None


def kinds() -> dict:
    from latentspace.world.bc import BcConfig, GoalPolicy
    from latentspace.world.jepa import JepaConfig, JepaWorldModel
    from latentspace.world.pixel import PixelConfig, PixelWorldModel

    return {"jepa": (JepaWorldModel, JepaConfig), "pixel": (PixelWorldModel, PixelConfig), "bc": (GoalPolicy, BcConfig)}


def build(kind: str, size: int, settings: dict | None = None, seed: int | None = None, where: str | None = None):
    """A fresh model of ``kind`` (jepa, pixel, bc) for ``size``-pixel observations; ``seed`` seeds its
    initial weights (the same seed, the same model). ``where``: the file the settings were read from
    (they must then be complete, as `save_world` writes them)."""
    import torch

    table = kinds()
    if kind not in table:
        raise LatentspaceError(f"{where + ': ' if where else ''}unknown world model {kind!r}; valid: {', '.join(table)}")
    cls, config = table[kind]
    built = conform(dict(settings or {}), config, where or f"{kind} settings", complete=where is not None)
    if seed is not None:
        torch.manual_seed(seed)
    return cls(size, built)


def save_world(path: str | Path, model, config: RoomsConfig, meta: dict | None = None) -> Path:
    return saved.save_tensors(path, model.state_dict(), KIND, {"environment": config.key()},
                           {**(meta or {}), "kind": model.kind, "settings": model.config.to_dict()})


def load_world(path: str | Path, config: RoomsConfig | None = None):
    """(model, meta, the configuration it was trained on); refused for another ``config``."""
    path = Path(path)
    header = saved.read_header(path, "world model")
    if header.get("kind") != KIND:
        raise LatentspaceError(f"{path.name} is not a saved world model (it holds: {header.get('kind', 'unknown')})")
    where = f"world model {path.name}"
    trained = conform(saved.header_json(header, "fingerprint", path), Trained, f"{where} fingerprint", True).environment
    meta = saved.header_json(header, "meta", path, default={})
    conform(meta, WorldMeta, f"{where} meta")
    if config is not None and trained.key() != config.key():
        diff = ", ".join(f"{k} {v} there, {config.key()[k]} here" for k, v in trained.key().items() if config.key()[k] != v)
        raise LatentspaceError(f"{path.name} was trained on another environment configuration: {diff}")
    model = build(meta["kind"], trained.size, meta["settings"], where=f"{where} settings")
    saved.load_state(model, saved.read_tensors(path), path, f"{meta['kind']} model")
    return model.eval(), meta, trained
