"""Pictures and a self-contained HTML page for a bench run (the same page writer as the tour's)."""

from __future__ import annotations

from pathlib import Path

from latentspace.core.pages import SectionResult, write_report
from latentspace.core.plots import figure, save


def pareto_plot(summary: list[dict], path: Path) -> Path:
    """Accuracy (95% CI) against mean forward positions: what each strategy buys for its compute."""
    fig, ax = figure()
    for task in sorted({s["task"] for s in summary}):
        rows = [s for s in summary if s["task"] == task]
        xs, ys = [s["positions"] for s in rows], [s["accuracy"] for s in rows]
        err = [[s["accuracy"] - s["ci_low"] for s in rows], [s["ci_high"] - s["accuracy"] for s in rows]]
        ax.errorbar(xs, ys, yerr=err, fmt="o", capsize=3, label=task)
        for s in rows:
            ax.annotate(s["strategy"], (s["positions"], s["accuracy"]), fontsize=7, xytext=(4, 3),
                        textcoords="offset points")
    ax.set_xlabel("mean forward positions per item")
    ax.set_ylabel("accuracy (95% CI)")
    ax.set_ylim(-0.02, 1.02)
    ax.legend(fontsize=8)
    return save(fig, path)


def bars_plot(summary: list[dict], path: Path) -> Path:
    """Accuracy per strategy, grouped by task."""
    tasks = sorted({s["task"] for s in summary})
    strategies = sorted({s["strategy"] for s in summary})
    fig, ax = figure()
    width = 0.8 / max(1, len(strategies))
    for j, strategy in enumerate(strategies):
        acc = [next((s["accuracy"] for s in summary if s["task"] == t and s["strategy"] == strategy), 0.0)
               for t in tasks]
        ax.bar([i + j * width for i in range(len(tasks))], acc, width, label=strategy)
    ax.set_xticks([i + width * (len(strategies) - 1) / 2 for i in range(len(tasks))], tasks)
    ax.set_ylabel("accuracy")
    ax.legend(fontsize=8)
    return save(fig, path)


def write_bench_report(out: Path, summary: list[dict], manifest: dict) -> Path:
    images = [pareto_plot(summary, out / "pareto.png"), bars_plot(summary, out / "accuracy.png")]
    rows = [{"task": s["task"], "strategy": s["strategy"], "n": s["n"],
             "accuracy [95% CI]": f"{s['accuracy']:.1%} [{s['ci_low']:.1%}–{s['ci_high']:.1%}]",
             "tokens": round(s["explicit_tokens"], 1), "latents": round(s["latent_steps"], 1),
             "positions": round(s["positions"]), "s/item": round(s["seconds"], 2)} for s in summary]
    section = SectionResult("Strategies × tasks", f"Command: {manifest['command']}", rows, images)
    meta = {"seeds": manifest["seeds"], "n": manifest["n"]}
    return write_report(out, manifest["model"], meta, [section], title="latentspace bench")
