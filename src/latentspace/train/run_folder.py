"""A run's model folder (``RUN/checkpoint`` or ``RUN/best``) loaded whole, or refused in one line.

The one loader of the folder a training run writes (`checkpoint.write_checkpoint`): every command and
the trainer itself read it here — `train eval`, `audit -m RUN`, `train inspect`, a resumed `train run`,
the best-checkpoint test. Each member file is checked before a library reads it, so a truncated,
random, missing or foreign file is a `DamagedFile` naming it instead of a SafetensorError, a
JSONDecodeError or a tokenizer asking for sentencepiece:

    state.json            conformed to `records.CheckpointState`; its recipe and options must build
    config.json           a JSON object naming a model type
    tokenizer.json        valid JSON, loadable, holding the latent markers, no larger than the model's vocabulary
    model.safetensors     a whole safetensors file that fills every weight of the config, all finite
    extras.safetensors    exactly the recipe module's own parameters (CODI's projector), all finite,
                          read by the recipe (`Recipe.load_extras`; its format: `extras`)
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch

from latentspace.core import step_checkpoint
from latentspace.core.checked import DamagedFile, conform, read_json
from latentspace.core.errors import LatentspaceError
from latentspace.train.records import CheckpointState, read_state, with_advice

READ = ("checkpoint", "best", "data", "summary.json")  # what commands read from a run folder


def require_run(run_dir: Path) -> None:
    """A trained run folder, checked before anything else (outputs included) so the message is about it."""
    if not run_dir.is_dir():
        raise LatentspaceError(f"no run folder at {run_dir}")
    if not (run_dir / "checkpoint" / "state.json").exists():
        raise LatentspaceError(f"no checkpoint in {run_dir}; train one with "
                               f"`latentspace train run RECIPE --out {run_dir}`")


def run_inputs(run_dir: Path) -> tuple[Path, ...]:
    """The parts of ``run_dir`` a command reads: no output of the command may land inside them."""
    return tuple(run_dir / name for name in READ)


@contextlib.contextmanager
def advising(advice: str) -> Iterator[None]:
    """One-line refusals raised inside, with ``advice`` (what to do) appended."""
    try:
        yield
    except LatentspaceError as err:
        raise with_advice(err, advice) from None


def reason(err: BaseException) -> str:
    return " ".join(str(err).split())[:120] or type(err).__name__


def check_safetensors(path: Path, what: str) -> None:
    """A whole safetensors file (its header read and its length checked against it), or one line."""
    from safetensors import SafetensorError, safe_open

    if not path.is_file():
        raise DamagedFile(f"{what} {path} is missing")
    try:
        with safe_open(str(path), framework="pt"):
            pass
    except (SafetensorError, OSError, ValueError, RuntimeError) as err:
        raise DamagedFile(f"{what} {path} cannot be loaded: damaged or truncated ({reason(err)})") from None


def read_tensors(path: Path, what: str) -> dict[str, torch.Tensor]:
    """The finite tensors of a safetensors file, or one line naming ``what`` it was."""
    from latentspace.core import saved

    check_safetensors(path, what)  # missing, cut or random: named as what it was meant to be
    return saved.read_tensors(path)  # the saved-object format's own read: whole, finite (NaN named)


def load_state(folder: Path) -> tuple[CheckpointState, object]:
    """(the folder's state, its recipe built from the saved options)."""
    from latentspace.train.recipes import get_recipe

    path = folder / "state.json"
    state = read_state(path)
    try:
        return state, get_recipe(state.recipe, **state.options)
    except LatentspaceError as err:  # an unknown recipe or an option out of its range: the file is damaged
        raise DamagedFile(f"checkpoint state {path}: {err}") from None


def load_tokenizer(folder: Path):
    """The run's tokenizer, with the latent markers every recipe's prompts use."""
    from transformers import AutoTokenizer

    from latentspace.model.bundled import quiet_hf
    from latentspace.model.markers import MARKERS

    path = folder / "tokenizer.json"
    if not path.is_file():
        raise DamagedFile(f"tokenizer {path} is missing")
    read_json(path, dict, "tokenizer")
    if (folder / "tokenizer_config.json").exists():
        used_keys(folder / "tokenizer_config.json", TokenizerKeys, "tokenizer config")
    try:
        with quiet_hf():
            tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    except Exception as err:  # transformers and tokenizers raise many kinds on a file of the wrong structure
        raise DamagedFile(f"tokenizer {path} cannot be loaded ({reason(err)})") from None
    missing = [m for m in MARKERS if m not in tokenizer.get_vocab()]
    if missing:
        raise DamagedFile(f"tokenizer {path} lacks the latent marker {missing[0]} (not a trained run's tokenizer)")
    return tokenizer


TokenId = int | list[int] | None


@dataclass
class TokenizerKeys:
    """The keys of ``tokenizer_config.json`` that decoding reads (transformers trusts their types)."""

    model_max_length: int | None = None


@dataclass
class GenerationKeys:
    """The keys of ``generation_config.json`` that decoding reads."""

    bos_token_id: TokenId = None
    eos_token_id: TokenId = None
    pad_token_id: TokenId = None
    max_length: int | None = None


def used_keys(path: Path, schema, what: str) -> None:
    """The keys ``schema`` declares, where ``path`` has them, of their types (a file HF wrote has many
    more keys; those we never read are left to transformers)."""
    from dataclasses import fields

    document = read_json(path, dict, what)
    conform({f.name: document[f.name] for f in fields(schema) if f.name in document}, schema, f"{what} {path}")


def _tied(model, key: str) -> bool:
    """A tied output head is stored once, as the input embeddings: not a missing weight."""
    head = model.get_output_embeddings()
    return head is not None and key.startswith("lm_head") and head.weight is model.get_input_embeddings().weight


def load_causal_lm(folder: Path):
    """The folder's Hugging Face model in float32, every weight read from its files and finite."""
    from transformers import AutoModelForCausalLM

    from latentspace.core.finite import bad_tensor
    from latentspace.model.bundled import quiet_hf

    config = read_json(folder / "config.json", dict, "model config")
    if (folder / "generation_config.json").exists():
        used_keys(folder / "generation_config.json", GenerationKeys, "generation config")
    if not isinstance(config.get("model_type"), str):
        raise DamagedFile(f"model config {folder / 'config.json'}: no model_type (not a Hugging Face model config)")
    weights = sorted(folder.glob("model*.safetensors")) or [folder / "model.safetensors"]
    for path in weights:
        check_safetensors(path, "model weights")
    try:
        with quiet_hf():  # no weight-loading bar: stderr stays one line when the folder is refused
            model, info = AutoModelForCausalLM.from_pretrained(str(folder), dtype=torch.float32, local_files_only=True,
                                                               output_loading_info=True)
    except Exception as err:  # a config of wrong values, weights of other shapes: whatever transformers raises
        raise DamagedFile(f"the model in {folder} cannot be loaded ({reason(err)})") from None
    missing = [k for k in info.get("missing_keys") or [] if not _tied(model, k)]
    # unexpected weights too: a config of fewer layers would load "fine" and answer with half the model
    broken = missing + [str(k) for k in [*(info.get("mismatched_keys") or []), *(info.get("unexpected_keys") or [])]]
    if broken:
        raise DamagedFile(f"model weights {weights[0]} do not fit the model of {folder / 'config.json'} "
                          f"({len(broken)} missing, unexpected or mismatched, e.g. {broken[0][:60]})")
    bad = bad_tensor(dict(model.named_parameters()))
    if bad is not None:
        raise DamagedFile(f"model weights {weights[0]} are unusable: parameter {bad} is NaN or inf")
    return model


@dataclass
class ModelFolder:
    """A model folder read whole: what `evaluate` needs to answer the way training evaluated."""

    folder: Path
    state: CheckpointState
    recipe: object  # built from the saved options (and any test-time overrides)
    tokenizer: object
    causal_lm: object
    module: object  # the recipe's module around causal_lm, its extras loaded

    @property
    def project(self):
        return self.recipe.projector_of(self.module)  # what maps a fed-back state (CODI's projector)


def load_folder(folder: Path, options: dict | None = None) -> ModelFolder:
    """Every file of a model folder checked and loaded; ``options`` override recipe options at test time."""
    from latentspace.train.recipes import get_recipe

    if not folder.is_dir():
        raise DamagedFile(f"model folder {folder} is missing")
    state, recipe = load_state(folder)
    if options:  # the caller's options: a bad one is the caller's error, not the file's
        recipe = get_recipe(state.recipe, **{**state.options, **options})
    causal_lm = load_causal_lm(folder)  # first: the tokenizer's loader reads config.json too, and would be blamed
    tokenizer = load_tokenizer(folder)
    rows = causal_lm.get_input_embeddings().num_embeddings
    if len(tokenizer) > rows:
        raise DamagedFile(f"tokenizer {folder / 'tokenizer.json'} has {len(tokenizer)} tokens, the model in {folder} "
                          f"{rows} (files of different runs)")
    module = recipe.module(causal_lm)
    recipe.load_extras(module, folder)
    # last: each file's own check names its fault first; this one sees whole files not saved together
    step_checkpoint.verify(folder, "its files were changed after training: retrain it or restore them")
    return ModelFolder(folder, state, recipe, tokenizer, causal_lm, module)
