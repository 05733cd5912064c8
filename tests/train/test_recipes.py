"""Recipe schedules: which sequence each epoch trains on."""

import random

from latentspace.train.data import TokenizedExample
from latentspace.train.recipes import get_recipe
from latentspace.train.recipes.icot import smoothing_offset
from latentspace.train.sequences import IGNORE, MarkerIds

Q, A = [10, 11], [30, 1]
EX = TokenizedExample(Q, [[20, 21, 22], [23, 24], [25, 26, 27, 28]], A)
COT = [20, 21, 22, 23, 24, 25, 26, 27, 28]
M = MarkerIds(3, 5, 4)


def test_icot_removes_cot_tokens_from_the_left_epoch_by_epoch():
    icot = get_recipe("icot", remove_per_epoch=4, smoothing_lambda=float("inf"))
    for epoch, kept in [(0, COT), (1, COT[4:]), (2, COT[8:]), (3, [])]:
        seq = icot.sequence(EX, epoch, M, random.Random(0))
        assert seq.ids == Q + kept + A and seq.labels == [IGNORE] * 2 + kept + A and seq.n_latent == 0
    assert [icot.stage(e) for e in range(3)] == [0, 4, 8]  # a new stage (optimizer reset) every epoch
    assert icot.thoughts_at(EX, 8) == 0


def test_icot_smoothing_offset_follows_its_exponential_law():
    rng = random.Random(0)
    draws = [smoothing_offset(rng, 1.0) for _ in range(20000)]
    for k in (1, 2, 3):  # P(o >= k) = exp(-k)
        assert abs(sum(d >= k for d in draws) / len(draws) - 2.718281828 ** -k) < 0.01
    icot = get_recipe("icot", remove_per_epoch=2, smoothing_lambda=0.5)
    lengths = {len(icot.sequence(EX, 1, M, random.Random(seed)).ids) for seed in range(50)}
    assert max(lengths) == len(Q) + len(COT) - 2 + len(A) and len(lengths) > 1  # sometimes more removed


def test_coconut_schedule_and_evaluation_thoughts():
    coconut = get_recipe("coconut", epochs=8, epochs_per_stage=2, max_stage=2, thoughts_per_step=2)
    assert [coconut.stage(e) for e in range(8)] == [0, 0, 1, 1, 2, 2, 3, 3] and coconut.stages() == [0, 1, 2, 3]
    assert [coconut.thoughts_at(EX, s) for s in range(4)] == [0, 2, 4, 4]
    short = TokenizedExample(Q, [[20]], A)
    assert coconut.thoughts_at(short, 3) == 2  # never more thoughts than the item had steps
    assert get_recipe("pause").feedback is False and get_recipe("coconut").feedback is True
