"""A first walk through the LatentModel core: generate, record, intervene, think in vectors, save.

    .venv/bin/python examples/quickstart.py                # the bundled SmolLM2-135M-Instruct
    .venv/bin/python examples/quickstart.py --model tiny   # a tiny random model (seconds)
"""

import argparse
import tempfile
from pathlib import Path

import rich
import torch

import latentspace as ls
from latentspace.trace import Step, Trace, read_logits

parser = argparse.ArgumentParser()
parser.add_argument("--model", default=ls.DEFAULT_MODEL)
args = parser.parse_args()

lm = ls.load(args.model)
question = "What is the capital of France?"

# 1. plain generation through our decode loop (same tokens as HF generate, greedy)
print("answer:", lm.generate(question, max_new_tokens=20))

# 2. record the residual stream at the middle layer, last position only (the pass stops there)
middle = lm.n_layers // 2
rec = lm.record(question, [("resid_post", middle)], positions="last", chat=True)
print(f"resid_post[{middle}] at the last token: norm {rec['resid_post', middle].norm():.1f}")

# 3. remove that direction from every layer's output while answering (directional ablation)
direction = rec["resid_post", middle][0, 0]
ablate = [ls.Intervention("resid_post", i, "project_out", direction) for i in range(lm.n_layers)]
with lm.hooks(interventions=ablate):
    print("ablated answer:", lm.generate(question, max_new_tokens=20))

# 4. two continuous thoughts (no token sampled), each read through the model's own head
state = lm.encode(question, chat=True)
trace = Trace(prompt=question, strategy="continuous/soft", model=lm.name)
for _ in range(2):
    entropy, top = read_logits(state.logits[0], lm.tokenizer, k=3)
    thought = lm.align(state.hidden, "soft", state.logits)
    trace.steps.append(Step("latent", norm=float(thought.norm()), entropy=entropy, top=top))
    state = lm.step(state, thought)

# 5. save the working memory, load it back, and answer from it
with tempfile.TemporaryDirectory() as tmp:
    path = state.save(Path(tmp) / "memory.safetensors", lm.fingerprint)
    restored = ls.LatentState.load(path, lm.fingerprint)
    assert torch.equal(restored.logits, state.logits)
    trace.text = lm.decode(restored, max_new_tokens=20).texts[0]
rich.print(trace.table())
print("answer after two thoughts:", trace.text)
