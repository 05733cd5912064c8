"""Stage-k sequences are exact: tokens, loss masks and thought slots."""

import pytest
import torch

from latentspace.train.data import TokenizedExample
from latentspace.train.sequences import IGNORE, CurriculumConfig, MarkerIds, build_sequence, collate

Q, S1, S2, S3, A = [10, 11, 12], [20, 21], [22], [23, 24, 25], [30, 1]
EX = TokenizedExample(Q, [S1, S2, S3], A)
M = MarkerIds(start=3, latent=5, end=4)
START, LAT, END = 3, 5, 4


def _seq(stage, **config):
    return build_sequence(EX, stage, CurriculumConfig(**{"max_stage": 2, **config}), M)


@pytest.mark.parametrize("stage,ids,n_latent", [
    (0, Q + [START, END] + S1 + S2 + S3 + A, 0),  # plain CoT with an empty thought block
    (1, Q + [START, LAT, END] + S2 + S3 + A, 1),
    (2, Q + [START, LAT, LAT, END] + S3 + A, 2),  # the max stage still keeps the last step
    (3, Q + [START, LAT, LAT, END] + A, 2),  # beyond it: every step removed, max_stage thoughts
    (9, Q + [START, LAT, LAT, END] + A, 2),
])
def test_stage_k_tokens_and_loss_mask(stage, ids, n_latent):
    seq = _seq(stage)
    assert seq.ids == ids and seq.n_latent == n_latent
    prefix = len(Q) + n_latent + 2
    assert seq.labels == [IGNORE] * prefix + ids[prefix:]  # loss only after the thoughts


def test_thoughts_per_step_markers_off_and_padding_to_max():
    assert _seq(1, thoughts_per_step=2).ids == Q + [START, LAT, LAT, END] + S2 + S3 + A
    plain = _seq(1, markers=False)
    assert plain.ids == Q + [LAT] + S2 + S3 + A and plain.labels[:4] == [IGNORE] * 4
    short = TokenizedExample(Q, [S1], A)  # one step, max stage 2
    config = CurriculumConfig(max_stage=2)
    assert build_sequence(short, 5, config, M).n_latent == 1
    config.pad_latent_to_max = True
    assert build_sequence(short, 5, config, M).ids == Q + [START, LAT, LAT, END] + A


def test_collate_aligns_the_first_thought_and_keeps_positions_per_row():
    long_q = TokenizedExample(Q + [13, 14], [S1, S2], A)
    config = CurriculumConfig(max_stage=2)
    rows = [build_sequence(EX, 1, config, M), build_sequence(long_q, 2, config, M),
            build_sequence(EX, 0, config, M)]
    batch = collate(rows, pad_id=0, latent_id=LAT)
    first = [int(r.nonzero()[0]) if r.any() else None for r in batch.latent]
    assert first[0] == first[1] == len(Q) + 2 + 1  # the longer question's slot; the other is shifted
    assert first[2] is None
    assert batch.ids[0, :2].tolist() == [0, 0] and batch.attention_mask[0, :2].tolist() == [0, 0]
    assert batch.position_ids[0, 2:2 + len(rows[0].ids)].tolist() == list(range(len(rows[0].ids)))
    for row, seq in enumerate(rows):  # each row's real tokens and labels are intact, in order
        real = batch.attention_mask[row].bool()
        assert batch.ids[row][real].tolist() == seq.ids and batch.labels[row][real].tolist() == seq.labels
        assert (batch.labels[row][~real] == IGNORE).all()
    assert batch.latent.sum(1).tolist() == [1, 2, 0]
    assert torch.equal(batch.latent, batch.ids == LAT)
