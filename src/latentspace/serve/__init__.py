"""Serve latentspace over HTTP: an OpenAI-compatible API with latent extensions, latentspace's own
lens / steering / memory / agents routes, metrics, and the Latent Explorer page at ``/``.

    latentspace serve                     # the bundled model on 127.0.0.1:8000
    from latentspace.serve import create_app, ServeConfig

One worker thread per model with a bounded queue (`worker.py`); requests become `Work`
(`prompts.py`) that runs through a reasoning strategy (`generation.py`), so every answer comes
with the same `Trace` the library returns.
"""

from latentspace.serve.app import create_app
from latentspace.serve.config import ServeConfig

__all__ = ["ServeConfig", "create_app"]
