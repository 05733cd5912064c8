"""Recording every layer's residual stream: latentspace vs nnsight vs TransformerLens, on the bundled model.

Same model folder, same 256 token ids, same work (30 × resid_post, all positions, checked against
HF's output_hidden_states). Each library runs in its own virtual environment (peers pin their own
torch/transformers; they must never change the project's .venv) in a worker process that also holds
a plain HF baseline, so each ratio is measured side by side. The parent drives the workers in
lock-step rounds (one computes at a time, order rotated), so every library and baseline is sampled
over the same stretch of time and the absolute medians are comparable too.

    .venv/bin/python benchmarks/bench_lens_peers.py            # builds .bench-venvs/ once, writes docs/results.md
    .venv/bin/python benchmarks/bench_lens_peers.py --quick    # fewer repeats, prints only
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from results_md import RESULTS, replace_section  # benchmarks/ is on sys.path

os.environ["HF_HUB_OFFLINE"] = "1"  # no hub, whatever the caller's shell says (workers inherit it)

ROOT = Path(__file__).resolve().parents[1]
WORKER = ROOT / "benchmarks" / "peers" / "record_worker.py"
VENVS = ROOT / ".bench-venvs"  # git-ignored; reused across runs
START, END = "<!-- bench_lens_peers:start -->", "<!-- bench_lens_peers:end -->"
MODEL, TOKENS, GOAL = "smollm2-135m", 256, 1.10
TORCH_PIN = "torch==2.13.0"  # first and pinned: the CPU build from a local file; bare torch pulls CUDA
PEERS = {"nnsight": "nnsight==0.8.1", "transformer_lens": "transformer-lens==4.3.0"}
FREEZE = re.compile(r"torch|transformers|nnsight|transformer.lens", re.I)
CALLS = {  # what each worker times as "record" (see benchmarks/peers/record_worker.py)
    "latentspace": '`with lm.hooks(record=[("resid_post", i) for i in range(30)]): lm.forward(ids)`',
    "nnsight": "`with model.trace(ids): saves = nnsight.save([model.model.layers[i].output for i in range(30)])`",
    "transformer_lens": '`bridge.run_with_cache(ids, names_filter=lambda n: n.endswith("hook_resid_post"))` '
                        "(TransformerBridge)",
}


def ensure_venv(name: str, pin: str) -> Path:
    """The peer's own venv, built once: python3 -m venv, torch pinned first, then the peer's pin."""
    venv, (dist, want) = VENVS / name, pin.split("==")
    py = venv / "bin" / "python"
    check = f"import importlib.metadata as m; assert m.version({dist!r}) == {want!r}"
    if py.exists() and subprocess.run([py, "-c", check], capture_output=True).returncode == 0:
        return py
    print(f"building {venv} ({TORCH_PIN}, then {pin}) ...", file=sys.stderr)
    subprocess.run(["python3", "-m", "venv", str(venv)], check=True)
    for req in (TORCH_PIN, pin):
        subprocess.run([py, "-m", "pip", "install", "--quiet", req], check=True)
    return py


def freeze(py: Path) -> list[str]:
    out = subprocess.run([py, "-m", "pip", "freeze"], capture_output=True, text=True, check=True).stdout
    return [line for line in out.splitlines() if FREEZE.search(line) and not line.startswith("-e")]


def wait_for_quiet(max_wait: float, threshold: float = 2.5) -> float:
    """Other processes on this 2-core box distort every number; wait (bounded) for them to finish."""
    deadline = time.monotonic() + max_wait
    while os.getloadavg()[0] > threshold and time.monotonic() < deadline:
        print(f"load {os.getloadavg()[0]:.2f} > {threshold}: waiting ...", file=sys.stderr)
        time.sleep(30)
    return round(os.getloadavg()[0], 2)


def prepare_inputs(tmp: Path) -> tuple[Path, Path]:
    """The cached HF folder (converted from the GGUF if missing) and the shared 256 ids as JSON."""
    from latentspace.model import bundled

    if not bundled.is_cached(MODEL):
        from latentspace.model.latent_model import LatentModel
        LatentModel.load(MODEL, show_progress=False)  # converts once into the cache
    folder = bundled.cache_dir(MODEL)
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    # Deterministic plain text (as bench_foundation), cut to exactly 256 ids; a JSON list reads the
    # same in every environment, whatever its torch.
    text = " ".join(f"Line {i}: the quick brown fox jumps over the lazy dog near river {i % 7}." for i in range(60))
    ids = tok(text)["input_ids"][:TOKENS]
    assert len(ids) == TOKENS, len(ids)
    path = tmp / "ids.json"
    path.write_text(json.dumps(ids))
    return folder, path


def start_worker(lib: str, py: Path, folder: Path, ids: Path, errlog: Path):
    """Start one library's worker and wait for its "ready" line (setup + the numerics check)."""
    cmd = [str(py), str(WORKER), "--lib", lib, "--model-dir", str(folder), "--ids", str(ids)]
    print(f"starting {lib} ...", file=sys.stderr)
    # stderr to a file: HF's progress bars could otherwise fill an unread pipe and stall the worker
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errlog.open("w"), text=True)
    line = proc.stdout.readline()
    if not line:  # report the failure (its last error line) and carry on with the other libraries
        proc.wait()
        return None, {"lib": lib, "error": last_line(errlog) or f"exit {proc.returncode}"}
    return proc, json.loads(line)


def last_line(path: Path) -> str:
    lines = [ln for ln in path.read_text().splitlines() if ln.strip() and "Loading weights" not in ln]
    return lines[-1].strip() if lines else ""


def drive(procs: dict, info: dict, rounds: int, warmup: int, logs: dict) -> None:
    """Rounds of "go" to every worker in turn (order rotated each round), medians after warm-up."""
    samples: dict = {lib: {} for lib in procs}
    order = list(procs)
    for r in range(warmup + rounds):
        for lib in order[r % len(order):] + order[:r % len(order)]:
            if lib not in samples:
                continue  # it failed earlier this run
            try:
                procs[lib].stdin.write("go\n")
                procs[lib].stdin.flush()
                times = json.loads(procs[lib].stdout.readline())
            except (OSError, ValueError):
                procs[lib].wait()
                info[lib] = {"lib": lib, "error": last_line(logs[lib]) or "worker died while timing"}
                del samples[lib]
                continue
            for name, secs in times.items():
                if r >= warmup:
                    samples[lib].setdefault(name, []).append(secs)
    for lib, proc in procs.items():
        proc.stdin.close()
        proc.wait()
    for lib, by_name in samples.items():
        med = {name: statistics.median(ts) for name, ts in by_name.items()}
        # the same round's record/plain pair: a noise gauge next to the ratio of medians
        paired = [a / b for a, b in zip(by_name["record"], by_name["plain"])]
        quart = statistics.quantiles(paired, n=4) if len(paired) > 1 else [paired[0]] * 3
        info[lib].update(median_s=med, ratio=med["record"] / med["plain"], paired_quartiles=quart,
                         repeats=rounds, warmup=warmup)


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def table_rows(r: dict) -> list[tuple[str, ...]]:
    ls = r["libs"]["latentspace"].get("median_s", {}).get("record")
    rows = []
    for lib, w in r["libs"].items():
        if "error" in w:
            rows.append((lib, "—", "—", "—", "—", "—", f"failed: {w['error']}"))
            continue
        med = w["median_s"]
        vs_ls = f"{med['record'] / ls:.2f}×" if ls else "—"
        diff = f"{w['max_diff']:.1e}" + (f" (vs eager HF {w['max_diff_vs_eager']:.1e})" if "max_diff_vs_eager" in w else "")
        q = w["paired_quartiles"]
        rows.append((lib, f"{med['plain'] * 1e3:.0f} ms", f"{med['record'] * 1e3:.0f} ms", f"{w['ratio']:.3f}×",
                     f"{q[1]:.3f}× [{q[0]:.3f}–{q[2]:.3f}]", vs_ls, diff))
    return rows


HEADERS = ("Library", "Plain HF, same process", "Recording 30 layers", "Ratio vs its plain HF",
           "Per-round ratio, median [quartiles]", "Recording vs latentspace's (absolute)",
           "Max abs diff vs HF hidden_states")


def overlap(a: dict, b: dict) -> str:
    """Say so when a gap is smaller than the round-to-round noise (the per-round quartiles overlap)."""
    (a_lo, _, a_hi), (b_lo, _, b_hi) = a["paired_quartiles"], b["paired_quartiles"]
    return " (within noise: the per-round ratio quartiles overlap)" if a_lo <= b_hi and b_lo <= a_hi else ""


def verdicts(r: dict) -> list[str]:
    libs = r["libs"]
    ls = libs["latentspace"]
    if "error" in ls:
        return [f"- latentspace failed: {ls['error']} — no verdicts."]
    out = [f"- latentspace ≤ {GOAL:.2f}× plain HF: {ls['ratio']:.3f}× — **{verdict(ls['ratio'] <= GOAL)}**."]
    for peer in PEERS:
        p = libs[peer]
        if "error" in p:
            out.append(f"- faster than {peer}: cannot tell, it failed ({p['error']}).")
            continue
        faster_abs = ls["median_s"]["record"] < p["median_s"]["record"]
        out.append(f"- faster than {peer}: {ls['median_s']['record'] * 1e3:.0f} ms vs "
                   f"{p['median_s']['record'] * 1e3:.0f} ms absolute, ratio {ls['ratio']:.3f}× vs {p['ratio']:.3f}× "
                   f"— **{verdict(faster_abs and ls['ratio'] < p['ratio'])}**{overlap(ls, p)}.")
    return out


def notes(r: dict) -> list[str]:
    out = [f"- `{lib}` records with {call}." for lib, call in CALLS.items()]
    for lib, w in r["libs"].items():
        out += [f"- `{lib}`: {n}" for n in w.get("notes", [])]
        if w.get("requires_grad"):
            out.append(f"- `{lib}`: recorded tensors carry autograd history despite `torch.no_grad()`.")
    tl = r["libs"].get("transformer_lens", {})
    if "plain_eager" in tl.get("median_s", {}):
        out.append(f"- TL's bridge switches the model it wraps to eager attention; plain HF with eager attention "
                   f"in the same process: {tl['median_s']['plain_eager'] * 1e3:.0f} ms "
                   f"({tl['median_s']['plain_eager'] / tl['median_s']['plain']:.3f}× plain sdpa), so TL's recording "
                   f"is {tl['median_s']['record'] / tl['median_s']['plain_eager']:.3f}× eager HF.")
    out.append("- Each baseline is its own untouched HF instance: nnsight and TL modify the module they wrap "
               "(nnsight swaps each `forward` for a controller; TL replaces the layers and the attention kernel).")
    return out


def print_table(r: dict) -> None:
    for row in [HEADERS, *table_rows(r)]:
        print(" | ".join(row))
    print("\n".join(verdicts(r) + notes(r)))


def write_results(r: dict, command: str) -> None:
    """Replace only the text between our markers; everything else in the file is left as it was."""
    m, w0 = r["machine"], next(iter(r["libs"].values()))
    envs = [f"- `{lib}` ({r['envs'][lib]['venv']}): {', '.join(r['envs'][lib]['freeze'])}" for lib in r["libs"]]
    lines = [START, "## Recording vs peer libraries (`benchmarks/bench_lens_peers.py`)", "",
             f"Command: `{command}`  ", f"Date: {r['date']}  ",
             f"Machine: {m['cpus']}-core CPU ({m['platform']}), Python {m['python']}, 2 torch threads per worker; "
             f"1-min load average {r['loadavg_1min'][0]} at start, {r['loadavg_1min'][1]} at end (a shared machine).  ",
             f"Work: one forward of {MODEL} on {TOKENS} token ids (the same JSON file for every worker) with every "
             f"layer's residual stream output recorded (30 layers, all positions), logits included, under "
             f"`torch.no_grad()`. Baseline: `model(input_ids=ids)` (sdpa attention) on a separate plain HF "
             f"instance in the same process. Medians of {w0.get('repeats', '?')} interleaved repeats after "
             f"{w0.get('warmup', '?')} warm-up rounds; each round runs every variant once in each library's process in turn "
             f"(lock-step, one process computing at a time, order rotated), so all are sampled over the same time.", "",
             "| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS),
             *["| " + " | ".join(row) + " |" for row in table_rows(r)], "",
             "The last layer is compared after HF's final norm (HF's last `hidden_states` entry is normed).", "",
             "Verdicts:", "", *verdicts(r), "", "Notes:", "", *notes(r), "",
             "Versions (`pip freeze`, per environment):", "", *envs, END]
    replace_section("\n".join(lines), START, END)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats, no waiting, do not write docs")
    parser.add_argument("--json", action="store_true", help="print the results as JSON instead of a table")
    parser.add_argument("--max-wait", type=float, default=None, help="seconds to wait for load ≤ 2.5 (full: 600)")
    args = parser.parse_args()
    repeats, warmup = (4, 1) if args.quick else (30, 3)
    pythons = {"latentspace": Path(sys.executable)}  # the project's own .venv
    pythons.update({lib: ensure_venv(lib, pin) for lib, pin in PEERS.items()})  # before timing: pip is heavy
    load_start = wait_for_quiet(args.max_wait if args.max_wait is not None else (0 if args.quick else 600))
    with tempfile.TemporaryDirectory(prefix="bench-lens-peers-") as tmp:
        folder, ids = prepare_inputs(Path(tmp))
        logs = {lib: Path(tmp) / f"{lib}.stderr" for lib in pythons}
        procs, libs = {}, {}
        for lib, py in pythons.items():  # one at a time: loading is not timed, but it is heavy
            proc, libs[lib] = start_worker(lib, py, folder, ids, logs[lib])
            if proc is not None:
                procs[lib] = proc
        drive(procs, libs, repeats, warmup, logs)
    results = {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        "loadavg_1min": [load_start, round(os.getloadavg()[0], 2)], "quick": args.quick, "libs": libs,
        "envs": {lib: {"venv": os.path.relpath(py.parent.parent, ROOT), "freeze": freeze(py)}
                 for lib, py in pythons.items()},
    }
    results["envs"]["latentspace"]["freeze"].append(f"latentspace=={libs['latentspace'].get('versions', {}).get('latentspace')}")
    print(json.dumps(results, indent=2)) if args.json else print_table(results)
    if not args.quick:
        write_results(results, ".venv/bin/python benchmarks/bench_lens_peers.py")
        print(f"wrote {RESULTS}", file=sys.stderr)


if __name__ == "__main__":
    main()
