"""The frontier analysis of continuous thoughts."""

import pytest

from latentspace import LatentModel, LatentspaceError
from latentspace.tasks import Item, load_jsonl
from latentspace.tasks.graphs import node_depths
from latentspace.train.profiles import get_profile
from latentspace.train.recipes import get_recipe
from latentspace.train.run import TrainRun
from latentspace.train.studies.analysis import GROUPS, frontier_mass
from latentspace.train.trainer import train


def test_node_depths_are_shortest_distances_from_the_root():
    edges = [(0, 2), (2, 3), (0, 3), (3, 4), (1, 5)]
    assert node_depths(6, edges, 0) == [0, None, 1, 1, 2, None]


def test_frontier_mass_splits_the_lens_mass_over_graph_nodes(tmp_path):
    recipe = get_recipe("coconut", epochs=2, epochs_per_stage=1, max_stage=2)
    train(TrainRun(recipe, "prosqa", get_profile("smoke"), tmp_path,
                   extra={"n_train": 8, "batch_size": 4, "n_valid": 2, "n_test": 3}), progress=False)
    lm = LatentModel.load(str(tmp_path / "checkpoint"), show_progress=False)
    items = load_jsonl(tmp_path / "data" / "test.jsonl")
    result = frontier_mass(lm, items, thoughts=3)
    assert result.items == 3 and len(result.per_thought) == 3
    for row in result.per_thought:
        assert set(row) == set(GROUPS) and all(0 <= v <= 1 for v in row.values()) and sum(row.values()) <= 1 + 1e-6
    with pytest.raises(LatentspaceError, match="needs ProsQA items with their graph"):
        frontier_mass(lm, [Item("Is Tom a wumpus?", "yes")], thoughts=1)
    # the command: a table, a plot, JSON
    import json
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "latentspace.cli.app", "train", "inspect", str(tmp_path), "--n", "2",
                          "--json"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["items"] == 2 and len(data["per_thought"]) == 2 and (tmp_path / "frontier.png").exists()
