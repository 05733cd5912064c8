"""Training curves: per epoch, the mean training loss, the speed and the validation accuracy.

Read from a run's ``metrics.jsonl`` (the one record every run writes); drawn as one picture of runs
side by side (`plot_curves`, what `train table` puts in its report), and sent to `accelerate`'s
trackers as the log is flushed (`tracker_sink`, `train run --log-with tensorboard`).
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path


def epoch_curves(rows: list[dict]) -> list[dict]:
    """One entry per epoch: ``epoch``, ``loss`` (mean over its steps), ``tokens_per_s``, ``valid`` (or None)."""
    losses, epochs, valid = defaultdict(list), {}, {}
    for row in rows:
        kind, epoch = row.get("kind"), row.get("epoch")
        if kind == "step":
            losses[epoch].append(row["loss"])
        elif kind == "epoch":
            epochs[epoch] = row
        elif kind == "eval" and row.get("split", "valid") == "valid":
            valid[epoch] = row["accuracy"]
    curves = []
    for epoch in sorted(epochs):
        row = epochs[epoch]
        steps = losses.get(epoch, [])
        curves.append({"epoch": epoch, "stage": row.get("stage", 0),
                       "loss": sum(steps) / len(steps) if steps else None,
                       "tokens_per_s": row["tokens"] / row["seconds"] if row.get("seconds") else None,
                       "valid": valid.get(epoch)})
    return curves


def tracker_values(entry: dict) -> dict:
    """What an epoch sends to a tracker (TensorBoard's scalar names)."""
    values = {"train/loss": entry["loss"], "train/tokens_per_s": entry["tokens_per_s"],
              "train/stage": entry["stage"], "valid/accuracy": entry["valid"]}
    return {k: v for k, v in values.items() if v is not None}


def tracker_sink(accelerator):
    """A `MetricsLog` flush hook: each newly flushed epoch goes to ``accelerator``'s trackers once."""

    def send(rows: list[dict]) -> None:
        for entry in epoch_curves(rows):
            accelerator.log(tracker_values(entry), step=entry["epoch"])

    return send


def plot_curves(runs: dict[str, list[dict]], png: Path, title: str = "") -> Path:
    """Training loss (left, log scale) and validation accuracy (right) per epoch, one line per run;
    runs named ``recipe s0``, ``recipe s1``... share their recipe's colour."""
    from latentspace.core import plots

    fig, (loss_ax, acc_ax) = plots.plt.subplots(1, 2, figsize=(11, 3.8))
    colours = {}
    for label, rows in runs.items():
        curves = epoch_curves(rows)
        recipe = label.split()[0]
        shown = None if recipe in colours else recipe  # one legend entry per recipe
        colour = colours.setdefault(recipe, f"C{len(colours) % 10}")
        points = [(c["epoch"], c["loss"]) for c in curves if c["loss"] is not None and c["loss"] > 0]
        if points:
            loss_ax.plot(*zip(*points), color=colour, lw=1, alpha=0.8, label=shown)
        points = [(c["epoch"], 100 * c["valid"]) for c in curves if c["valid"] is not None]
        if points:
            acc_ax.plot(*zip(*points), color=colour, lw=1, alpha=0.8, marker="." if len(points) < 30 else None,
                        label=shown)
    loss_ax.set(xlabel="epoch", ylabel="training loss (mean per epoch)", yscale="log")
    acc_ax.set(xlabel="epoch", ylabel="validation accuracy (%)", ylim=(0, 100))
    for ax in (loss_ax, acc_ax):
        ax.grid(alpha=0.3)
    if colours:
        acc_ax.legend(fontsize=8, loc="lower right")
    if title:
        fig.suptitle(title, fontsize=10)
    return plots.save(fig, png)
