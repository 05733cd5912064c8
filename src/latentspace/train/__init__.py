"""Train models to reason in latent space: data, tokenizers, curricula, the latent forward pass.

Recipes (Coconut, CoT2, pause-as-thought, iCoT, CODI, CoT, No-CoT) share the pieces here; the task
generators are those of `latentspace.tasks` (designed once, used by evaluation and training).
The headline: `latentspace train table --profile laptop-mnns` (CoT2's MNNS setting on a CPU).
This package is the engine that trains; the studies of finished runs (tables, analyses, evaluation,
audit subjects) are in `train.studies`, which the engine never imports.
"""

from latentspace.train.data import TokenizedExample, encode_examples, split_items
from latentspace.train.sequences import Batch, CurriculumConfig, LatentSequence, build_sequence, collate
from latentspace.train.vocab import symbol_tokenizer, word_tokenizer

__all__ = [
    "Batch", "CurriculumConfig", "LatentSequence", "TokenizedExample", "build_sequence", "collate",
    "encode_examples", "split_items", "symbol_tokenizer", "word_tokenizer",
]
