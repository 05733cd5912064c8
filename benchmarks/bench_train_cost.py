"""Training cost per batch: Coconut's n+1 passes at each stage against plain CoT, same model and data.

The paper's design point: continuous thoughts must be computed one after another, but each pass
reuses the KV cache of the last, so a Coconut step should cost about one CoT step plus a little
per thought — the goal is at most (max thoughts + 1) × CoT. Variants are interleaved round by
round and reported as ratios to CoT (robust to a busy machine).

    .venv/bin/python benchmarks/bench_train_cost.py            # writes docs/results.md
    .venv/bin/python benchmarks/bench_train_cost.py --quick    # prints only
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402
from results_md import replace_section  # noqa: E402  (benchmarks/ is on sys.path)

from latentspace.tasks import get_task  # noqa: E402
from latentspace.train import encode_examples, word_tokenizer  # noqa: E402
from latentspace.train.latent_forward import LatentLM  # noqa: E402
from latentspace.train.models import from_scratch  # noqa: E402
from latentspace.train.profiles import get_profile  # noqa: E402
from latentspace.train.sequences import CurriculumConfig, MarkerIds, build_sequence, collate  # noqa: E402

START, END = "<!-- bench_train_cost:start -->", "<!-- bench_train_cost:end -->"
STAGES = [1, 3, 6, 7]  # 7 = beyond max stage 6: every step removed, 6 thoughts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    torch.manual_seed(0)
    items = get_task("prosqa").generate(32, seed=0)
    tok = word_tokenizer([t for i in items for t in (i.question, i.answer, *i.steps)])
    examples = encode_examples(tok, items)
    markers = MarkerIds(*tok.convert_tokens_to_ids(["<|start-latent|>", "<|latent|>", "<|end-latent|>"]))
    profile = get_profile("english-small")
    model = from_scratch(profile, tok)
    module = LatentLM(model)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    plain = CurriculumConfig(max_stage=0, markers=False)
    batches = {"cot": collate([build_sequence(e, 0, plain, markers) for e in examples], 0, markers.latent)}
    for stage in STAGES:
        batches[f"coconut stage {stage}"] = collate(
            [build_sequence(e, stage, CurriculumConfig(max_stage=6), markers) for e in examples], 0, markers.latent)
    times = {name: [] for name in batches}
    step(module, opt, batches["cot"])  # warm-up
    for _ in range(args.rounds):
        for name, batch in batches.items():
            times[name].append(step(module, opt, batch))
    cot = statistics.median(times["cot"])
    lines = [
        "## Training cost: Coconut's n+1 passes vs CoT (issue 5)",
        "",
        f"{profile.layers}-layer {profile.hidden}-d GPT-2 from scratch (quick profile), batch of 32 ProsQA-like "
        f"items, one forward+backward+AdamW step, median of {args.rounds} interleaved rounds; CPU "
        f"({platform.machine()}, {os.cpu_count()} cores), torch {torch.__version__}, "
        f"{datetime.date.today().isoformat()}. Command: `.venv/bin/python benchmarks/bench_train_cost.py`",
        "",
        "| variant | passes | tokens | s/step | × CoT | goal (≤ passes × CoT) |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for name, batch in batches.items():
        passes = int(batch.latent.sum(1).max()) + 1
        median = statistics.median(times[name])
        lines.append(f"| {name} | {passes} | {int(batch.attention_mask.sum())} | {median:.3f} | {median / cot:.2f} | "
                     f"{'met' if median <= passes * cot else 'NOT met'} |")
    table = "\n".join(lines) + "\n"
    print(table)
    if not args.quick:
        replace_section(f"{START}\n{table}{END}", START, END)


def step(module, opt, batch) -> float:
    started = time.perf_counter()
    loss, _ = module(batch)
    loss.backward()
    opt.step()
    opt.zero_grad()
    return time.perf_counter() - started


if __name__ == "__main__":
    main()
