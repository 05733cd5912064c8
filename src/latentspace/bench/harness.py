"""The evaluation grid: strategies × tasks × seeds × items, one JSONL row per answer.

Resumable: rows already in the output file are skipped. Rows are appended a batch at a time (one
write, flushed and synced), so a killed run can leave at most a torn *last* line: `read_rows_file`
drops it and `run_grid` cuts it off before appending, so that item is simply answered again. A
damaged line anywhere else is refused in one line. Shardable: with ``shard=(i, k)`` a process
takes every k-th job, so ``torchrun`` / ``accelerate launch`` (any launcher setting RANK/WORLD_SIZE)
splits the same command across processes; `read_rows` joins the shard files.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from latentspace.core import files, jsonsafe
from latentspace.core.errors import LatentspaceError
from latentspace.strategies import get_strategy
from latentspace.tasks import Item, get_task, is_task_file, load_items

if TYPE_CHECKING:  # the type only: no import at run time
    from latentspace.model.latent_model import LatentModel

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


def read_rows_file(path: Path) -> tuple[list[dict], int]:
    """(rows, bytes of whole lines) of one rows file; a torn last line (a run killed mid-write) is
    left out, a damaged line before it is a one-line error."""
    if not path.exists():
        return [], 0
    if not path.is_file():
        raise LatentspaceError(f"bench rows file {path} is not a file")
    lines = path.read_bytes().split(b"\n")  # bytes: a write torn inside a UTF-8 character is torn too
    rows, good = [], 0
    for number, line in enumerate(lines, 1):
        unterminated = number == len(lines) and line != b""  # its write never reached the newline
        last = number == len(lines) or (number == len(lines) - 1 and lines[-1] == b"")
        row = _parse_row(line) if line.strip() else None
        if unterminated or (line.strip() and row is None):
            if last:
                break  # torn: not counted, so it is cut off and that item answered again
            raise LatentspaceError(f"{path.name} line {number} is damaged; remove that line or the file")
        if row is not None:
            rows.append(row)
        good += len(line) + (1 if number < len(lines) else 0)
    return rows, good


def _parse_row(line: bytes) -> dict | None:
    try:
        row = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    return row if isinstance(row, dict) and all(k in row for k in KEY) else None


def done_keys(path: Path) -> set[tuple]:
    return {tuple(row[k] for k in KEY) for row in read_rows_file(path)[0]}


def cut_torn_tail(path: Path) -> None:
    """Drop a torn last line so the next append starts on a line of its own."""
    if path.exists():
        _, good = read_rows_file(path)
        if good < path.stat().st_size:
            with path.open("r+b") as f:
                f.truncate(good)


def check(task: str, text: str, item: Item) -> tuple[bool, str | None]:
    """(correct, extracted) by the task's own check; a task file's answers follow an answer marker."""
    from latentspace.tasks import TASKS
    from latentspace.tasks.base import extract_marked, graded

    spec = TASKS.get(task)
    return spec.grade(text, item) if spec else graded(text, item.answer, extract_marked)


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


def run_grid(lm: LatentModel, grid: list[Job], out: Path, options: dict[str, dict] | None = None,
             on_row: Callable[[dict], None] | None = None, batch_size: int = 8) -> int:
    """Answer every job not yet in ``out`` (appending rows as batches finish); returns rows written.

    Questions of one task, strategy and seed are answered ``batch_size`` at a time (each as it
    would be alone — see `Reasoner.run_batch`); a row's ``seconds`` is its batch's time / size and
    its ``peak_mb`` the batch's peak.
    """
    files.check_output(out, "bench rows file")
    cut_torn_tail(out)
    done = done_keys(out)
    written = 0
    with out.open("a", encoding="utf-8") as f:
        for batch in batches([job for job in grid if job.key not in done], batch_size):
            first = batch[0]
            reasoner = get_strategy(first.strategy, **(options or {}).get(first.strategy, {}))
            if lm.device.type == "cuda":
                torch.cuda.reset_peak_memory_stats(lm.device)
            traces = reasoner.run_batch(lm, [job.item.question for job in batch], seed=first.seed)
            peak = peak_memory_mb(lm.device)
            lines = []
            for job, trace in zip(batch, traces):
                correct, found = check(job.task, trace.text, job.item)
                row = dict(zip(KEY, job.key), correct=correct, extracted=found, answer=job.item.answer,
                           text=trace.text, explicit_tokens=trace.explicit_tokens,
                           latent_steps=trace.latent_steps, positions=trace.positions, seconds=trace.wall_seconds,
                           stop_reason=trace.stop_reason, peak_mb=peak, batch=len(batch))
                lines.append(jsonsafe.dumps(row) + "\n")
                written += 1
                if on_row:
                    on_row(row)
            f.write("".join(lines))  # one write per batch, on disk before the next: what makes it resumable
            f.flush()
            os.fsync(f.fileno())
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
        for row in read_rows_file(path)[0]:
            rows[tuple(row[k] for k in KEY)] = row
    return [rows[k] for k in sorted(rows, key=str)]
