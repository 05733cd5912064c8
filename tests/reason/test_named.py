"""Options by name: wrong types are refused in one line, before a strategy runs on them."""

import math

import pytest

from latentspace.errors import LatentspaceError
from latentspace.reason import get_reasoner


@pytest.mark.parametrize("name, options, needle", [
    ("soft", {"top_k": "ten"}, "whole number"),
    ("soft", {"top_k": 2.5}, "whole number"),
    ("soft", {"top_p": math.nan}, "must be a number"),
    ("soft", {"chat": "yes"}, "true or false"),
    ("soft", {"instruction": 3}, "text"),
    ("pause", {"embedding": 1}, "tensor"),
    ("direct", {"answer_stops": [1, 2]}, "list of text"),
])
def test_wrong_types_are_refused(name, options, needle):
    with pytest.raises(LatentspaceError, match=needle):
        get_reasoner(name, **options)


def test_right_types_pass_and_inf_means_no_limit():
    assert get_reasoner("soft", top_k=3, top_p=0.5, early_stop=None).top_k == 3
    assert get_reasoner("direct", max_norm_ratio=math.inf, answer_stops="END").answer_stops == "END"
    assert get_reasoner("soft", top_p=1).top_p == 1  # an int where a float is asked is fine
