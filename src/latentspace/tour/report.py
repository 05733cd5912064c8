"""A self-contained HTML report (pictures embedded) of the tour's sections."""

from __future__ import annotations

import base64
import html
from pathlib import Path

from latentspace.files import write_text
from latentspace.tour.section import SectionResult

STYLE = """
body{font-family:system-ui,sans-serif;max-width:900px;margin:2em auto;padding:0 1em;color:#222}
h1{margin-bottom:.2em} .meta{color:#666} section{margin:2em 0;border-top:1px solid #ddd}
table{border-collapse:collapse;font-size:.9em} td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left}
img{max-width:100%;margin:.5em 0} code{background:#f4f4f4;padding:0 .2em}
"""


def _table(rows: list[dict]) -> str:
    if not rows:
        return ""
    head = "".join(f"<th>{html.escape(str(k))}</th>" for k in rows[0])
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in r.values()) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _image(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<img alt="{html.escape(path.stem)}" src="data:image/png;base64,{data}">'


def write_report(out: Path, model: str, meta: dict, sections: list[SectionResult],
                 title: str = "latentspace tour") -> Path:
    parts = [f"<h1>{html.escape(title)}</h1><p class=meta>model <code>{html.escape(model)}</code> · "
             + " · ".join(f"{html.escape(k)} {html.escape(str(v))}" for k, v in meta.items()) + "</p>"]
    for s in sections:
        parts.append(f"<section><h2>{html.escape(s.title)}</h2><p>{html.escape(s.summary)}</p>"
                     + "".join(_image(p) for p in s.images) + _table(s.rows) + "</section>")
    page = f"<!doctype html><meta charset=utf-8><title>{html.escape(title)}</title><style>{STYLE}</style>{''.join(parts)}"
    return write_text(out / "index.html", page, "tour report")
