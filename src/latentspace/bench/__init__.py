"""Evaluation harness: strategy × task × seed grids, resumable and shardable, with summaries."""

from latentspace.bench.harness import jobs, read_rows, run_grid
from latentspace.bench.metrics import summarise, wilson

__all__ = ["jobs", "read_rows", "run_grid", "summarise", "wilson"]
