"""Cross-model communication (issue 22): the sharer reads a context, the receiver only the question.

    .venv/bin/python benchmarks/bench_bridge_talk.py --train 2000 --steps 800 --n 200

Task `facts` (latentspace.tasks.facts): three facts about people, a question about one of them,
a one-word answer from a list of ten (chance 10%). Rows, on the same test items, per direction
(SmolLM2-135M <-> Gemma-3-270M): the receiver alone (question only), the sharer alone (context +
question), text relay (the sharer answers in words, the receiver reads them before the question),
the cache fuser (C2C-style, trained on other facts: `latentspace.bridge.fuser_train`), a linear
map as the channel (ridge, the sharer's block-s states of the context mapped into the receiver's
input embeddings and read before the question; s = first, middle, last block; fitted on the texts
bench_bridge.py samples), and the skyline (the receiver reads the context itself). Greedy, plain-text prompts (Gemma-3-270M is a
base model), answers of at most 12 tokens. Gap recovered = (row - alone) / (skyline - alone).
Resumable: each direction's fuser trains into runs/bridge/fuser-*/ (gitignored) and every row is
cached in benchmarks/results/bridge/talk-*.json (one line per row).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402
from results_md import RUNS, dumps_by_key, replace_section  # noqa: E402

from latentspace.bridge import fit_pairs, paired_states  # noqa: E402
from latentspace.bridge.channel import channel_answer  # noqa: E402
from latentspace.bridge.fused import fused_answers  # noqa: E402
from latentspace.bridge.fuser_train import Example, FuserConfig, train_fuser  # noqa: E402
from latentspace.bridge.pairs import EMBED  # noqa: E402
from latentspace.bridge.texts import self_sampled  # noqa: E402
from latentspace.core.stats import wilson  # noqa: E402
from latentspace.model.latent_model import LatentModel  # noqa: E402
from latentspace.tasks.facts import make_facts  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "benchmarks" / "results" / "bridge"  # the rows (talk-*.json) and latency.json
WORK = RUNS / "bridge"  # the fusers, and the texts bench_bridge.py sampled
TOKENS = 12


def greedy(lm, prompts: list[str], batch_size: int = 16) -> list[tuple[str, int]]:
    out = []
    for first in range(0, len(prompts), batch_size):
        chunk = prompts[first:first + batch_size]
        ids, mask = lm.tokenize(chunk)
        result = lm.decode(lm.encode(ids, attention_mask=mask), max_new_tokens=TOKENS)
        out += [(t, int(m.sum()) + len(g)) for t, m, g in zip(result.texts, mask, result.token_ids)]
    return out


def score(facts, answers, seconds: float) -> dict:
    right = sum(f.check(text) for f, (text, _) in zip(facts, answers))
    low, high = wilson(right, len(facts))
    return {"n": len(facts), "correct": right, "accuracy": right / len(facts), "ci": [low, high],
            "positions": sum(p for _, p in answers) / len(answers), "s_per_item": seconds / len(facts),
            "examples": [text.strip()[:40] for text, _ in answers[:3]]}


def timed(make):
    started = time.perf_counter()
    value = make()
    return value, time.perf_counter() - started


def direction(sharer, receiver, name: str, args) -> dict:
    path = CACHE / f"talk-{name}.json"
    rows = json.loads(path.read_text()) if path.exists() else {}

    def row(key, make):
        if key not in rows:
            rows[key] = make()
            CACHE.mkdir(parents=True, exist_ok=True)
            path.write_text(dumps_by_key(rows))
        print(name, key, {k: v for k, v in rows[key].items() if k != "examples"}, flush=True)

    test = make_facts(args.n, seed=0)
    alone = [f.prompt(False) for f in test]
    full = [f.prompt(True) for f in test]
    row("receiver alone", lambda: score(test, *timed(lambda: greedy(receiver, alone))))
    row("sharer alone", lambda: score(test, *timed(lambda: greedy(sharer, full))))

    def relay():
        started = time.perf_counter()
        said = greedy(sharer, full)
        notes = [f"A friend who read the notes says: {text.strip()[:60]}\n{q}" for (text, _), q in zip(said, alone)]
        heard = greedy(receiver, notes)
        answers = [(text, p1 + p2) for (text, p2), (_, p1) in zip(heard, said)]
        return score(test, answers, time.perf_counter() - started)
    row("text relay", relay)
    row("skyline (receiver reads the context)", lambda: score(test, *timed(lambda: greedy(receiver, full))))

    def fuser_row():
        train = [Example(f.prompt(True), f.prompt(False), " " + f.answer) for f in make_facts(args.train, seed=1)]
        config = FuserConfig(steps=args.steps, batch_size=16, lr=args.lr, hidden=args.hidden)
        started = time.perf_counter()
        fuser, losses = train_fuser(sharer, receiver, train, config, out=WORK / f"fuser-{name}",
                                    progress=lambda step, loss: step % 50 == 0 and print(name, step, round(loss, 3),
                                                                                         flush=True))
        trained = time.perf_counter() - started
        answers, seconds = timed(lambda: fused_answers(sharer, receiver, fuser, full, alone, TOKENS))
        return {**score(test, answers, seconds), "train_s": trained, "params": sum(p.numel() for p in fuser.parameters()),
                "gates_open": int(fuser.gates().sum()), "layers": len(fuser.shape.pairs),
                "loss_first": sum(losses[:20]) / max(1, len(losses[:20])),
                "loss_last": sum(losses[-20:]) / max(1, len(losses[-20:])),
                "train_examples": len(train), "steps": args.steps}
    row("cache fuser", fuser_row)

    # a map as the channel: the sharer's block-s states of the context, mapped into the receiver's inputs
    texts = fit_texts(sharer, receiver, name)
    blocks = [0, sharer.n_layers // 2, sharer.n_layers - 1]
    maps = {}
    for block in blocks:
        def channel_row(block=block):
            if not maps:
                paired = paired_states(sharer, receiver, texts, [(b, EMBED) for b in blocks])
                maps.update(fit_pairs(paired, [(b, EMBED) for b in blocks], "ridge")[0])
            started = time.perf_counter()
            answers = [channel_answer(sharer, receiver, maps[(block, EMBED)], block, f.context,
                                      f"Question: {f.question}\nAnswer:", TOKENS) for f in test]
            return score(test, answers, time.perf_counter() - started)
        row(f"linear map: sharer block {block} -> receiver inputs", channel_row)
    return rows


def latency(sharer, receiver, name: str, n: int, rounds: int = 3) -> dict:
    """Wall time per item of the text relay and the cache fuser on the same n items, alternated
    ``rounds`` times in one process (run it with nothing else on the machine): median of the rounds."""
    import statistics

    from latentspace.bridge.fuser import CacheFuser

    fuser, _ = CacheFuser.load(WORK / f"fuser-{name}" / "fuser.safetensors", sharer.fingerprint, receiver.fingerprint)
    test = make_facts(n, seed=0)
    alone, full = [f.prompt(False) for f in test], [f.prompt(True) for f in test]

    def relay():
        said = greedy(sharer, full)
        greedy(receiver, [f"A friend who read the notes says: {t.strip()[:60]}\n{q}" for (t, _), q in zip(said, alone)])

    times = {"text relay": [], "cache fuser": [], "skyline (receiver reads the context)": []}
    for _ in range(rounds):
        times["text relay"].append(timed(relay)[1] / n)
        times["cache fuser"].append(timed(lambda: fused_answers(sharer, receiver, fuser, full, alone, TOKENS))[1] / n)
        times["skyline (receiver reads the context)"].append(timed(lambda: greedy(receiver, full))[1] / n)
    return {"n": n, "rounds": rounds, "threads": torch.get_num_threads(),
            "median_s_per_item": {k: statistics.median(v) for k, v in times.items()}, "all": times}


def fit_texts(sharer, receiver, name: str) -> list[str]:
    """The texts bench_bridge.py sampled for this direction's maps (or new ones, cached the same way)."""
    a, b = name.split("-to-")
    path = WORK / f"texts-{a}-{b}-fit.json"
    if path.exists():
        return json.loads(path.read_text())
    texts = self_sampled(sharer, receiver, 64, 96, seed=0)
    WORK.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(texts, indent=1))
    return texts


def render(results: dict, command: str, timings: dict | None = None) -> str:
    lines = ["## Cross-model communication: a context read by one model, the question answered by another (issue 22)", "",
             f"{datetime.date.today().isoformat()}, CPU ({platform.machine()}, {os.cpu_count()} cores), torch "
             f"{torch.__version__}, float32. Command: `{command}`. Task `facts`: three facts about people, a question "
             "about one, a one-word answer of ten (chance 10%); greedy, plain-text prompts, answers ≤ 12 tokens; "
             "95% Wilson intervals. Gap recovered = (row − alone) / (skyline − alone).", ""]
    for name, rows in results.items():
        alone = rows["receiver alone"]["accuracy"]
        sky = rows["skyline (receiver reads the context)"]["accuracy"]
        lines += [f"### {name}", "", "| row | accuracy [95% CI] | gap recovered | positions | s/item |",
                  "|---|---|---:|---:|---:|"]
        for key, r in rows.items():
            gap = (r["accuracy"] - alone) / (sky - alone) if sky != alone else float("nan")
            lines.append(f"| {key} | {100 * r['accuracy']:.1f}% [{100 * r['ci'][0]:.1f}, {100 * r['ci'][1]:.1f}] | "
                         f"{100 * gap:+.0f}% | {r['positions']:.0f} | {r['s_per_item']:.3f} |")
        fuser = rows.get("cache fuser")
        if fuser:
            lines += ["", f"Fuser: {fuser['params']:,} parameters over {fuser['layers']} receiver layers "
                      f"({fuser['gates_open']} gates open), {fuser['train_examples']} training facts (other seed), "
                      f"{fuser['steps']} steps of 16, {fuser['train_s'] / 60:.1f} min; loss {fuser['loss_first']:.2f} "
                      f"-> {fuser['loss_last']:.2f}."]
        timing = (timings or {}).get(name)
        if timing:
            t = timing["median_s_per_item"]
            lines += ["", f"Latency on a quiet machine (the same {timing['n']} items, {timing['rounds']} rounds alternated, "
                      f"median s/item, {timing['threads']} threads; `--latency {timing['n']}`): text relay "
                      f"{t['text relay']:.3f}, cache fuser {t['cache fuser']:.3f} "
                      f"({t['text relay'] / t['cache fuser']:.1f}x faster), skyline "
                      f"{t['skyline (receiver reads the context)']:.3f}. The s/item column above was measured while "
                      "other jobs shared the cores: compare these instead."]
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--train", type=int, default=2000)
    parser.add_argument("--steps", type=int, default=800)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--directions", default="smollm2->gemma,gemma->smollm2")
    parser.add_argument("--quick", action="store_true", help="do not touch docs/results.md")
    parser.add_argument("--latency", type=int, default=0, metavar="N",
                        help="also time relay, fuser and skyline on N items, 3 rounds alternated (a quiet machine); "
                             "cached in benchmarks/results/bridge/latency.json")
    args = parser.parse_args()
    CACHE.mkdir(parents=True, exist_ok=True)
    models = {"smollm2": LatentModel.load("smollm2-135m", show_progress=False),
              "gemma": LatentModel.load("gemma3-270m", show_progress=False)}
    results = {}
    for pair in args.directions.split(","):
        a, b = pair.split("->")
        results[f"{a} -> {b}"] = direction(models[a], models[b], f"{a}-to-{b}", args)
    timing_path = CACHE / "latency.json"
    timings = json.loads(timing_path.read_text()) if timing_path.exists() else {}
    if args.latency:
        for pair in args.directions.split(","):
            a, b = pair.split("->")
            timings[f"{a} -> {b}"] = latency(models[a], models[b], f"{a}-to-{b}", args.latency)
            print(pair, timings[f"{a} -> {b}"]["median_s_per_item"], flush=True)
        timing_path.write_text(dumps_by_key(timings))
    command = (f".venv/bin/python benchmarks/bench_bridge_talk.py --n {args.n} --train {args.train} "
               f"--steps {args.steps} --lr {args.lr} --hidden {args.hidden} --directions '{args.directions}'")
    text = render(results, command, timings)
    print(text)
    if not args.quick:
        start, end = "<!-- bench_bridge_talk:start -->", "<!-- bench_bridge_talk:end -->"
        replace_section(f"{start}\n{text}{end}", start, end)


if __name__ == "__main__":
    main()
