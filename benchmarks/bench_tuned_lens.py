"""Tuned lens vs logit lens on the bundled model: held-out KL(final ‖ lens) per layer.

The tuned-lens paper's headline shape is a tuned KL far below the logit-lens KL in early and
middle layers. Training text is written by the model itself (nothing is downloaded); held-out
windows are never trained on. Writes a table and a plot into docs/.

    .venv/bin/python benchmarks/bench_tuned_lens.py            # full run, updates docs/results.md
    .venv/bin/python benchmarks/bench_tuned_lens.py --quick    # a smoke run, prints only
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402
import transformers  # noqa: E402
from results_md import RESULTS, replace_section  # noqa: E402  (benchmarks/ is on sys.path)

from latentspace.lens import TunedLensConfig, sample_text, train_tuned_lens  # noqa: E402
from latentspace.lens.maps import layer_curves  # noqa: E402
from latentspace.model.latent_model import LatentModel  # noqa: E402

START, END = "<!-- bench_tuned_lens:start -->", "<!-- bench_tuned_lens:end -->"


def run(quick: bool) -> dict:
    lm = LatentModel.load("smollm2-135m")
    samples, tokens = (8, 48) if quick else (48, 96)
    t0 = time.perf_counter()
    texts = sample_text(lm, n_samples=samples, tokens=tokens, seed=0)
    sample_s = time.perf_counter() - t0
    cfg = TunedLensConfig(steps=4 if quick else 150, seq_len=64, batch_size=4, layers_per_step=6, lr=2e-3,
                          heldout_fraction=0.2, seed=0)
    t0 = time.perf_counter()
    _, report = train_tuned_lens(lm, texts, cfg)
    return {"report": report, "cfg": cfg, "sample_s": sample_s, "train_s": time.perf_counter() - t0,
            "samples": samples, "tokens": tokens, "n_layers": lm.n_layers}


def section(res: dict, png: Path) -> str:
    rep, cfg = res["report"], res["cfg"]
    n = res["n_layers"]
    thirds = [("early", range(0, n // 3)), ("middle", range(n // 3, 2 * n // 3)), ("late", range(2 * n // 3, n - 1))]
    rows = ["| layers | logit lens KL | tuned lens KL | tuned / logit |", "|---|---|---|---|"]
    for name, idx in thirds:
        a = sum(rep.logit_kl[i] for i in idx) / len(idx)
        b = sum(rep.tuned_kl[i] for i in idx) / len(idx)
        rows.append(f"| {name} ({idx.start}–{idx.stop - 1}) | {a:.2f} | {b:.2f} | {b / a:.2f}× |")
    per_layer = ", ".join(f"{i}: {a:.1f}→{b:.1f}" for i, (a, b) in enumerate(zip(rep.logit_kl, rep.tuned_kl)))
    better = sum(b < a for a, b in zip(rep.logit_kl[:-1], rep.tuned_kl[:-1]))
    return "\n".join([
        "## Tuned lens vs logit lens (`benchmarks/bench_tuned_lens.py`)", "",
        "Command: `.venv/bin/python benchmarks/bench_tuned_lens.py`  ",
        f"Date: {datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds')}  ",
        f"Machine: 2-core CPU ({platform.platform()}), torch {torch.__version__}, transformers "
        f"{transformers.__version__}  ",
        f"Data: {res['samples']} texts of {res['tokens']} tokens sampled from smollm2-135m itself (temperature 1, "
        f"{res['sample_s']:.0f} s), cut into {cfg.seq_len}-token windows: {rep.train_windows} train, "
        f"{rep.heldout_windows} held out.  ",
        f"Training: {cfg.steps} Adam steps (lr {cfg.lr}), {cfg.batch_size} windows per step, {cfg.layers_per_step} "
        f"random layers per step ({res['train_s']:.0f} s). The last layer is the model's output (KL 0 by "
        "construction).", "",
        "Mean held-out KL(final ‖ lens) in nats:", "", *rows, "",
        f"Tuned below logit at {better} of {n - 1} intermediate layers. Per layer (logit→tuned): {per_layer}.", "",
        f"![tuned vs logit lens KL]({png.name})", ""])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny run, print only")
    args = parser.parse_args()
    torch.set_num_threads(2)
    res = run(args.quick)
    png = RESULTS.parent / "tuned_lens_kl.png"
    if args.quick:
        png = Path(tempfile.gettempdir()) / png.name
    layer_curves({"logit lens": res["report"].logit_kl, "tuned lens": res["report"].tuned_kl}, png)
    text = section(res, png)
    print(text)
    if not args.quick:
        replace_section(f"{START}\n{text}\n{END}", START, END)


if __name__ == "__main__":
    main()
