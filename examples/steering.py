"""Steering in a few lines: find a direction, turn it both ways, combine, remove, export, reason.

    .venv/bin/python examples/steering.py                # the bundled SmolLM2-135M-Instruct
    .venv/bin/python examples/steering.py --model tiny   # a tiny random model (seconds)
"""

import argparse
import tempfile
from pathlib import Path

import latentspace as ls
from latentspace.reason import get_reasoner
from latentspace.steer import SteeringVector, ablate, export_gguf, import_gguf, load_pairs, train_vector
from latentspace.steer.scorers import vader

parser = argparse.ArgumentParser()
parser.add_argument("--model", default=ls.DEFAULT_MODEL)
args = parser.parse_args()

lm = ls.load(args.model)
prompt = "Tell me about your weekend."
judge = vader()

# 1. a sentiment direction from the 50 built-in pairs (mean difference over the middle layers)
happy = train_vector(lm, load_pairs("sentiment"), method="mean_diff", concept="sentiment")
print(f"{happy!r}: {happy.meta['n_pairs']} pairs in {happy.meta['seconds']:.1f} s")

# 2. the same prompt unsteered and steered both ways (VADER judges each answer)
for strength in (0.0, 0.3, -0.3):
    with happy.apply(lm, strength, positions="all"):
        text = lm.generate(prompt, max_new_tokens=32)
    print(f"{strength:+.1f}  VADER {judge([text])[0]:+.2f}  {text.strip()[:80]!r}")

# 3. vectors are values: happy but not formal, steering only the generated tokens
formal = train_vector(lm, load_pairs("formality"), method="mean_diff", concept="formality")
with (happy - 0.5 * formal).apply(lm, 0.3, positions="generated"):
    print("happy - 0.5 formal:", lm.generate(prompt, max_new_tokens=32).strip()[:80])

# 4. directional ablation: the sentiment direction of one layer projected out everywhere
layer = happy.layers[len(happy) // 2]
with ablate(lm, happy.select(layer)):
    print(f"ablated (layer {layer}'s direction):", lm.generate(prompt, max_new_tokens=32).strip()[:80])

# 5. save, export for llama.cpp, and read back exactly
with tempfile.TemporaryDirectory() as tmp:
    back = SteeringVector.load(happy.save(Path(tmp) / "happy.safetensors"), lm)
    gguf = export_gguf(happy, Path(tmp) / "happy.gguf")  # default layers skip block 0, as llama.cpp needs
    print("GGUF round trip exact:", all(bool((import_gguf(gguf, lm)[x] == back[x]).all()) for x in back.layers))

# 6. steering works inside latent reasoning too (here: two pause steps before answering)
with happy.apply(lm, 0.3):
    trace = get_reasoner("pause", max_latent_steps=2, max_new_tokens=24).run(lm, "How do you feel today?")
print("steered pause answer:", trace.text.strip()[:80])
