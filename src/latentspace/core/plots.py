"""Matplotlib helpers (headless backend, one figure per file, written atomically where asked).

`save` writes exactly the path it is given and returns it: the format comes from the suffix (PNG
when there is none — matplotlib would otherwise write ``NAME.png`` beside a reported ``NAME``), a
folder or an unknown suffix is refused in one line, and the file appears whole or not at all.
Commands call `check_picture` on their ``--png`` before any work.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.backend_bases import FigureCanvasBase  # noqa: E402

from latentspace.core import files  # noqa: E402
from latentspace.core.errors import LatentspaceError  # noqa: E402


def picture_format(path: Path) -> str:
    fmt = Path(path).suffix[1:].lower() or "png"
    supported = FigureCanvasBase.get_supported_filetypes()
    if fmt not in supported:
        raise LatentspaceError(f"picture {path}: unknown format {fmt!r}; use one of {', '.join(sorted(supported))}")
    return fmt


def check_picture(path: str | Path, what: str = "--png", inputs: tuple = ()) -> Path:
    """``path`` once it can take a picture (a writable file path with a known suffix, none of the
    command's ``inputs``); else one line."""
    path = files.check_output(path, what, inputs=inputs)
    picture_format(path)
    return path


def save(fig, path: Path) -> Path:
    path = Path(path)
    try:
        fmt = picture_format(path)
        fig.tight_layout()
        with files.atomic_write(path, "picture") as tmp:
            fig.savefig(tmp, dpi=110, format=fmt)
    finally:
        plt.close(fig)
    return path


def figure(width: float = 6.4, height: float = 3.6):
    return plt.subplots(figsize=(width, height))
