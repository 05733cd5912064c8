"""The training engine and the studies of finished runs stay apart (issue 37): the engine (`train/`)
never imports `train.studies`, and only what really trains a run imports the trainer."""

from tests.test_layering import SRC, imports_of

TRAIN = SRC / "train"
STUDIES = TRAIN / "studies"
RUNS_TRAINING = {"table.py"}  # the table trains the runs it lacks


def test_the_engine_never_imports_the_studies():
    for path in TRAIN.rglob("*.py"):
        if STUDIES in path.parents:
            continue
        upward = [(name, line) for name, line in imports_of(path) if name.startswith("latentspace.train.studies")]
        assert not upward, f"{path.relative_to(SRC)}:{upward[0][1]} imports {upward[0][0]}"


def test_only_what_trains_a_run_imports_the_trainer():
    for path in TRAIN.rglob("*.py"):
        if path.name == "trainer.py":
            continue
        uses = [line for name, line in imports_of(path) if name == "latentspace.train.trainer"]
        assert not uses or path.name in RUNS_TRAINING, f"{path.relative_to(SRC)}:{uses[0]} imports the trainer"
