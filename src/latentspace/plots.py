"""Matplotlib helpers for the tour (headless backend, one figure per file)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def save(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def figure(width: float = 6.4, height: float = 3.6):
    return plt.subplots(figsize=(width, height))
