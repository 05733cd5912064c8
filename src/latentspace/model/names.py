"""Model names that light modules need (the CLI's defaults and help), free of torch."""

from __future__ import annotations

DEFAULT_MODEL = "smollm2-135m"
