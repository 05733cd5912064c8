"""The distributed loss: what makes k processes compute the update one process would.

``batch_size`` is the *global* batch: each process takes a contiguous k-th of every batch
(`batch_shard`), each loss part is divided by its *global* count of labelled tokens and multiplied
by k to undo DDP's gradient average (`global_loss`), and the reported loss is the global mean
(`report_loss`, a collective every process calls every step). `check_update` checks the loss after
an epoch's last update; `new_optimizer` is prepared by accelerate like the module.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch

from latentspace.core import finite
from latentspace.train.sequences import Batch

if TYPE_CHECKING:
    from latentspace.train.run import TrainRun


def batch_shard(batch, accelerator):
    """This process's rows of a global batch (contiguous slices)."""
    rows = torch.arange(batch.size).tensor_split(accelerator.num_processes)[accelerator.process_index]
    return batch.shard(rows).to(accelerator.device)


def batch_tokens(batch) -> int:
    """The global batch's attended tokens (every sub-batch of a recipe's batch), for tokens/s."""
    parts = [batch] if isinstance(batch, Batch) else [b for b in vars(batch).values() if isinstance(b, Batch)]
    return sum(int(b.attention_mask.sum()) for b in parts)


def global_loss(wrapped, local, weights: dict[str, float], accelerator) -> torch.Tensor:
    """Each loss part summed here, divided by its *global* count, times the number of processes
    (DDP averages gradients), then weighted: every process count gives one process's update."""
    total = 0.0
    for name, (summed, count) in wrapped(local, parts=True).items():
        everywhere = accelerator.reduce(torch.tensor(float(count), device=accelerator.device), reduction="sum")
        total = total + weights[name] * summed / everywhere.clamp_min(1.0) * accelerator.num_processes
    return total


def check_update(wrapped, batch, weights: dict[str, float], accelerator, step: int, hint: str) -> None:
    """The loss after the epoch's last update, before it is saved: weights can be finite yet so large
    that the model's output overflows (a huge lr on a one-step epoch), and no later step would see it."""
    wrapped.eval()  # no dropout: no random draws, so a resumed run sees the same numbers
    with torch.no_grad():
        value = report_loss(global_loss(wrapped, batch_shard(batch, accelerator), weights, accelerator), accelerator)
    finite.check_loss(value, step, hint)


def report_loss(loss: torch.Tensor, accelerator) -> float:
    """The global mean loss of the step (the local value undoes the process-count factor)."""
    return float(accelerator.reduce(loss.detach(), reduction="sum")) / accelerator.num_processes


def scheduled_lr(run: TrainRun, step: int, total: int) -> float:
    """The learning rate of optimizer step ``step`` (from 0) of ``total``: the run's lr, or with
    ``lr_schedule: cosine`` a half cosine from it to 0 — a pure function of the step, so a resumed run
    continues on the same curve."""
    base = run.setting("lr")
    if run.setting("lr_schedule") == "constant":
        return base
    return base * 0.5 * (1 + math.cos(math.pi * min(step, total) / max(total, 1)))


def new_optimizer(run: TrainRun, wrapped, accelerator):
    """AdamW at the run's lr and weight decay, prepared by accelerate (new at every stage change)."""
    params = list(wrapped.parameters())
    # the fused kernel: one pass over every tensor instead of a Python loop of small ops per parameter —
    # 1.7x a whole step of paper-mnns's small model (AdamW was 30% of it); the same update to float rounding
    fused = all(p.dtype in (torch.float32, torch.float16, torch.bfloat16) and p.device.type in ("cpu", "cuda")
                for p in params)
    optimizer = torch.optim.AdamW(params, lr=run.setting("lr"), weight_decay=run.setting("weight_decay"),
                                  fused=fused or None)
    return accelerator.prepare_optimizer(optimizer)
