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


def test_codi_pairs_a_teacher_cot_with_a_student_of_thoughts_and_finds_both_answer_marks():
    codi = get_recipe("codi", thoughts=3)
    mark = 99  # stands for "###", the answer's first token
    examples = [TokenizedExample(Q, [[20, 21], [22]], [mark, 30, 1]),
                TokenizedExample(Q + [12, 13], [[23]], [mark, 31, 32, 1])]
    pairs = [codi.sequence(ex, 0, M, random.Random(0)) for ex in examples]
    teacher, student, n = pairs[0]
    assert teacher.ids == Q + [20, 21, 22, mark, 30, 1] and teacher.n_latent == 0
    assert student.ids == Q + [3, 5, 5, 5, 4, mark, 30, 1] and n == 3
    assert student.labels == [IGNORE] * 7 + [mark, 30, 1]
    batch = codi.batch(pairs, pad_id=0, latent_id=5)
    rows = range(2)
    assert [int(batch.teacher.ids[r, batch.teacher_at[r]]) for r in rows] == [mark, mark]
    assert [int(batch.student.ids[r, batch.student_at[r]]) for r in rows] == [mark, mark]
    half = batch.shard([1])
    assert half.size == 1 and int(half.student.ids[0, half.student_at[0]]) == mark


def test_codi_distills_at_the_mark_through_the_projector():
    from latentspace.model.tiny import make_tiny

    model, _ = make_tiny("llama", initializer_range=0.3)
    codi = get_recipe("codi", thoughts=2)
    pairs = [codi.sequence(TokenizedExample(Q, [[20, 21], [22]], [99, 30, 2]), 0, M, random.Random(0))]
    batch = codi.batch(pairs, pad_id=0, latent_id=5)
    module = codi.module(model)
    parts = module(batch)
    assert set(parts) == {"student", "teacher", "distill"} and parts["distill"][1] == 1
    assert parts["distill"][0].item() > 0
    parts["distill"][0].backward()
    assert module.project[0].weight.grad.abs().sum() > 0  # the thoughts go through the projector
    # ... and the model's own weights learn from it (the teacher side is a fixed target)
    assert model.get_input_embeddings().weight.grad.abs().sum() > 0


def test_without_the_answer_marker_every_recipe_ends_on_the_bare_answer():
    marked = TokenizedExample(Q, [[20], [21]], [6, 30, 1], plain_answer=[30, 1])  # 6: `###`
    for name, options in (("nocot", {}), ("cot", {}), ("icot", {"smoothing_lambda": float("inf")}),
                          ("coconut", {"epochs_per_stage": 1, "max_stage": 2}), ("pause", {"max_stage": 2})):
        for epoch in (0, 3):
            with_mark = get_recipe(name, **options).sequence(marked, epoch, M, random.Random(0))
            plain = get_recipe(name, answer_marker=False, **options).sequence(marked, epoch, M, random.Random(0))
            assert with_mark.ids[-3:] == [6, 30, 1] and with_mark.labels[-3:] == [6, 30, 1], name
            assert plain.ids == with_mark.ids[:-3] + [30, 1] and plain.labels[-2:] == [30, 1], name
    # the answer is read where it was written: after the last `###`, or the text's last symbol
    assert get_recipe("cot", answer_marker=False).answer_in("4 -1 3 1") == "1"
    assert get_recipe("cot").answer_in("4 -1 3 1") is None and get_recipe("cot").answer_in("4 ### 1") == "1"
    assert get_recipe("nocot", answer_marker=False).answer_in("  ") is None


def test_coconut_without_latent_markers_puts_its_thoughts_right_after_the_question():
    # CoT2's authors' MNNS layout: question, the thoughts, the remaining steps — no start/end markers
    coconut = get_recipe("coconut", epochs_per_stage=1, max_stage=3, latent_markers=False)
    for epoch, kept in [(0, COT), (1, COT[3:]), (2, COT[5:]), (3, [])]:
        seq = coconut.sequence(EX, epoch, M, random.Random(0))
        assert seq.ids == Q + [M.latent] * epoch + kept + A and seq.n_latent == epoch
        assert seq.labels == [IGNORE] * (2 + epoch) + kept + A
    marked = get_recipe("coconut", epochs_per_stage=1, max_stage=3).sequence(EX, 2, M, random.Random(0))
    assert marked.ids[:6] == Q + [M.start, M.latent, M.latent, M.end]
    assert not coconut.curriculum().markers  # so evaluation opens no marker either
