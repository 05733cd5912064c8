"""Training throughput on this CPU: the trainer's step against a bare loop, HF's GPT-2 code against the lean forward.

Issue 39 asks where a small model's training time goes before anything is made faster. For each
profile's shapes (`laptop-mnns`, `paper-mnns`, `laptop-prosqa`) and recipe, with the batches the
trainer builds (`epoch_batches`' per-item sequences and `collate`), it times, interleaved round by
round (robust to a busy machine) and reported as medians:

- **pipeline**: building one batch from the encoded items (the trainer's Python per item);
- **step, HF code**: the recipe's module forward (all its passes), backward, AdamW — as the trainer
  runs it, through Hugging Face's `GPT2Model`;
- **step, lean**: the same with `lean_gpt2.forward` (what the trainer uses for from-scratch models);
- **step, trainer now**: the lean forward, the fused AdamW kernel the trainer now builds (`new_optimizer`)
  and batches grouped by length (`--set bucket`) — everything issue 39 changed, together;
- **bare HF loop** (CoT batches only): `model(input_ids, attention_mask, position_ids).logits`, cross-entropy,
  backward, AdamW: the limit of HF's model code with no trainer around it;
- **bare 60-line GPT** (CoT batches only): the same architecture written as nanoGPT would (`MiniGPT`),
  the limit of plain model code.

Tokens are the batch's real (unpadded) tokens. The CPU's peak is cores x FMA units x SIMD lanes x 2 x
clock, read from /proc/cpuinfo (2 FMA units per core assumed: say so where it matters).

    .venv/bin/python benchmarks/bench_train_speed.py            # writes docs/results.md
    .venv/bin/python benchmarks/bench_train_speed.py --quick    # prints only, fewer rounds
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import random
import re
import statistics
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402
from results_md import replace_section  # noqa: E402  (benchmarks/ is on sys.path)

from latentspace.model.markers import END_LATENT, LATENT, START_LATENT  # noqa: E402
from latentspace.tasks import get_task  # noqa: E402
from latentspace.train.data import encode_examples  # noqa: E402
from latentspace.train.latent_forward import shifted_loss, use_lean  # noqa: E402
from latentspace.train.models import from_scratch  # noqa: E402
from latentspace.train.profiles import get_profile  # noqa: E402
from latentspace.train.recipes import get_recipe  # noqa: E402
from latentspace.train.rundata import by_length  # noqa: E402
from latentspace.train.sequences import MarkerIds  # noqa: E402
from latentspace.train.vocab import symbol_tokenizer, word_tokenizer  # noqa: E402

START, END = "<!-- bench_train_speed:start -->", "<!-- bench_train_speed:end -->"
PROFILES = ("laptop-mnns", "paper-mnns", "laptop-prosqa")
RECIPES = ("nocot", "cot", "coconut", "cot2")


def setup(profile_name: str, batches: int):
    """(profile, tokenizer, markers, encoded items) for ``batches`` batches of the profile's task."""
    profile = get_profile(profile_name)
    spec = get_task(profile.task)
    hops = {}
    if profile.hops:
        from latentspace.tasks.prosqa_sym import parse_hops

        hops = {"hops": parse_hops(profile.hops)}
    items = spec.generate(profile.batch_size * batches, seed=0, **hops)
    make = symbol_tokenizer if spec.symbolic else word_tokenizer
    tok = make([t for i in items for t in (i.question, i.answer, *i.steps)], extra=spec.vocabulary)
    markers = MarkerIds(*tok.convert_tokens_to_ids([START_LATENT, LATENT, END_LATENT]))
    return profile, tok, markers, encode_examples(tok, items, need_steps=True, need_targets=True)


def last_epoch(recipe) -> int:
    """An epoch at the recipe's last curriculum stage (Coconut's most thoughts: its costliest step)."""
    return recipe.epochs - 1


def build(recipe, examples, epoch, markers, tok, size, window=1):
    """The batches `epoch_batches` builds (``window`` > 1: grouped by length, the `bucket` setting)."""
    rng = random.Random(epoch)
    sequences = [recipe.sequence(ex, epoch, markers, rng) for ex in examples]
    rng.shuffle(sequences)
    return [recipe.batch(group, tok.pad_token_id, markers.latent) for group in by_length(sequences, size, window, rng)]


def real_tokens(batch) -> int:
    inner = getattr(batch, "batch", None) or getattr(batch, "student", None) or batch
    return int(inner.attention_mask.sum())


def padded_fraction(batch) -> float:
    inner = getattr(batch, "batch", None) or getattr(batch, "student", None) or batch
    return 1 - float(inner.attention_mask.float().mean())


def module_loss(module, batch) -> torch.Tensor:
    """The recipe's loss as the trainer normalises it (each part over its own count)."""
    return sum(value / max(count, 1) for value, count in module(batch, parts=True).values())


def bare_loss(model, batch) -> torch.Tensor:
    logits = model(input_ids=batch.ids, attention_mask=batch.attention_mask, position_ids=batch.position_ids).logits
    return shifted_loss(logits, batch.labels)


def mini_loss(model, batch) -> torch.Tensor:
    return shifted_loss(model(batch.ids, batch.attention_mask), batch.labels)


def timed_step(loss_of, model, optimizer, batch) -> float:
    """Seconds of one forward (``loss_of``), backward and optimizer step."""
    started = time.perf_counter()
    loss_of(model, batch).backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return time.perf_counter() - started


class MiniGPT(torch.nn.Module):
    """A GPT-2-shaped model in a few lines (nn.Linear, SDPA, fused GELU, tied head): the speed limit of
    plain model code, as nanoGPT writes it — the bench's reference for "the fastest model code"."""

    def __init__(self, vocab: int, width: int, heads: int, layers: int, positions: int = 1024) -> None:
        super().__init__()
        nn = torch.nn
        self.heads, self.wte, self.wpe = heads, nn.Embedding(vocab, width), nn.Embedding(positions, width)
        self.blocks = nn.ModuleList(nn.ModuleDict({
            "ln1": nn.LayerNorm(width), "qkv": nn.Linear(width, 3 * width), "proj": nn.Linear(width, width),
            "ln2": nn.LayerNorm(width), "fc": nn.Linear(width, 4 * width), "out": nn.Linear(4 * width, width)})
            for _ in range(layers))
        self.ln = nn.LayerNorm(width)

    def forward(self, ids, mask):
        rows, length = ids.shape
        x = self.wte(ids) + self.wpe(torch.arange(length))
        visible = torch.ones(length, length, dtype=torch.bool).tril()[None, None] & mask[:, None, None, :].bool()
        visible |= torch.eye(length, dtype=torch.bool)  # padding rows see themselves (no NaN)
        for b in self.blocks:
            q, k, v = b["qkv"](b["ln1"](x)).view(rows, length, 3, self.heads, -1).permute(2, 0, 3, 1, 4)
            att = torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=visible)
            x = x + b["proj"](att.transpose(1, 2).reshape(rows, length, -1))
            x = x + b["out"](torch.nn.functional.gelu(b["fc"](b["ln2"](x)), approximate="tanh"))
        return self.ln(x) @ self.wte.weight.T


def peak_flops() -> tuple[float, str]:
    """(FLOP/s, how): cores x 2 FMA units x fp32 lanes x 2 FLOP x clock."""
    text = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    flags = set(re.findall(r"^flags\s*:\s*(.*)$", text, re.M)[0].split()) if "flags" in text else set()
    mhz = [float(m) for m in re.findall(r"^cpu MHz\s*:\s*([\d.]+)", text, re.M)]
    lanes = 16 if "avx512f" in flags else 8 if "avx2" in flags else 4
    clock = (max(mhz) if mhz else 2000.0) * 1e6
    cores = os.cpu_count() or 1
    peak = cores * 2 * lanes * 2 * clock
    return peak, (f"{cores} cores x 2 FMA units x {lanes} fp32 lanes ({'AVX-512' if lanes == 16 else 'AVX2'}) "
                  f"x 2 FLOP x {clock / 1e9:.2f} GHz (/proc/cpuinfo) = {peak / 1e9:.0f} GFLOP/s")


def step_flops(model, batch) -> float:
    """Forward+backward FLOPs of a plain pass: 6 x weights x tokens plus attention's 12 x T^2 x d per layer."""
    config = model.config
    inner = getattr(batch, "batch", None) or getattr(batch, "student", None) or batch
    rows, length = inner.ids.shape
    weights = sum(p.numel() for n, p in model.named_parameters() if "wpe" not in n)  # wte doubles as the head
    return 6 * weights * rows * length + 12 * config.n_layer * rows * length ** 2 * config.n_embd


def measure(profile_name: str, recipes, rounds: int, batches: int, threads: int, window: int) -> list[dict]:
    torch.set_num_threads(threads)
    profile, tok, markers, examples = setup(profile_name, batches)
    rows = []
    for name in recipes:
        recipe = get_recipe(name, **profile.recipe_options.get(name, {}))
        epoch = last_epoch(recipe)
        data = build(recipe, examples, epoch, markers, tok, profile.batch_size)
        sorted_data = build(recipe, examples, epoch, markers, tok, profile.batch_size, window)
        arms = {}
        for lean in (False, True):
            model = from_scratch(profile, tok, seed=0)
            model.train()
            module = recipe.module(model)
            if lean:
                use_lean(module, model)
            optimizer = torch.optim.AdamW(module.parameters(), lr=profile.lr)
            arms["step, lean" if lean else "step, HF code"] = (module_loss, module, optimizer)
        model = from_scratch(profile, tok, seed=0)
        model.train()
        module = recipe.module(model)
        use_lean(module, model)
        fused = torch.optim.AdamW(module.parameters(), lr=profile.lr, fused=True)  # as `new_optimizer` builds it
        arms["step, trainer now"] = (module_loss, module, fused)
        if name == "cot":
            model = from_scratch(profile, tok, seed=0)
            model.train()
            arms["bare HF loop"] = (bare_loss, model, torch.optim.AdamW(model.parameters(), lr=profile.lr))
            torch.manual_seed(0)
            mini = MiniGPT(len(tok), profile.hidden, profile.heads, profile.layers)
            arms["bare 60-line GPT"] = (mini_loss, mini, torch.optim.AdamW(mini.parameters(), lr=profile.lr))
        times = {arm: [] for arm in arms}
        times["pipeline"] = []
        for fn, target, optimizer in arms.values():  # warm-up
            timed_step(fn, target, optimizer, data[0])
        for _ in range(rounds):
            started = time.perf_counter()
            build(recipe, examples, epoch, markers, tok, profile.batch_size)
            times["pipeline"].append((time.perf_counter() - started) / len(data))
            for arm, (fn, target, optimizer) in arms.items():
                own = sorted_data if arm.endswith("now") else data
                times[arm].append(sum(timed_step(fn, target, optimizer, b) for b in own) / len(own))
        for arm, values in times.items():
            own = sorted_data if arm.endswith("now") else data
            tokens = statistics.mean(real_tokens(b) for b in own)
            flops = statistics.mean(step_flops(model, b) for b in own)
            seconds = statistics.median(values)
            rows.append({"profile": profile_name, "recipe": name, "threads": threads, "arm": arm,
                         "ms": seconds * 1e3, "tokens": tokens, "tokens_per_s": tokens / seconds,
                         "flops_per_s": flops / seconds if arm != "pipeline" else None,
                         "padded": statistics.mean(padded_fraction(b) for b in own),
                         "passes": 1 + int(getattr(data[0], "latent", torch.zeros(1)).sum(1).max())
                         if hasattr(data[0], "latent") else 1})
    return rows


def worker(profile_name: str, recipe_name: str, seconds: float) -> float:
    """Lean steps per second of one process for ``seconds`` (the concurrency measurement's unit)."""
    profile, tok, markers, examples = setup(profile_name, 8)
    recipe = get_recipe(recipe_name, **profile.recipe_options.get(recipe_name, {}))
    data = build(recipe, examples, last_epoch(recipe), markers, tok, profile.batch_size)
    model = from_scratch(profile, tok, seed=0)
    module = recipe.module(model)
    use_lean(module, model)
    optimizer = torch.optim.AdamW(module.parameters(), lr=profile.lr)
    timed_step(module_loss, module, optimizer, data[0])
    steps, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        timed_step(module_loss, module, optimizer, data[steps % len(data)])
        steps += 1
    return steps / (time.perf_counter() - started)


def concurrency(profile_name: str, recipe_name: str, seconds: float) -> dict:
    """Steps per second of the machine: one process with every core's thread, or one process per core."""
    import subprocess
    import sys

    def launch(count: int, threads: int) -> float:
        env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
        cmd = [sys.executable, __file__, "--worker", f"{profile_name}:{recipe_name}:{seconds}:{threads}"]
        procs = [subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True) for _ in range(count)]
        return sum(float(p.communicate()[0].split()[-1]) for p in procs)

    cores = os.cpu_count() or 1
    return {"one process, all threads": launch(1, cores), "one process per core": launch(cores, 1), "cores": cores}


def table(rows: list[dict], peak: float) -> list[str]:
    lines = ["| profile | recipe | threads | passes | pipeline ms/batch | bare HF loop ms/step | "
             "bare 60-line GPT ms/step | HF code ms/step | "
             "lean ms/step | HF ÷ lean | tokens/s HF code | tokens/s lean | tokens/s trainer now | × HF code | "
             "% of peak (now) | padding → bucketed |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    keyed = {(r["profile"], r["recipe"], r["threads"], r["arm"]): r for r in rows}
    for profile, recipe, threads in dict.fromkeys((r["profile"], r["recipe"], r["threads"]) for r in rows):
        hf, lean, both, pipe, bare, mini = (keyed.get((profile, recipe, threads, arm)) for arm in (
            "step, HF code", "step, lean", "step, trainer now", "pipeline", "bare HF loop", "bare 60-line GPT"))
        share = peak * threads / (os.cpu_count() or 1)  # the peak of the cores this run used
        lines.append(f"| {profile} | {recipe} | {threads} | {lean['passes']} | {pipe['ms']:.2f} | "
                     f"{'—' if bare is None else format(bare['ms'], '.2f')} | "
                     f"{'—' if mini is None else format(mini['ms'], '.2f')} | {hf['ms']:.2f} | {lean['ms']:.2f} | "
                     f"{hf['ms'] / lean['ms']:.2f} | {hf['tokens_per_s']:,.0f} | {lean['tokens_per_s']:,.0f} | "
                     f"{both['tokens_per_s']:,.0f} | {both['tokens_per_s'] / hf['tokens_per_s']:.2f} | "
                     f"{100 * both['flops_per_s'] / share:.1f} | {lean['padded']:.0%} → {both['padded']:.0%} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profiles", default=",".join(PROFILES))
    parser.add_argument("--recipes", default=",".join(RECIPES))
    parser.add_argument("--threads", default="1,2", help="torch thread counts to measure, e.g. 1,2")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batches", type=int, default=8, help="batches per round")
    parser.add_argument("--bucket", type=int, default=8, help="the bucketed arm's window (batches sorted together)")
    parser.add_argument("--quick", action="store_true", help="2 rounds, print only")
    parser.add_argument("--worker", help=argparse.SUPPRESS)  # PROFILE:RECIPE:SECONDS:THREADS (concurrency unit)
    args = parser.parse_args()
    if args.worker:
        profile, recipe, seconds, count = args.worker.split(":")
        torch.set_num_threads(int(count))
        print(worker(profile, recipe, float(seconds)))
        return
    threads = [int(t) for t in args.threads.split(",")]
    if any(t <= 0 for t in threads) or min(args.rounds, args.batches, args.bucket) <= 0:
        parser.exit(2, "bench_train_speed: thread counts, --rounds, --batches and --bucket must be at least 1\n")
    rounds = 2 if args.quick else args.rounds
    rows = []
    for count in threads:
        for profile in args.profiles.split(","):
            rows += measure(profile, args.recipes.split(","), rounds, args.batches, count, args.bucket)
    shared = concurrency("laptop-prosqa", "cot", 10.0 if args.quick else 30.0)
    peak, how = peak_flops()
    command = "`.venv/bin/python benchmarks/bench_train_speed.py`"
    lines = ["## Training throughput: the trainer's step, HF's GPT-2 code and the lean forward (issue 39)", "",
             f"Batches as the trainer builds them ({args.batches} per round, the recipe at its last curriculum stage), "
             f"one forward+backward+AdamW step, median of {rounds} interleaved rounds; peak: {how} (% of peak counts "
             f"the threads used); CPU ({platform.machine()}, {os.cpu_count()} cores), torch {torch.__version__}, "
             f"{datetime.date.today().isoformat()}. Command: {command}", ""] + table(rows, peak) + [
        "", f"Runs at a time (`laptop-prosqa` CoT, lean steps per second of the whole machine, 30 s each): one process "
        f"with {shared['cores']} threads {shared['one process, all threads']:.2f}, {shared['cores']} processes with "
        f"one thread each {shared['one process per core']:.2f} "
        f"(× {shared['one process per core'] / shared['one process, all threads']:.2f})."]
    text = "\n".join(lines) + "\n"
    print(text)
    if not args.quick:
        replace_section(f"{START}\n{text}{END}", START, END)


if __name__ == "__main__":
    main()
