"""What a latent reward model reads of a thought prefix of t thoughts: the state after its last thought
(``s_t``, the last layer after the final norm — for a whole path, the state the answer is read from),
the last vector fed (``x_{t-1}``) and t itself.

The model is deterministic given the fed vectors, and ``s_t`` already carries everything fed before.
"""

from __future__ import annotations

import torch


def prefix_features(after: torch.Tensor, fed: torch.Tensor, length: int) -> torch.Tensor:
    """``[B, 2d + 1]`` features of prefixes of ``length`` thoughts for a batch."""
    index = torch.full((after.shape[0], 1), float(length), dtype=torch.float32, device=after.device)
    return torch.cat([after.float(), fed.float(), index], -1).detach().cpu()


class FeatureRecorder:
    """`evaluate`'s observer and finished hook at once: every row's states and fed vectors, stacked as
    prefix features (``stacked(row)`` is ``[T, F]``, row t the prefix of t + 1 thoughts)."""

    def __init__(self) -> None:
        self.states: dict[int, list[torch.Tensor]] = {}
        self.fed: dict[int, list[torch.Tensor]] = {}

    def __call__(self, step: int, state, vectors: torch.Tensor, rows: range) -> None:
        for offset, row in enumerate(rows):
            self.states.setdefault(row, []).append(state.hidden[offset].detach().float().cpu())
            self.fed.setdefault(row, []).append(vectors[offset].detach().float().cpu())

    def finished(self, state, rows: range) -> None:
        for offset, row in enumerate(rows):
            self.states.setdefault(row, []).append(state.hidden[offset].detach().float().cpu())

    def stacked(self, row: int, width: int, count: int) -> torch.Tensor:
        """``[count, F]`` of one row that had ``count`` thoughts: the state after thought t+1 (after the
        last one: the finished state), the vector fed at t, and t + 1."""
        if count == 0:
            return torch.zeros(0, width)
        fed, states = self.fed[row][:count], self.states[row]
        after = torch.stack(states[1:count] + [states[-1]])  # a batch's later steps past ``count`` are not the row's
        return prefix_features(after, torch.stack(fed), 0) + torch.cat(
            [torch.zeros(count, width - 1), torch.arange(1, count + 1, dtype=torch.float32)[:, None]], -1)
