"""What RL on thoughts writes into its ``out`` folder.

    out/rl/checkpoint/   the resumable state (`core.step_checkpoint`): policy weights with the source
                         run's fingerprint and the RL settings in their header, optimizer, generators,
                         one record per iteration
    out/checkpoint/      the policy as a run's model folder (the source's config, tokenizer and
                         recipe state with the new weights), so `train eval OUT`, `audit -m OUT` and
                         `train eval OUT --samples N` read it like any run
    out/data/            the source run's splits (the same test items)
    out/rl_summary.json  settings, the curve, test accuracy before and after
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import torch

from latentspace.core import files, jsonsafe
from latentspace.core.errors import LatentspaceError
from latentspace.core.saved import load_tensors, save_tensors
from latentspace.core.step_checkpoint import staged

KIND = "rl_policy"


def identity(config, run_dir: Path) -> dict:
    """What a resumed RL run must share with the one that wrote the checkpoint (more iterations may follow)."""
    kept = {k: v for k, v in dataclasses.asdict(config).items()
            if k not in ("iterations", "eval_every", "save_every", "eval_items")}
    return {"run": str(run_dir), "config": kept}


def write_policy(folder: Path, module, fingerprint: dict, config, run_dir: Path, step: int) -> None:
    weights = {name: p.detach() for name, p in module.named_parameters()}  # tied weights once
    save_tensors(folder / "policy.safetensors", weights, KIND, fingerprint, {"step": step, **identity(config, run_dir)})


def read_policy(folder: Path, module, fingerprint: dict, config, run_dir: Path) -> int:
    tensors, meta = load_tensors(folder / "policy.safetensors", KIND, fingerprint, what="RL policy")
    if {k: meta.get(k) for k in ("run", "config")} != identity(config, run_dir):
        raise LatentspaceError(f"{folder.parent.parent} holds RL on other settings or another run; give the same ones "
                               "or another --out")
    own = dict(module.named_parameters())
    if set(own) != set(tensors) or any(tensors[k].shape != own[k].shape for k in own):
        raise LatentspaceError(f"{folder / 'policy.safetensors'} is not this run's policy (other parameters)")
    with torch.no_grad():
        for name, parameter in own.items():
            parameter.copy_(tensors[name])
    return meta.get("step")


def export_run(run_dir: Path, out: Path, folder) -> None:
    """``out/checkpoint`` and ``out/data``: the policy as a run folder every command reads."""
    from latentspace.model.bundled import quiet_hf

    source = folder.folder
    with staged(out, "checkpoint") as staging:
        with quiet_hf():
            folder.causal_lm.save_pretrained(staging)
        for name in ("state.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
            if (source / name).exists():
                shutil.copy2(source / name, staging / name)
        folder.recipe.save_extras(folder.module, staging)
    shutil.rmtree(out / "data.partial", ignore_errors=True)
    shutil.copytree(run_dir / "data", out / "data.partial")
    shutil.rmtree(out / "data", ignore_errors=True)
    (out / "data.partial").rename(out / "data")


def write_summary(run_dir: Path, out: Path, config, history: list, policy) -> dict:
    from latentspace.train.studies.evaluate_run import evaluate_run

    from latentspace.model.samplers import parse_sampler
    from latentspace.train.studies.evaluate_run import load_run, run_items

    before = evaluate_run(run_dir)
    after = evaluate_run(out)
    items = run_items(run_dir, None, None, 0)
    sampled = [load_run(folder).evaluate(items, sampler=parse_sampler(config.sampler), seed=config.seed).accuracy
               for folder in (run_dir, out)]  # one sampled path per question: the regime RL optimised
    summary = {"run": str(run_dir), "out": str(out), "config": dataclasses.asdict(config),
               "test_before": before.accuracy, "test_after": after.accuracy, "test_n": after.n,
               "test_sampled_before": sampled[0], "test_sampled_after": sampled[1],
               "valid_start": next((r.get("valid_start") for r in history if "valid_start" in r), None),
               "curve": [{k: r[k] for k in ("iteration", "reward", "valid") if k in r} for r in history]}
    files.write_text(out / "rl_summary.json", jsonsafe.dumps(summary, indent=1) + "\n", "RL summary")
    files.write_text(out / "test_answers.jsonl", "".join(jsonsafe.dumps(r) + "\n" for r in after.rows), "test answers")
    return summary
