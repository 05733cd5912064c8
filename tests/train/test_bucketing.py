"""Length bucketing: the same items per epoch in batches of similar length, the loss over them unchanged."""

import random

import pytest
import torch

from latentspace.errors import LatentspaceError
from latentspace.train.latent_forward import LatentLM
from latentspace.train.profiles import get_profile
from latentspace.train.recipes import get_recipe
from latentspace.train.run import TrainRun, check_settings
from latentspace.train.rundata import by_length, epoch_batches, prepare_data, prepare_tokenizer
from latentspace.train.data import encode_examples
from latentspace.train.models import from_scratch
from latentspace.train.sequences import LatentSequence, MarkerIds


def _seq(n):
    return LatentSequence(list(range(1, n + 1)), [-100] * n, 0)


def test_a_window_sorts_by_length_before_cutting_a_hand_checked_example():
    sequences = [_seq(n) for n in (5, 1, 4, 2, 3, 6, 7)]
    groups = by_length(sequences, size=2, window=3, rng=random.Random(0))
    # window of 3 batches = 6 items: [1 2] [3 4] [5 6]; the 7th alone; then the batches are shuffled
    assert sorted(tuple(len(s.ids) for s in g) for g in groups) == [(1, 2), (3, 4), (5, 6), (7,)]
    assert sorted(len(s.ids) for g in groups for s in g) == [1, 2, 3, 4, 5, 6, 7]  # each item once


def test_window_one_keeps_the_batches_as_drawn_and_draws_nothing():
    sequences = [_seq(n) for n in (5, 1, 4, 2, 3)]
    rng = random.Random(3)
    groups = by_length(sequences, size=2, window=1, rng=rng)
    assert [[len(s.ids) for s in g] for g in groups] == [[5, 1], [4, 2], [3]]
    assert rng.random() == random.Random(3).random()  # no randomness consumed: old runs replay exactly


class _Solo:
    is_main_process, num_processes = True, 1

    def wait_for_everyone(self):
        pass


def _epoch(tmp_path, bucket):
    profile = get_profile("smoke-prosqa")
    run = TrainRun(get_recipe("cot", epochs=1), profile.task, profile, tmp_path,
                   extra={"n_train": 40, "batch_size": 8, "n_valid": 2, "n_test": 2, "bucket": bucket})
    splits = prepare_data(run, _Solo())
    tok, _ = prepare_tokenizer(run, splits, _Solo())
    markers = MarkerIds(*tok.convert_tokens_to_ids(["<|start-latent|>", "<|latent|>", "<|end-latent|>"]))
    return profile, tok, epoch_batches(run, encode_examples(tok, splits["train"]), 0, markers, tok)


def _rows(batch):
    return sorted(tuple(r[m.bool()].tolist()) for r, m in zip(batch.ids, batch.attention_mask))


def test_bucketed_epochs_hold_the_same_items_less_padding_and_the_same_summed_loss(tmp_path):
    profile, tok, plain = _epoch(tmp_path / "plain", 1)
    _, _, bucketed = _epoch(tmp_path / "bucketed", 5)
    assert [b.ids.shape[0] for b in plain] == [b.ids.shape[0] for b in bucketed] == [8] * 5
    assert sorted(r for b in plain for r in _rows(b)) == sorted(r for b in bucketed for r in _rows(b))
    cells = lambda batches: sum(b.ids.numel() for b in batches)  # noqa: E731
    assert cells(bucketed) < cells(plain)  # the point of it
    # the loss the trainer normalises: summed over labelled tokens, then divided by their count
    model = LatentLM(from_scratch(profile, tok, seed=0).eval())
    with torch.no_grad():
        totals = [[model(b, parts=True)["ce"] for b in batches] for batches in (plain, bucketed)]
    (loss_a, n_a), (loss_b, n_b) = ((sum(float(v) for v, _ in t), sum(n for _, n in t)) for t in totals)
    assert n_a == n_b and loss_a / n_a == pytest.approx(loss_b / n_b, rel=1e-5)


@pytest.mark.parametrize("value", [0, -3])
def test_a_bucket_below_one_is_refused_in_one_line(value):
    with pytest.raises(LatentspaceError, match="bucket") as err:
        check_settings({"bucket": value})
    assert "\n" not in str(err.value)
