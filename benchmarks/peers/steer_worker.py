"""Steering worker for a peer library, run with that library's own venv python.

Reads the shared inputs (model folder, pairs as rendered strings, layers, strengths, prompts) from
a JSON file, trains the peer's vector(s) on the pairs, completes every prompt at every strength
with plain HF ``generate`` (greedy), and times training and generation (steered vs unsteered,
interleaved). Prints one JSON object on stdout. The parent scores every text itself, in one
environment, so all libraries are judged the same way.

    python steer_worker.py --lib repeng --inputs inputs.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer


def load_tokenizer(folder: str):
    """AutoTokenizer; an older transformers cannot read the config a newer one wrote, so fall back to
    the same tokenizer.json with the special tokens the config names (identical ids either way)."""
    try:
        return AutoTokenizer.from_pretrained(folder, local_files_only=True)
    except (ValueError, OSError):
        from pathlib import Path

        from transformers import PreTrainedTokenizerFast

        config = json.loads((Path(folder) / "tokenizer_config.json").read_text())
        special = {k: config[k] for k in ("bos_token", "eos_token", "pad_token", "unk_token") if k in config}
        tok = PreTrainedTokenizerFast(tokenizer_file=str(Path(folder) / "tokenizer.json"), **special)
        tok.model_input_names = ["input_ids", "attention_mask"]  # a Llama takes no token_type_ids
        return tok


def load_model(folder: str):
    """The folder's model; no dtype argument (its name differs across transformers majors: the
    folder is float32 anyway). transformers 5 writes RoPE's base inside ``rope_parameters``, which
    4.x does not read (it would silently use 10000 instead of SmolLM2's 100000): pass it on."""
    import transformers
    from pathlib import Path

    config = json.loads((Path(folder) / "config.json").read_text())
    extra = {}
    if int(transformers.__version__.split(".")[0]) < 5 and "rope_theta" not in config:
        theta = (config.get("rope_parameters") or {}).get("rope_theta")
        if theta is not None:
            extra["rope_theta"] = theta
    model = AutoModelForCausalLM.from_pretrained(folder, local_files_only=True, **extra).float().eval()
    if extra:
        assert model.config.rope_theta == extra["rope_theta"], "RoPE base not taken"
    return model


def complete(model, tok, prompts: list[str], max_new_tokens: int) -> tuple[list[str], list[list[int]]]:
    texts, ids = [], []
    for prompt in prompts:  # one at a time: no padding questions across libraries
        enc = tok(prompt, return_tensors="pt", add_special_tokens=False)
        with torch.no_grad():
            out = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False,
                                 pad_token_id=tok.eos_token_id)
        new = out[0, enc["input_ids"].shape[1]:].tolist()
        if new and new[-1] == tok.eos_token_id:
            new = new[:-1]
        ids.append(new)
        texts.append(tok.decode(new, skip_special_tokens=True))
    return texts, ids


def per_token_seconds(model, tok, prompt: str, n: int) -> float:
    enc = tok(prompt, return_tensors="pt", add_special_tokens=False)
    started = time.perf_counter()
    with torch.no_grad():
        out = model.generate(**enc, max_new_tokens=n, min_new_tokens=n, do_sample=False, pad_token_id=tok.eos_token_id)
    return (time.perf_counter() - started) / (out.shape[1] - enc["input_ids"].shape[1])


class Repeng:
    methods = ["pca_diff"]

    def __init__(self, model, tok, layers):
        from repeng import ControlModel

        self.tok, self.layers = tok, layers
        self.model = ControlModel(model, layers)  # repeng wraps (mutates) the model's blocks

    def train(self, pairs, method):
        from repeng import ControlVector, DatasetEntry

        dataset = [DatasetEntry(positive=p, negative=n) for p, n in pairs]
        return ControlVector.train(self.model, self.tok, dataset, method=method, hidden_layers=self.layers)

    def set(self, vector, strength):
        if vector is None:
            self.model.reset()
        else:
            self.model.set_control(vector, strength)

    def norms(self, vector):
        return {int(k): float((v**2).sum() ** 0.5) for k, v in vector.directions.items()}


class SteeringVectors:
    methods = ["mean", "pca"]

    def __init__(self, model, tok, layers):
        self.model, self.tok, self.layers, self.handle = model, tok, layers, None

    def train(self, pairs, method):
        from steering_vectors import mean_aggregator, pca_aggregator, train_steering_vector

        aggregator = mean_aggregator() if method == "mean" else pca_aggregator()
        return train_steering_vector(self.model, self.tok, [tuple(p) for p in pairs], layers=self.layers,
                                     aggregator=aggregator, batch_size=16)

    def set(self, vector, strength):
        if self.handle is not None:
            self.handle.remove()
            self.handle = None
        if vector is not None:
            self.handle = vector.patch_activations(self.model, multiplier=strength)

    def norms(self, vector):
        return {int(k): float(v.norm()) for k, v in vector.layer_activations.items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lib", required=True, choices=["repeng", "steering_vectors"])
    parser.add_argument("--inputs", required=True)
    args = parser.parse_args()
    spec = json.loads(open(args.inputs).read())
    torch.manual_seed(0)
    torch.set_num_threads(spec.get("threads", 2))
    tok = load_tokenizer(spec["model_dir"])
    model = load_model(spec["model_dir"])
    peer = (Repeng if args.lib == "repeng" else SteeringVectors)(model, tok, spec["layers"])
    result = {"lib": args.lib, "methods": {}}
    for method in peer.methods:
        started = time.perf_counter()
        vector = peer.train(spec["pairs"], method)
        train_seconds = time.perf_counter() - started
        curve = []
        for strength in spec["strengths"]:
            peer.set(vector, strength)
            texts, ids = complete(peer.model, tok, spec["prompts"], spec["max_new_tokens"])
            curve.append({"strength": strength, "texts": texts, "ids": ids})
            print(f"{args.lib} {method} {strength:+g}: {texts[0][:60]!r}", file=sys.stderr)
        peer.set(None, 0.0)
        result["methods"][method] = {"train_seconds": train_seconds, "curve": curve, "norms": peer.norms(vector)}
    peer.set(None, 0.0)
    base_texts, base_ids = complete(peer.model, tok, spec["prompts"], spec["max_new_tokens"])
    result["unsteered"] = {"texts": base_texts, "ids": base_ids}
    # generation overhead: the same prompt and token count, steered and not, interleaved
    first = next(iter(result["methods"]))
    vector = peer.train(spec["pairs"], first)
    timing = {"steered": [], "unsteered": []}
    for i in range(spec["timing_repeats"]):
        for mode in ("unsteered", "steered") if i % 2 == 0 else ("steered", "unsteered"):  # no drift bias
            peer.set(vector if mode == "steered" else None, spec["timing_strength"])
            timing[mode].append(per_token_seconds(peer.model, tok, spec["prompts"][0], spec["timing_tokens"]))
    peer.set(None, 0.0)
    result["timing"] = {k: statistics.median(v) for k, v in timing.items()}
    result["versions"] = {"torch": torch.__version__, "transformers": __import__("transformers").__version__}
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
