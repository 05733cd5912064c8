"""The ground floor: one policy a module, imported by every layer above and importing none of them.

- `errors`: one error type, `LatentspaceError` — a one-line message, exit code 2 or HTTP 4xx
  (public as `latentspace.errors`).
- `files`: atomic writes (a temporary file renamed into place) and refusing to overwrite inputs.
- `jsonsafe`: strict JSON — what we write reads back; NaN and infinity never leave silently.
- `finite`: one finiteness policy for tensors, losses and numbers written or read.
- `limits`: the budgets and declared option ranges (latent steps, tokens, batch sizes) that the CLI,
  the server and the strategies all check against.
- `named`: registries of named parts (presses, recipes, strategies) and their `--set` options.
- `checked`: every saved file read through one validating loader (keys, types, finiteness).
- `saved`: the saved-object format — safetensors plus a header with the model's fingerprint.
- `step_checkpoint`: a resumable trainer's checkpoint as one unit, resumed bit-identically.
- `pages`, `plots`: self-contained HTML pages and headless figures.
- `stats`: the statistics every report uses (Wilson intervals).

Inside the floor the same rule holds a module at a time (tests/test_layering.py: `CORE_LAYERS`).
"""
