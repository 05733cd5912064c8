"""An audit on disk: ``report.json``, ``report.md``, per-thought PNG curves and ``index.html``."""

from __future__ import annotations

import html
from pathlib import Path

from latentspace.audit.report import AuditReport, cell, flatten
from latentspace.core import files, jsonsafe
from latentspace.core.plots import figure, save


def curves(report: AuditReport, out: Path) -> list[Path]:
    """Necessity (accuracy vs thoughts kept), decodability and interchange per thought, correct vs wrong."""
    images = []
    if "necessity" in report.results:
        cut = report.results["necessity"]["cut"]
        fig, ax = figure()
        ax.plot([r["k"] for r in cut], [r["accuracy"] for r in cut], marker="o", label="accuracy")
        ax.axhline(report.results["necessity"]["intact"], ls="--", c="gray", label="intact")
        ax.set(xlabel="thoughts kept (cut after k)", ylabel="accuracy", ylim=(0, 1.02))
        ax.legend(fontsize=8)
        images.append(save(fig, out / "necessity.png"))
    for name, keys in (("decodability", ("top3_correct", "top3_wrong")),
                       ("interchange", ("follows_correct", "follows_wrong"))):
        rows = [r for r in report.results.get(name, []) if r.get("n")]
        if rows:
            fig, ax = figure()
            for key in keys:
                ax.plot([r["thought"] for r in rows], [r.get(key) if r.get(key) is not None else float("nan")
                                                       for r in rows], marker="o", label=key.replace("_", " "))
            ax.set(xlabel="thought", ylabel=name, ylim=(0, 1.02))
            ax.legend(fontsize=8)
            images.append(save(fig, out / f"{name}.png"))
    return images


def write_audit(report: AuditReport, out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    files.write_text(out / "report.json", jsonsafe.dumps(report.to_dict(), indent=2) + "\n", "audit report")
    files.write_text(out / "report.md", report.markdown(), "audit report")
    images = curves(report, out)
    parts = [f"<h1>Audit of {html.escape(report.subject)}</h1><p>{report.n} items, intact accuracy "
             f"{100 * report.accuracy:.1f}%, {report.thoughts} thoughts</p>"]
    parts += [f"<img src='{html.escape(p.name)}' alt='{html.escape(p.stem)}'>" for p in images]
    for name, rows in report.results.items():
        parts.append(f"<h2>{html.escape(name)}</h2>" + html_table(flatten(rows) if isinstance(rows, dict) else rows))
    if report.skipped:
        parts.append("<h2>skipped</h2><ul>" + "".join(f"<li>{html.escape(k)}: {html.escape(v)}</li>"
                                                       for k, v in report.skipped.items()) + "</ul>")
    style = "body{font:14px sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px}"
    page = f"<!doctype html><meta charset=utf-8><title>latentspace audit</title><style>{style}</style>{''.join(parts)}"
    return files.write_text(out / "index.html", page, "audit report")


def html_table(rows: list[dict]) -> str:
    keys = list(dict.fromkeys(k for row in rows for k in row))
    head = "".join(f"<th>{html.escape(k)}</th>" for k in keys)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(cell(r.get(k)))}</td>" for k in keys) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"
