"""A latent reward model: a small head scoring a thought prefix from its step features (`features`).

Fitted like LatentTTS's: for each question and step, a softmax over the group's paths' scores is
pulled (cross-entropy) towards the paths' Monte-Carlo prefix values, normalised to sum to one;
groups whose paths all have one value carry no ranking and are left out. Saved as safetensors with
the run's model fingerprint and the run's folder in its header: loading it for another run is refused
naming both runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from latentspace.core.errors import LatentspaceError
from latentspace.core.saved import describe, header_json, load_tensors, read_header, save_tensors
from latentspace.search.rollouts import Rollouts

KIND = "latent_reward_model"


class LatentRewardModel(nn.Module):
    def __init__(self, features: int, hidden: int = 64) -> None:
        super().__init__()
        self.features, self.hidden = features, hidden
        self.net = nn.Sequential(nn.LayerNorm(features), nn.Linear(features, hidden), nn.GELU(), nn.Linear(hidden, 1))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """Scores ``[...]`` of features ``[..., F]``."""
        return self.net(features.float()).squeeze(-1)

    def save(self, path: Path, fingerprint: dict, run: str, meta: dict | None = None) -> Path:
        return save_tensors(path, dict(self.state_dict()), KIND, fingerprint,
                            {"run": run, "features": self.features, "hidden": self.hidden, **(meta or {})})


def load_reward_model(path: Path, fingerprint: dict, run: str) -> tuple[LatentRewardModel, dict]:
    """The saved reward model for the run whose model has ``fingerprint``; another run's is refused by name."""
    header = read_header(path, "latent reward model")
    if header.get("kind") == KIND:
        saved, meta = header_json(header, "fingerprint", path), header_json(header, "meta", path, {})
        if saved != fingerprint:
            raise LatentspaceError(f"{Path(path).name} was fitted on run {meta.get('run', '?')} [{describe(saved)}], "
                                   f"not on run {run} [{describe(fingerprint)}]")
    tensors, meta = load_tensors(path, KIND, fingerprint, what="latent reward model")
    try:
        model = LatentRewardModel(int(meta["features"]), int(meta["hidden"]))
        model.load_state_dict(tensors)
    except (KeyError, TypeError, ValueError, RuntimeError) as err:
        raise LatentspaceError(f"{Path(path).name}: not a complete latent reward model ({str(err)[:120]})") from None
    return model.eval(), meta


@dataclass
class FitReport:
    train_loss: float
    held_out_best_of_group: float  # held-out questions: share whose top-scored full path is right
    held_out_mean_path: float  # the same questions: a random path's accuracy
    held_out_any_path: float  # and the oracle's (any path right)
    groups: int  # (question, step) groups with a ranking to learn


def ranking_loss(model: LatentRewardModel, roll: Rollouts) -> tuple[torch.Tensor, int]:
    scores = model(roll.features)  # [Q, G, T]
    values = roll.values * roll.mask
    total = values.sum(1, keepdim=True)  # [Q, 1, T]
    spread = (roll.values.masked_fill(~roll.mask, -1).amax(1) != roll.values.masked_fill(~roll.mask, 2).amin(1))
    keep = (total.squeeze(1) > 0) & spread & (roll.mask.sum(1) > 1)  # [Q, T]
    if not keep.any():
        return scores.sum() * 0.0, 0
    target = values / total.clamp(min=1e-9)
    logp = torch.log_softmax(scores.masked_fill(~roll.mask, -1e9), 1)
    per_group = -(target * logp).sum(1)  # [Q, T]
    return per_group[keep].mean(), int(keep.sum())


def best_path(model: LatentRewardModel, features: list[torch.Tensor]) -> int:
    """Index of the path whose full-path score (its last step) is highest; ties: the first."""
    with torch.no_grad():
        scores = [float(model(f[-1])) if len(f) else float("-inf") for f in features]
    return max(range(len(scores)), key=lambda i: (scores[i], -i))


def fit_reward_model(roll: Rollouts, hidden: int = 64, epochs: int = 300, lr: float = 3e-3, held_out: float = 0.2,
                     seed: int = 0) -> tuple[LatentRewardModel, FitReport]:
    """Fit on all but ``held_out`` of the questions (full-batch AdamW), report best-of-group on the rest."""
    torch.manual_seed(seed)
    order = torch.randperm(roll.questions, generator=torch.Generator().manual_seed(seed))
    cut = max(1, int(round(roll.questions * (1 - held_out)))) if roll.questions > 1 else 1
    part = lambda idx: Rollouts(roll.features[idx], roll.values[idx], roll.mask[idx])  # noqa: E731
    train, rest = part(order[:cut]), part(order[cut:])
    model = LatentRewardModel(roll.features.shape[-1], hidden)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    loss = torch.tensor(0.0)
    for _ in range(epochs):
        loss, groups = ranking_loss(model, train)
        if groups == 0:
            break
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    _, groups = ranking_loss(model, train)
    outcome = rest.values[:, :, -1] if rest.questions else torch.zeros(0, 1)
    picks = [best_path(model, [f[m] for f, m in zip(rest.features[q], rest.mask[q])]) for q in range(rest.questions)]
    best = sum(float(outcome[q, g]) for q, g in enumerate(picks)) / max(1, len(picks))
    return model, FitReport(float(loss.detach()), best, float(outcome.mean()) if rest.questions else 0.0,
                            float(outcome.amax(1).mean()) if rest.questions else 0.0, groups)
