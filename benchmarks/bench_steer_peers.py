"""Steering side by side: latentspace vs repeng vs steering-vectors on the bundled SmolLM2.

Same 50 sentiment pairs (the built-in concept set, rendered once with the model's chat template and
handed to every library as the same strings), same layers (8-21), same strengths on unit-norm
directions (repeng's scale), same six neutral chat prompts, greedy 48-token completions. Every
text is judged here, in one environment: VADER compound (effect), perplexity under the unsteered
model as a ratio to the unsteered completions' (cost), repeated 3-gram share. Each peer runs in
its own venv (.bench-venvs/, built once) through benchmarks/peers/steer_worker.py.

    .venv/bin/python benchmarks/bench_steer_peers.py            # writes docs/results.md + docs/steer_peers.png
    .venv/bin/python benchmarks/bench_steer_peers.py --quick    # 3 strengths, 3 prompts, prints only
    .venv/bin/python benchmarks/bench_steer_peers.py --report-only   # rewrite the section from results.json

Every text and token id goes to runs/steer-peers/results.json (gitignored; `--report-only` judges it
again when it is there); the table's rows, one JSON line per library and method, to
benchmarks/results/steer-peers.jsonl (what `--report-only` reads otherwise).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_lens_peers import ensure_venv, wait_for_quiet  # benchmarks/ is on sys.path
from results_md import KEPT, RESULTS, RUNS, read_kept, replace_section, write_kept

os.environ["HF_HUB_OFFLINE"] = "1"

ROOT = Path(__file__).resolve().parents[1]
WORKER = ROOT / "benchmarks" / "peers" / "steer_worker.py"
START, END = "<!-- bench_steer_peers:start -->", "<!-- bench_steer_peers:end -->"
PEERS = {"repeng": "repeng==0.4.0", "steering_vectors": "steering-vectors==0.12.2"}
LAYERS = list(range(8, 22))
UNIT_STRENGTHS = [-8.0, -6.0, -4.0, -2.5, -1.5, 1.5, 2.5, 4.0, 6.0, 8.0]
NATIVE_STRENGTHS = [-0.6, -0.45, -0.3, -0.2, 0.2, 0.3, 0.45, 0.6]
OURS = ["mean_diff", "pca_diff", "pca_center", "logistic"]
NATIVE = "pca_center"  # also swept at its own scale (strength 1 = one typical pair separation)
MAX_RATIO, GOAL_DOWN, GOAL_UP, GOAL_OVERHEAD = 1.5, -0.3, 0.85, 1.05
OUT = RUNS / "steer-peers"  # results.json: every text and token id
ROWS = KEPT / "steer-peers.jsonl"  # the table's rows (one per library and method) and the run's meta
JUDGED = ("strength", "vader", "ppl_ratio", "repetition")  # what a kept curve point holds
NOTES = [
    "- Same algorithm, same numbers: our `pca_diff` reproduces repeng's `pca_diff` and our `pca_center` "
    "reproduces steering-vectors' `pca` aggregator (uncentred PCA of the differences) at every strength, "
    "to the second decimal — the texts are the same.",
    "- steering-vectors' `mean` aggregator returns the raw mean difference (not unit length; its norm "
    "grows with depth), so the shared multipliers are much stronger for it than for the unit-norm "
    "vectors: its row shows that scale, not a weaker method. Our `mean_diff` at unit scale is the "
    "same direction.",
    "- The negative direction is the hard one on this model: repeng's `pca_diff` never gets below 0.0 "
    "within 1.5× perplexity (centring the differences removes what the pairs share). Mean difference "
    "and PCA of centred pairs reach −0.36…−0.42 at about 1.3–1.45× perplexity.",
    "- transformers 4.x reads a folder written by transformers 5 with the wrong RoPE base (5.x stores "
    "`rope_theta` inside `rope_parameters`; 4.x then uses its default 10000 instead of SmolLM2's "
    "100000) without any warning; the steering-vectors worker passes the base explicitly, and the "
    "identical unsteered texts confirm the three libraries ran the same model.",
]
TIMING_TOKENS, TIMING_REPEATS = 64, 11


def freeze(py: Path) -> list[str]:
    """The versions that matter in a peer's venv (torch, transformers and the peer itself)."""
    out = subprocess.run([py, "-m", "pip", "freeze"], capture_output=True, text=True, check=True).stdout
    keep = ("torch==", "transformers==", "repeng==", "steering-vectors==", "steering_vectors==")
    return [line for line in out.splitlines() if line.lower().startswith(keep)]


def per_token_seconds(lm, prompt: str, n: int) -> float:
    started = time.perf_counter()
    result = lm.decode(lm.encode(prompt, chat=True), max_new_tokens=n, min_new_tokens=n)
    return (time.perf_counter() - started) / max(1, result.n_tokens)


def run_ours(lm, pairs, prompts, strengths, native_strengths, max_new_tokens) -> dict:
    from latentspace.steer import train_vector
    from latentspace.steer.evaluate import complete

    out = {"lib": "latentspace", "methods": {}}
    vectors = {}
    for method in OURS:
        started = time.perf_counter()
        vec = train_vector(lm, pairs, method=method, layers=LAYERS, concept="sentiment")
        seconds = time.perf_counter() - started
        vectors[method] = vec
        runs = [(method, vec.normalized(), strengths)]
        if method == NATIVE:
            runs.append((f"{method} (native scale)", vec, native_strengths))
        for name, v, grid in runs:
            curve = []
            for strength in grid:
                with v.apply(lm, strength):
                    result = complete(lm, prompts, max_new_tokens)
                curve.append({"strength": strength, "texts": result.texts, "ids": result.token_ids})
                print(f"latentspace {name} {strength:+g}: {result.texts[0][:60]!r}", file=sys.stderr)
            out["methods"][name] = {"train_seconds": seconds, "curve": curve, "norms": v.norms()}
    base = complete(lm, prompts, max_new_tokens)
    out["unsteered"] = {"texts": base.texts, "ids": base.token_ids}
    unit = vectors[OURS[0]].normalized()
    timing = {"steered": [], "unsteered": []}
    for i in range(TIMING_REPEATS):
        for mode in ("unsteered", "steered") if i % 2 == 0 else ("steered", "unsteered"):  # no drift bias
            if mode == "steered":
                with unit.apply(lm, 4.0):
                    timing[mode].append(per_token_seconds(lm, prompts[0], TIMING_TOKENS))
            else:
                timing[mode].append(per_token_seconds(lm, prompts[0], TIMING_TOKENS))
    out["timing"] = {k: statistics.median(v) for k, v in timing.items()}
    return out


def run_peer(lib: str, py: Path, inputs: Path, log: Path) -> dict:
    cmd = [str(py), str(WORKER), "--lib", lib, "--inputs", str(inputs)]
    print(f"running {lib} ...", file=sys.stderr)
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=log.open("w"), text=True)
    if proc.returncode != 0 or not proc.stdout.strip():
        lines = [x for x in log.read_text().splitlines() if x.strip()]
        return {"lib": lib, "error": lines[-1] if lines else f"exit {proc.returncode}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def judge(lm, results: list[dict], prompts: list[str]) -> None:
    """Add effect/cost numbers to every curve point, judged the same way for every library."""
    from latentspace.steer.evaluate import prompt_ids
    from latentspace.steer.scorers import vader
    from latentspace.steer.text_cost import perplexity, repetition

    score, context = vader(), prompt_ids(lm, prompts)
    for r in results:
        if "error" in r:
            continue
        base = r["unsteered"]
        base["ppl"] = perplexity(lm, context, base["ids"])
        base["vader"] = statistics.mean(score(base["texts"]))
        for m in r["methods"].values():
            for p in m["curve"]:
                p["vader"] = statistics.mean(score(p["texts"]))
                p["ppl_ratio"] = perplexity(lm, context, p["ids"]) / base["ppl"]
                p["repetition"] = repetition(p["ids"])


def best(curve: list[dict], sign: int) -> dict | None:
    ok = [p for p in curve if p["ppl_ratio"] <= MAX_RATIO and p["strength"] * sign > 0]
    return (max if sign > 0 else min)(ok, key=lambda p: p["vader"], default=None)


def rows(results: list[dict]) -> list[dict]:
    """One row per library and method: its judged curve (no texts) and best points."""
    out = []
    for r in results:
        if "error" in r:
            out.append({"lib": r["lib"], "method": "-", "error": r["error"]})
            continue
        overhead = r["timing"]["steered"] / r["timing"]["unsteered"]
        for name, m in r["methods"].items():
            curve = [{k: p[k] for k in JUDGED} for p in m["curve"]]
            up, down = best(curve, +1), best(curve, -1)
            out.append({"lib": r["lib"], "method": name, "train_s": m["train_seconds"],
                        "unsteered": r["unsteered"]["vader"], "up": up, "down": down, "overhead": overhead,
                        "curve": curve})
    return out


def fmt_best(p: dict | None) -> str:
    return "—" if p is None else f"{p['vader']:+.2f} (s={p['strength']:+g}, ×{p['ppl_ratio']:.2f})"


def table(all_rows: list[dict]) -> list[str]:
    lines = ["| library | method | train (s) | unsteered VADER | best up, ppl ≤ 1.5× | best down, ppl ≤ 1.5× "
             "| generation overhead |", "|---|---|---|---|---|---|---|"]
    for r in all_rows:
        if "error" in r:
            lines.append(f"| {r['lib']} | — | failed: {r['error']} | | | | |")
            continue
        lines.append(f"| {r['lib']} | {r['method']} | {r['train_s']:.1f} | {r['unsteered']:+.2f} | "
                     f"{fmt_best(r['up'])} | {fmt_best(r['down'])} | {r['overhead']:.3f}× |")
    return lines


def curve_table(all_rows: list[dict]) -> list[str]:
    strengths = sorted({p["strength"] for r in all_rows if "curve" in r for p in r["curve"]})
    lines = ["| library / method | " + " | ".join(f"{s:+g}" for s in strengths) + " |",
             "|---|" + "---|" * len(strengths)]
    for r in all_rows:
        if "curve" not in r:
            continue
        by = {p["strength"]: p for p in r["curve"]}
        cells = [f"{by[s]['vader']:+.2f} / ×{by[s]['ppl_ratio']:.2f}" if s in by else "" for s in strengths]
        lines.append(f"| {r['lib']} {r['method']} | " + " | ".join(cells) + " |")
    return lines


def identical(results: list[dict]) -> dict | None:
    """Sanity check that every library ran the same model on the same prompts: per peer, [unsteered
    texts equal to ours, texts] (None without our unsteered texts)."""
    ours = next((r for r in results if r["lib"] == "latentspace" and "unsteered" in r), None)
    if ours is None:
        return None
    counts = {}
    for r in results:
        if r["lib"] != "latentspace" and "unsteered" in r:
            same = sum(a.strip() == b.strip() for a, b in zip(ours["unsteered"]["texts"], r["unsteered"]["texts"]))
            counts[r["lib"]] = [same, len(ours["unsteered"]["texts"])]
    return counts


def same_inputs(counts: dict | None) -> list[str]:
    if counts is None:
        return []
    parts = [f"{lib} {same}/{total}" for lib, (same, total) in counts.items()]
    return [f"- Unsteered completions identical to latentspace's (same model, same prompts): {', '.join(parts)}"]


def verdicts(all_rows: list[dict]) -> list[str]:
    ours = [r for r in all_rows if r["lib"] == "latentspace" and "curve" in r]
    peers = [r for r in all_rows if r["lib"] != "latentspace" and "curve" in r]

    def span(r):  # controllable range at the cost limit
        up = r["up"]["vader"] if r["up"] else r["unsteered"]
        down = r["down"]["vader"] if r["down"] else r["unsteered"]
        return up - down

    lines = []
    both = [r for r in ours if r["up"] and r["down"] and r["up"]["vader"] >= GOAL_UP and r["down"]["vader"] <= GOAL_DOWN]
    lines.append(f"- Both directions controllable (≤ {GOAL_DOWN} and ≥ +{GOAL_UP} at perplexity ≤ {MAX_RATIO}×): "
                 + ("**met** by " + ", ".join(r["method"] for r in both) if both else "**missed**"))
    if ours and peers:
        top, peer_top = max(ours, key=span), max(peers, key=span)
        verdict = "**met**" if span(top) >= span(peer_top) else "**missed**"
        lines.append(f"- Effect at equal cost ≥ the better peer: {verdict} — our best ({top['method']}) spans "
                     f"{span(top):.2f} VADER between its best down and up points within {MAX_RATIO}× perplexity; "
                     f"the best peer ({peer_top['lib']} {peer_top['method']}) spans {span(peer_top):.2f}")
    if ours:
        overhead = ours[0]["overhead"]
        lines.append(f"- Generation overhead ≤ {GOAL_OVERHEAD}×: {'**met**' if overhead <= GOAL_OVERHEAD else '**missed**'}"
                     f" ({overhead:.3f}× per token, 14 steered layers, median of {TIMING_REPEATS})")
    return lines


def plot(all_rows: list[dict], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.5))
    for r in all_rows:
        if "curve" not in r:
            continue
        pts = sorted(r["curve"], key=lambda p: p["strength"])
        style = "-" if r["lib"] == "latentspace" else "--"
        ax.plot([p["ppl_ratio"] for p in pts], [p["vader"] for p in pts], style, marker="o", ms=3,
                label=f"{r['lib']} {r['method']}")
    ax.axvline(MAX_RATIO, color="gray", ls=":", lw=1)
    ax.axhline(GOAL_UP, color="green", ls=":", lw=1)
    ax.axhline(GOAL_DOWN, color="red", ls=":", lw=1)
    ax.set_xscale("log")
    ax.set_xlabel("perplexity ratio to unsteered (cost, log)")
    ax.set_ylabel("mean VADER of completions (effect)")
    ax.set_title("sentiment steering on SmolLM2-135M: effect vs cost", fontsize=10)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="3 strengths, 3 prompts, prints only")
    parser.add_argument("--libs", default="latentspace,repeng,steering_vectors")
    parser.add_argument("--report-only", action="store_true",
                        help=f"rewrite the section from results.json (judged again), else from {ROWS.name}")
    args = parser.parse_args()
    if args.report_only and not (OUT / "results.json").exists():  # no texts here (a fresh checkout): the kept rows
        kept, meta = read_kept(ROWS)
        write_section(kept, meta)
        return
    if args.report_only:
        stored = json.loads((OUT / "results.json").read_text())
        from latentspace.model.latent_model import LatentModel

        lm = LatentModel.load("smollm2-135m", show_progress=False)
        from latentspace.steer.evaluate import NEUTRAL_PROMPTS

        judge(lm, stored["results"], NEUTRAL_PROMPTS)
        keep(stored["results"], stored["meta"])
        return
    libs = args.libs.split(",")
    from latentspace.model.latent_model import LatentModel
    from latentspace.model import bundled
    from latentspace.steer import Pair, load_pairs
    from latentspace.steer.evaluate import NEUTRAL_PROMPTS
    from latentspace.steer.pairs import render

    pythons = {lib: ensure_venv(lib, PEERS[lib]) for lib in libs if lib in PEERS}  # before timing
    load = wait_for_quiet(600)
    lm = LatentModel.load("smollm2-135m", show_progress=False)
    rendered = []
    for p in load_pairs("sentiment"):
        pos, neg = render(lm, p.positive), render(lm, p.negative)
        rendered.append([pos.prefix + pos.completion, neg.prefix + neg.completion])
    pairs = [Pair(p, n) for p, n in rendered]
    prompts = NEUTRAL_PROMPTS[:3] if args.quick else NEUTRAL_PROMPTS
    strengths = [-4.0, 4.0] if args.quick else UNIT_STRENGTHS
    native = [-0.3, 0.3] if args.quick else NATIVE_STRENGTHS
    max_new_tokens = 48
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        inputs = Path(tmp) / "inputs.json"
        inputs.write_text(json.dumps({
            "model_dir": str(bundled.cache_dir("smollm2-135m")), "pairs": rendered, "layers": LAYERS,
            "strengths": strengths, "prompts": [lm.chat(p) for p in prompts], "max_new_tokens": max_new_tokens,
            "timing_tokens": TIMING_TOKENS, "timing_repeats": TIMING_REPEATS, "timing_strength": 4.0}))
        if "latentspace" in libs:
            results.append(run_ours(lm, pairs, prompts, strengths, native, max_new_tokens))
        for lib, py in pythons.items():
            results.append(run_peer(lib, py, inputs, Path(tmp) / f"{lib}.log"))
    judge(lm, results, prompts)
    all_rows = rows(results)
    lines = table(all_rows) + [""] + curve_table(all_rows) + [""] + same_inputs(identical(results)) + verdicts(all_rows)
    print("\n".join(lines))
    if args.quick:
        return
    meta = {"date": time.strftime("%Y-%m-%d"), "machine": platform.machine(), "cores": os.cpu_count(), "load": load,
            "envs": {lib: {"venv": os.path.relpath(py.parent.parent, ROOT), "freeze": freeze(py)}
                     for lib, py in pythons.items()}}
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "results.json").write_text(json.dumps({"meta": meta, "results": results}, indent=1))
    keep(results, meta)


def keep(results: list[dict], meta: dict) -> None:
    """The judged rows (no texts) and what the section says of the run, into ``ROWS``; then the section."""
    versions = {r["lib"]: r.get("versions") for r in results if r.get("versions")}
    meta = {**meta, "identical": identical(results), "worker_versions": versions,
            "raw": f"`{os.path.relpath(OUT / 'results.json', ROOT)}`"}
    all_rows = rows(results)
    write_kept(ROWS, all_rows, meta)
    write_section(all_rows, meta)


def write_section(all_rows: list[dict], meta: dict) -> None:
    image = plot(all_rows, ROOT / "docs" / "steer_peers.png")
    envs = [f"- `{lib}` ({e['venv']}): {', '.join(e['freeze'])}" for lib, e in meta["envs"].items()]
    versions = meta["worker_versions"]
    section = "\n".join([
        START, "## Steering vectors vs repeng and steering-vectors (issue 6)", "",
        "Command: `.venv/bin/python benchmarks/bench_steer_peers.py` "
        f"({meta['date']}, {meta['machine']}, {meta['cores']} cores, load {meta['load']} at start).", "",
        "Same 50 built-in sentiment pairs rendered once with SmolLM2's chat template, layers 8–21 "
        "(block outputs), six neutral chat prompts, greedy 48 tokens. The strengths are the same for every "
        "library, on unit-norm directions (repeng's scale; steering-vectors' `mean` is the exception, see the "
        "notes); `native scale` is our pca_center vector as trained "
        "(strength 1 = one typical pair separation). Effect = mean VADER compound; cost = perplexity of the "
        "completions under the unsteered model ÷ that of the unsteered completions; every text is judged "
        "here, in one environment. Peers generate one prompt at a time with HF `generate`; we decode the six "
        "as one left-padded batch. Generation overhead = per-token time steered ÷ unsteered, each library "
        "in its own generation path, 64 tokens (EOS barred until then), median of 11 runs in alternating order.", "",
        *table(all_rows), "", "VADER / perplexity ratio at each strength:", "", *curve_table(all_rows), "",
        *same_inputs(meta["identical"]), *verdicts(all_rows), "", "Notes:", "", *NOTES, "",
        f"![effect vs cost]({image.name})", "", "Environments:",
        "- `latentspace` (.venv): the project's own", *envs,
        f"- worker versions: {json.dumps(versions)}", "",
        f"Numbers: `{os.path.relpath(ROWS, ROOT)}`; raw texts and token ids: {meta['raw']}.", END])
    replace_section(section, START, END)
    print(f"wrote {RESULTS} and {image}")


if __name__ == "__main__":
    main()
