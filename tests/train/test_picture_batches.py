"""Pictures travel with their rows (issue 41): example -> sequence -> collate -> shard / to; text stays None."""

import pytest
import torch

from latentspace.core.errors import LatentspaceError
from latentspace.tasks import vsp
from latentspace.train.data import TokenizedExample
from latentspace.train.sequences import CurriculumConfig, MarkerIds, build_sequence, collate

MARKERS = MarkerIds(start=90, latent=91, end=92)


def example(question, picture=None):
    return TokenizedExample(question=question, steps=[[5], [6]], answer=[7, 2], picture=picture)


def test_pictures_follow_their_rows_through_collate_and_shard():
    first, second = vsp.render(["SFH", "FHF", "FFG"]), vsp.render(["SFH", "FHF", "FFG"], (1, 0))
    config = CurriculumConfig(max_stage=2, markers=False)
    sequences = [build_sequence(example([1, 2, 3], first), 1, config, MARKERS),
                 build_sequence(example([4], second), 2, config, MARKERS)]  # rows of different lengths
    batch = collate(sequences, pad_id=0, latent_id=MARKERS.latent)
    assert batch.images.shape == (2, 3, vsp.IMAGE, vsp.IMAGE)
    assert torch.equal(batch.images[0], first) and torch.equal(batch.images[1], second)
    one = batch.shard(torch.tensor([1]))
    assert torch.equal(one.images[0], second) and torch.equal(one.ids[0], batch.ids[1])
    assert torch.equal(batch.to("cpu").images, batch.images)


def test_text_batches_carry_no_pictures_and_a_mixed_batch_is_refused():
    config = CurriculumConfig(max_stage=1, markers=False)
    text = collate([build_sequence(example([1, 2]), 0, config, MARKERS)], pad_id=0, latent_id=MARKERS.latent)
    assert text.images is None and text.shard(torch.tensor([0])).images is None
    mixed = [build_sequence(example([1], vsp.render(["SG", "FF"])), 0, config, MARKERS),
             build_sequence(example([2]), 0, config, MARKERS)]
    with pytest.raises(LatentspaceError, match="mixes rows with and without pictures"):
        collate(mixed, pad_id=0, latent_id=MARKERS.latent)


def tiny_vision_lm(feedback=True):
    from transformers import AutoModelForCausalLM

    from latentspace.model.tiny import tiny_config
    from latentspace.train.latent_forward import LatentLM
    from latentspace.vision import PatchEncoder

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(tiny_config("gpt2", layers=2, hidden=32, vocab_size=100, n_head=2))
    return LatentLM(model, feedback=feedback, pictures=PatchEncoder(width=32), picture_id=80)


def picture_batch(agent_cells):
    config = CurriculumConfig(max_stage=2, markers=False)
    rows = [build_sequence(example([80] * 16 + [3, 4], vsp.render(["SFH", "FHF", "FFG"], cell)), 2, config, MARKERS)
            for cell in agent_cells]
    return collate(rows, pad_id=0, latent_id=MARKERS.latent)


def test_the_model_reads_its_pictures_and_trains_their_encoder():
    lm = tiny_vision_lm()
    batch = picture_batch([(0, 0), (1, 0)])
    loss, _ = lm(batch)
    loss.backward()
    assert lm.pictures.cells.weight.grad.abs().sum() > 0  # through the fed-back thoughts and the answer
    other = picture_batch([(0, 0), (2, 1)])  # row 1's agent elsewhere, same ids
    lm.eval()  # no dropout: the same input gives the same logits
    with torch.no_grad():
        logits, moved = lm(batch)[1], lm(other)[1]
    assert torch.equal(other.ids, batch.ids)
    assert torch.allclose(moved[0], logits[0], atol=1e-5) and not torch.allclose(moved[1], logits[1])


def test_pictures_without_an_encoder_are_one_line():
    lm = tiny_vision_lm()
    lm.pictures = None
    with pytest.raises(LatentspaceError, match="no picture encoder"):
        lm(picture_batch([(0, 0)]))


def test_examples_of_a_picture_task_start_with_their_placeholders():
    from latentspace.train.data import encode_examples
    from latentspace.train.vocab import symbol_tokenizer
    from latentspace.vision import PICTURE

    items = vsp.generate(6, seed=0)
    tokenizer = symbol_tokenizer([], extra=(*vsp.VOCABULARY, PICTURE))
    examples = encode_examples(tokenizer, items, picture=lambda item: vsp.render(item.meta["map"]), picture_tokens=16)
    picture_id = tokenizer.convert_tokens_to_ids(PICTURE)
    for item, found in zip(items, examples):
        assert found.question[:16] == [picture_id] * 16 and picture_id not in found.question[16:]
        assert tokenizer.decode(found.question[16:]).split() == item.question.split()
        assert torch.equal(found.picture, vsp.render(item.meta["map"]))
    with pytest.raises(LatentspaceError, match="need a tokenizer with"):
        encode_examples(symbol_tokenizer([], extra=vsp.VOCABULARY), items, picture=lambda item: None, picture_tokens=16)
    assert all(found.picture is None for found in encode_examples(tokenizer, items))


def test_evaluation_reads_the_same_picture_tokens_as_training():
    from latentspace.model.latent_model import LatentModel
    from latentspace.train.data import encode_examples
    from latentspace.train.evaluate import evaluate
    from latentspace.train.recipes import get_recipe
    from latentspace.train.vocab import symbol_tokenizer
    from latentspace.vision import PICTURE, fill_pictures

    items = vsp.generate(3, seed=1)
    tokenizer = symbol_tokenizer([], extra=(*vsp.VOCABULARY, PICTURE))
    examples = encode_examples(tokenizer, items, picture=lambda item: vsp.render(item.meta["map"]), picture_tokens=16)
    lm = tiny_vision_lm()
    lm.picture_id = tokenizer.convert_tokens_to_ids(PICTURE)
    lm.eval()
    reader = LatentModel(lm.causal_lm, tokenizer, "trained")
    ids = torch.tensor([examples[0].question])
    plain = reader.encode(ids)
    same = reader.encode(ids, inputs_embeds=lm.causal_lm.get_input_embeddings()(ids))
    assert torch.allclose(plain.logits, same.logits, atol=1e-6)  # embeddings of the ids: nothing changes
    batch = collate([build_sequence(examples[0], 0, CurriculumConfig(max_stage=0, markers=False), MARKERS)],
                    pad_id=tokenizer.pad_token_id, latent_id=MARKERS.latent)
    with torch.no_grad():
        trained = lm(batch)[1][0, len(examples[0].question) - 1]  # the logits after the prompt, as training saw them
        filled = fill_pictures(lm.causal_lm.get_input_embeddings()(ids), ids, lm.picture_id, lm.pictures(batch.images))
    read = reader.encode(ids, inputs_embeds=filled)
    assert torch.allclose(read.logits[0], trained, atol=1e-5) and not torch.allclose(read.logits, plain.logits)
    result = evaluate(lm.causal_lm, tokenizer, get_recipe("nocot", answer_marker=False), items, examples, 0,
                      max_new_tokens=2, pictures=lm.pictures)
    assert result.n == 3
    with pytest.raises(LatentspaceError, match="picture encoder"):
        evaluate(lm.causal_lm, tokenizer, get_recipe("nocot"), items, examples, 0, max_new_tokens=2)


def test_a_model_built_for_pictures_gets_an_encoder_saved_and_loaded_as_extras(tmp_path):
    from latentspace.train.models import from_scratch
    from latentspace.train.profiles import get_profile
    from latentspace.train.recipes import get_recipe
    from latentspace.train.vocab import symbol_tokenizer
    from latentspace.vision import PICTURE

    profile = get_profile("smoke-mnns")
    with_pictures = from_scratch(profile, symbol_tokenizer([], extra=(*vsp.VOCABULARY, PICTURE)), seed=0)
    text_only = from_scratch(profile, symbol_tokenizer([], extra=vsp.VOCABULARY), seed=0)
    assert getattr(text_only.config, "picture_token_id", None) is None
    for name in ("nocot", "coconut", "pause"):
        assert get_recipe(name).module(text_only).pictures is None
        module = get_recipe(name).module(with_pictures)
        assert module.picture_id == with_pictures.config.picture_token_id and module.pictures is not None
    recipe = get_recipe("coconut")
    trained = recipe.module(with_pictures)
    torch.nn.init.normal_(trained.pictures.position)
    recipe.save_extras(trained, tmp_path)
    with_pictures.save_pretrained(tmp_path / "model")
    from transformers import AutoModelForCausalLM

    reloaded = AutoModelForCausalLM.from_pretrained(tmp_path / "model")
    assert reloaded.config.picture_token_id == with_pictures.config.picture_token_id  # kept in config.json
    fresh = recipe.module(reloaded)
    recipe.load_extras(fresh, tmp_path)
    assert torch.equal(fresh.pictures.position, trained.pictures.position)
