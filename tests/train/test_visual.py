"""The visual recipe (issue 41): Mirage's two stages on vsp, its pause control, and the oracle equivalence."""

import random

import pytest
import torch

from latentspace import LatentspaceError
from latentspace.model.markers import END_LATENT, LATENT, START_LATENT
from latentspace.tasks import get_task
from latentspace.train.data import encode_examples, picture_options
from latentspace.train.evaluate import evaluate
from latentspace.train.latent_forward import LatentLM, latent_columns
from latentspace.train.models import from_scratch
from latentspace.train.profiles import get_profile
from latentspace.train.recipes import get_recipe
from latentspace.train.run import TrainRun
from latentspace.train.sequences import MarkerIds, collate
from latentspace.train.trainer import train
from latentspace.train.vocab import symbol_tokenizer
from latentspace.vision.prefix import PICTURE


@pytest.fixture(scope="module")
def setting():
    spec = get_task("vsp")
    items = spec.generate(6, seed=3)
    texts = [t for i in items for t in (i.question, i.answer, *i.steps)]
    tokenizer = symbol_tokenizer(texts, extra=(*spec.vocabulary, PICTURE))
    examples = encode_examples(tokenizer, items, need_steps=True, **picture_options("vsp", need_states=True))
    markers = MarkerIds(*tokenizer.convert_tokens_to_ids([START_LATENT, LATENT, END_LATENT]))
    return items, tokenizer, examples, markers


def model_for(tokenizer, seed=0):
    return from_scratch(get_profile("smoke-vsp"), tokenizer, seed=seed)


def test_teacher_and_feedback_stages_run_the_same_positions(setting):
    items, tokenizer, examples, markers = setting
    recipe = get_recipe("visual", epochs=4, teacher_epochs=2)
    rng = random.Random(0)
    for example in examples:
        teacher, feedback = recipe.sequence(example, 0, markers, rng), recipe.sequence(example, 3, markers, rng)
        assert teacher.ids == feedback.ids and teacher.labels == feedback.labels
        assert teacher.n_latent == 4 * len(example.steps) == recipe.thoughts_at(example, 1)
        assert teacher.states is not None and feedback.states is None  # only stage 1 feeds the targets


def test_without_slots_the_visual_layout_is_the_direct_answer_one(setting):
    items, tokenizer, examples, markers = setting
    bare = get_recipe("visual", slots=0, latent_markers=False)
    direct = get_recipe("nocot")
    rng = random.Random(0)
    model = model_for(tokenizer)
    for example in examples:
        a, b = bare.sequence(example, 9, markers, rng), direct.sequence(example, 0, markers, rng)
        assert a.ids == b.ids and a.labels == b.labels and a.n_latent == 0
    batch = collate([bare.sequence(ex, 9, markers, rng) for ex in examples], tokenizer.pad_token_id, markers.latent)
    ours, theirs = bare.module(model), direct.module(model)
    theirs.pictures.load_state_dict(ours.pictures.state_dict())
    assert torch.allclose(ours(batch)[0], theirs(batch)[0])


def test_slots_are_four_per_step_or_none():
    with pytest.raises(LatentspaceError, match="slots is 4"):
        get_recipe("visual", slots=3)


def teacher_batch(setting, recipe, module):
    items, tokenizer, examples, markers = setting
    sequences = [recipe.sequence(ex, 0, markers, random.Random(0)) for ex in examples]
    return collate(sequences, tokenizer.pad_token_id, markers.latent)


def test_targets_are_the_frozen_encoders_codes_and_no_gradient_reaches_it(setting):
    items, tokenizer, examples, markers = setting
    recipe = get_recipe("visual", target_steps=5)
    module = recipe.module(model_for(tokenizer))
    recipe.prepare(module, examples)
    before = {k: v.clone() for k, v in module.target.state_dict().items()}
    batch = teacher_batch(setting, recipe, module)
    goals = module.goals(batch.states, batch.images)
    first = examples[0]
    codes = module.target.embed(torch.as_tensor(first.states))  # [steps, K, dim]
    expected = module.project(codes.reshape(-1, codes.shape[-1]) @ module.lift)
    assert torch.allclose(goals[0, :len(expected)], expected, atol=1e-6)
    parts = module(batch, parts=True)
    assert set(parts) == {"ce_stage1", "cos"} and parts["cos"][1] == int(batch.latent.sum())
    (parts["cos"][0] + parts["ce_stage1"][0]).backward()
    assert all(p.grad is None and not p.requires_grad for p in module.target.parameters())
    assert module.pictures.cells.weight.grad is not None  # the patch encoder trains with the model
    torch.optim.SGD([p for p in module.parameters() if p.requires_grad], lr=1.0).step()
    assert all(torch.equal(before[k], v) for k, v in module.target.state_dict().items())


def test_the_state_before_each_slot_is_pulled_by_cosine(setting):
    items, tokenizer, examples, markers = setting
    recipe = get_recipe("visual", target_steps=5)
    module = recipe.module(model_for(tokenizer))
    recipe.prepare(module, examples)
    batch = teacher_batch(setting, recipe, module)
    optimizer = torch.optim.Adam([p for p in module.parameters() if p.requires_grad], lr=3e-3)
    first = None
    for _ in range(30):
        cos, count = module(batch, parts=True)["cos"]
        loss = cos / count
        first = float(loss.detach()) if first is None else first
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert float(loss.detach()) < 0.5 * first


def test_oracle_thoughts_equal_teacher_forcing(setting):
    # feeding each item's target embeddings as its thoughts at test time reproduces the teacher-forced pass
    items, tokenizer, examples, markers = setting
    recipe = get_recipe("visual", target_steps=5)
    module = recipe.module(model_for(tokenizer, seed=1))
    recipe.prepare(module, examples)
    module.eval()
    batch = teacher_batch(setting, recipe, module)
    goals = module.goals(batch.states, batch.images)
    with torch.no_grad():
        embeds = module.embed(batch)
        columns = latent_columns(batch)
        first, n = columns[0], len(columns)
        block = torch.where(batch.latent[:, first:first + n, None], goals[:, :n], embeds[:, first:first + n])
        filled = torch.cat([embeds[:, :first], block, embeds[:, first + n:]], 1)
        hidden, _ = module._pass(filled, batch, 0, batch.ids.shape[1], None)
    seen = {}

    def oracle(i, state, vectors, rows):
        seen[i] = state.hidden.clone()  # the state the i-th thought follows
        return goals[list(rows), i]

    evaluate(module.causal_lm, tokenizer, recipe, items, examples, 1, batch_size=len(items), edit=oracle,
             pictures=module.pictures)
    lefts = batch.attention_mask.argmax(1)  # evaluate pads its prompts its own way: compare row by row
    for row, example in enumerate(examples):
        for i in range(recipe.thoughts_at(example, 1)):
            assert torch.allclose(seen[i][row], hidden[row, first - 1 + i], atol=1e-4), (row, i, lefts[row])


def test_the_pause_control_has_the_same_slots_and_no_targets(setting):
    items, tokenizer, examples, markers = setting
    visual, pause = get_recipe("visual", teacher_epochs=2), get_recipe("visual-pause", teacher_epochs=2)
    rng = random.Random(0)
    for example in examples:
        a, b = visual.sequence(example, 0, markers, rng), pause.sequence(example, 0, markers, rng)
        assert a.ids == b.ids and b.states is None
    assert [visual.stage(e) for e in range(4)] == [pause.stage(e) for e in range(4)] == [0, 0, 1, 1]
    module = pause.module(model_for(tokenizer))
    assert isinstance(module, LatentLM) and not module.feedback and pause.projector_of(module) is None


def vsp_run(recipe, out, **options):
    profile = get_profile("smoke-vsp")
    return TrainRun(get_recipe(recipe, **{**profile.recipe_options.get(recipe, {}), **options}), "vsp", profile, out,
                    extra={"n_train": 16, "batch_size": 4, "n_valid": 4, "n_test": 4})


def test_a_visual_run_resumes_exactly_and_keeps_its_target_encoder(tmp_path):
    import json

    from safetensors.torch import load_file

    def losses(out):
        return [r["loss"] for r in map(json.loads, (out / "metrics.jsonl").read_text().splitlines()) if r["kind"] == "step"]

    whole, resumed = tmp_path / "whole", tmp_path / "resumed"
    train(vsp_run("visual", whole, epochs=3, teacher_epochs=2), progress=False)
    train(vsp_run("visual", resumed, epochs=3, teacher_epochs=2), progress=False, until_epoch=0)
    train(vsp_run("visual", resumed, epochs=3, teacher_epochs=2), progress=False)
    assert losses(resumed) == pytest.approx(losses(whole), abs=1e-6)
    saved = load_file(resumed / "checkpoint" / "extras.safetensors")
    assert any(k.startswith("target.") for k in saved) and "lift" in saved


@pytest.mark.parametrize("recipe", ["cot2", "icot", "codi"])
def test_recipes_that_do_not_read_pictures_are_refused_on_vsp(recipe, tmp_path):
    with pytest.raises(LatentspaceError, match="does not read pictures"):
        train(vsp_run(recipe, tmp_path / "r"), progress=False)
    assert not (tmp_path / "r").exists()


def test_the_visual_recipe_needs_a_picture_task(tmp_path):
    run = TrainRun(get_recipe("visual", epochs=1), "prosqa", get_profile("smoke"), tmp_path / "r",
                   extra={"n_train": 8, "batch_size": 4, "n_valid": 2, "n_test": 2})
    with pytest.raises(LatentspaceError, match="picture task"):
        train(run, progress=False)


def test_map_relative_targets_hold_only_the_agents_quadrant(setting):
    from latentspace.tasks.vsp import AGENT, map_only, render

    items, tokenizer, examples, markers = setting
    rows = items[0].meta["map"]
    plain = map_only(render(rows))
    assert not ((plain - torch.tensor(AGENT)[:, None, None]).abs().sum(0) < 1e-4).any()
    assert int((plain != render(rows)).any(0).sum()) == 4  # the 2×2 mark, nothing else
    recipe = get_recipe("visual", targets="change", target_steps=5)
    module = recipe.module(model_for(tokenizer))
    recipe.prepare(module, examples)
    batch = teacher_batch(setting, recipe, module)
    goals = module.goals(batch.states, batch.images)  # [B, S·4, d]
    for row, item in enumerate(items):
        for step, cell in enumerate(item.meta["cells"]):
            quadrants = goals[row, 4 * step:4 * step + 4].norm(dim=-1) > 1e-3
            agent = (cell[0] >= 4) * 2 + (cell[1] >= 4)  # quadrants of the 8×8-cell picture
            assert quadrants.tolist() == [q == agent for q in range(4)], (row, step, cell)
    with pytest.raises(LatentspaceError, match="targets"):
        get_recipe("visual", targets="pixels")


def test_the_gradual_stage_two_feeds_back_one_more_move_per_sub_stage(setting):
    items, tokenizer, examples, markers = setting
    options = dict(epochs=10, teacher_epochs=2, gradual_moves=3, epochs_per_move=2)
    visual, pause = get_recipe("visual", **options), get_recipe("visual-pause", **options)
    assert [visual.stage(e) for e in range(10)] == [pause.stage(e) for e in range(10)] == [0, 0, 1, 1, 2, 2, 3, 3, 3, 3]
    assert [visual.fed_moves(e) for e in (0, 2, 4, 6)] == [0, 1, 2, None]
    rng = random.Random(0)
    for example in examples:
        teacher, partial, fed = (visual.sequence(example, e, markers, rng) for e in (0, 4, 6))
        assert teacher.ids == partial.ids == fed.ids  # the same positions at every sub-stage
        assert (teacher.fed_slots, partial.fed_slots, fed.fed_slots) == (0, 8, 0)
        assert partial.states is not None and fed.states is None
    assert [get_recipe("visual", epochs=4, teacher_epochs=2).stage(e) for e in range(4)] == [0, 0, 1, 1]  # Mirage's


def test_a_partly_fed_batch_feeds_back_its_first_slots_and_holds_targets_in_the_rest(setting):
    items, tokenizer, examples, markers = setting
    recipe = get_recipe("visual", targets="change", target_steps=5, epochs=6, teacher_epochs=1, gradual_moves=9,
                        epochs_per_move=1)
    module = recipe.module(model_for(tokenizer, seed=2))
    recipe.prepare(module, examples)
    module.eval()
    rng = random.Random(0)
    for epoch in (2, 3):  # two moves fed back, then three; the plans here have more moves than that
        batch = collate([recipe.sequence(ex, epoch, markers, rng) for ex in examples], tokenizer.pad_token_id,
                        markers.latent)
        fed = 4 * recipe.fed_moves(epoch)
        assert batch.fed_slots == fed and batch.states is not None
        with torch.no_grad():
            logits, cos, count = module.teacher(batch)
            # by hand: the fed slots hold what a full feedback run feeds there (a slot sees only the past), the
            # rest their targets, in one pass
            hidden, _, _ = module.last_states(batch)
            goals = module.goals(batch.states, batch.images)
            embeds = module.embed(batch)
            columns = latent_columns(batch)
            first, n = columns[0], len(columns)
            fed_back = module.project(hidden[:, first - 1:first - 1 + fed])
            block = torch.cat([fed_back, goals[:, fed:n]], 1)
            block = torch.where(batch.latent[:, first:first + n, None], block, embeds[:, first:first + n])
            by_hand, _ = module._pass(torch.cat([embeds[:, :first], block, embeds[:, first + n:]], 1), batch, 0,
                                      batch.ids.shape[1], None)
        assert torch.allclose(logits, module.head(by_hand), atol=1e-4)
        assert count == int(batch.latent.sum()) - int(batch.latent[:, first:first + fed].sum()) > 0
        assert set(module(batch, parts=True)) == {"ce", "cos"}  # CE at full weight once feedback begins


def test_a_batch_mixing_sub_stages_is_refused(setting):
    items, tokenizer, examples, markers = setting
    recipe = get_recipe("visual", epochs=6, teacher_epochs=1, gradual_moves=4, epochs_per_move=1)
    rng = random.Random(0)
    mixed = [recipe.sequence(examples[0], 1, markers, rng), recipe.sequence(examples[1], 2, markers, rng)]
    with pytest.raises(LatentspaceError, match="fed-back slots"):
        collate(mixed, tokenizer.pad_token_id, markers.latent)


def test_a_gradual_visual_run_trains_through_its_sub_stages(tmp_path):
    import json

    out = tmp_path / "g"
    train(vsp_run("visual-change", out, epochs=4, teacher_epochs=1, gradual_moves=3, epochs_per_move=1), progress=False)
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert sorted({r["stage"] for r in rows if r["kind"] == "epoch"}) == [0, 1, 2, 3]
    assert all(r["loss"] == r["loss"] for r in rows if r["kind"] == "step")  # no NaN


def test_filled_change_targets_give_every_slot_a_target(setting):
    from latentspace.train.recipes.visual import empty_code

    items, tokenizer, examples, markers = setting
    plain, filled = (get_recipe("visual", targets=t, target_steps=5) for t in ("change", "change-filled"))
    modules = [r.module(model_for(tokenizer)) for r in (plain, filled)]
    for recipe, module in zip((plain, filled), modules):
        recipe.prepare(module, examples)
    modules[1].target.load_state_dict(modules[0].target.state_dict())  # one encoder: only the filling differs
    batch = teacher_batch(setting, plain, modules[0])
    zero, full = (m.goals(batch.states, batch.images) for m in modules)
    live = zero.norm(dim=-1) > 0
    assert torch.equal(zero[live], full[live])  # the agent's quadrant: the same change target
    empty = modules[1].project(empty_code(modules[1].target.dim) @ modules[1].lift)
    assert torch.allclose(full[~live], empty.expand_as(full[~live]))  # the others: the one "empty" code
    assert (full.norm(dim=-1) > 1).all()


def test_pull_fed_keeps_the_cosine_on_fed_back_slots_in_stage_two(setting):
    items, tokenizer, examples, markers = setting
    recipe = get_recipe("visual", targets="change", target_steps=5, epochs=4, teacher_epochs=2, pull_fed=True)
    module = recipe.module(model_for(tokenizer, seed=3))
    recipe.prepare(module, examples)
    module.eval()
    rng = random.Random(0)
    batch = collate([recipe.sequence(ex, 3, markers, rng) for ex in examples], tokenizer.pad_token_id, markers.latent)
    assert batch.states is not None and batch.fed_slots >= int(batch.latent.sum(1).max())
    with torch.no_grad():
        parts = module(batch, parts=True)
        logits, _ = module.run(batch)  # the plain feedback forward: every slot fed back, no targets in it
        taught, _, _ = module.teacher(batch)
    assert set(parts) == {"ce", "cos"} and parts["cos"][1] == int(batch.latent.sum())
    assert torch.allclose(taught, logits, atol=1e-5)  # pulling adds a loss, never changes what is fed
    plain = get_recipe("visual", epochs=4, teacher_epochs=2)
    assert plain.sequence(examples[0], 3, markers, rng).states is None  # Mirage's stage 2: CE only
