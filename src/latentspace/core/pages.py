"""A self-contained HTML page (pictures embedded) of titled sections: the tour's and the bench's report.

It sits below both (the bench must not import the tour), beside `plots`, which draws its pictures.
"""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass, field
from pathlib import Path

from latentspace.core.files import write_text


@dataclass
class SectionResult:
    title: str
    summary: str  # a short paragraph of real outputs, for the terminal and the report
    rows: list[dict] = field(default_factory=list)  # a table (one dict per row)
    images: list[Path] = field(default_factory=list)  # PNG files inside the report folder
    data: dict = field(default_factory=dict)  # everything else worth keeping, JSON-serialisable

    def to_dict(self) -> dict:
        return {"title": self.title, "summary": self.summary, "rows": self.rows,
                "images": [p.name for p in self.images], "data": self.data}


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
    kind = {".gif": "gif", ".jpg": "jpeg", ".jpeg": "jpeg", ".svg": "svg+xml"}.get(path.suffix.lower(), "png")
    return f'<img alt="{html.escape(path.stem)}" src="data:image/{kind};base64,{data}">'


def write_report(out: Path, model: str, meta: dict, sections: list[SectionResult],
                 title: str = "latentspace tour") -> Path:
    parts = [f"<h1>{html.escape(title)}</h1><p class=meta>model <code>{html.escape(model)}</code> · "
             + " · ".join(f"{html.escape(k)} {html.escape(str(v))}" for k, v in meta.items()) + "</p>"]
    for s in sections:
        parts.append(f"<section><h2>{html.escape(s.title)}</h2><p>{html.escape(s.summary)}</p>"
                     + "".join(_image(p) for p in s.images) + _table(s.rows) + "</section>")
    page = f"<!doctype html><meta charset=utf-8><title>{html.escape(title)}</title><style>{STYLE}</style>{''.join(parts)}"
    return write_text(out / "index.html", page, "report page")
