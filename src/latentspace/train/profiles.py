"""Profiles, named by what they reproduce.

- `laptop-mnns` (+ `laptop-mnns-d24`, `laptop-mnns-d16`, its width curve): CoT2's MNNS setting, from scratch, on a 2-core CPU — the headline;
- `laptop-prosqa`: symbolic ProsQA at CoT2's small ProsQA widths (a first calibration point);
- `full`: Coconut's Table 1 setting on a GPU — fine-tunes a *pretrained* model (SmolLM2-135M), bf16;
  `full-scratch` trains GPT-2 small from scratch instead (not the paper's setting);
- `smoke`, `smoke-mnns`, `smoke-prosqa`: seconds, for tests;
- `english-small`: the former `quick` (English ProsQA words, small graphs) — it does not learn and is
  kept as the record of why the symbolic profiles exist.

A profile fixes the data sizes, the model and the optimisation, the seeds and recipes of its table;
recipe options it sets (epochs, stages) are defaults the command line can still override.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from latentspace.core.errors import LatentspaceError
from latentspace.core.limits import MAX_TRAIN_BATCH
from latentspace.core.named import above, between


@dataclass(frozen=True)
class Profile:
    name: str
    n_train: int
    n_valid: int
    n_test: int
    family: str = "gpt2"  # from-scratch model family (GPT-2 as in the paper, or llama)
    layers: int = 2
    hidden: int = 64
    heads: int = 4
    batch_size: int = 32
    lr: float = 1e-4
    weight_decay: float = 0.01
    dropout: float = 0.0  # GPT-2's default is 0.1; 0 keeps small runs deterministic across process counts
    recipe_options: dict[str, dict] = field(default_factory=dict)  # per recipe: its option overrides
    note: str = ""
    task: str = "prosqa"  # the task a run of this profile trains on when none is named
    hops: str | None = None  # path lengths of the profile's task, e.g. "3-4" (prosqa-sym)
    model: str | None = None  # fine-tune this registry model (None: train `family` from scratch)
    mixed_precision: str = "no"  # "bf16": autocast on CUDA (ignored on a CPU)
    seeds: tuple[int, ...] = (0,)  # the seeds `train table` runs (mean and pooled interval over them)
    recipes: tuple[str, ...] = ("nocot", "cot", "pause", "icot", "coconut", "codi")  # `train table`'s rows
    select: str = "last"  # the checkpoint tested: the last, or the best on validation at the final stage
    eval_every: int = 0  # epochs between validation evaluations (0: at each stage's end only)
    # "cosine": the lr decays to 0 along a half cosine over the run's steps, so the last epochs are a
    # stable readout (at a constant lr MNNS's held-out accuracy swings by points between epochs)
    lr_schedule: str = "constant"
    save_every: int = 1  # epochs between checkpoints (and at every stage's end); a resume restarts there
    # batches per length-sorting window: > 1 sorts each window of shuffled items by length before cutting
    # it into batches (less padding, the same items per epoch); 1 keeps the batches as drawn
    bucket: int = 1
    # one declaration bounds a profile and every run setting that overrides it (`--set`, --config,
    # `TrainRun.extra`); a learning rate may be large (divergence is caught as it happens) but finite
    RANGES: ClassVar[dict] = {
        "n_train": between(1, 10_000_000), "n_valid": between(1, 1_000_000), "n_test": between(1, 1_000_000),
        "layers": between(1, 256), "hidden": between(2, 65_536), "heads": between(1, 1024),
        "batch_size": between(1, MAX_TRAIN_BATCH), "lr": above(0), "weight_decay": between(0, None),
        "dropout": between(0, 1), "save_every": between(1, 100_000),
        "eval_every": between(0, 100_000), "bucket": between(1, 100_000)}
    CHOICES: ClassVar[dict] = {"mixed_precision": ("no", "bf16"), "select": ("last", "best"),
                               "lr_schedule": ("constant", "cosine")}


def recipe_options(epochs: int, per_stage: int, max_stage: int, remove_per_epoch: int, codi_epochs: int,
                   thoughts: int) -> dict[str, dict]:
    """Per-recipe defaults of a profile; `pause` mirrors `coconut` (its control must match it)."""
    curriculum = {"epochs": epochs, "epochs_per_stage": per_stage, "max_stage": max_stage}
    return {"coconut": curriculum, "pause": dict(curriculum), "cot": {"epochs": epochs}, "nocot": {"epochs": epochs},
            "icot": {"epochs": epochs, "remove_per_epoch": remove_per_epoch},
            "codi": {"epochs": codi_epochs, "thoughts": thoughts}}


def vsp_options(epochs: int, teacher_epochs: int, target_steps: int = 1500) -> dict[str, dict]:
    """The picture task's arms: every recipe the same epochs; `visual` and its pause control the same
    stages (Mirage's stage 1 for ``teacher_epochs``, then stage 2)."""
    visual = {"epochs": epochs, "teacher_epochs": teacher_epochs, "target_steps": target_steps}
    return {"nocot": {"epochs": epochs}, "cot": {"epochs": epochs}, "visual": visual,
            "visual-s1": {**visual, "teacher_epochs": epochs}, "visual-change": dict(visual),
            "visual-filled": dict(visual),
            "visual-pause": {k: v for k, v in visual.items() if k != "target_steps"}}


def authors_mnns_layout(options: dict[str, dict]) -> dict[str, dict]:
    """The same options in CoT2's authors' MNNS layout: every recipe reads its answer right after its
    steps or thoughts (no ``###``), and Coconut's thoughts follow the question with no start/end markers
    (laptop-mnns, 5 seeds: 75.6% mean without them, 70.6% with — seed by seed it moves either way);
    CODI keeps the ``###`` (it distils at that position)."""
    def laid_out(name: str, opts: dict) -> dict:
        if name == "codi":
            return opts
        return {**opts, "answer_marker": False} | ({"latent_markers": False} if name in ("coconut", "pause") else {})
    return {name: laid_out(name, opts) for name, opts in options.items()}


def prosqa_options(epochs: int, per_stage: int) -> dict[str, dict]:
    """Symbolic ProsQA (3-4 hops): 4 thoughts always (their count must not reveal the hops), 10% of
    items at a random stage (the superposition paper's mix)."""
    coconut = {"epochs": epochs, "epochs_per_stage": per_stage, "max_stage": 4, "pad_latent_to_max": True,
               "mix_prob": 0.1}
    return {"nocot": {"epochs": epochs}, "cot": {"epochs": epochs}, "coconut": coconut, "pause": dict(coconut),
            "cot2": {"epochs": epochs, "pad_to": 4}}


# CoT2's authors' Coconut baseline on MNNS (their `coconut_curriculum.py`): stage k turns the first k partial
# sums into thoughts, equal stages, no markers, one optimizer, and a thought is the state its own slot gets from
# a zero input (not the previous position's state, as in Coconut's paper)
AUTHORS_MNNS_COCONUT = {"epochs": 1000, "epochs_per_stage": 250, "max_stage": 3, "latent_markers": False,
                        "reset_optimizer": False, "thought_from": "slot"}

MNNS_SPLIT = {"n_train": 4949, "n_valid": 300, "n_test": 1312}  # all 6,561 problems, 20% held out for test


def mnns_width_point(hidden: int, note: str) -> Profile:
    """`laptop-mnns`'s setting at another width, CoT against CoT2 only: a point of CoT2's width curve."""
    return Profile(
        f"laptop-mnns-d{hidden}", **MNNS_SPLIT, layers=2, hidden=hidden, heads=2, batch_size=256, lr=1e-3, task="mnns",
        save_every=50, eval_every=25, select="last", lr_schedule="cosine", seeds=(0, 1, 2), recipes=("cot", "cot2"),
        recipe_options=authors_mnns_layout(
            recipe_options(600, 100, 3, remove_per_epoch=1, codi_epochs=600, thoughts=3) | {"cot2": {"epochs": 600}}),
        note=note)


PROFILES = {
    "smoke": Profile(
        "smoke", n_train=32, n_valid=8, n_test=8, layers=2, hidden=32, heads=2, batch_size=8, lr=3e-3,
        recipe_options=recipe_options(4, 1, 2, remove_per_epoch=8, codi_epochs=4, thoughts=3)
        | {k: v for k, v in vsp_options(4, 2, 20).items() if k.startswith("visual")},
        note="seconds; for tests — proves the machinery, not the method"),
    "english-small": Profile(
        "english-small", n_train=3000, n_valid=100, n_test=200, layers=2, hidden=128, heads=4, batch_size=32, lr=1e-3,
        recipe_options=recipe_options(15, 2, 4, remove_per_epoch=2, codi_epochs=8, thoughts=4), task="prosqa-small",
        note="DOES NOT LEARN — kept as the record of why the symbolic profiles exist (it was `quick`): ProsQA-like questions with smaller graphs "
             "(prosqa-small: 8-12 nodes, 2-4 hops, ~100 word tokens) for a 2-layer 128-d GPT-2, 3000 items, 15 "
             "epochs (measured: 28 min for all six recipes, ~14k tokens/s). Chosen by a 26-run sweep (benchmarks/"
             "calibrate_quick.py, docs/results.md): no CPU-sized setting learned the task well — at this one a GPU "
             "run gave No-CoT 49%, CoT 12%, Coconut 49.5% (chance is 50%); the published graph sizes gave <= 3.5%"),
    "laptop-mnns": Profile(
        "laptop-mnns", **MNNS_SPLIT, layers=2, hidden=32, heads=2, batch_size=256, lr=1e-3, task="mnns",
        save_every=50, eval_every=25, select="last", lr_schedule="cosine", seeds=(0, 1, 2, 3, 4),
        recipes=("nocot", "cot", "coconut", "cot2"),
        recipe_options=authors_mnns_layout(
            recipe_options(600, 100, 3, remove_per_epoch=1, codi_epochs=600, thoughts=3) | {"cot2": {"epochs": 600}}),
        note="CoT2's MNNS setting (GPT-2, 2 layers, 2 heads, d=32; all 6,561 problems, 20% held out by digit "
             "multiset) at lr 1e-3 decayed along a cosine, batch 256, 600 epochs, tested at the last epoch (a pick "
             "on the ~20 validation multisets was noise: it did not rerun); every recipe reads its answer right "
             "after its steps or thoughts, no `###`, and Coconut's thoughts have no start/end markers, as the "
             "authors lay MNNS out"),
    "laptop-mnns-d24": mnns_width_point(
        24, "laptop-mnns at d=24: the second point of CoT2's width curve (the embedding must hold the superposition)"),
    "laptop-mnns-d16": mnns_width_point(
        16, "laptop-mnns at d=16: the narrow end of CoT2's width curve (published: CoT and CoT2 both ~55%)"),
    "paper-mnns": Profile(
        "paper-mnns", **MNNS_SPLIT, layers=2, hidden=32, heads=2, batch_size=16, lr=1e-4, dropout=0.1, task="mnns",
        save_every=50, eval_every=50, select="last", seeds=(42, 43, 44, 45, 46),
        recipes=("nocot", "cot", "coconut", "cot2"),
        recipe_options=authors_mnns_layout(
            recipe_options(1000, 250, 3, remove_per_epoch=1, codi_epochs=1000, thoughts=3) | {"cot2": {"epochs": 1000}}
            | {"coconut": AUTHORS_MNNS_COCONUT}),
        note="the CoT2 authors' MNNS protocol as their scripts state it: GPT-2, 2 layers, 2 heads, d=32, "
             "AdamW lr 1e-4, batch 16, 1000 epochs, GPT-2's dropout 0.1, seeds 42-46, "
             "tested at the last epoch; the split is laptop-mnns's (300 validation problems kept out of training, "
             "the authors train on all 80%); Coconut as their MNNS baseline computes it: 4 stages of 250 epochs, "
             "no start/end markers, one optimizer for the whole run, each thought read at its own slot from a "
             "zero input. Measured: CoT2 41 min per run on one CPU thread, two runs at a time (Coconut "
             "costs more: 2k+1 passes at stage k)"),
    "smoke-mnns": Profile(
        "smoke-mnns", n_train=200, n_valid=20, n_test=40, layers=2, hidden=16, heads=2, batch_size=64, lr=3e-3,
        task="mnns", recipes=("nocot", "cot", "coconut", "cot2"), eval_every=1, select="best",
        recipe_options=recipe_options(3, 1, 2, remove_per_epoch=1, codi_epochs=3, thoughts=3) | {"cot2": {"epochs": 3}},
        note="seconds; laptop-mnns's machinery at toy size, for tests"),
    "laptop-vsp": Profile(
        "laptop-vsp", n_train=6000, n_valid=300, n_test=500, layers=4, hidden=64, heads=4, batch_size=64, lr=1e-3,
        task="vsp", save_every=5, eval_every=5, select="best", seeds=(0, 1, 2),
        recipes=("nocot", "cot", "visual", "visual-pause", "visual-s1", "visual-change", "visual-filled"),
        recipe_options=vsp_options(30, 15),
        note="visual spatial planning (FrozenLake pictures, issue 41) for a tiny vision-language model from "
             "scratch: a patch encoder (16 tokens) into GPT-2, 4 layers, 4 heads, d=64 (the target codes' width, "
             "so their cosines carry over exactly); 6,000 items (Mirage fine-tunes on 3,000), 30 epochs, "
             "visual's stage 1 the first 15. Measured: at this budget no arm learns the task yet — the model "
             "locates things but does not read what lies at a location (docs/results.md, VSP part 1)"),
    "smoke-vsp": Profile(
        "smoke-vsp", n_train=48, n_valid=8, n_test=16, layers=2, hidden=32, heads=2, batch_size=16, lr=3e-3,
        task="vsp", recipes=("nocot", "cot", "visual", "visual-pause", "visual-s1"),
        recipe_options=vsp_options(2, 1, 20),
        note="seconds; laptop-vsp's machinery at toy size, for tests"),
    "laptop-prosqa": Profile(
        "laptop-prosqa", n_train=5000, n_valid=200, n_test=500, layers=4, hidden=40, heads=4, batch_size=64,
        lr=1e-3, task="prosqa-sym", hops="3-4", save_every=5, eval_every=5, select="best", recipes=("nocot", "cot", "coconut", "cot2"),
        recipe_options=prosqa_options(40, 8), seeds=(0, 1, 2),
        note="symbolic ProsQA in the superposition papers' layout (3-4 hops, one token per node numbered as "
             "generated, edges reshuffled every epoch) for CoT2's small ProsQA model (GPT-2, 4 layers, 4 heads, "
             "d=40), 5,000 items x 40 epochs on a 2-core CPU (the papers: 15-18k x 300); --task "
             "prosqa-sym-relabel is the shortcut-free variant. See docs/results.md"),
    "laptop-prosqa-15k": Profile(
        "laptop-prosqa-15k", n_train=15000, n_valid=200, n_test=500, layers=4, hidden=40, heads=4, batch_size=64,
        lr=1e-3, task="prosqa-sym", hops="3-4", save_every=5, eval_every=5, select="best", bucket=8,
        recipes=("nocot", "cot", "coconut", "cot2"), recipe_options=prosqa_options(100, 15), seeds=(0,),
        note="laptop-prosqa at the superposition papers' data size (15,000 items of 3-4 hops) and as many "
             "epochs as a working day allows (100; the papers: 300): epochs of 100-160 s on one CPU thread beside "
             "other runs, ~3-4.5 h per recipe; batches grouped by length (bucket 8); Coconut's 5 stages of 15 "
             "epochs, its last from epoch 60"),
    "paper-prosqa": Profile(
        "paper-prosqa", n_train=15000, n_valid=300, n_test=500, layers=2, hidden=768, heads=8, batch_size=256,
        lr=1e-4, task="prosqa-sym", hops="3-4", mixed_precision="bf16", save_every=5, eval_every=10, bucket=8,
        recipes=("nocot", "cot", "coconut", "cot2"), recipe_options=prosqa_options(300, 25),
        note="the superposition paper's symbolic ProsQA setting, for a GPU: GPT-2 from scratch, 2 layers, 8 heads, "
             "d=768, AdamW lr 1e-4 wd 0.01, batch 256 (their 128 x 2 GPUs), ~15k items of 3-4 hops, 300 epochs, "
             "Coconut 4 stages x 25 epochs then its last stage, 10% of items at a random stage; bf16 autocast "
             "(their AdamW betas are (0.9, 0.95), ours torch's default (0.9, 0.999))"),
    "smoke-prosqa": Profile(
        "smoke-prosqa", n_train=48, n_valid=8, n_test=16, layers=2, hidden=16, heads=2, batch_size=16, lr=3e-3,
        task="prosqa-sym", hops="3-4", recipes=("nocot", "cot", "coconut", "cot2"), recipe_options=prosqa_options(3, 1),
        note="seconds; laptop-prosqa's machinery at toy size, for tests"),
    "full": Profile(
        "full", n_train=17886, n_valid=300, n_test=500, batch_size=128, lr=1e-4, model="smollm2-135m",
        mixed_precision="bf16", eval_every=1, select="best",
        recipe_options=recipe_options(50, 5, 6, remove_per_epoch=8, codi_epochs=50, thoughts=6),
        note="Coconut's Table 1 setting on a GPU: the published ProsQA sizes, fine-tuning a *pretrained* model "
             "(Coconut used GPT-2; the bundled SmolLM2-135M is the closest offline one; --model picks another), "
             "AdamW 1e-4, wd 0.01, batch 128, bf16 autocast on CUDA"),
    "full-scratch": Profile(
        "full-scratch", n_train=17886, n_valid=300, n_test=500, layers=12, hidden=768, heads=12, batch_size=128,
        lr=1e-4, dropout=0.1, mixed_precision="bf16",
        recipe_options=recipe_options(50, 5, 6, remove_per_epoch=8, codi_epochs=50, thoughts=6),
        note="the published ProsQA sizes with GPT-2 small trained from scratch (not the paper's setting: Coconut "
             "fine-tuned a pretrained GPT-2). Measured on one H200 (fp32): 0.73-0.86 s per step of 128, ~1.6 h "
             "per 50-epoch recipe"),
}


def get_profile(name: str) -> Profile:
    if name not in PROFILES:
        raise LatentspaceError(f"unknown profile {name!r}; valid: {', '.join(PROFILES)}")
    return PROFILES[name]
