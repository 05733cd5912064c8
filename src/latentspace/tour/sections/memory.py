"""Tour: remember a document as a KV cache, recall it instead of re-reading, and compress it."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

from latentspace.core.plots import figure, save
from latentspace.memory import layout
from latentspace.memory.presses import get_press
from latentspace.memory.store import MemoryStore
from latentspace.tasks.needles import make_haystack
from latentspace.tour.section import SectionResult

if TYPE_CHECKING:  # the type only: no import at run time
    from latentspace.model.latent_model import LatentModel

PRESSES = ("knorm", "tova", "snapkv", "probe")


def first_token_seconds(lm: LatentModel, make_state, question_ids) -> tuple[float, str]:
    """Seconds from nothing to the first answer token (the question's pass computes its logits),
    and the answer."""
    started = time.perf_counter()
    state = lm.feed(make_state(), question_ids)
    first = time.perf_counter() - started
    return first, lm.decode(state, max_new_tokens=8).texts[0]


def memory(lm: LatentModel, out: Path) -> SectionResult:
    # ~300 tokens on SmolLM2; a short-context model (the tiny test model reads bytes) gets less
    hay = make_haystack(sentences=24 if (lm.max_positions or 4096) > 2000 else 8, needles=1, seed=3)
    needle = hay.needles[0]
    question = layout.ids(lm, layout.question_text(lm, needle.question) + f"The code for {needle.name} is", False)
    with tempfile.TemporaryDirectory() as folder:
        store = MemoryStore(folder)
        info = store.add(lm, hay.document, title="tour haystack")
        text_ids = layout.ids(lm, layout.memory_text(lm, hay.document), True)
        reread, reread_answer = first_token_seconds(lm, lambda: lm.encode(text_ids), question)
        recalled, recalled_answer = first_token_seconds(lm, lambda: store.recall(lm, [info.id])[0], question)
        rows = [{"press": "none", "ratio": 0.0, "slots": info.slots, "answer": recalled_answer.strip(),
                 "correct": hay.check(recalled_answer, needle)}]
        for name in PRESSES:
            press = get_press(name, 0.5)
            state = lm.encode(text_ids, press=press)
            answer = lm.decode(lm.feed(state, question), max_new_tokens=8).texts[0]
            rows.append({"press": name, "ratio": 0.5, "slots": state.length, "answer": answer.strip(),
                         "correct": hay.check(answer, needle)})
    fig, ax = figure()
    ax.bar(["re-read the document", "recall from the store"], [reread, recalled], color=["#a83b3b", "#3b6ea8"])
    ax.set_ylabel("seconds to the first answer token")
    ax.set_title(f"{info.tokens}-token document, one question")
    image = save(fig, out / "memory.png")
    kept = [r["press"] for r in rows[1:] if r["correct"]]
    summary = (f"A {info.tokens}-token document with one hidden fact was stored once ({info.bytes / 1e6:.1f} MB). "
               f"Answering from the stored cache took {recalled:.2f} s to the first token against {reread:.2f} s "
               f"re-reading it ({reread / max(recalled, 1e-9):.1f}x), with the same answer: "
               f"{'yes' if recalled_answer == reread_answer else 'NO'}. At half the cache, "
               f"{', '.join(kept) if kept else 'no press'} still found the code {needle.code}.")
    return SectionResult("Latent memory", summary, rows, [image],
                         {"reread_s": reread, "recall_s": recalled, "same_answer": recalled_answer == reread_answer})
