"""The superposition analysis of one trained run: its Coconut or CoT2 thoughts read through the lens.

Shared by ``latentspace train inspect`` and the table benchmark, so both read a run the same way:
Coconut feeds its last hidden states back (between the latent markers), CoT2 its softmax-weighted
embedding mix (no markers; ``pad_to`` thoughts, or the longest path when longer).
"""

from __future__ import annotations

from pathlib import Path

from latentspace.errors import LatentspaceError
from latentspace.train.analysis import FrontierMass, frontier_mass
from latentspace.train.best import model_folder
from latentspace.train.checkpoint import read_json


def inspect_run(run_dir: Path, n: int = 100, thoughts: int | None = None) -> FrontierMass:
    """Lens mass on frontier / passed / ahead / unreachable nodes for each thought of ``n`` test items."""
    from latentspace.model.latent_model import LatentModel
    from latentspace.model.markers import LATENT
    from latentspace.tasks import load_jsonl
    from latentspace.train.recipes import get_recipe

    state_path = run_dir / "checkpoint" / "state.json"
    if not state_path.exists():
        raise LatentspaceError(f"no checkpoint in {run_dir}; train one with `latentspace train coconut --out {run_dir}`")
    state = read_json(state_path, "checkpoint state")
    if not isinstance(state, dict) or not isinstance(state.get("options"), dict):
        raise LatentspaceError(f"{state_path} is damaged (not a checkpoint state)")
    if state.get("recipe") not in ("coconut", "cot2"):
        raise LatentspaceError(f"{run_dir} holds a {state.get('recipe')} model; the frontier analysis reads coconut or "
                               "cot2 thoughts")
    recipe = get_recipe(state["recipe"], **state["options"])
    items = load_jsonl(run_dir / "data" / "test.jsonl")[:n]
    lm = LatentModel.load(str(model_folder(run_dir)), show_progress=False)
    if recipe.name == "coconut":
        return frontier_mass(lm, items, thoughts or recipe.max_stage * recipe.thoughts_per_step)
    latent_id = lm.tokenizer.convert_tokens_to_ids(LATENT)
    count = thoughts or max([recipe.pad_to, *(len(i.steps) for i in items)])
    return frontier_mass(lm, items, count, feed=lambda state: recipe.thought_inputs(lm, state, latent_id),
                         markers=False)
