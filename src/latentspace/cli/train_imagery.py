"""`latentspace train imagery RUN`: probe, nearest pictures and replacement test of a vsp run's thoughts."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from latentspace.cli.common import JsonOpt, console, emit_json, literal, say, seed_option
from latentspace.core import files, jsonsafe


def imagery(
    run_dir: Annotated[Path, typer.Argument(help="A run folder trained on vsp (visual, visual-pause, nocot, ...).")],
    n: Annotated[int, typer.Option(min=1, max=100_000, help="Test items to read.")] = 400,
    task: Annotated[str | None, typer.Option(help="Items of this task instead of the run's test split "
                                                  "(vsp-ood: the out-of-distribution maps and plans).")] = None,
    probe_items: Annotated[int, typer.Option(min=1, max=100_000,
                                             help="Training items the cell probe is fit on.")] = 1000,
    seed: Annotated[int, seed_option("Seed of generated items (--task), the noise and the shuffles.")] = 0,
    out: Annotated[Path | None, typer.Option(help="Report folder (default RUN/imagery).")] = None,
    json_out: JsonOpt = False,
) -> None:
    """What do a run's latent visual thoughts hold, and do its answers need them?

    A linear probe of the agent's cell from the states before each move's slots (beside a shuffled-label
    control), each thought's nearest picture among the map's states (visual runs), and the answers again
    with the thoughts replaced by zeros, noise, another item's thoughts and the oracle targets.
    Writes report.json, imagined.png and index.html.

    Example: latentspace train imagery runs/table-vsp-laptop-vsp/s0/visual --task vsp-ood
    """
    from latentspace.core.pages import SectionResult, write_report
    from latentspace.train.run_folder import require_run, run_inputs
    from latentspace.train.studies.imagery import plot_imagined, imagery as study

    require_run(run_dir)
    folder = files.check_output(out or run_dir / "imagery", "--out", folder=True, inputs=run_inputs(run_dir))
    report = study(run_dir, n, task, seed, probe_items, progress=None if json_out else say)
    folder.mkdir(parents=True, exist_ok=True)
    images = [plot_imagined(report.example, folder / "imagined.png")] if report.example else []
    rows = [{"reading": "answers", "accuracy %": round(100 * report.accuracy, 1)}]
    rows += [{"reading": f"thoughts replaced: {how}", "accuracy %": round(100 * value, 1)}
             for how, value in report.replacement.items()]
    rows += [{"reading": "cell probe (states before the slots)", "accuracy %": round(100 * report.probe, 1)},
             {"reading": "cell probe, shuffled labels", "accuracy %": round(100 * report.probe_shuffled, 1)}]
    if report.nearest is not None:
        rows.append({"reading": "nearest picture on the true cell", "accuracy %": round(100 * report.nearest, 1)})
    if report.nearest_teacher is not None:
        rows.append({"reading": "nearest picture, earlier thoughts true",
                     "accuracy %": round(100 * report.nearest_teacher, 1)})
    files.write_text(folder / "report.json", jsonsafe.dumps(report.to_dict(), indent=2))
    page = write_report(folder, f"{report.recipe} run {run_dir}", {"items": report.n, "task": task or "its test split"},
                        [SectionResult("Readings", "Accuracy of the answers, clean and with the thoughts replaced; "
                                       "the probe and the nearest pictures read the agent's cell after each move.",
                                       rows=rows, images=images)],
                        title=f"latentspace train imagery {run_dir}")
    if json_out:
        emit_json({**report.to_dict(), "report": str(page)})
        return
    for row in rows:
        console.print(f"{row['reading']:<42} {row['accuracy %']:6.1f}%")
    console.print(f"[dim]{report.n} items; report: {literal(page)}[/dim]")
