"""Observe and explain the latent space: logit/tuned lens, latent decoding, probes, latent maps."""

from latentspace.lens.logit_lens import LensReading, logit_lens
from latentspace.lens.tuned_lens import TunedLens
from latentspace.lens.tuned_train import TunedLensConfig, sample_text, train_tuned_lens

__all__ = ["LensReading", "TunedLens", "TunedLensConfig", "logit_lens", "sample_text", "train_tuned_lens"]
