"""Integration on the bundled SmolLM2: exact recall and a compressed cache that still holds the fact."""

import torch

from latentspace.memory import layout
from latentspace.memory.presses import get_press
from latentspace.memory.store import MemoryStore
from latentspace.tasks.needles import make_haystack


def test_recall_and_probe_on_the_bundled_model(smollm2, tmp_path):
    hay = make_haystack(sentences=24, needles=1, seed=3)
    needle = hay.needles[0]
    question = layout.question_text(smollm2, needle.question) + f"The code for {needle.name} is"
    store = MemoryStore(tmp_path / "mem")
    info = store.add(smollm2, hay.document)
    recalled = smollm2.feed(store.load(smollm2, info.id), layout.ids(smollm2, question, False))
    full = smollm2.encode(layout.ids(smollm2, layout.memory_text(smollm2, hay.document) + question, True))
    assert torch.allclose(recalled.logits, full.logits, atol=1e-3)
    answer = smollm2.decode(recalled, max_new_tokens=6).texts[0]
    assert hay.check(answer, needle), answer
    pressed = smollm2.encode(layout.ids(smollm2, layout.memory_text(smollm2, hay.document), True),
                             press=get_press("probe", 0.5))
    assert pressed.length == info.tokens - info.tokens // 2
    answer = smollm2.decode(smollm2.feed(pressed, layout.ids(smollm2, question, False)), max_new_tokens=6).texts[0]
    assert hay.check(answer, needle), answer
