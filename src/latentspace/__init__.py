"""latentspace: compute in the latent space of language models."""

from latentspace.errors import LatentspaceError
from latentspace.model import DEFAULT_MODEL, Intervention, LatentModel, LatentState
from latentspace.trace import Step, Trace

__version__ = "0.1.0"
load = LatentModel.load

__all__ = ["DEFAULT_MODEL", "Intervention", "LatentModel", "LatentState", "LatentspaceError", "Step", "Trace", "load"]
