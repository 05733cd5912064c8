"""A live progress line for training: stage, epoch, step, loss, tokens/s, last validation accuracy."""

from __future__ import annotations

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn


class TrainProgress:
    """Rich progress over every remaining step of a run (a no-op when disabled or not rank 0)."""

    def __init__(self, enabled: bool, total_steps: int, recipe: str) -> None:
        self.enabled = enabled
        self.accuracy = "·"
        if enabled:
            self.bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                                TextColumn("{task.fields[status]}"), TimeElapsedColumn(), TimeRemainingColumn())
            self.task = self.bar.add_task(recipe, total=total_steps, status="")

    def __enter__(self) -> TrainProgress:
        if self.enabled:
            self.bar.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        if self.enabled:
            self.bar.__exit__(*exc)

    def step(self, epoch: int, stage: int, loss: float, tokens_per_s: float) -> None:
        if self.enabled:
            status = f"epoch {epoch} stage {stage} loss {loss:.4f} {tokens_per_s:,.0f} tok/s valid acc {self.accuracy}"
            self.bar.update(self.task, advance=1, status=status)

    def evaluated(self, accuracy: float) -> None:
        self.accuracy = f"{100 * accuracy:.1f}%"
