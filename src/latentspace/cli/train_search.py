"""`latentspace train eval RUN --samples N`: search over sampled thought paths (greedy, pass@N, vote@N)."""

from __future__ import annotations

from pathlib import Path

from rich.table import Table

from latentspace.cli.common import console, emit_json, err_console, literal
from latentspace.core import files, jsonsafe
from latentspace.core.errors import LatentspaceError

SIZES = (4, 16, 64)


def parse_selectors(text: str) -> tuple[str, ...]:
    from latentspace.search import SELECTORS

    names = tuple(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))
    unknown = [name for name in names if name not in SELECTORS and name != "greedy"]
    if unknown or not names:
        raise LatentspaceError(f"unknown selector {(unknown or [text])[0][:40]!r}; valid: greedy, {', '.join(SELECTORS)}")
    return tuple(name for name in names if name != "greedy")


def search_eval(run_dir: Path, task: str | None, n: int | None, seed: int, options: dict, samples: int,
                spec: str | None, select: str, answers: Path | None, json_out: bool) -> None:
    from latentspace.model.samplers import parse_sampler
    from latentspace.search import sample_paths, search_report
    from latentspace.train.studies.evaluate_run import load_run, run_items

    selectors = parse_selectors(select)
    loaded = load_run(run_dir, options)
    if spec is None:
        if not loaded.recipe.mixes_tokens:
            raise LatentspaceError(f"a {loaded.recipe.name} run needs --sampler: noise:SIGMA or dropout:P "
                                   "(its thoughts are fed-back states)")
        spec = "mts:4"
    sampler = parse_sampler(spec)
    items = run_items(run_dir, task, n, seed)
    loaded.check_items(items)
    with err_console.status(f"sampling {samples} paths for each of {len(items)} questions ({sampler.spec()})"):
        paths = sample_paths(loaded, items, sampler, samples, seed)
    rows = search_report(paths, tuple(s for s in SIZES if s < samples) + (samples,), selectors)
    if answers is not None:
        files.write_text(answers, "".join(jsonsafe.dumps({**greedy, "paths": [
            {k: p[k] for k in ("extracted", "correct", "text")} for p in drawn]}) + "\n"
            for greedy, drawn in zip(paths.greedy, paths.paths)))
    summary = {"run": str(run_dir), "task": task or "the run's test split", "sampler": sampler.spec(), "seed": seed,
               "samples": samples, "items": len(items), "rows": rows}
    if json_out:
        return emit_json(summary)
    table = Table(title=literal(f"{run_dir}: {len(items)} questions, {sampler.spec()}, seed {seed}"))
    for column in ("selector", "N", "accuracy [95% CI]", "gain over greedy [95% CI]"):
        table.add_column(column, justify="left" if column == "selector" else "right")
    for row in rows:
        low, high = row["interval"]
        gain = "" if "gain" not in row else (f"{100 * row['gain']:+.1f} [{100 * row['gain_interval'][0]:+.1f}, "
                                             f"{100 * row['gain_interval'][1]:+.1f}]")
        table.add_row(row["selector"], str(row["n"]), f"{100 * row['accuracy']:.1f}% [{100 * low:.1f}, {100 * high:.1f}]",
                      gain)
    console.print(table)
