"""A whole bench run, the one the CLI starts: strategies checked, the grid sliced for this process,
rows resumed, every process's rows merged by rank 0 into a summary, a manifest and a report.

Two steps, so that everything that can be refused is refused before a model is loaded:
``run = BenchRun(...)`` checks the names, options and output; ``run.run(lm)`` answers.
"""

from __future__ import annotations

import platform
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from latentspace.bench.harness import done_keys, jobs, read_rows, run_grid, shard_from_env
from latentspace.bench.identity import check_and_record, identity
from latentspace.bench.metrics import summarise
from latentspace.core import files, jsonsafe
from latentspace.core.errors import LatentspaceError
from latentspace.strategies import get_strategy

if TYPE_CHECKING:  # the type only: no import at run time
    from latentspace.model.latent_model import LatentModel


def parse_shard(spec: str | None) -> tuple[int, int]:
    """``RANK/WORLD`` (or the launcher's environment when None) -> (rank, world)."""
    if spec is None:
        return shard_from_env()
    try:
        rank, world = (int(x) for x in spec.split("/"))
    except ValueError:
        raise LatentspaceError(f"--shard expects RANK/WORLD like 0/2, not {spec!r}") from None
    if not 0 <= rank < world <= 100_000:
        raise LatentspaceError(f"--shard {spec[:40]}: needs 0 <= RANK < WORLD")
    return rank, world


def strategy_options(names: list[str], sets: dict) -> dict[str, dict]:
    """Split ``--set`` pairs per strategy: ``soft.top_k`` goes to soft, a bare ``top_k`` to all."""
    options: dict[str, dict] = {name: {} for name in names}
    for key, value in sets.items():
        strategy, dot, option = key.rpartition(".")
        if dot and strategy not in options:
            raise LatentspaceError(f"--set {key}: {strategy!r} is not among --strategies ({', '.join(names)})")
        for name in [strategy] if dot else names:
            options[name][option] = value
    return options


@dataclass
class BenchRun:
    tasks: list[str]
    strategies: list[str]
    seeds: list[int]
    n: int
    out: Path
    options: dict[str, dict]
    rank: int = 0
    world: int = 1
    grid: list = field(init=False, repr=False)
    rows_path: Path = field(init=False)
    done: set = field(init=False, repr=False)

    def __post_init__(self) -> None:
        for name in self.strategies:
            get_strategy(name, **self.options.get(name, {}))  # unknown names and options: refused now
        self.grid = jobs(self.tasks, self.strategies, self.seeds, self.n, (self.rank, self.world))
        files.check_output(self.out, "--out", folder=True)
        name = f"rows.{self.rank}-of-{self.world}.jsonl" if self.world > 1 else "rows.jsonl"
        self.rows_path = self.out / name
        self.done = done_keys(self.rows_path)  # a damaged rows file is refused before the model loads

    @property
    def resumed(self) -> int:
        return sum(job.key in self.done for job in self.grid)

    def run(self, lm: LatentModel, batch_size: int = 8, on_row: Callable[[dict], None] | None = None,
            command: str = "") -> dict | None:
        """Answer this process's slice; on rank 0, merge every slice. ``{"summary", "rows", "report",
        "manifest"}``, or None on the other ranks (rank 0 reports for them)."""
        self.out.mkdir(parents=True, exist_ok=True)
        check_and_record(self.out, identity(lm.fingerprint, self.tasks, self.options))  # never resume rows made otherwise
        run_grid(lm, self.grid, self.rows_path, self.options, on_row=on_row, batch_size=batch_size)
        if self.world > 1:
            _wait_for_everyone()
            if self.rank != 0:
                return None
        rows = read_rows(sorted(self.out.glob("rows*.jsonl")))
        summary = summarise(rows)
        manifest = {"command": command, "model": lm.name, "fingerprint": lm.fingerprint,
                    "tasks": ",".join(self.tasks), "strategies": self.strategies, "options": self.options,
                    "seeds": self.seeds, "n": self.n, "world": self.world, "python": platform.python_version(),
                    "versions": _versions()}
        files.write_text(self.out / "summary.json", jsonsafe.dumps(summary, indent=2))
        files.write_text(self.out / "manifest.json", jsonsafe.dumps(manifest, indent=2))
        from latentspace.bench.report import write_bench_report  # matplotlib only when there is a report

        report = write_bench_report(self.out, summary, manifest)
        return {"summary": summary, "rows": len(rows), "report": report, "manifest": manifest}


def _wait_for_everyone() -> None:
    """Barrier across launched processes, so rank 0 merges only complete shards."""
    from accelerate import PartialState

    PartialState().wait_for_everyone()


def _versions() -> dict:
    from importlib.metadata import version

    return {pkg: version(pkg) for pkg in ("latentspace", "torch", "transformers")}


def run_bench(lm: LatentModel, tasks: list[str], strategies: list[str], seeds: list[int] = (0,), n: int = 50,
              out: str | Path = "latentspace-bench", options: dict[str, dict] | None = None,
              batch_size: int = 8) -> dict:
    """`latentspace bench` from Python, in one process: the summary, the row count, the report path."""
    options = {name: dict((options or {}).get(name, {})) for name in strategies}
    return BenchRun(list(tasks), list(strategies), list(seeds), n, Path(out), options).run(lm, batch_size)
