"""The superposition analysis of one trained run: its Coconut or CoT2 thoughts read through the lens.

Shared by ``latentspace train inspect`` and the table benchmark, so both read a run the same way:
Coconut feeds its last hidden states back (between the latent markers), CoT2 its softmax-weighted
embedding mix (no markers; ``pad_to`` thoughts, or the longest path when longer).
"""

from __future__ import annotations

from pathlib import Path

from latentspace.core.errors import LatentspaceError
from latentspace.train.run_folder import load_folder, require_run
from latentspace.train.studies.analysis import FrontierMass, frontier_mass
from latentspace.train.studies.best import model_folder


def inspect_run(run_dir: Path, n: int = 100, thoughts: int | None = None) -> FrontierMass:
    """Lens mass on frontier / passed / ahead / unreachable nodes for each thought of ``n`` test items."""
    from latentspace.model.latent_model import LatentModel
    from latentspace.model.markers import LATENT
    from latentspace.tasks import load_jsonl

    require_run(run_dir)
    folder = model_folder(run_dir)
    loaded = load_folder(folder)  # every file checked: a damaged one is named before any item is read
    recipe = loaded.recipe
    if recipe.name not in ("coconut", "cot2"):
        raise LatentspaceError(f"{run_dir} holds a {recipe.name} model; the frontier analysis reads coconut or "
                               "cot2 thoughts")
    items = load_jsonl(run_dir / "data" / "test.jsonl")[:n]
    lm = LatentModel(loaded.causal_lm, loaded.tokenizer, folder.name)
    if recipe.name == "coconut":
        return frontier_mass(lm, items, thoughts or recipe.max_stage * recipe.thoughts_per_step)
    latent_id = lm.tokenizer.convert_tokens_to_ids(LATENT)
    count = thoughts or max([recipe.pad_to, *(len(i.steps) for i in items)])
    return frontier_mass(lm, items, count, feed=lambda state: recipe.thought_inputs(lm, state, latent_id),
                         markers=False)
