"""Pictures for latent visual reasoning (issue 41): the patch encoder a tiny vision-language model reads
an image with, and the frozen encoder whose embeddings of intermediate states supervise latent visual
thoughts (Mirage's targets).

    tokens = PatchEncoder(width=64)(images)          # [B, 3, 32, 32] -> [B, 16, 64] input embeddings
    embeds = fill_pictures(embeds, ids, picture_id, tokens)   # into the PICTURE placeholders
    target = fit_target_encoder(state_images)          # a small autoencoder, then frozen
    goals = target.embed(images)                       # [B, k, d]: what a thought slot is pulled towards

A layer of its own above `model` and `tasks`: `train` builds on it, and it knows no language model.
"""

from latentspace.vision.patches import PatchEncoder
from latentspace.vision.prefix import PICTURE, fill_pictures
from latentspace.vision.target import TargetEncoder, fit_target_encoder

__all__ = ["PICTURE", "PatchEncoder", "TargetEncoder", "fill_pictures", "fit_target_encoder"]
