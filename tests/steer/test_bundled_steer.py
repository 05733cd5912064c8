"""Integration on the bundled SmolLM2: the built-in sentiment vector moves VADER both ways."""

import pytest

from latentspace.steer import load_pairs, train_vector
from latentspace.steer.evaluate import sweep
from latentspace.steer.scorers import vader

pytestmark = pytest.mark.bundled


def test_builtin_sentiment_vector_raises_and_lowers_vader(smollm2):
    vec = train_vector(smollm2, load_pairs("sentiment"), method="mean_diff", layers=range(8, 22))
    points = sweep(smollm2, vec, [-0.3, 0.3], vader(), max_new_tokens=32)
    base, down, up = (p.effect for p in points)
    assert up > base, (base, up)
    assert down < base, (base, down)
    assert down < 0 < up  # not just a nudge: the sign of the mood flips
