"""KV-cache presses: compress the working memory a prefill writes (one method per file).

    press = get_press("snapkv", ratio=0.5)
    state = lm.encode(document, press=press)      # or: with lm.pressing(press): ...
"""

from latentspace.memory.presses import (  # noqa: F401  (registers each press)
    chunked,
    expected_attention,
    h2o,
    keydiff,
    knorm,
    per_layer,
    probe,
    snapkv,
    streaming,
    surprisal,
    tova,
)
from latentspace.memory.presses.base import Press, check_ratio
from latentspace.memory.presses.registry import PRESSES, get_press

__all__ = ["PRESSES", "Press", "check_ratio", "get_press"]
