"""The FrozenLake VSP simulator (issue 41): labels from a step-by-step walk, balanced, seeded, OOD apart."""

from collections import Counter

import pytest
import torch

from latentspace.core.errors import LatentspaceError
from latentspace.tasks import vsp

MAP = ["SFH",
       "FHF",
       "FFG"]


@pytest.mark.parametrize("plan, answer, cells", [
    ("R R", "B", [(0, 1), (0, 2)]),            # falls into the hole at (0, 2)
    ("D D R R", "A", [(1, 0), (2, 0), (2, 1), (2, 2)]),
    ("U L", "C", [(0, 0), (0, 0)]),            # into the edge: stays on the start
    ("R D R R", "B", [(0, 1), (1, 1)]),        # falls at move 2: the later moves are never walked
    ("D D R R U U", "A", [(1, 0), (2, 0), (2, 1), (2, 2)]),  # the walk ends on the goal
    ("D R", "B", [(1, 0), (1, 1)]),
    ("D", "C", [(1, 0)]),
])
def test_a_plan_is_labelled_by_walking_it(plan, answer, cells):
    assert vsp.walk(MAP, plan) == (answer, cells)
    made = vsp.item(MAP, plan)
    moves = len(plan.split())
    assert made.answer == answer and made.meta["walked"] == len(cells)
    assert len(made.steps) == moves and made.meta["cells"] == [list(c) for c in cells] + [list(cells[-1])] * (moves - len(cells))
    assert made.steps[-1].split()[-1] == {"A": "goal", "B": "hole", "C": "safe"}[answer]


def test_generated_labels_match_an_independent_walk_and_the_last_cell_alone_does_not_decide():
    items = vsp.generate(600, seed=3)
    decided_early = 0
    for found in items:
        rows, at, answer = found.meta["map"], vsp.find(found.meta["map"], "S"), "C"
        for move in found.question.split():
            dr, dc = {"U": (-1, 0), "D": (1, 0), "L": (0, -1), "R": (0, 1)}[move]
            at = (min(max(at[0] + dr, 0), len(rows) - 1), min(max(at[1] + dc, 0), len(rows) - 1))
            if answer == "C" and rows[at[0]][at[1]] in "GH":
                answer = "A" if rows[at[0]][at[1]] == "G" else "B"
        assert found.answer == answer
        ended = {"A": "G", "B": "H", "C": None}[found.answer]
        decided_early += ended is not None and rows[at[0]][at[1]] != ended  # the plan's endpoint says otherwise
    assert decided_early > len(items) / 10


def test_classes_are_balanced_seeds_repeat_and_maps_are_solvable():
    items = vsp.generate(300, seed=0)
    assert Counter(i.answer for i in items) == {"A": 100, "B": 100, "C": 100}
    assert [i.to_dict() for i in items] == [i.to_dict() for i in vsp.generate(300, seed=0)]
    assert [i.question for i in items] != [i.question for i in vsp.generate(300, seed=1)]
    assert all(vsp.reachable(i.meta["map"]) for i in items)


def test_the_ood_split_never_appears_in_training():
    train, ood = vsp.generate(600, seed=0), vsp.generate(300, seed=0, ood=True)
    assert not any(vsp.is_ood(i) for i in train)
    assert all(vsp.is_ood(i) for i in ood)
    assert {i.meta["size"] for i in ood} >= {6} and {i.meta["length"] for i in ood} >= {8}
    assert Counter(i.answer for i in ood) == {"A": 100, "B": 100, "C": 100}


def test_an_intermediate_picture_differs_from_the_start_only_in_the_agents_cells():
    found = vsp.item(MAP, "D D R")
    pictures = vsp.states(found)
    assert pictures.shape == (4, 3, vsp.IMAGE, vsp.IMAGE)
    changed = (pictures[3] != pictures[0]).any(0).nonzero()
    cells = {(int(y) // vsp.PIXELS, int(x) // vsp.PIXELS) for y, x in changed}
    assert cells == {(0, 0), (2, 1)}  # the start cell loses the agent, (2, 1) gains it
    assert torch.equal(vsp.render(MAP), pictures[0])
    assert pictures[:, :, 3 * vsp.PIXELS:, :].abs().sum() == 0  # padding below a 3×3 map stays black


@pytest.mark.parametrize("rows, plan, message", [
    (["SF", "FF"], "R", "one start and one goal"),
    (["SG", "FX"], "R", "unknown map cells"),
    (["SGF", "FF"], "R", "square"),
    (MAP, "R X", "a plan is one or more of"),
    (MAP, "", "a plan is one or more of"),
])
def test_bad_maps_and_plans_are_one_line(rows, plan, message):
    with pytest.raises(LatentspaceError, match=message):
        vsp.item(rows, plan)


def test_bad_images_are_one_line():
    vsp.check_image(vsp.render(MAP))
    for bad, message in ((torch.zeros(1, 32, 32), "RGB"), (torch.zeros(3, 28, 28), "RGB"),
                         (torch.full((3, 32, 32), float("nan")), "NaN")):
        with pytest.raises(LatentspaceError, match=message):
            vsp.check_image(bad)
    with pytest.raises(LatentspaceError, match="off the"):
        vsp.render(MAP, (3, 0))
