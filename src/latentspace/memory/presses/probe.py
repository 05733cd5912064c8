"""Probe: a fixed, question-independent request read after the document votes for what to keep.

SnapKV keeps what the last tokens attend to, but at the end of a document those are ordinary
text, which cares about the last sentence, not about the facts a later question will ask for.
The probe appends a short generic request ("list the names, numbers and facts above"), lets its
tokens vote with their attention exactly as SnapKV's window does, then cuts the probe out of
the cache again. The probe is the same for every document and every question, so the press
stays query-agnostic (the document is compressed once, before any question is known); what it
adds is a reader whose attention is drawn to facts. Costs one extra pass over a few tokens.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, TYPE_CHECKING

import torch
import torch.nn.functional as F

from latentspace.core.errors import LatentspaceError
from latentspace.core.named import between
from latentspace.memory.presses.base import Press, check_kernel
from latentspace.memory.presses.registry import register
from latentspace.memory.presses.tova import per_kv_head

if TYPE_CHECKING:  # the type only: no import at run time
    from latentspace.model.latent_model import LatentModel

DEFAULT_PROBE = "\n\nList every name, number, code and fact stated above."


@register
@dataclass
class ProbePress(Press):
    name = "probe"
    probe = True
    text: str = DEFAULT_PROBE
    kernel: int = 5
    RANGES: ClassVar[dict] = {"kernel": between(1, 63)}

    def __post_init__(self) -> None:
        super().__post_init__()
        check_kernel(self.kernel, self.name)
        if not isinstance(self.text, str) or not self.text.strip():
            raise LatentspaceError("press 'probe': text must not be empty")

    def probe_ids(self, lm: LatentModel):
        return torch.tensor([lm.token_ids(self.text)], dtype=torch.long)

    def score(self, view):
        # this view's last slots are the probe: its queries vote over the document's slots
        m = view.hidden.shape[1]
        attn = view.attention(last=m)  # [B, H, m, L + m]
        votes = attn.mean(2)[..., view.start: view.keys.shape[2] - m]
        slots = view.mask[:, None, view.start: view.keys.shape[2] - m].float()
        pool = lambda x: F.avg_pool1d(x, self.kernel, stride=1, padding=self.kernel // 2)  # noqa: E731
        return per_kv_head(pool(votes * slots) / pool(slots).clamp_min(1e-9), view.kv_heads)
