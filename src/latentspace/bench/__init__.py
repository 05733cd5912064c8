"""Evaluation harness: strategy × task × seed grids, resumable and shardable, with summaries."""

from latentspace.bench.harness import jobs, read_rows, run_grid
from latentspace.bench.metrics import summarise, wilson
from latentspace.bench.run import BenchRun, run_bench

__all__ = ["BenchRun", "jobs", "read_rows", "run_bench", "run_grid", "summarise", "wilson"]
