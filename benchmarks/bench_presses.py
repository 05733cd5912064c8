"""Our KV presses against kvpress's, side by side in one run, on the bundled SmolLM2.

Task (generated offline, `latentspace.tasks.needles.make_haystack`): filler text of random-word
sentences with one fact "The code for NAME is DDDD." at a random depth; the question asks for the
code and the answer opens with "The code for NAME is" (both libraries get identical token ids).
Per size, press and ratio: needles found out of the items, and the median seconds of prefill +
compression. kvpress runs in its own venv (.bench-venvs/kvpress, kvpress==0.5.5, built once)
through benchmarks/peers/press_worker.py, after ours, never at the same time.

    .venv/bin/python benchmarks/bench_presses.py                        # 1k tokens, ratio 0.5, 20 items
    .venv/bin/python benchmarks/bench_presses.py --sizes 1k --ratios 0.25,0.5,0.75
    .venv/bin/python benchmarks/bench_presses.py --sizes 2k --merge      # adds rows to the saved ones
    .venv/bin/python benchmarks/bench_presses.py --items 3 --presses knorm,probe --no-peer   # smoke run
    .venv/bin/python benchmarks/bench_presses.py --report-only          # table from the saved rows

Saved rows: one JSON line per (size, library, press, ratio) — needles found, items, median seconds —
in benchmarks/results/presses.jsonl (what the table, `--merge`, `--resume` and `--report-only` read);
every item's answer and timing in runs/presses/rows.json (gitignored).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"
sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402
from bench_lens_peers import ensure_venv, wait_for_quiet  # noqa: E402
from results_md import KEPT, RUNS, read_kept, replace_section, write_kept  # noqa: E402

from latentspace import LatentModel  # noqa: E402
from latentspace.memory import layout  # noqa: E402
from latentspace.memory.presses import get_press  # noqa: E402
from latentspace.tasks.needles import make_haystack  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
ROWS = KEPT / "presses.jsonl"  # one row per (size, library, press, ratio), the run's meta first
ITEMS = RUNS / "presses" / "rows.json"  # every item's answer and timing
WORKER = ROOT / "benchmarks" / "peers" / "press_worker.py"
SIZES = {"1k": 80, "2k": 170, "4k": 350}  # filler sentences -> about 850 / 1.8k / 3.7k tokens
BOTH = ["knorm", "streaming", "snapkv", "tova", "expected_attention", "keydiff", "snapkv_question"]
OURS_ONLY = ["h2o", "surprisal", "probe", "probe_question"]
QUERY_AWARE = {"snapkv_question"}
ANSWER_TOKENS = 8


def build_items(lm, sentences: int, n: int) -> list[dict]:
    items = []
    for seed in range(n):
        hay = make_haystack(sentences=sentences, needles=1, seed=seed)
        needle = hay.needles[0]
        context = layout.ids(lm, layout.memory_text(lm, hay.document), True)[0].tolist()
        whole = layout.question_text(lm, needle.question)
        body = whole[: whole.index(needle.question) + len(needle.question)]
        asked = lm.tokenizer(body, add_special_tokens=False)["input_ids"]
        suffix = lm.tokenizer(whole[len(body):] + f"The code for {needle.name} is", add_special_tokens=False)["input_ids"]
        items.append({"id": f"s{seed}", "context_ids": context, "question_ids": asked + suffix,
                      "question_suffix_len": len(suffix), "code": needle.code})
    return items


def found(text: str, code: str) -> bool:
    digits = "".join(ch for ch in text.strip()[:12] if ch.isdigit() or ch == " ").split()
    return bool(digits) and digits[0] == code


def run_ours(lm, items, presses, ratios, done: set, save) -> list[dict]:
    """Each (press, ratio) over every item; ``save`` gets each finished group (a crash loses one
    group, not the run), and groups in ``done`` are skipped (``--resume``)."""
    rows = []
    lm.encode(torch.tensor([items[0]["context_ids"]]))  # untimed warm-up, as the kvpress worker does
    for name in ["none", *presses]:
        for ratio in ([0.0] if name == "none" else ratios):
            if ("latentspace", name, ratio) in done:
                continue
            group = []
            for item in items:
                ctx, q = torch.tensor([item["context_ids"]]), torch.tensor([item["question_ids"]])
                cut = q.shape[1] - item["question_suffix_len"]
                if name == "none":
                    press = None
                elif name == "probe_question":  # the question is the probe: it guides, then leaves the cache
                    press = get_press("probe", ratio, text=lm.tokenizer.decode(item["question_ids"][:cut]))
                elif name in QUERY_AWARE:  # the question text is compressed with the context (kvpress's way)
                    press = get_press("snapkv", ratio)
                    ctx, q = torch.cat([ctx, q[:, :cut]], 1), q[:, cut:]
                else:
                    press = get_press(name, ratio)
                started = time.perf_counter()
                state = lm.encode(ctx, press=press)
                seconds = time.perf_counter() - started
                kept = state.length
                answer = lm.decode(lm.feed(state, q), max_new_tokens=ANSWER_TOKENS).texts[0]
                group.append({"lib": "latentspace", "press": name, "ratio": ratio, "id": item["id"],
                              "answer": answer, "ok": found(answer, item["code"]), "prefill_press_s": seconds,
                              "kept_positions": kept, "context_tokens": len(item["context_ids"])})
            save(group)
            rows += group
            print(f"  latentspace {name}@{ratio}: {sum(r['ok'] for r in group)}/{len(items)}", file=sys.stderr, flush=True)
    return rows


def run_peer(lm, items, presses, ratios, model_dir: Path) -> tuple[list[dict], dict]:
    py = ensure_venv("kvpress", "kvpress==0.5.5")
    with tempfile.TemporaryDirectory() as tmp:
        inp, out = Path(tmp) / "in.json", Path(tmp) / "out.json"
        inp.write_text(json.dumps({"model_dir": str(model_dir), "presses": ["none", *presses], "ratios": ratios,
                                   "max_new_tokens": ANSWER_TOKENS, "eos_ids": [lm.tokenizer.eos_token_id],
                                   "items": items}))
        subprocess.run([str(py), str(WORKER), str(inp), str(out)], check=True)
        result = json.loads(out.read_text())
    codes = {i["id"]: i for i in items}
    rows = []
    for r in result["rows"]:
        answer = lm.tokenizer.decode(r["answer_ids"], skip_special_tokens=True)
        rows.append({"lib": "kvpress", "press": r["press"], "ratio": r["ratio"], "id": r["id"], "answer": answer,
                     "ok": found(answer, codes[r["id"]]["code"]), "prefill_press_s": r["prefill_press_s"],
                     "kept_positions": r["kept_positions"], "context_tokens": len(codes[r["id"]]["context_ids"])})
    return rows, {"versions": result["versions"], "skipped": result["skipped"]}


GROUP = ("size", "lib", "press", "ratio")


def grouped(items: list[dict]) -> list[dict]:
    """One row per (size, library, press, ratio) of these items: needles found, items, median
    seconds of prefill + press, mean context tokens."""
    groups: dict[tuple, list[dict]] = {}
    for r in items:
        groups.setdefault(tuple(r[k] for k in GROUP), []).append(r)
    return [{**dict(zip(GROUP, key)), "found": sum(r["ok"] for r in got), "items": len(got),
             "median_s": statistics.median(r["prefill_press_s"] for r in got),
             "context_tokens": statistics.mean(r["context_tokens"] for r in got)} for key, got in groups.items()]


def table(rows: list[dict], sizes: list[str]) -> list[str]:
    lines = ["| size | press | ratio | latentspace found | kvpress found | latentspace s | kvpress s | time ours÷kvpress |",
             "|---|---|---|---|---|---|---|---|"]
    for size in sizes:
        mine = [r for r in rows if r["size"] == size]
        keys = sorted({(r["press"], r["ratio"]) for r in mine}, key=lambda k: (k[1], k[0] != "none", k[0]))
        for press, ratio in keys:
            cell = {}
            for lib in ("latentspace", "kvpress"):
                got = next((r for r in mine if r["lib"] == lib and r["press"] == press and r["ratio"] == ratio), None)
                cell[lib] = (f"{got['found']}/{got['items']}", got["median_s"]) if got else None
            ours, peer = cell["latentspace"], cell["kvpress"]
            tokens = round(sum(r["context_tokens"] * r["items"] for r in mine) / sum(r["items"] for r in mine))
            lines.append(f"| {size} ({tokens} tok) | {press} | {ratio:g} | {ours[0] if ours else '—'} | "
                         f"{peer[0] if peer else '—'} | {f'{ours[1]:.2f}' if ours else '—'} | "
                         f"{f'{peer[1]:.2f}' if peer else '—'} | "
                         f"{f'{ours[1] / peer[1]:.2f}×' if ours and peer else '—'} |")
    return lines


def verdicts(rows: list[dict]) -> list[str]:
    """The goals, counted over every (size, press, ratio) both libraries ran."""
    groups: dict[tuple, dict] = {}
    for r in rows:
        if r["press"] != "none":
            groups.setdefault((r["size"], r["press"], r["ratio"]), {})[r["lib"]] = r
    both = {k: v for k, v in groups.items() if len(v) == 2}
    score = sum(v["latentspace"]["found"] >= v["kvpress"]["found"] for v in both.values())
    speed = [v["latentspace"]["median_s"] / v["kvpress"]["median_s"] for v in both.values()]
    slower = sorted(f"{k[1]}@{k[2]:g} ({x:.2f}×)" for k, x in zip(both, speed) if x > 1)
    best = {}
    for (size, press, ratio), v in groups.items():
        if press in ("probe", "keydiff", "knorm", "tova") and "latentspace" in v and ratio == 0.5:
            best[f"{press} ({size})"] = f"{v['latentspace']['found']}/{v['latentspace']['items']}"
    return [
        f"- Score ≥ kvpress's for the same press and ratio: {score} of {len(both)} rows.",
        f"- Prefill + press time ≤ kvpress's: {len(both) - len(slower)} of {len(both)} rows"
        + (f"; slower: {', '.join(slower)}" if slower else "") + ".",
        "- Query-agnostic at ratio 0.5 (goal ≥ 16/20): " + ", ".join(f"{k} {v}" for k, v in sorted(best.items())) + ".",
    ]


def write_section(rows: list[dict], meta: dict) -> None:
    sizes = [s for s in SIZES if any(r["size"] == s for r in rows)]
    skipped = "; ".join(f"{s['press']}: {s['reason']}" for s in meta.get("skipped", [])) or "none"
    body = [
        "## KV presses: latentspace vs kvpress (needle retrieval, SmolLM2-135M)",
        "",
        f"Command: `{meta['command']}` ({meta['when']}, load average {meta['load']} at the start of the last run; "
        f"kvpress {meta.get('versions', {}).get('kvpress', '—')} with transformers "
        f"{meta.get('versions', {}).get('transformers', '—')} in its own venv). {meta.get('note', '')} Up to {meta['items']} items per row (the *found* column counts them): "
        "one fact \"The code for NAME is DDDD.\" at a random depth in random-word filler; the question "
        "asks for it and the answer opens with \"The code for NAME is\" — identical token ids for both "
        "libraries. *found*: the first number answered is the code (greedy, 8 tokens). *s*: median "
        "seconds of prefill + compression of the context (2 threads each, one library at a time). "
        "`snapkv_question` compresses the question text together with the context (kvpress's "
        "`compress_questions` mode, SnapKV's 64-query window); `probe_question` lets the question's own "
        "tokens vote (a probe) and then removes them, so the compressed cache holds only the context. "
        "Every other press sees only the context. `h2o`, `surprisal`, `probe` and `probe_question` "
        "exist only here; `probe` reads a fixed generic request after the document (see "
        "docs/memory.md), so it stays query-agnostic.",
        "",
        *table(rows, sizes),
        "",
        *verdicts(rows),
        "",
        f"Skipped by the kvpress worker: {skipped}.",
    ]
    start, end = "<!-- bench_presses:start -->", "<!-- bench_presses:end -->"
    replace_section("\n".join([start, *body, end]), start, end)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1k")
    parser.add_argument("--ratios", default="0.5")
    parser.add_argument("--items", type=int, default=20)
    parser.add_argument("--presses", default=",".join(BOTH + OURS_ONLY))
    parser.add_argument("--no-peer", action="store_true", help="only our presses (no kvpress venv)")
    parser.add_argument("--report-only", action="store_true")
    parser.add_argument("--merge", action="store_true", help="keep the saved rows of other sizes/ratios/presses")
    parser.add_argument("--resume", action="store_true", help="skip the groups an interrupted run already saved")
    args = parser.parse_args()
    if args.report_only:
        write_section(*read_kept(ROWS))
        return
    torch.set_num_threads(2)
    presses, ratios = args.presses.split(","), [float(r) for r in args.ratios.split(",")]
    load = wait_for_quiet(600)
    lm = LatentModel.load(show_progress=False)
    from latentspace.model import bundled

    meta = {"load": load, "when": time.strftime("%Y-%m-%d"), "items": args.items,
            "command": "python benchmarks/bench_presses.py " + " ".join(sys.argv[1:])}
    old_rows, old_meta = read_kept(ROWS) if args.merge or args.resume else ([], {})
    old_items = json.loads(ITEMS.read_text())["rows"] if ITEMS.exists() and (args.merge or args.resume) else []
    if args.resume:
        meta = old_meta or meta
    elif args.merge and old_meta.get("command"):
        # chained now, not at the end: a merged run that is interrupted and resumed keeps the whole history
        meta["command"] = old_meta["command"] + "` then `" + meta["command"]
        meta["items"] = max(meta["items"], old_meta.get("items", 0))
    key = lambda r: tuple(r[k] for k in GROUP) + (r["id"],)  # noqa: E731
    all_rows, all_items = list(old_rows), list(old_items)

    def save(group: list[dict], size: str) -> None:
        nonlocal all_rows, all_items
        group = [r | {"size": size} for r in group]
        redone = {key(r) for r in group}
        all_items = [r for r in all_items if key(r) not in redone] + group
        touched = {tuple(r[k] for k in GROUP) for r in group}  # regrouped with the saved items they share a row with
        all_rows = [r for r in all_rows if tuple(r[k] for k in GROUP) not in touched] + grouped(
            [r for r in all_items if tuple(r[k] for k in GROUP) in touched])
        ITEMS.parent.mkdir(parents=True, exist_ok=True)
        ITEMS.write_text(json.dumps({"rows": all_items, "meta": meta}, indent=1))
        write_kept(ROWS, all_rows, meta)

    for size in args.sizes.split(","):
        items = build_items(lm, SIZES[size], args.items)
        print(f"size {size}: {statistics.mean(len(i['context_ids']) for i in items):.0f} tokens", file=sys.stderr)
        done = {(r["lib"], r["press"], r["ratio"]) for r in all_rows if r["size"] == size} if args.resume else set()
        run_ours(lm, items, presses, ratios, done, lambda group: save(group, size))
        if not args.no_peer and ("kvpress", "none", 0.0) not in done:
            peer_rows, peer_meta = run_peer(lm, items, [p for p in presses if p in BOTH], ratios,
                                            bundled.cache_dir("smollm2-135m"))
            meta |= peer_meta
            save(peer_rows, size)
    sizes = [s for s in SIZES if any(r["size"] == s for r in all_rows)]
    print("\n".join(table(all_rows, sizes)))
    if not args.no_peer:
        write_section(all_rows, meta)


if __name__ == "__main__":
    main()
