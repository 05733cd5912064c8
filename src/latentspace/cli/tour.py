"""`latentspace tour`: the main job."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.panel import Panel
from rich.table import Table

from latentspace.cli.common import DEFAULT, JsonOpt, ModelOpt, console, emit_json, literal, load_model


def _show(result) -> None:
    body = [literal(result.summary)]  # a section's text is not markup: `pip install -e '.[gemma]'` stays whole
    if result.rows:
        table = Table(show_edge=False)
        for col in result.rows[0]:
            table.add_column(literal(col))
        for row in result.rows[:12]:
            table.add_row(*(literal(v) for v in row.values()))
        body.append(table)
    if result.images:
        body.append("[dim]" + ", ".join(literal(p) for p in result.images) + "[/dim]")
    from rich.console import Group

    console.print(Panel(Group(*body), title=literal(result.title), title_align="left"))


def tour(
    model: ModelOpt = DEFAULT,
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the HTML report and plots.")] = Path(
        "latentspace-tour"
    ),
    json_out: JsonOpt = False,
) -> None:
    """Walk through what latentspace does, on a real model, and write an HTML report.

    Examples: latentspace tour ; latentspace tour --model tiny --out /tmp/t --json
    """
    from latentspace.core.files import check_output
    from latentspace.tour import run_tour

    check_output(out, "--out", folder=True)  # before the model loads
    lm = load_model(model, quiet=json_out)
    if not json_out:
        console.print(f"[bold]latentspace tour[/bold] on {literal(lm.name)}: {lm.n_layers} layers, d={lm.hidden_size}")
    report, results = run_tour(lm, out, on_section=None if json_out else _show)
    if json_out:
        emit_json({"model": lm.name, "report": str(report), "sections": [r.to_dict() for r in results]})
    else:
        console.print(f"report: [bold]{literal(report)}[/bold]")
