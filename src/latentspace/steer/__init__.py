"""Control the latent space: steering vectors, directional ablation, clamping, GGUF export.

    from latentspace.steer import load_pairs, train_vector
    vec = train_vector(lm, load_pairs("sentiment"), method="mean_diff")
    with vec.apply(lm, strength=0.5, positions="generated"):
        print(lm.generate("Tell me about your weekend."))

One method per file in ``methods/``; application is hooks only (``apply.py``); vectors are values
with arithmetic (``vector.py``) saved as safetensors or llama.cpp GGUF (``control_gguf.py``).
"""

from latentspace.steer.adding import steer
from latentspace.steer.apply import ablate, clamp
from latentspace.steer.control_gguf import export_gguf, import_gguf
from latentspace.steer.methods import METHODS
from latentspace.steer.pairs import Pair, concepts, load_pairs
from latentspace.steer.probe_bridge import from_probe
from latentspace.steer.train import train_vector
from latentspace.steer.vector import SteeringVector

__all__ = ["METHODS", "Pair", "SteeringVector", "ablate", "clamp", "concepts", "export_gguf", "from_probe",
           "import_gguf", "load_pairs", "steer", "train_vector"]
