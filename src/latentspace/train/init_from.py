"""Start a fresh run from another run's model (``--init RUN``): its weights and patch encoder; the rest new.

What the picture tasks need: every VSP arm starts from one map-reading model (`vsp-read`), as the published
arms start from a pretrained VLM — from scratch, reading what lies at a location takes most of a run's steps
(docs/results.md, VSP part 1). Only a fresh run starts from it (a resumed one has its own checkpoint); the two
runs must share the tokenizer (tasks of one family declare one vocabulary) and the model's shape, else one
line. The optimizer, the recipe's own parts (the visual recipe's frozen target encoder) and the data are new.
"""

from __future__ import annotations

from pathlib import Path

from latentspace.core.errors import LatentspaceError
from latentspace.train.run_folder import advising, load_causal_lm, load_tokenizer, read_tensors
from latentspace.train.selection import finished_model

PICTURES = "pictures."  # the patch encoder's names in a recipe module's extras


def check_init(init: Path, out: Path) -> None:
    if not (Path(init) / "checkpoint" / "state.json").exists():
        raise LatentspaceError(f"--init {init}: not a run folder (no checkpoint/state.json)")
    if Path(init).resolve() == Path(out).resolve():
        raise LatentspaceError("--init names the run's own folder; start from another run")


def start_from(init: Path, model, module, tokenizer) -> None:
    """Load ``init``'s selected checkpoint into ``model`` (and its patch encoder into ``module.pictures``)."""
    with advising(f"retrain {init} or start without --init"):
        folder = finished_model(Path(init))
        if load_tokenizer(folder).get_vocab() != tokenizer.get_vocab():
            raise LatentspaceError(f"--init {init}: its tokenizer is not this run's (a task of another family)")
        saved = load_causal_lm(folder)
        try:
            model.load_state_dict(saved.state_dict())
        except RuntimeError:
            raise LatentspaceError(f"--init {init}: its model has another shape (layers, width or heads)") from None
        pictures = getattr(module, "pictures", None)
        if pictures is None:
            return
        extras = folder / "extras.safetensors"
        found = {k[len(PICTURES):]: v for k, v in (read_tensors(extras, "extra parameters").items()
                                                  if extras.exists() else ()) if k.startswith(PICTURES)}
        if not found:
            raise LatentspaceError(f"--init {init}: its model reads no pictures")
        try:
            pictures.load_state_dict(found)
        except RuntimeError:
            raise LatentspaceError(f"--init {init}: its patch encoder has another shape") from None
