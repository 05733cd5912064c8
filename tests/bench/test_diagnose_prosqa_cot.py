"""`benchmarks/diagnose_prosqa_cot.py`: does a CoT model on symbolic ProsQA follow the graph's edges?"""

import importlib.util
import json
from pathlib import Path

from latentspace.train.profiles import get_profile
from latentspace.train.recipes import get_recipe
from latentspace.train.run import TrainRun
from latentspace.train.trainer import train

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "diagnose_prosqa_cot.py"
spec = importlib.util.spec_from_file_location("diagnose_prosqa_cot", SCRIPT)
diagnose = importlib.util.module_from_spec(spec)
spec.loader.exec_module(diagnose)

# root 0 -> 1 -> 3 (target), 0 -> 2 -> 4 (the other candidate)
META = {"names": ["n0", "n1", "n2", "n3", "n4"], "edge_list": [[0, 1], [1, 3], [0, 2], [2, 4]],
        "root": 0, "target": 3, "neg_target": 4}


def test_paths_are_checked_edge_by_edge():
    assert diagnose.path_check(META, "n1 n3 ### n3") == {"valid": True, "first_off": None, "ends_at_candidate": True}
    assert diagnose.path_check(META, "n2 n4 ### n4") == {"valid": True, "first_off": None, "ends_at_candidate": True}
    assert diagnose.path_check(META, "n3 ### n3") == {"valid": False, "first_off": 0, "ends_at_candidate": True}
    assert diagnose.path_check(META, "n1 n4 ### n4") == {"valid": False, "first_off": 1, "ends_at_candidate": True}
    assert diagnose.path_check(META, "n1 ### n1")["ends_at_candidate"] is False
    assert diagnose.path_check(META, "### n3") == {"valid": False, "first_off": None, "ends_at_candidate": False}


def test_reachable_nodes_follow_the_edges_from_the_root():
    assert diagnose.reachable_from(META) == {"n0", "n1", "n2", "n3", "n4"}
    one_way = {**META, "root": 2}
    assert diagnose.reachable_from(one_way) == {"n2", "n4"}


def test_a_cot_run_in_progress_is_read(tmp_path, capsys):
    run = tmp_path / "cot"
    train(TrainRun(get_recipe("cot", epochs=1), "prosqa-sym", get_profile("smoke-prosqa"), run,
                   extra={"n_train": 8, "batch_size": 4, "n_valid": 2, "n_test": 4}), progress=False)
    assert diagnose.main([str(run), "--n", "4", "--weights", "checkpoint"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["n"] == 4 and 0 <= out["valid_paths"] <= 1
    for step in out["steps"].values():  # the gold node is one of the current node's children
        assert step["children"] >= 1 and step["mass_on_children"] >= step["mass_on_gold"] - 1e-6
        # where the mass goes: children, then the rest of the graph split four ways, then non-node tokens
        parts = ["children", "candidates_not_children", "depth_not_children", "other_reachable", "unreachable",
                 "not_a_node"]
        assert abs(sum(step[f"mass_on_{k}"] for k in parts) - 1) < 1e-4
        assert all(step[f"mass_on_{k}"] >= -1e-6 for k in parts)


def test_a_missing_run_is_one_line_and_exit_2(tmp_path, capsys):
    for weights in ("selected", "best"):
        assert diagnose.cli([str(tmp_path / "none"), "--weights", weights]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and err.count("\n") == 1
