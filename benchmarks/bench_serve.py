"""The server under load, and its overhead over calling the library, on the bundled SmolLM2.

1. Load: N concurrent clients (threads, loopback) send greedy chat completions for a fixed time,
   once with batching (--max-batch 8) and once without (--max-batch 1), same prompts and clients.
   Reported: completed requests/s, completion tokens/s, p50/p99 latency, 5xx count, other
   errors, and the server's resident memory at the start, the end and its peak.
2. Overhead: one 64-token greedy completion through the server (HTTP round trip, JSON, the
   worker) vs the same completion from the library in this process (`lm.decode(lm.encode(...))`),
   median of repeats, one after the other on an otherwise idle machine. Goal ≤ 1.10×.

    .venv/bin/python benchmarks/bench_serve.py                  # 8 clients x 60 s each way; docs/results.md
    .venv/bin/python benchmarks/bench_serve.py --quick          # 4 clients x 15 s, prints only
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"
sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx  # noqa: E402
from bench_lens_peers import wait_for_quiet  # noqa: E402
from results_md import replace_section  # noqa: E402
from serve_process import rss_mb, serving  # noqa: E402

MODEL = "smollm2-135m"
OUT = Path(__file__).resolve().parent / "results" / "serve.json"
PROMPTS = ["What is the capital of France?", "Name three colours.", "What is 12 plus 7?",
           "Give me a word that rhymes with cat.", "What do bees make?", "Is the sun a star?",
           "Write a short greeting.", "What is the opposite of hot?"]
OVERHEAD_PROMPT = "Write a short story about a robot who learns to paint."


def load(url: str, pid: int, clients: int, seconds: float, max_tokens: int) -> dict:
    stop_at = time.monotonic() + seconds
    latencies, statuses, tokens, lock = [], {}, [0], threading.Lock()
    memory = [(0.0, rss_mb(pid))]  # (seconds into the run, resident MiB)

    def client(k: int) -> None:
        with httpx.Client(base_url=url, timeout=300) as http:
            i = k
            while time.monotonic() < stop_at:
                body = {"model": MODEL, "max_tokens": max_tokens,
                        "messages": [{"role": "user", "content": PROMPTS[i % len(PROMPTS)]}]}
                started = time.perf_counter()
                try:
                    res = http.post("/v1/chat/completions", json=body)
                    status = res.status_code
                except httpx.HTTPError:
                    status = "transport"
                took = time.perf_counter() - started
                with lock:
                    statuses[status] = statuses.get(status, 0) + 1
                    if status == 200:
                        latencies.append(took)
                        tokens[0] += res.json()["usage"]["completion_tokens"]
                i += clients

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    started = time.monotonic()
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        memory.append((time.monotonic() - started, rss_mb(pid)))
        time.sleep(1)
    wall = time.monotonic() - started
    memory.append((wall, rss_mb(pid)))
    # "flat": after the first quarter (allocator pools and caches filling up), RSS should not climb
    warm = next(m for t, m in memory if t >= wall / 4)
    lat = sorted(latencies)
    return {"clients": clients, "seconds": round(wall, 1), "ok": len(lat), "requests_per_s": len(lat) / wall,
            "tokens_per_s": tokens[0] / wall, "p50_s": _pct(lat, 50), "p99_s": _pct(lat, 99),
            "errors_5xx": sum(n for s, n in statuses.items() if isinstance(s, int) and s >= 500),
            "other_errors": sum(n for s, n in statuses.items() if s != 200 and not (isinstance(s, int) and s >= 500)),
            "statuses": {str(k): v for k, v in statuses.items()},
            "rss_start_mb": memory[0][1], "rss_warm_mb": warm, "rss_end_mb": memory[-1][1],
            "rss_peak_mb": max(m for _, m in memory)}


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    return values[min(len(values) - 1, int(round(q / 100 * (len(values) - 1))))]


def overhead(url: str, repeats: int, max_tokens: int) -> dict:
    from latentspace import LatentModel

    lm = LatentModel.load(MODEL, show_progress=False)
    prompt = lm.chat(OVERHEAD_PROMPT)
    body = {"model": MODEL, "max_tokens": max_tokens, "messages": [{"role": "user", "content": OVERHEAD_PROMPT}]}
    library, server, texts = [], [], set()
    with httpx.Client(base_url=url, timeout=300) as http:
        lm.decode(lm.encode(prompt), max_tokens)  # warm both, untimed
        http.post("/v1/chat/completions", json=body)
        for _ in range(repeats):
            started = time.perf_counter()
            out = lm.decode(lm.encode(prompt), max_new_tokens=max_tokens)
            library.append(time.perf_counter() - started)
            started = time.perf_counter()
            res = http.post("/v1/chat/completions", json=body).json()
            server.append(time.perf_counter() - started)
            texts.add((out.texts[0] == res["choices"][0]["message"]["content"], out.n_tokens,
                       res["usage"]["completion_tokens"]))
    lib, srv = statistics.median(library), statistics.median(server)
    same, lib_tokens, srv_tokens = next(iter(texts))
    return {"repeats": repeats, "library_s": lib, "server_s": srv, "ratio": srv / lib, "same_text": same,
            "library_tokens": lib_tokens, "server_tokens": srv_tokens, "consistent": len(texts) == 1}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--max-tokens", type=int, default=32, help="per load request")
    parser.add_argument("--repeats", type=int, default=10, help="overhead repeats")
    parser.add_argument("--quick", action="store_true", help="4 clients x 15 s, 3 repeats; docs untouched")
    args = parser.parse_args()
    if args.quick:
        args.clients, args.seconds, args.repeats = 4, 15, 3
    load_avg = wait_for_quiet(600)
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        for label, batch in (("batching (max 8)", "8"), ("no batching", "1")):
            with serving(MODEL, Path(tmp) / label.split()[0], "--max-batch", batch,
                         "--queue-size", str(max(16, 2 * args.clients))) as (url, pid):
                rows[label] = load(url, pid, args.clients, args.seconds, args.max_tokens)
                print(label, json.dumps(rows[label]), file=sys.stderr)
                if batch == "1":
                    over = overhead(url, args.repeats, 64)
                    print("overhead", json.dumps(over), file=sys.stderr)
    result = {"load": rows, "overhead": over, "load_average_before": load_avg, "args": vars(args)}
    print(json.dumps(result, indent=2))
    if not args.quick:
        OUT.parent.mkdir(parents=True, exist_ok=True)
        OUT.write_text(json.dumps(result, indent=2))
        write_section(result, "python benchmarks/bench_serve.py " + " ".join(sys.argv[1:]))


def write_section(r: dict, command: str) -> None:
    lines = ["<!-- bench_serve:start -->", "## Server: load and overhead (bundled SmolLM2-135M, CPU)", "",
             f"Command: `{command.strip()}` (load average before: {r['load_average_before']}). "
             f"{r['args']['clients']} concurrent clients on loopback for {r['args']['seconds']:g} s each way, "
             f"greedy chat completions of at most {r['args']['max_tokens']} tokens.", "",
             "| server | requests/s | tokens/s | p50 s | p99 s | 5xx | other errors | RSS MiB: start, after ¼, end (peak) |",
             "|---|---|---|---|---|---|---|---|"]
    for label, x in r["load"].items():
        lines.append(f"| {label} | {x['requests_per_s']:.2f} | {x['tokens_per_s']:.1f} | {x['p50_s']:.2f} | "
                     f"{x['p99_s']:.2f} | {x['errors_5xx']} | {x['other_errors']} | {x['rss_start_mb']:.0f}, "
                     f"{x['rss_warm_mb']:.0f}, {x['rss_end_mb']:.0f} ({x['rss_peak_mb']:.0f}) |")
    o = r["overhead"]
    lines += ["", f"Overhead, one 64-token greedy completion (median of {o['repeats']}): library "
              f"{o['library_s']:.3f} s, server round trip {o['server_s']:.3f} s → **{o['ratio']:.3f}×** (goal ≤ 1.10×); "
              f"same text: {'yes' if o['same_text'] else 'NO'} ({o['library_tokens']} vs {o['server_tokens']} tokens).",
              "<!-- bench_serve:end -->"]
    replace_section("\n".join(lines), "<!-- bench_serve:start -->", "<!-- bench_serve:end -->")


if __name__ == "__main__":
    main()
