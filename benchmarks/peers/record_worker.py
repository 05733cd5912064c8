"""One library's all-layer residual recording, timed against plain HF in the same process.

Run by benchmarks/bench_lens_peers.py with the python of the library's own virtual environment
(latentspace: the project's .venv; nnsight / transformer_lens: .bench-venvs/<lib>), so a peer's
pins never touch the project. Prints one JSON line (shapes, max diffs, versions) when ready, then
answers each "go" on stdin with one JSON line of seconds per variant (see `serve`).

    echo go | python benchmarks/peers/record_worker.py --lib nnsight --model-dir DIR --ids ids.json

Only the standard library, torch and transformers are imported at top level: the library under
test is imported inside its own setup function, in its own venv.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import sys
import time
import warnings

os.environ["HF_HUB_OFFLINE"] = "1"  # every load below is from the local folder; never wait on a hub

import torch  # noqa: E402
from transformers import AutoModelForCausalLM, AutoTokenizer  # noqa: E402

TL_NAME = "HuggingFaceTB/SmolLM2-135M-Instruct"  # TL 4.3's registry lists it as verified (LlamaForCausalLM)


def load_hf(model_dir: str, **kwargs):
    return AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32, local_files_only=True, **kwargs).eval()


def setup_latentspace(args, ids):
    from latentspace.model.latent_model import LatentModel

    lm = LatentModel.load(args.model_dir, show_progress=False)  # a local folder: the same cached weights
    sites = [("resid_post", i) for i in range(lm.n_layers)]

    def record():
        with lm.hooks(record=sites) as rec:
            lm.forward(ids)
        return [rec["resid_post", i] for i in range(lm.n_layers)]

    return record, {}, ["latentspace"], []


def setup_nnsight(args, ids):
    import nnsight
    from nnsight import LanguageModel

    tok = AutoTokenizer.from_pretrained(args.model_dir, local_files_only=True)
    with warnings.catch_warnings():  # LanguageModel is deprecated in 0.8 (alias of TransformersModel, same code)
        warnings.simplefilter("ignore")
        model = LanguageModel(load_hf(args.model_dir), tokenizer=tok)
    n = len(model.model.layers)

    def record():
        # nnsight compiles the with-body and hands back only saved objects: a list of per-layer
        # `.output.save()` would itself be unbound after the block, so the list is what we save.
        with model.trace(ids):
            saves = nnsight.save([model.model.layers[i].output for i in range(n)])
        return [s[0] if isinstance(s, tuple) else s for s in saves]

    return record, {}, ["nnsight"], []


def setup_transformer_lens(args, ids):
    notes = []
    try:  # what the issue asked for; TL 4.x removed it, so record the exact error line
        from transformer_lens import HookedTransformer  # noqa: F401
        notes.append("HookedTransformer importable (unexpected in 4.x); the bridge is measured anyway")
    except ImportError as err:
        notes.append(f"HookedTransformer: ImportError: {str(err).splitlines()[0]}")
    from transformer_lens.model_bridge import TransformerBridge

    tok = AutoTokenizer.from_pretrained(args.model_dir, local_files_only=True)
    # hf_model= + tokenizer= keep it offline (config comes from the model). The bridge keeps raw HF
    # weights (no fold_ln / centering unless enable_compatibility_mode() is called), so the residual
    # stream stays comparable; it does switch the wrapped model to eager attention.
    bridge = TransformerBridge.boot_transformers(TL_NAME, hf_model=load_hf(args.model_dir), tokenizer=tok,
                                                 device="cpu")
    n = bridge.cfg.n_layers
    keep = lambda name: name.endswith("hook_resid_post")  # noqa: E731

    def record():
        _, cache = bridge.run_with_cache(ids, names_filter=keep)
        return [cache[f"blocks.{i}.hook_resid_post"] for i in range(n)]

    eager = load_hf(args.model_dir, attn_implementation="eager")  # HF with the attention TL forces
    extra = {"plain_eager": (eager, lambda: eager(input_ids=ids))}
    return record, extra, ["transformer-lens"], notes


def max_diff(recorded: list, ref_model, ids) -> float:
    """Max |recorded - HF output_hidden_states| over all layers and positions. HF's last entry has
    the final norm applied, so the last recorded layer is compared after that same norm."""
    with torch.no_grad():
        hs = ref_model(input_ids=ids, output_hidden_states=True).hidden_states
        assert len(recorded) == len(hs) - 1, (len(recorded), len(hs))
        diffs = [(r.float() - h).abs().max().item() for r, h in zip(recorded[:-1], hs[1:-1])]
        diffs.append((ref_model.model.norm(recorded[-1]) - hs[-1]).abs().max().item())
    return max(diffs)


def serve(variants: dict) -> None:
    """Lock-step timing: each "go" line on stdin runs every variant once and answers with the
    seconds. The parent sends "go" to the libraries' workers in turn, so all of them (and their
    plain-HF baselines) are sampled across the same stretch of time and only one computes at a time;
    drift or another process's load hits every variant alike instead of biasing one."""
    names = list(variants)
    for n, line in enumerate(sys.stdin):
        if line.strip() != "go":
            break
        times = {}
        with torch.no_grad():  # every variant alike; latentspace's forward already runs without grad
            for name in (names if n % 2 == 0 else names[::-1]):  # alternate order: no fixed "first" slot
                t0 = time.perf_counter()
                variants[name]()
                times[name] = time.perf_counter() - t0
        print(json.dumps(times), flush=True)


def version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lib", choices=["latentspace", "nnsight", "transformer_lens"], required=True)
    parser.add_argument("--model-dir", required=True)
    parser.add_argument("--ids", required=True, help="JSON list of token ids, shared by every worker")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)  # same thread count in every process
    ids = torch.tensor([json.load(open(args.ids))], dtype=torch.long)

    # The baseline is its own, untouched instance: nnsight swaps each module's forward for a
    # controller and TL replaces the layers and forces eager attention on the model it wraps.
    base = load_hf(args.model_dir)
    setup = {"latentspace": setup_latentspace, "nnsight": setup_nnsight,
             "transformer_lens": setup_transformer_lens}[args.lib]
    record, extra, dists, notes = setup(args, ids)

    with torch.no_grad():
        recorded = record()  # also the first warm-up call
    shapes = {tuple(t.shape) for t in recorded}
    result = {
        "lib": args.lib, "layers": len(recorded), "shapes": sorted(map(list, shapes)),
        "requires_grad": any(t.requires_grad for t in recorded),
        "max_diff": max_diff(recorded, base, ids),
        "attn_baseline": base.config._attn_implementation,
    }
    if "plain_eager" in extra:
        result["max_diff_vs_eager"] = max_diff(recorded, extra["plain_eager"][0], ids)
    del recorded

    variants = {"plain": lambda: base(input_ids=ids), "record": record,
                **{name: fn for name, (_, fn) in extra.items()}}
    result.update({"tokens": ids.shape[1], "threads": torch.get_num_threads(), "notes": notes,
                   "versions": {d: version(d) for d in ["torch", "transformers", *dists]}})
    print(json.dumps(result), flush=True)  # the "ready" line; then the parent drives the timing
    serve(variants)


if __name__ == "__main__":
    sys.exit(main())
