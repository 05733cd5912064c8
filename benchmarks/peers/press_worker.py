"""KV-cache compression worker for kvpress, run with kvpress's own venv python (.bench-venvs/kvpress).

Replays what kvpress's text-generation pipeline (``KVPressTextGenerationPipeline._forward`` and
``generate_answer`` in kvpress/pipeline.py, kvpress 0.5.5) does, but on token ids we pass in rather
than on text, so kvpress and our own presses see identical inputs:

1. prefill the context with the model's body (no LM head) into a fresh ``DynamicCache`` under
   ``with press(model):`` -- the press's forward hooks prune the cache in place (timed);
2. feed the question ids in one forward with position ids that continue from the ORIGINAL context
   length (the cache is shorter after compression, the positions are not);
3. greedy-decode up to ``max_new_tokens``, one id at a time, positions counting on from there.

    python benchmarks/peers/press_worker.py INPUT.json OUTPUT.json

INPUT.json::

    {"model_dir": "<HF folder>", "presses": ["none", "knorm", "streaming", "snapkv", "snapkv_question",
     "tova", "expected_attention", "keydiff"], "ratios": [0.25, 0.5, 0.75], "max_new_tokens": 16,
     "eos_ids": [2], "items": [{"id": "a", "context_ids": [...], "question_ids": [...],
     "question_suffix_len": 5}]}

``question_suffix_len`` is optional and used only by "snapkv_question" (see QUESTION_AWARE below).

OUTPUT.json::

    {"versions": {"kvpress": .., "transformers": .., "torch": ..},
     "rows": [{"press", "ratio", "id", "answer_ids", "prefill_press_s", "kept_positions"}, ...],
     "skipped": [{"press", "ratio" (null: every ratio), "reason"}, ...]}

Rows: "none" runs once with ratio 0.0. ``answer_ids`` are kvpress's greedy ids as generated, the
stopping eos id included when one was produced (kvpress decodes them with skip_special_tokens).
``prefill_press_s`` is the perf_counter time of ``with press(model): model.model(context)``
(press hook registration included); ``kept_positions`` is the cache length after that (layer 0;
these presses prune every layer to the same length).
"""

from __future__ import annotations

import contextlib
import importlib.metadata as md
import json
import os
import sys
import time
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"  # never reach for the hub, whatever the caller's shell says

import torch  # noqa: E402
from transformers import AutoModelForCausalLM, DynamicCache  # noqa: E402
from transformers.utils import logging as hf_logging  # noqa: E402

import kvpress  # noqa: E402  (importing it patches transformers' attention functions, as in real use)

# Our name -> (kvpress class name, constructor kwargs besides compression_ratio). kvpress defaults
# throughout (SnapKV window 64 / kernel 5, StreamingLLM and ExpectedAttention 4 sink tokens, ...).
PRESSES = {
    "knorm": ("KnormPress", {}),
    "streaming": ("StreamingLLMPress", {}),
    "snapkv": ("SnapKVPress", {}),
    "snapkv_question": ("SnapKVPress", {}),
    "tova": ("TOVAPress", {}),
    "expected_attention": ("ExpectedAttentionPress", {}),
    "keydiff": ("KeyDiffPress", {}),
}

# Question-aware compression, the kvpress way. kvpress's pipeline itself always compresses the
# context alone (README, "Why not using model.generate?": excluding the question from compression
# avoids "artificially favoring methods such as SnapKV"). Its documented question-aware mode is the
# evaluation harness's `compress_questions=True` (NVIDIA/kvpress evaluation/evaluate.py,
# EvaluationConfig.compress_questions): `df["context"] = df["context"] + df["question"]` and
# `df["question"] = ""`, i.e. the question TEXT is prefilled and compressed together with the
# context (so SnapKV's observation window covers it), and only the pipeline's question suffix (end
# of user turn + assistant start, what the pipeline's preprocess splits off the chat template) is
# fed afterwards, at positions continuing from len(context) + len(question text). Here that means:
# compressed part = context_ids + question_ids[:-n], fed part = question_ids[-n:], with
# n = item["question_suffix_len"], or, when absent, the length of the suffix derived from the
# model folder's chat template exactly as kvpress/pipeline.py preprocess() derives it (checked to
# be the tail of question_ids).
QUESTION_AWARE = {"snapkv_question"}


def versions() -> dict:
    return {name: md.version(name) for name in ("kvpress", "transformers", "torch")}


def load_model(folder: str):
    # sdpa: kvpress's own default (its evaluation harness loads with the default implementation, or
    # flash_attention_2 when installed, and eager only for ObservedAttentionPress, which needs the
    # attention matrix). None of the presses here needs the matrix: SnapKV/TOVA recompute their
    # window's attention from the cache when the layer returns none, as sdpa does.
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32, attn_implementation="sdpa")
    return model.eval().to("cpu")


def question_suffix_ids(folder: str) -> list[int] | None:
    """The ids kvpress's pipeline feeds after the question (its preprocess(): chat template split at a
    separator placed after the user content; "\\n" without a template). None if no tokenizer loads."""
    try:
        from transformers import AutoTokenizer

        tok = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    except Exception:  # noqa: BLE001 -- items may still carry question_suffix_len
        return None
    if tok.chat_template is None:
        suffix = "\n"
    else:
        sep = "#" * 20
        text = tok.apply_chat_template([{"role": "user", "content": "x" + sep}], add_generation_prompt=True,
                                       tokenize=False)
        suffix = text.split(sep)[1]
    return tok.encode(suffix, add_special_tokens=False)


def split_question(item: dict, suffix: list[int] | None) -> tuple[list[int], list[int]]:
    """(ids compressed with the context, ids fed after it) for the question-aware mode."""
    q = item["question_ids"]
    if "question_suffix_len" in item:
        n = int(item["question_suffix_len"])
    elif suffix is not None and len(q) > len(suffix) and q[-len(suffix):] == suffix:
        n = len(suffix)
    else:
        raise ValueError(f"item {item['id']}: no question_suffix_len and question_ids do not end with the "
                         f"chat template's question suffix {suffix}")
    if not 0 < n < len(q):
        raise ValueError(f"item {item['id']}: question_suffix_len={n} must leave question text and a suffix")
    return q[:-n], q[-n:]


@torch.no_grad()  # kvpress's pipeline runs _forward under Pipeline.get_inference_context() = no_grad
def run_one(model, press, context: list[int], question: list[int], max_new_tokens: int,
            eos: list[int]) -> tuple[list[int], float, int]:
    cache = DynamicCache()
    ctx = torch.tensor([context], dtype=torch.long)
    # (a) prefill: the model body only (no LM head), no position ids (0..n-1 by default), with the
    # press's hooks registered; the hooks compress each layer's cache right after its attention.
    t0 = time.perf_counter()
    with press(model) if press is not None else contextlib.nullcontext():
        model.model(input_ids=ctx, past_key_values=cache)
    prefill_s = time.perf_counter() - t0
    kept = cache.get_seq_length()

    # (b) question: positions continue from the ORIGINAL context length, not from the shorter cache
    # (cache_position is left to the model, which counts it from the cache length, as in kvpress).
    context_length = ctx.shape[1]
    q = torch.tensor([question], dtype=torch.long)
    position_ids = torch.arange(context_length, context_length + q.shape[1]).unsqueeze(0)
    out = model(input_ids=q, past_key_values=cache, position_ids=position_ids, logits_to_keep=1)

    # (c) greedy decode. Like kvpress, the first id is kept without an eos check; each later id is
    # fed at the next position and generation stops once an eos id has been appended.
    next_pos = position_ids[:, -1:] + 1
    ids = [int(out.logits[0, -1].argmax())]
    for step in range(max_new_tokens - 1):
        out = model(input_ids=torch.tensor([[ids[-1]]]), past_key_values=cache, position_ids=next_pos + step)
        ids.append(int(out.logits[0, -1].argmax()))
        if ids[-1] in eos:
            break
    return ids, prefill_s, kept


def make_press(name: str, ratio: float):
    cls_name, kwargs = PRESSES[name]
    return getattr(kvpress, cls_name)(compression_ratio=ratio, **kwargs)


def main(inp: str, outp: str) -> None:
    cfg = json.loads(Path(inp).read_text())
    hf_logging.disable_progress_bar()  # the weight-loading bar would flood the caller's stderr log
    torch.set_num_threads(int(cfg.get("threads", 2)))
    torch.manual_seed(0)
    model = load_model(cfg["model_dir"])
    eos = list(cfg.get("eos_ids") or [])
    if not eos:  # kvpress falls back to the generation config's eos
        gen_eos = model.generation_config.eos_token_id
        eos = gen_eos if isinstance(gen_eos, list) else [gen_eos]
    items, max_new = cfg["items"], int(cfg.get("max_new_tokens", 16))
    rows, skipped = [], []

    # one untimed warm-up prefill (no press) so first-call costs land in no timing
    with torch.no_grad():
        model.model(input_ids=torch.tensor([items[0]["context_ids"]]), past_key_values=DynamicCache())

    suffix, suffix_done = None, False
    for name in dict.fromkeys(cfg["presses"]):  # ordered, de-duplicated
        if name != "none" and name not in PRESSES:
            skipped.append({"press": name, "ratio": None, "reason": "unknown press name"})
            continue
        if name != "none" and not hasattr(kvpress, PRESSES[name][0]):
            skipped.append({"press": name, "ratio": None,
                            "reason": f"kvpress {md.version('kvpress')} has no {PRESSES[name][0]}"})
            continue
        if name in QUESTION_AWARE and not suffix_done:
            suffix, suffix_done = question_suffix_ids(cfg["model_dir"]), True
        for ratio in ([0.0] if name == "none" else cfg["ratios"]):
            part = []
            try:
                press = None if name == "none" else make_press(name, float(ratio))
                for item in items:
                    if name in QUESTION_AWARE:
                        text, fed = split_question(item, suffix)
                        context, question = item["context_ids"] + text, fed
                    else:
                        context, question = item["context_ids"], item["question_ids"]
                    ids, secs, kept = run_one(model, press, context, question, max_new, eos)
                    part.append({"press": name, "ratio": float(ratio), "id": item["id"], "answer_ids": ids,
                                 "prefill_press_s": round(secs, 6), "kept_positions": kept})
                    print(f"{name} {ratio} {item['id']}: kept {kept}/{len(context)} "
                          f"prefill {secs * 1000:.1f} ms", file=sys.stderr)
            except Exception as exc:  # noqa: BLE001 -- report it and carry on with the others
                skipped.append({"press": name, "ratio": float(ratio), "reason": f"{type(exc).__name__}: {exc}"})
                continue
            rows.extend(part)

    Path(outp).write_text(json.dumps({"versions": versions(), "rows": rows, "skipped": skipped}, indent=1))


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: press_worker.py INPUT.json OUTPUT.json")
    main(sys.argv[1], sys.argv[2])
