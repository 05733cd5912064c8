"""One intact pass over the items, keeping every thought: its input vector, the next-token
distribution of the state it was computed from (what the lens reads) and — for subjects that show
their network — the residual stream at that state's position in every layer (what the per-layer
probes read). The other tests start here."""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass

import torch

from latentspace.audit.subject import Subject
from latentspace.core.errors import LatentspaceError
from latentspace.model.hooks import HookSession, Intervention
from latentspace.tasks import Item


@dataclass
class Recording:
    rows: list[dict]  # the intact answers
    vectors: torch.Tensor  # [N, T, d] each thought's input (zeros past an item's count)
    logprobs: torch.Tensor  # [N, T, V] log-softmax of the state each thought came from
    counts: torch.Tensor  # [N] thoughts per item
    layers: torch.Tensor | None = None  # [N, T, L, d] residual stream after layer_ids[l] where thought t was computed
    layer_ids: tuple[int, ...] = ()

    @property
    def slots(self) -> int:
        return self.vectors.shape[1]

    @property
    def correct(self) -> torch.Tensor:
        return torch.tensor([bool(r["correct"]) for r in self.rows])

    def mean_thought(self, t: int) -> torch.Tensor:
        """Thought t's input averaged over the items that have one."""
        has = self.counts > t
        return self.vectors[has, t].mean(0) if has.any() else torch.zeros(self.vectors.shape[-1])


def record(subject: Subject, items: list[Item], layers: bool = False, also: tuple[int, ...] = ()) -> Recording:
    """``layers``: also keep each thought's residual stream per layer (when the subject has `network`);
    a deep model's layers are sampled, ``also`` names layers that must be among them."""
    counts = torch.tensor(subject.thoughts(items))
    slots = int(counts.max()) if len(counts) else 0
    vectors: dict[tuple[int, int], torch.Tensor] = {}
    logprobs: dict[tuple[int, int], torch.Tensor] = {}
    streams: dict[tuple[int, int], torch.Tensor] = {}
    latest: dict[int, torch.Tensor] = {}  # layer -> [B, d] at the last position of the latest forward
    network = subject.network() if layers and hasattr(subject, "network") else None  # (model, sites)
    chosen = chosen_layers(network[1].n_layers, also=also) if network else ()

    def observe(i, state, batch, rows):
        reading = torch.log_softmax(state.logits.float(), -1)
        for r, row in enumerate(rows):
            vectors[row, i] = batch[r].detach().float().cpu()
            logprobs[row, i] = reading[r].cpu()
            if latest:
                streams[row, i] = torch.stack([latest[layer][r] for layer in chosen])
        latest.clear()  # a thought whose state no hooked forward made (a reused prefill) gets no stream

    with layer_session(network, chosen, latest) if network else nullcontext():
        rows = subject.answer(items, observe=observe)
    seen = torch.zeros(len(items), dtype=torch.long)  # a strategy that never stepped a latent has no thoughts
    for row, i in vectors:
        seen[row] = max(int(seen[row]), i + 1)
    counts = torch.minimum(counts, seen)
    slots = int(counts.max()) if len(counts) else 0
    width = next(iter(vectors.values())).shape[-1] if vectors else 1
    vocab = next(iter(logprobs.values())).shape[-1] if logprobs else 1
    v = torch.zeros(len(items), slots, width)
    lp = torch.full((len(items), slots, vocab), float("-inf"))
    per_layer = None
    if streams and all((row, i) in streams for (row, i) in vectors if i < counts[row]):
        depth, hidden = next(iter(streams.values())).shape
        per_layer = torch.zeros(len(items), slots, depth, hidden)
    for (row, i), x in vectors.items():
        if i < counts[row]:
            v[row, i], lp[row, i] = x, logprobs[row, i]
            if per_layer is not None:
                per_layer[row, i] = streams[row, i]
    return Recording(rows, v, lp, counts, per_layer, tuple(chosen) if per_layer is not None else ())


def chosen_layers(n_layers: int, most: int = 12, also: tuple[int, ...] = ()) -> tuple[int, ...]:
    """Every layer of a small model; of a deep one ``most`` evenly spaced, the last included."""
    bad = [layer for layer in also if not 0 <= layer < n_layers]
    if bad:
        raise LatentspaceError(f"layer {bad[0]} does not exist; the model has layers 0-{n_layers - 1}")
    if n_layers <= most:
        return tuple(range(n_layers))
    return tuple(sorted({round(k * (n_layers - 1) / (most - 1)) for k in range(most)} | set(also)))


def layer_session(network, chosen, latest: dict) -> HookSession:
    """Hooks that keep each chosen layer's output at the last position of every forward (changing nothing)."""
    model, sites = network

    def keeper(layer):
        def keep(hidden):
            latest[layer] = hidden[:, -1].detach().float().cpu()
            return hidden
        return keep

    return HookSession(model, sites, interventions=[Intervention("resid_post", layer, "fn", keeper(layer))
                                                    for layer in chosen])
