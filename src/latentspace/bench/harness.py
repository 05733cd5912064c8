"""The evaluation grid: strategies × tasks × seeds × items, one JSONL row per answer.

Resumable: rows already in the output file are skipped. Shardable: with ``shard=(i, k)`` a process
takes every k-th job, so ``torchrun`` / ``accelerate launch`` (any launcher setting RANK/WORLD_SIZE)
splits the same command across processes; `read_rows` joins the shard files.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from latentspace.errors import LatentspaceError
from latentspace.reason import get_reasoner
from latentspace.tasks import Item, get_task, is_task_file, load_items

KEY = ("task", "strategy", "seed", "index")


@dataclass(frozen=True)
class Job:
    task: str
    strategy: str
    seed: int
    index: int
    item: Item

    @property
    def key(self) -> tuple:
        return (self.task, self.strategy, self.seed, self.index)


def shard_from_env() -> tuple[int, int]:
    """(rank, world size) from the launcher's environment (accelerate/torchrun set these)."""
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))


def items_for(task: str, n: int, seed: int) -> tuple[str, list[Item]]:
    """(task name, items): a built-in generated with ``seed``, or a JSONL file's first ``n``."""
    if is_task_file(task):
        return Path(task).stem, load_items(task)[:n]
    return task, get_task(task).generate(n, seed=seed)


def jobs(tasks: list[str], strategies: list[str], seeds: list[int], n: int,
         shard: tuple[int, int] = (0, 1)) -> list[Job]:
    rank, world = shard
    if not 0 <= rank < world:
        raise LatentspaceError(f"bad shard {rank}/{world}")
    grid = []
    for task in tasks:
        for seed in seeds:
            name, items = items_for(task, n, seed)
            for strategy in strategies:
                grid += [Job(name, strategy, seed, i, item) for i, item in enumerate(items)]
    return grid[rank::world]


def done_keys(path: Path) -> set[tuple]:
    if not path.exists():
        return set()
    keys = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            keys.add(tuple(row[k] for k in KEY))
    return keys


def check(task: str, text: str, item: Item) -> tuple[bool, str | None]:
    from latentspace.tasks import TASKS, normalise
    from latentspace.tasks.base import extract_marked

    spec = TASKS.get(task)
    found = spec.extract(text) if spec else extract_marked(text)
    return (found is not None and normalise(found) == normalise(item.answer)), found


def batches(pending: list[Job], size: int) -> list[list[Job]]:
    """Consecutive jobs of one (task, strategy, seed), at most ``size`` per batch, order kept."""
    if size < 1:
        raise LatentspaceError("batch size must be at least 1")
    out: list[list[Job]] = []
    for job in pending:
        last = out[-1] if out else None
        if last and len(last) < size and last[0].key[:3] == job.key[:3]:
            last.append(job)
        else:
            out.append([job])
    return out


def run_grid(lm, grid: list[Job], out: Path, options: dict[str, dict] | None = None,
             on_row: Callable[[dict], None] | None = None, batch_size: int = 8) -> int:
    """Answer every job not yet in ``out`` (appending rows as batches finish); returns rows written.

    Questions of one task, strategy and seed are answered ``batch_size`` at a time (each as it
    would be alone — see `Reasoner.run_batch`); a row's ``seconds`` is its batch's time / size and
    its ``peak_mb`` the batch's peak.
    """
    out.parent.mkdir(parents=True, exist_ok=True)
    done = done_keys(out)
    written = 0
    with out.open("a", encoding="utf-8") as f:
        for batch in batches([job for job in grid if job.key not in done], batch_size):
            first = batch[0]
            reasoner = get_reasoner(first.strategy, **(options or {}).get(first.strategy, {}))
            if lm.device.type == "cuda":
                torch.cuda.reset_peak_memory_stats(lm.device)
            traces = reasoner.run_batch(lm, [job.item.question for job in batch], seed=first.seed)
            peak = peak_memory_mb(lm.device)
            for job, trace in zip(batch, traces):
                correct, found = check(job.task, trace.text, job.item)
                row = dict(zip(KEY, job.key), correct=correct, extracted=found, answer=job.item.answer,
                           text=trace.text, explicit_tokens=trace.explicit_tokens,
                           latent_steps=trace.latent_steps, positions=trace.positions, seconds=trace.wall_seconds,
                           stop_reason=trace.stop_reason, peak_mb=peak, batch=len(batch))
                f.write(json.dumps(row) + "\n")
                written += 1
                if on_row:
                    on_row(row)
            f.flush()  # a killed run keeps every finished batch: that is what makes it resumable
    return written


def peak_memory_mb(device: torch.device) -> float:
    """Peak memory of this item on a GPU; on the CPU the process's high-water mark (resident set)."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def read_rows(paths: list[Path]) -> list[dict]:
    """Rows of several shard files, each key once, in a stable order."""
    rows = {}
    for path in paths:
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                rows[tuple(row[k] for k in KEY)] = row
    return [rows[k] for k in sorted(rows, key=str)]
