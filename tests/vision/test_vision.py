"""Pictures for latent visual thoughts (issue 41): patch tokens stay local, targets are frozen and local."""

import pytest
import torch

from latentspace.core.errors import LatentspaceError
from latentspace.tasks import vsp
from latentspace.vision import PatchEncoder, TargetEncoder, fill_pictures, fit_target_encoder

MAP = ["SFH", "FHF", "FFG"]


def test_patch_tokens_are_local_a_change_in_one_cell_moves_one_token():
    torch.manual_seed(0)
    encoder = PatchEncoder(width=24)
    before, after = vsp.render(MAP), vsp.render(MAP, (2, 1))  # the agent leaves (0, 0) for (2, 1)
    tokens = encoder(torch.stack([before, after]))
    assert tokens.shape == (2, 16, 24)
    moved = (tokens[0] - tokens[1]).abs().sum(-1) > 1e-6
    # a token covers 2×2 cells: (0, 0) is in token 0, (2, 1) in token (1, 0) -> 4
    assert moved.nonzero().flatten().tolist() == [0, 4]


def test_targets_are_quadrants_of_cell_codes_and_frozen():
    pictures = torch.stack([vsp.render(MAP, cell) for cell in [(0, 0), (0, 1), (2, 1), (2, 2)]])
    encoder = fit_target_encoder(pictures, steps=3)
    assert not any(p.requires_grad for p in encoder.parameters())
    targets = encoder.embed(pictures)
    assert targets.shape == (4, 4, encoder.dim) and not targets.requires_grad
    code = encoder.code(pictures)
    assert torch.equal(targets[:, 0, :4], code[:, :, 0, 0])  # quadrant 0 starts with cell (0, 0)'s code
    moved = (targets[0] - targets[1]).abs().sum(-1) > 1e-6  # (0, 0) -> (0, 1): both in quadrant 0
    assert moved.tolist() == [True, False, False, False]


def test_gradients_never_reach_the_frozen_encoder():
    pictures = torch.stack([vsp.render(MAP, cell) for cell in [(0, 0), (1, 0)]])
    encoder = fit_target_encoder(pictures, steps=2)
    student = torch.randn(2, 4, encoder.dim, requires_grad=True)
    loss = (1 - torch.nn.functional.cosine_similarity(student, encoder.embed(pictures), dim=-1)).mean()
    loss.backward()
    assert student.grad is not None
    assert all(p.grad is None for p in encoder.parameters())


def test_fitting_rebuilds_the_pictures_agent_included():
    pictures = vsp.states(vsp.item(["SFFF", "FHFF", "FFHF", "FFFG"], "R R D D R D"))
    untrained = TargetEncoder()
    with torch.no_grad():
        start = float(((untrained.reconstruct(pictures) - pictures) ** 2).mean())
    encoder = fit_target_encoder(pictures, steps=300, batch=8)
    with torch.no_grad():
        rebuilt = encoder.reconstruct(pictures)
    assert float(((rebuilt - pictures) ** 2).mean()) < start / 20
    agent = (pictures - torch.tensor(vsp.AGENT)[:, None, None]).abs().sum(1) < 0.05
    assert ((rebuilt - pictures).abs().sum(1)[agent] < 0.3).float().mean() > 0.9  # the mark is rebuilt too


@pytest.mark.parametrize("bad", [torch.zeros(3, 28, 28), torch.zeros(2, 1, 32, 32)])
def test_pictures_of_the_wrong_size_are_one_line(bad):
    with pytest.raises(LatentspaceError, match="a VSP image is"):
        PatchEncoder(width=8)(bad)
    with pytest.raises(LatentspaceError, match="a VSP image is"):
        TargetEncoder().embed(bad)


def test_picture_tokens_fill_their_placeholders_in_order_and_train_the_encoder():
    torch.manual_seed(0)
    picture, width = 9, 6
    ids = torch.tensor([[9, 9, 1, 2, 0], [0, 9, 9, 3, 4]])  # a left-padded second row
    embeds = torch.randn(2, 5, width)
    encoder = PatchEncoder(width=width)
    images = torch.stack([vsp.render(MAP), vsp.render(MAP, (1, 0))])
    tokens = encoder(images)[:, :2]  # two placeholders a row here
    filled = fill_pictures(embeds, ids, picture, tokens)
    assert torch.equal(filled[0, :2], tokens[0]) and torch.equal(filled[1, 1:3], tokens[1])
    assert torch.equal(filled[0, 2:], embeds[0, 2:]) and torch.equal(filled[1, [0, 3, 4]], embeds[1, [0, 3, 4]])
    filled.sum().backward()
    assert encoder.cells.weight.grad is not None and encoder.cells.weight.grad.abs().sum() > 0


def test_a_row_without_its_placeholders_is_one_line():
    with pytest.raises(LatentspaceError, match="needs 2"):
        fill_pictures(torch.zeros(2, 4, 3), torch.tensor([[9, 9, 1, 2], [9, 1, 2, 3]]), 9, torch.zeros(2, 2, 3))
