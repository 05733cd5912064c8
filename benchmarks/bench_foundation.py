"""Foundation benchmarks on the bundled smollm2-135m: recording overhead, load time, decode speed.

Every number is measured in this run; each comparison is reported as a ratio next to the absolute
values, because ratios survive a slower or busier machine far better than absolute seconds do.

    make bench                                            # = .venv/bin/python benchmarks/bench_foundation.py
    .venv/bin/python benchmarks/bench_foundation.py --quick --json

A full run replaces the `bench_foundation` section of docs/results.md; `--quick` (fewer repeats, no
cold load) only prints, so a smoke run never overwrites the real numbers.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never touch a hub, whatever the caller's shell says

import torch  # noqa: E402
from results_md import RESULTS, replace_section  # noqa: E402  (benchmarks/ is on sys.path)
import transformers  # noqa: E402

from latentspace.model.latent_model import LatentModel  # noqa: E402

MODEL = "smollm2-135m"
START, END = "<!-- bench_foundation:start -->", "<!-- bench_foundation:end -->"
GOAL_RECORD, GOAL_DECODE = 1.10, 0.95
# The child times only LatentModel.load; the import of torch/transformers is reported separately,
# so the cold/warm ratio compares what the cache changes (dequantize + write vs read safetensors).
CHILD = (
    "import json, time; t0 = time.perf_counter()\n"
    "from latentspace.model.latent_model import LatentModel; t1 = time.perf_counter()\n"
    f"LatentModel.load({MODEL!r}, show_progress=False); t2 = time.perf_counter()\n"
    "print(json.dumps({'import_s': t1 - t0, 'load_s': t2 - t1}))"
)


def median_times(variants: dict, repeats: int, warmup: int) -> dict[str, float]:
    """Median seconds per variant, run interleaved (A, B, C, A, B, C...) so drift and background
    load (another process on this 2-core box) hit every variant alike instead of biasing one."""
    times: dict[str, list[float]] = {name: [] for name in variants}
    for i in range(warmup + repeats):
        for name, fn in variants.items():
            t0 = time.perf_counter()
            fn()
            if i >= warmup:
                times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(ts) for name, ts in times.items()}


def bench_recording(lm: LatentModel, repeats: int) -> dict:
    # A deterministic plain-text prompt, cut to exactly 256 ids so the forward's shape is fixed.
    text = " ".join(f"Line {i}: the quick brown fox jumps over the lazy dog near river {i % 7}." for i in range(60))
    ids = lm.tokenizer(text, return_tensors="pt")["input_ids"][:, :256]
    assert ids.shape == (1, 256), ids.shape
    every_layer = [("resid_post", i) for i in range(lm.n_layers)]

    def hooked(positions):
        def run():
            with lm.hooks(record=every_layer, positions=positions) as rec:
                lm.forward(ids)
            assert rec["resid_post", lm.n_layers - 1].shape[1] == (1 if positions == "last" else 256)
        return run

    med = median_times({"plain": lambda: lm.forward(ids), "record_all": hooked(None),
                        "record_last": hooked("last")}, repeats, warmup=3)
    return {"tokens": 256, "layers": lm.n_layers, "repeats": repeats, **{f"{k}_s": v for k, v in med.items()},
            "ratio_all": med["record_all"] / med["plain"], "ratio_last": med["record_last"] / med["plain"]}


def bench_load(home: Path, cold: bool, warm_repeats: int) -> dict:
    """Loads in fresh subprocesses, so nothing the parent imported or cached leaks into the timing."""
    env = {**os.environ, "LATENTSPACE_HOME": str(home), "HF_HUB_OFFLINE": "1"}

    def child() -> dict:
        t0 = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, check=True)
        return {**json.loads(out.stdout.strip().splitlines()[-1]), "process_s": time.perf_counter() - t0}

    result: dict = {"warm_repeats": warm_repeats}
    if cold:
        assert not (home / "models" / MODEL).exists(), "cold load needs an empty LATENTSPACE_HOME"
        result["cold"] = child()
    warm = [child() for _ in range(warm_repeats)]
    result["warm"] = {key: statistics.median(w[key] for w in warm) for key in warm[0]}
    if cold:
        result["ratio"] = result["cold"]["load_s"] / result["warm"]["load_s"]
    return result


def bench_decode(lm: LatentModel, repeats: int, new_tokens: int = 64) -> dict:
    prompt = lm.chat("Write a short story about a robot.")
    ids, mask = lm.tokenize(prompt)  # both sides start from exactly these ids
    pad = lm.tokenizer.pad_token_id

    def ours():
        # encode (prefill) + decode, so both sides include the prompt's forward pass
        return lm.decode(lm.encode(ids), max_new_tokens=new_tokens).token_ids[0]

    def hf():
        with torch.no_grad():
            out = lm.model.generate(ids, attention_mask=mask, max_new_tokens=new_tokens, do_sample=False,
                                    min_new_tokens=new_tokens, pad_token_id=pad)
        return out[0, ids.shape[1]:].tolist()

    a, b = ours(), hf()
    # HF is forced to 64 tokens (min_new_tokens); ours stops at EOS, so the prompt must not end early.
    assert len(a) == len(b) == new_tokens, f"ours produced {len(a)}, HF {len(b)}: pick a prompt that runs longer"
    med = median_times({"ours": ours, "hf": hf}, repeats, warmup=1)
    tps = {k: new_tokens / v for k, v in med.items()}
    return {"prompt_tokens": ids.shape[1], "new_tokens": new_tokens, "repeats": repeats, "identical": a == b,
            "ours_s": med["ours"], "hf_s": med["hf"], "ours_tps": tps["ours"], "hf_tps": tps["hf"],
            "ratio": tps["ours"] / tps["hf"]}


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def table_rows(r: dict) -> list[tuple[str, str, str, str, str]]:
    """(measurement, baseline, variant, ratio, goal / verdict) — shared by stdout and the markdown."""
    rec, dec, load = r["recording"], r["decode"], r["load"]
    rows = [
        (f"Recording: forward {rec['tokens']} tok, resid_post × {rec['layers']} layers, all positions",
         f"plain {rec['plain_s'] * 1e3:.1f} ms", f"hooked {rec['record_all_s'] * 1e3:.1f} ms",
         f"{rec['ratio_all']:.3f}×", f"≤ {GOAL_RECORD:.2f}× — {verdict(rec['ratio_all'] <= GOAL_RECORD)}"),
        ("Recording: same, positions=\"last\"", f"plain {rec['plain_s'] * 1e3:.1f} ms",
         f"hooked {rec['record_last_s'] * 1e3:.1f} ms", f"{rec['ratio_last']:.3f}×",
         f"≤ {GOAL_RECORD:.2f}× — {verdict(rec['ratio_last'] <= GOAL_RECORD)}"),
    ]
    cold = f"cold {load['cold']['load_s']:.1f} s" if "cold" in load else "cold skipped"
    rows.append((f"Load {MODEL} (subprocess; import {load['warm']['import_s']:.1f} s not counted)", cold,
                 f"warm {load['warm']['load_s']:.2f} s", f"{load['ratio']:.1f}× faster" if "ratio" in load else "—",
                 "no goal (informational)"))
    rows.append((f"Greedy decode {dec['new_tokens']} tok (prompt {dec['prompt_tokens']} tok, prefill incl.); "
                 f"tokens identical: {'yes' if dec['identical'] else 'NO'}",
                 f"HF generate {dec['hf_tps']:.1f} tok/s", f"ours {dec['ours_tps']:.1f} tok/s",
                 f"{dec['ratio']:.3f}×", f"≥ {GOAL_DECODE:.2f}× — {verdict(dec['ratio'] >= GOAL_DECODE)}"))
    return rows


HEADERS = ("Measurement", "Baseline", "Variant", "Ratio", "Goal")


def print_table(r: dict) -> None:
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:  # plain fallback keeps the script usable without rich
        for row in [HEADERS, *table_rows(r)]:
            print(" | ".join(row))
        return
    table = Table(*HEADERS, title=f"bench_foundation — {MODEL}")
    for row in table_rows(r):
        table.add_row(*row)
    Console(width=None if sys.stdout.isatty() else 150).print(table)  # logs/pipes: do not squeeze to 80


def write_results(r: dict, command: str) -> None:
    """Replace only the text between our markers; everything else in the file is left as it was."""
    m = r["machine"]
    verdicts = [
        f"- Recording overhead (all positions): {r['recording']['ratio_all']:.3f}× vs goal ≤ {GOAL_RECORD:.2f}× — "
        f"**{verdict(r['recording']['ratio_all'] <= GOAL_RECORD)}**.",
        f"- Greedy decode speed: {r['decode']['ratio']:.3f}× of HF generate vs goal ≥ {GOAL_DECODE:.2f}× — "
        f"**{verdict(r['decode']['ratio'] >= GOAL_DECODE)}**; token sequences identical: "
        f"{'yes' if r['decode']['identical'] else 'no'}.",
    ]
    lines = [START, "## Foundation benchmarks (`benchmarks/bench_foundation.py`)", "",
             f"Command: `{command}` (what `make bench` runs)  ", f"Date: {r['date']}  ",
             f"Machine: {m['cpus']}-core CPU ({m['platform']}), torch {m['torch']} ({m['threads']} threads), "
             f"transformers {m['transformers']}, Python {m['python']}; 1-min load average "
             f"{r['loadavg_1min'][0]} at start, {r['loadavg_1min'][1]} at end (a shared machine);"
             f" timings are medians of interleaved repeats (recording {r['recording']['repeats']}, "
             f"decode {r['decode']['repeats']}, "
             f"warm load {r['load']['warm_repeats']}).", "",
             "| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS),
             *["| " + " | ".join(row) + " |" for row in table_rows(r)], "", "Verdicts:", "", *verdicts, END]
    replace_section("\n".join(lines), START, END)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats, skip the cold load, do not write docs")
    parser.add_argument("--json", action="store_true", help="print the results as JSON instead of a table")
    args = parser.parse_args()
    torch.set_num_threads(min(2, os.cpu_count() or 1))  # the target machine: 2 cores, same for every variant
    load_before = os.getloadavg()[0]  # others' work on this shared box skews absolute numbers: record it
    repeats = {"record": 8, "decode": 2, "warm": 1} if args.quick else {"record": 30, "decode": 5, "warm": 3}

    # Load timing first, before the parent holds a model, so the children have the CPU and RAM to
    # themselves. A full run uses a fresh empty LATENTSPACE_HOME (true cold start); --quick reuses
    # the normal home (converting once there if needed) and measures only the warm load.
    tmp = Path(tempfile.mkdtemp(prefix="latentspace-bench-")) if not args.quick else None
    try:
        if tmp is None:
            LatentModel.load(MODEL, show_progress=False)  # make sure the normal cache exists
            load = bench_load(Path(os.environ.get("LATENTSPACE_HOME") or Path.home() / ".cache/latentspace"),
                              cold=False, warm_repeats=repeats["warm"])
        else:
            load = bench_load(tmp, cold=True, warm_repeats=repeats["warm"])
            os.environ["LATENTSPACE_HOME"] = str(tmp)  # the parent loads from the cache just built
        lm = LatentModel.load(MODEL, show_progress=False)
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)  # weights are in memory now; the cache is not needed

    results = {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "torch": torch.__version__,
                    "threads": torch.get_num_threads(), "transformers": transformers.__version__,
                    "python": platform.python_version()},
        "loadavg_1min": [round(load_before, 2)],
        "quick": args.quick, "load": load,
        "recording": bench_recording(lm, repeats["record"]),
        "decode": bench_decode(lm, repeats["decode"]),
    }
    results["loadavg_1min"].append(round(os.getloadavg()[0], 2))
    print(json.dumps(results, indent=2)) if args.json else print_table(results)
    if not args.quick:
        write_results(results, ".venv/bin/python benchmarks/bench_foundation.py")
        print(f"wrote {RESULTS}", file=sys.stderr)


if __name__ == "__main__":
    main()
