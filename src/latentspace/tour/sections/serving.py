"""Tour: serve the model over the OpenAI API on loopback, and ask it through HTTP with a trace."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

from latentspace.tour.section import SectionResult

if TYPE_CHECKING:  # the type only: no import at run time
    from latentspace.model.latent_model import LatentModel

QUESTION = "What is the capital of France?"


def serving(lm: LatentModel, out: Path) -> SectionResult:
    import httpx

    from latentspace.serve import ServeConfig, create_app
    from latentspace.serve.background import in_background

    with tempfile.TemporaryDirectory() as data, in_background(create_app([lm], ServeConfig(Path(data)))) as url:
        body = {"model": lm.name, "max_tokens": 16, "messages": [{"role": "user", "content": QUESTION}]}
        with httpx.Client(base_url=url, timeout=300) as http:
            started = time.perf_counter()
            plain = http.post("/v1/chat/completions", json=body).json()
            plain_s = time.perf_counter() - started
            thought = http.post("/v1/chat/completions", json={
                **body, "latent": {"strategy": "soft", "steps": 4, "trace": True}}).json()
    steps = thought["latent"]["trace"]["steps"]
    rows = [{"step": i, "kind": s["kind"], "lens top-1": s["top"][0][0] if s["top"] else "",
             "p": round(s["top"][0][1], 3) if s["top"] else None, "entropy": round(s["entropy"], 3)}
            for i, s in enumerate(steps) if s["kind"] == "latent"]
    summary = (f"`latentspace serve` answered an OpenAI-style chat request over loopback in {plain_s:.2f} s: "
               f"{plain['choices'][0]['message']['content'].strip()!r} ({plain['usage']['completion_tokens']} "
               f"tokens). With `latent: {{strategy: soft, steps: 4, trace: true}}` it thought in "
               f"{thought['usage']['latent_steps']} latent steps first and answered "
               f"{thought['choices'][0]['message']['content'].strip()!r}; the table is each thought's lens reading "
               "from the returned trace. Run `latentspace serve` for the Latent Explorer at http://127.0.0.1:8000/.")
    return SectionResult("Serving", summary, rows, [], {"plain": plain["choices"][0]["message"]["content"],
                                                         "plain_seconds": plain_s,
                                                         "latent_steps": thought["usage"]["latent_steps"]})
