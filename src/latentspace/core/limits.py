"""Every budget the toolkit bounds, declared once and free of torch (the CLI's option ranges).

The CLI (`typer.Option(max=...)`), the server (the request schemas, `serve.config`) and the
strategies and trainers (`RANGES`, checked by `named.make_named`) all read these numbers, so a
request the server accepts is one the CLI accepts and a strategy runs. It lives on the ground
floor because `latentspace.reason`'s package __init__ imports every strategy (and so torch).
"""

from __future__ import annotations

# the most latent steps a strategy takes (a request's ``steps``, `--steps`, ``max_latent_steps``)
MAX_LATENT_STEPS = 256
# the most tokens one answer may generate (a request's ``max_tokens``, ``max_new_tokens``)
MAX_NEW_TOKENS = 4096
# the most items, windows or examples one step holds (`--batch-size` of audit, bench, bridge fit, world train)
MAX_BATCH = 4096
# the most windows or rows one optimizer step of a recipe or a tuned lens holds (a global batch over many GPUs)
MAX_TRAIN_BATCH = 65_536
