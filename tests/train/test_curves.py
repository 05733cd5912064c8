"""Training curves: per-epoch values from the metrics log, sent to a tracker once, drawn for people."""

import pytest

from latentspace.train.checkpoint import MetricsLog
from latentspace.train.curves import epoch_curves, tracker_values
from tests.cli.test_cli import one_line_exit_2
from tests.steer.test_steer_cli import run  # noqa: F401 (the in-process CLI fixture)

ROWS = [{"kind": "step", "epoch": 0, "stage": 0, "step": 0, "loss": 3.0, "tokens_per_s": 1.0},
        {"kind": "step", "epoch": 0, "stage": 0, "step": 1, "loss": 1.0, "tokens_per_s": 1.0},
        {"kind": "epoch", "epoch": 0, "stage": 0, "seconds": 2.0, "tokens": 100, "processes": 1},
        {"kind": "step", "epoch": 1, "stage": 1, "step": 0, "loss": 0.5, "tokens_per_s": 1.0},
        {"kind": "epoch", "epoch": 1, "stage": 1, "seconds": 4.0, "tokens": 100, "processes": 1},
        {"kind": "eval", "split": "valid", "epoch": 1, "stage": 1, "accuracy": 0.75, "positions": 3.0}]


def test_epoch_curves_average_the_steps_and_take_the_validation_of_their_epoch():
    assert epoch_curves(ROWS) == [
        {"epoch": 0, "stage": 0, "loss": 2.0, "tokens_per_s": 50.0, "valid": None},
        {"epoch": 1, "stage": 1, "loss": 0.5, "tokens_per_s": 25.0, "valid": 0.75}]
    assert tracker_values(epoch_curves(ROWS)[0]) == {"train/loss": 2.0, "train/tokens_per_s": 50.0, "train/stage": 0}


def test_the_log_hands_each_flushed_row_to_the_hook_once_and_a_resume_resends_nothing(tmp_path):
    seen = []
    log = MetricsLog(tmp_path / "metrics.jsonl", True, on_flush=seen.append)
    for row in ROWS[:3]:
        log.write(**row)
    log.flush()
    log.flush()  # nothing new: no call
    for row in ROWS[3:]:
        log.write(**row)
    log.flush()
    assert seen == [ROWS[:3], ROWS[3:]]
    resumed = []
    MetricsLog(tmp_path / "metrics.jsonl", True, rows=ROWS, on_flush=resumed.append)
    assert resumed == []  # what a resumed run kept was sent by the run that wrote it


def test_a_run_logs_its_curves_to_tensorboard(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from latentspace.train.profiles import get_profile
    from latentspace.train.recipes import get_recipe
    from latentspace.train.run import TrainRun
    from latentspace.train.trainer import train

    profile = get_profile("smoke-mnns")
    train(TrainRun(get_recipe("cot", epochs=3), profile.task, profile, tmp_path / "run", log_with="tensorboard",
                   extra={"n_train": 32, "n_valid": 8, "n_test": 8}), progress=False)
    events = [p for p in (tmp_path / "run" / "logs").rglob("events.out.tfevents.*")]
    assert events
    scalars = EventAccumulator(str(events[0].parent)).Reload()
    losses = scalars.Scalars("train/loss")
    assert [e.step for e in losses] == [0, 1, 2] and all(e.value > 0 for e in losses)
    assert [e.step for e in scalars.Scalars("valid/accuracy")] == [0, 1, 2]  # smoke-mnns validates every epoch


def test_an_unknown_tracker_is_one_line(run, tmp_path):
    one_line_exit_2(run("train", "run", "cot", "--profile", "smoke-mnns", "--log-with", "wandb",
                        "--out", str(tmp_path / "r")), "--log-with")
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("suffix", [".png", ".svg"])
def test_plot_curves_draws_a_picture(tmp_path, suffix):
    from latentspace.train.curves import plot_curves

    path = plot_curves({"cot s0": ROWS, "cot s1": ROWS, "cot2 s0": ROWS[:3]}, tmp_path / f"c{suffix}", "title")
    assert path.stat().st_size > 1000
