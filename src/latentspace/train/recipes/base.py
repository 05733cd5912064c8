"""Recipe: what a training run feeds the model at each epoch, and how it is asked at test time.

A recipe is a dataclass of its own settings (documented fields, overridable from the CLI). It
maps an epoch to a curriculum stage, an example and a stage to a training sequence, and an
example and a stage to the number of thoughts it gets at evaluation. The trainer does the rest.
"""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, TYPE_CHECKING

from latentspace.core.named import between, make_named
from latentspace.train.data import TokenizedExample, answer_of
from latentspace.train.sequences import CurriculumConfig, LatentSequence, MarkerIds, build_sequence

if TYPE_CHECKING:  # the type only: no import at run time
    from latentspace.model.latent_model import LatentModel

RECIPES: dict[str, type[Recipe]] = {}


def register(cls: type[Recipe]) -> type[Recipe]:
    RECIPES[cls.name] = cls
    return cls


def get_recipe(name: str, **options) -> Recipe:
    return make_named(RECIPES, name, "recipe", options)


@dataclass
class Recipe:
    epochs: int = 10  # total training epochs
    # `### answer` after the steps or thoughts (Coconut's layout); False: the answer right after them, as
    # CoT2's authors lay out MNNS (symbolic tasks: the answer is then the text's last symbol)
    answer_marker: bool = True
    name: ClassVar[str] = "base"
    # every numeric option's allowed values, merged along the class hierarchy (`named.declared`);
    # `--set`, --config and the Python API are all checked against these
    RANGES: ClassVar[dict] = {"epochs": between(1, 100_000)}
    needs_steps: ClassVar[bool] = False  # the data must have reasoning steps
    feedback: ClassVar[bool] = True  # thought slots hold fed-back hidden states (else the token's embedding)
    mixes_tokens: ClassVar[bool] = False  # a thought is a softmax mix of token embeddings (samplers get its logits)
    needs_targets: ClassVar[bool] = False  # the data must carry CoT2 target sets (meta traces / frontier)
    needs_states: ClassVar[bool] = False  # the data must carry each step's picture (the visual recipe's targets)
    reads_pictures: ClassVar[bool] = True  # its module reads a picture task's images (`picture_parts`)

    def curriculum(self) -> CurriculumConfig:
        return CurriculumConfig(max_stage=0, markers=False)

    def stage(self, epoch: int) -> int:
        """The curriculum stage trained at ``epoch`` (0-based)."""
        return 0

    def sequence(self, example: TokenizedExample, epoch: int, markers: MarkerIds,
                 rng: random.Random) -> LatentSequence:
        return build_sequence(example, self.stage(epoch), self.curriculum(), markers, self.answer_tokens(example))

    def answer_tokens(self, example: TokenizedExample) -> list[int]:
        """What the sequence ends with: ``### answer <eos>``, or without the marker ``answer <eos>``."""
        return example.answer if self.answer_marker else example.plain_answer

    def resets_optimizer(self) -> bool:
        """Whether the trainer re-creates the optimizer when the stage changes (Coconut's rule)."""
        return True

    def thoughts_at(self, example: TokenizedExample, stage: int) -> int:
        """Thought slots the model gets after the question at evaluation (Coconut's rule)."""
        config = self.curriculum()
        most = config.max_stage if config.pad_latent_to_max else min(config.max_stage, len(example.steps))
        return min(most, stage) * config.thoughts_per_step

    def thought_inputs(self, lm: LatentModel, state, latent_id: int, project=None, generator=None):
        """A thought's input at test time: the fed-back state (through ``project``, CODI's projector),
        or for recipes without feedback the trained ``<|latent|>`` embedding."""
        if not self.feedback:
            return lm.input_embeddings[latent_id]
        if project is None:
            return state.hidden
        import torch

        with torch.no_grad():
            return project(state.hidden)

    def answer_in(self, text: str) -> str | None:
        """The answer in the text generated after the thoughts: what follows the last ``###`` — or,
        trained without the marker, the text's last symbol (None when there is none)."""
        if self.answer_marker:
            return answer_of(text)
        return text.split()[-1] if text.split() else None

    def stages(self) -> list[int]:
        """The distinct stages of a run, in order (evaluation happens at the end of each)."""
        out: list[int] = []
        for epoch in range(self.epochs):
            if not out or out[-1] != self.stage(epoch):
                out.append(self.stage(epoch))
        return out

    def options(self) -> dict:
        return dataclasses.asdict(self)

    # -- what the trainer builds from the recipe (CODI overrides all three) ----------------------
    def module(self, causal_lm):
        """The module trained: its forward(batch, parts=True) gives {part: (summed loss, count)}."""
        from latentspace.train.latent_forward import LatentLM, picture_parts

        return LatentLM(causal_lm, feedback=self.feedback, **picture_parts(causal_lm))

    def loss_weights(self) -> dict[str, float]:
        return {"ce": 1.0}

    def prepare(self, module, examples: list) -> None:
        """Fit what the module needs from the training examples before a fresh run's first epoch (the visual
        recipe's frozen target encoder); a resumed run loads it from its extras instead. Default: nothing."""
        return None

    def batch(self, sequences: list, pad_id: int, latent_id: int):
        from latentspace.train.sequences import collate

        return collate(sequences, pad_id, latent_id)

    # -- the module's state beyond its HF model (CODI's projector): the engine asks only these ----
    def save_extras(self, module, folder: Path) -> None:
        """Write the module's own parameters (those outside its HF model) into ``folder``, if it has any."""
        from latentspace.train.extras import save_extras

        save_extras(module, folder)

    def load_extras(self, module, folder: Path) -> None:
        """Load them back into ``module``: exactly its own parameters, all finite, or one line naming the file."""
        from latentspace.train.extras import load_extras

        load_extras(module, folder)

    def projector_of(self, module):
        """What maps a fed-back state to the next thought's input at test time (None: the state itself)."""
        return None
