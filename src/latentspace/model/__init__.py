"""The model layer: loading, canonical sites, hooks, latent stepping, KV utilities, alignment."""

from latentspace.model.hooks import Intervention, Recording, StopForward
from latentspace.model.latent_model import LatentModel
from latentspace.model.registry import DEFAULT_MODEL, REGISTRY
from latentspace.model.state import LatentState

__all__ = ["DEFAULT_MODEL", "REGISTRY", "Intervention", "LatentModel", "LatentState", "Recording", "StopForward"]
