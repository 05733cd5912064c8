"""Remember a document as its KV cache, compress it, and answer from it without re-reading.

    python examples/memory.py                 # the bundled SmolLM2
    python examples/memory.py --model tiny    # a random tiny model (runs in seconds; answers are noise)
"""

import argparse
import tempfile
import time

import latentspace as ls
from latentspace.memory import layout
from latentspace.memory.presses import get_press
from latentspace.memory.store import MemoryStore
from latentspace.tasks.needles import make_haystack


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default=ls.DEFAULT_MODEL)
    args = parser.parse_args()
    lm = ls.load(args.model)
    hay = make_haystack(sentences=8 if args.model.startswith("tiny") else 40, needles=1, seed=7)
    needle = hay.needles[0]

    # 1. one prefill, compressed: half of the cache, chosen by a question-independent probe
    state = lm.encode(layout.ids(lm, layout.memory_text(lm, hay.document), True), press=get_press("probe", 0.5))
    print(f"cache: {state.length} slots for {int(state.next_position[0])} tokens read")

    # 2. a persistent store: encode once, recall in any later process
    with tempfile.TemporaryDirectory() as folder:
        store = MemoryStore(folder)
        info = store.add(lm, hay.document, tags=["example"])
        print(f"stored {info.id}: {info.tokens} tokens, {info.bytes / 1e6:.1f} MB")
        print("best match:", store.search(lm, needle.question, k=1)[0][0].id)
        started = time.perf_counter()
        answer = store.ask(lm, needle.question, max_new_tokens=12)
        print(f"answer from memory ({time.perf_counter() - started:.2f} s): {answer.text.strip()!r} "
              f"(the code is {needle.code})")


if __name__ == "__main__":
    main()
