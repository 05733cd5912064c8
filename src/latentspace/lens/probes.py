"""Linear probes on activations: logistic for labels, ridge for values — always with a control.

A probe's held-out score means little alone (a linear map on hundreds of dimensions fits a lot), so
every fit also reports the same probe trained on *shuffled* labels: a real feature shows as a wide
gap between the two.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from latentspace.core.checked import DamagedFile, conform
from latentspace.core.errors import LatentspaceError
from latentspace.core.finite import check_loss, check_tensors
from latentspace.core.saved import load_tensors, save_tensors
from latentspace.lens.logit_lens import check_context

if TYPE_CHECKING:  # the type only: no import at run time
    from latentspace.model.latent_model import LatentModel


@dataclass
class ProbeScore:
    layer: int | None
    task: str  # "classification" (accuracy) or "regression" (R²)
    train: float
    test: float
    control: float  # test score of the same probe fitted on shuffled labels
    n_train: int
    n_test: int

    def to_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class LinearProbe:
    task: str
    weight: torch.Tensor  # [classes, d] or [d]
    bias: torch.Tensor
    mean: torch.Tensor  # feature standardisation learnt on the training split
    std: torch.Tensor
    classes: list  # label values (classification)

    def predict(self, x: torch.Tensor):
        z = (x.float() - self.mean) / self.std
        if self.task == "regression":
            return z @ self.weight + self.bias
        return [self.classes[i] for i in (z @ self.weight.T + self.bias).argmax(-1).tolist()]

    def score(self, x: torch.Tensor, y) -> float:
        pred = self.predict(x)
        if self.task == "regression":
            y = torch.as_tensor(y, dtype=torch.float32)
            return float(1 - ((pred - y) ** 2).sum() / ((y - y.mean()) ** 2).sum().clamp_min(1e-12))
        return sum(p == t for p, t in zip(pred, y)) / len(y)

    def save(self, path: str | Path, fingerprint: dict, meta: dict | None = None) -> Path:
        tensors = {"weight": self.weight, "bias": self.bias, "mean": self.mean, "std": self.std}
        return save_tensors(path, tensors, "linear_probe", fingerprint, {**(meta or {}), "task": self.task,
                                                                          "classes": self.classes})

    @classmethod
    def load(cls, path: str | Path, fingerprint: dict) -> LinearProbe:
        return cls.load_with_meta(path, fingerprint)[0]

    @classmethod
    def load_with_meta(cls, path: str | Path, fingerprint: dict) -> tuple[LinearProbe, dict]:
        """The probe and what was saved with it (layer, site, position...), from one read."""
        t, meta = load_tensors(path, "linear_probe", fingerprint, what="probe")
        name = Path(path).name
        saved = conform({k: meta[k] for k in ("task", "classes") if k in meta}, ProbeMeta, f"probe {name} meta")
        d = fingerprint["hidden_size"]
        rows = [] if saved.task == "regression" else [len(saved.classes)]
        shapes = {"weight": [*rows, d], "bias": rows, "mean": [d], "std": [d]}
        for key, shape in shapes.items():
            if key not in t or list(t[key].shape) != shape:
                found = list(t[key].shape) if key in t else "missing"
                raise DamagedFile(f"probe {name}: {key} is {found}, expected {shape}")
        return cls(saved.task, t["weight"], t["bias"], t["mean"], t["std"], saved.classes), meta


@dataclass
class ProbeMeta:
    """What a saved probe's header must say (other keys — layer, site, position — are its users')."""

    task: str
    classes: list

    def __post_init__(self) -> None:
        if self.task not in ("classification", "regression"):
            raise ValueError(f"task {self.task[:40]!r} is neither classification nor regression")
        if self.task == "classification" and len(self.classes) < 2:
            raise ValueError("a classification probe needs at least two classes")


MAX_LABEL = 1e18


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def probe_task(y, task: str) -> str:
    """The probe kind for labels ``y``, once the labels suit it (checked before any activation is read)."""
    if task not in ("auto", "classification", "regression"):
        raise LatentspaceError(f"unknown probe task {str(task)[:80]!r}; valid: auto, classification, regression")
    if task == "auto":
        task = "regression" if all(isinstance(v, float) for v in y) else "classification"
    for number, v in enumerate(y):
        if task == "regression" and not (_is_number(v) and math.isfinite(v)):
            raise LatentspaceError(f"a regression probe needs finite numeric labels; label {number} is {str(v)[:40]!r}")
        if task == "regression" and abs(v) > MAX_LABEL:  # squared errors must stay finite in float32
            raise LatentspaceError(f"regression label {number} is {v:g}; labels must be at most {MAX_LABEL:g} in size")
        if task == "classification" and not isinstance(v, (str, int, float, bool)):
            raise LatentspaceError(f"a classification probe needs text or number labels; label {number} is "
                                   f"{type(v).__name__} {str(v)[:40]}")
    return task


def fit_linear(x: torch.Tensor, y, task: str = "auto", l2: float = 1e-2) -> LinearProbe:
    """Fit on all of ``(x, y)``: closed-form ridge, or multinomial logistic regression (L-BFGS)."""
    x = x.float()
    if len(y) != len(x):
        raise LatentspaceError(f"{len(y)} labels for {len(x)} activations; they must match")
    check_tensors({"activations": x}, "cannot fit a probe")  # NaN in, NaN probe out: refuse at the source
    if not (math.isfinite(l2) and l2 >= 0):
        raise LatentspaceError(f"l2 must be a finite number at least 0, got {l2}")
    task = probe_task(y, task)
    mean, std = x.mean(0), x.std(0).clamp_min(1e-6)
    z = (x - mean) / std
    if task == "regression":
        target = torch.as_tensor(y, dtype=torch.float32)
        zc, yc = z, target - target.mean()
        w = torch.linalg.solve(zc.T @ zc + l2 * len(z) * torch.eye(z.shape[1]), zc.T @ yc)
        check_tensors({"weight": w}, f"the ridge probe is unusable (check l2={l2:g})")
        return LinearProbe(task, w, target.mean(), mean, std, [])
    classes = sorted(set(y), key=str)
    if len(classes) < 2:
        raise LatentspaceError("a classification probe needs at least two different labels")
    target = torch.tensor([classes.index(v) for v in y])
    w = torch.zeros(len(classes), z.shape[1], requires_grad=True)
    b = torch.zeros(len(classes), requires_grad=True)
    opt = torch.optim.LBFGS([w, b], lr=1, max_iter=200, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(z @ w.T + b, target) + l2 * (w**2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():  # the optimizer's end point, under the same finiteness policy as every loop
        check_loss(torch.nn.functional.cross_entropy(z @ w.T + b, target) + l2 * (w**2).sum(), 1, f"l2={l2:g}")
    check_tensors({"weight": w, "bias": b}, f"the logistic probe is unusable (check l2={l2:g})")
    return LinearProbe(task, w.detach(), b.detach(), mean, std, classes)


def fit_probe(x: torch.Tensor, y, task: str = "auto", l2: float = 1e-2, test_fraction: float = 0.25,
              seed: int = 0, layer: int | None = None) -> tuple[LinearProbe, ProbeScore]:
    """Fit on a random split; score held-out, with the shuffled-label control."""
    if len(y) != len(x):
        raise LatentspaceError(f"{len(y)} labels for {len(x)} activations; they must match")
    order = list(range(len(x)))
    rng = random.Random(seed)
    rng.shuffle(order)
    n_test = max(1, int(len(order) * test_fraction))
    test, train = order[:n_test], order[n_test:]
    if len(train) < 2:
        raise LatentspaceError(f"too few examples ({len(x)}) to fit and test a probe")
    y_train, y_test = [y[i] for i in train], [y[i] for i in test]
    probe = fit_linear(x[train], y_train, task, l2)
    shuffled = y_train[:]
    rng.shuffle(shuffled)
    control = fit_linear(x[train], shuffled, probe.task, l2)
    score = ProbeScore(layer, probe.task, probe.score(x[train], y_train), probe.score(x[test], y_test),
                       control.score(x[test], y_test), len(train), len(test))
    return probe, score


def activations(lm: LatentModel, texts: list[str], site: str = "resid_post", layers: list[int] | None = None,
                position: str = "last", batch_size: int = 16) -> dict[int, torch.Tensor]:
    """``{layer: [N, d]}``: each text's activation at its last token, or the mean over its tokens."""
    if position not in ("last", "mean"):
        raise LatentspaceError(f"position must be 'last' or 'mean', not {position!r}")
    layers = list(range(lm.n_layers)) if layers is None else layers
    out: dict[int, list[torch.Tensor]] = {layer: [] for layer in layers}
    for i in range(0, len(texts), batch_size):
        ids, mask = lm.tokenize(texts[i : i + batch_size])
        check_context(lm, ids)
        rec = lm.record(ids, [(site, layer) for layer in layers], positions="last" if position == "last" else None,
                        attention_mask=mask)
        for layer in layers:
            h = rec[site, layer].float()
            if position == "mean":
                m = mask[:, :, None].float()
                h = (h * m).sum(1) / m.sum(1)
            else:
                h = h[:, -1]
            out[layer].append(h.cpu())
    return {layer: torch.cat(v) for layer, v in out.items()}


def probe_layers(lm: LatentModel, texts: list[str], labels, site: str = "resid_post", layers: list[int] | None = None,
                 position: str = "last", task: str = "auto", seed: int = 0):
    """Fit one probe per layer: (per-layer scores, best layer's probe, best layer)."""
    if len(labels) != len(texts):
        raise LatentspaceError(f"{len(labels)} labels for {len(texts)} texts; they must match")
    task = probe_task(labels, task)  # before the model runs: bad labels are an input error, not a late one
    acts = activations(lm, texts, site, layers, position)
    fits = {layer: fit_probe(x, labels, task, seed=seed, layer=layer) for layer, x in acts.items()}
    scores = [score for _, score in fits.values()]
    best = max(fits, key=lambda layer: fits[layer][1].test)
    return scores, fits[best][0], best
