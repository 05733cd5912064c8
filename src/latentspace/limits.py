"""Budgets that light modules declare and heavy ones enforce, free of torch (the CLI's option ranges).

It lives outside `latentspace.reason`, whose package __init__ imports every strategy (and so torch).
"""

from __future__ import annotations

# the most latent steps a strategy takes, as the server bounds a request's ``steps``
MAX_LATENT_STEPS = 256
