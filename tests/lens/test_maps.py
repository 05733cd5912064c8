import torch

from latentspace.lens import logit_lens
from latentspace.lens.maps import heatmap, html_view, layer_curves, trajectory


def test_maps_write_pictures_and_a_self_contained_page(llama, tmp_path):
    reading = logit_lens(llama, "hello world")[0]
    png = heatmap(reading, llama.tokenizer, tmp_path / "h.png")
    curves = layer_curves({"logit": [1.0, 0.0], "tuned": [0.5, 0.0]}, tmp_path / "c.png")
    state = llama.encode("hi")
    steps = []
    for _ in range(3):
        steps.append(llama.align(state.hidden, "norm")[0])
        state = llama.step(state, steps[-1])
    traj = trajectory(llama, torch.stack(steps), tmp_path / "t.png")
    page = html_view(reading, llama.tokenizer, [png, curves, traj], tmp_path / "v.html").read_text()
    for path in (png, curves, traj):
        assert path.read_bytes()[:4] == b"\x89PNG"
    assert page.count("data:image/png;base64") == 3 and page.count("<tr>") == llama.n_layers + 1
