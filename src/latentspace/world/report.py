"""Look inside a world model: planned vs executed paths over the map, an episode as a GIF, the
latents' PCA coloured by position, the position probe — and one HTML page of them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from matplotlib.patches import Circle

from latentspace.core import files, plots
from latentspace.core.pages import SectionResult
from latentspace.world.two_rooms import Layout, RoomsConfig, TwoRooms


def draw_walls(ax, layout: Layout, config: RoomsConfig) -> None:
    half, door = config.wall / 2, config.door / 2
    for low, high in ((0.0, layout.door_y - door), (layout.door_y + door, 1.0)):
        ax.fill_between([layout.wall_x - half, layout.wall_x + half], low, high, color="0.4")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_aspect("equal")


def planned_positions(episode, config: RoomsConfig) -> list[np.ndarray]:
    """Where each plan's actions would take the agent on the true simulator, from where it was planned —
    a picture of the plan itself, independent of the model's latent geometry."""
    from latentspace.world.two_rooms import move

    layout, out = Layout(*episode.layout), []
    for step, actions in episode.plans:
        state, path = np.array(episode.states[step]), []
        for a in actions:
            state = move(state, np.array(a), layout, config)
            path.append(state)
        out.append(np.array(path))
    return out


def episode_picture(episode, config: RoomsConfig, path: Path) -> Path:
    fig, ax = plots.figure(4.2, 4.2)
    draw_walls(ax, Layout(*episode.layout), config)
    plans = planned_positions(episode, config)
    for i, p in enumerate(plans[:: max(1, len(plans) // 6)]):
        ax.plot(p[:, 0], p[:, 1], color="tab:orange", alpha=0.5, lw=1, label="plans" if i == 0 else None)
    states = np.array(episode.states)
    ax.plot(states[:, 0], states[:, 1], color="tab:blue", lw=2, label="executed")
    ax.scatter(*states[0], color="tab:blue", s=30, zorder=3)
    ax.add_patch(Circle(episode.goal, config.radius, color="tab:green", alpha=0.4))
    ax.set_title(f"{'reached' if episode.success else 'missed'} in {episode.steps} steps")
    ax.legend(loc="lower right", fontsize=7)
    return plots.save(fig, path)


def episode_gif(episode, config: RoomsConfig, path: Path, fps: int = 8, side: int = 192) -> Path:
    """The episode's frames (agent red, goal green, walls grey; y upwards), enlarged to ``side`` pixels."""
    from PIL import Image

    env = TwoRooms(config)
    env.reset(options={"start": episode.states[0], "goal": episode.goal, "layout": episode.layout})
    frames = []
    for state in episode.states:
        env.state = np.array(state)
        frames.append(Image.fromarray(env.render()[::-1]).resize((side, side), Image.NEAREST))
    path = files.check_output(path, "--gif")
    with files.atomic_write(path, "GIF") as tmp:
        frames[0].save(tmp, format="GIF", save_all=True, append_images=frames[1:], duration=1000 // fps, loop=0)
    return path


@torch.no_grad()
def latent_pca(model, observations: np.ndarray, states: np.ndarray, path: Path) -> Path:
    z = torch.cat([model.encode(torch.as_tensor(observations[i:i + 256])) for i in range(0, len(observations), 256)])
    z = z.float().numpy()
    z = z - z.mean(0)
    _, _, vt = np.linalg.svd(z, full_matrices=False)
    pcs = z @ vt[:2].T
    fig, axes = plots.plt.subplots(1, 2, figsize=(7.0, 3.4))
    for ax, axis, name in zip(axes, (0, 1), ("x", "y")):
        points = ax.scatter(pcs[:, 0], pcs[:, 1], c=states[:, axis], s=3, cmap="viridis")
        ax.set_title(f"latent PCA, coloured by {name}")
        fig.colorbar(points, ax=ax)
    return plots.save(fig, path)


def write_report(out: Path, model, config: RoomsConfig, episodes: list, data, summary: dict) -> Path:
    from latentspace.core import pages

    out.mkdir(parents=True, exist_ok=True)
    sections = [SectionResult("Success", f"{100 * summary['success']:.1f}% of {summary['n']} episodes "
                              f"(95% CI {100 * summary['ci'][0]:.1f}-{100 * summary['ci'][1]:.1f}); "
                              f"{1000 * summary['plan_s_per_step']:.1f} ms planning per step.")]
    shown = sorted(range(len(episodes)), key=lambda i: not episodes[i].success)[:2]
    shown += [i for i, e in enumerate(episodes) if not e.success][:1]
    images = [episode_picture(episodes[i], config, out / f"episode-{i}.png") for i in dict.fromkeys(shown)]
    sections.append(SectionResult("Planned vs executed", "Blue: the path taken; orange: plans (their actions run "
                                  "on the true simulator from where each was made); green: the goal.", images=images))
    gif = episode_gif(episodes[shown[0]], config, out / "episode.gif")
    sections.append(SectionResult("One episode", "The agent (red), the goal (green), the walls (grey).", images=[gif]))
    if data is not None and "probe" in summary:
        obs, states = data.observations[-50:].reshape(-1, *data.observations.shape[2:]), data.states[-50:].reshape(-1, 2)
        pca = latent_pca(model, obs, states, out / "latent-pca.png")
        probe = summary["probe"]
        sections.append(SectionResult("Inside the latent", f"A ridge probe reads (x, y) from the latent with held-out "
                                      f"R² {probe['r2']:.3f} (shuffled positions: {probe['control_r2']:.3f}).",
                                      images=[pca]))
    return pages.write_report(out, getattr(model, "kind", "world model"), {"episodes": summary["n"]}, sections,
                              "latentspace world model")
