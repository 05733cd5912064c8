"""Look inside trained thoughts: is a continuous thought a breadth-first search in superposition?

The Coconut paper decodes each thought of a ProsQA model with the LM head and finds probability
mass spread over several graph nodes — mostly the *frontier*: nodes one more step from the root
with every thought. `frontier_mass` measures that on items whose meta carries the graph (our
generator and the published files both do): for thought i (1-based) it reports the mass on
nodes at depth i (the frontier), at smaller depths (already passed), at larger depths (not yet
reached) and on nodes the root cannot reach, each summed over node-name tokens.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from latentspace.core.errors import LatentspaceError
from latentspace.model.markers import latent_markers
from latentspace.model.thoughts import think
from latentspace.tasks import Item
from latentspace.tasks.graphs import node_depths

if TYPE_CHECKING:  # the type only: no import at run time
    from latentspace.model.latent_model import LatentModel

GROUPS = ("frontier", "passed", "ahead", "unreachable")


@dataclass
class FrontierMass:
    per_thought: list[dict[str, float]]  # mean mass per group, thought 1..n
    items: int


def frontier_mass(lm: LatentModel, items: list[Item], thoughts: int, project=None, feed=None,
                  markers: bool = True) -> FrontierMass:
    """Mean lens mass per node group for each of ``thoughts`` continuous thoughts.

    A thought's input is its fed-back state (through ``project``), or ``feed(state)`` for recipes
    whose thoughts are something else (CoT2's softmax mix); ``markers`` False for recipes trained
    without the start/end markers.
    """
    markers = latent_markers(lm.tokenizer) if markers else None
    vocab = lm.tokenizer.get_vocab()
    totals = [dict.fromkeys(GROUPS, 0.0) for _ in range(thoughts)]
    used = 0
    for item in items:
        meta = item.meta
        if not {"names", "edge_list", "root"} <= set(meta):
            raise LatentspaceError("frontier analysis needs ProsQA items with their graph (names, edges, root)")
        missing = [name for name in meta["names"] if name not in vocab]
        if missing:
            raise LatentspaceError(f"node name {missing[0]!r} is not one token of this tokenizer")
        depths = node_depths(len(meta["names"]), meta["edge_list"], meta["root"])
        ids = torch.tensor([vocab[name] for name in meta["names"]])
        prompt = lm.tokenizer.encode(item.question + "\n", add_special_tokens=False) + ([markers[0]] if markers else [])

        def read_then_feed(state, i, ids=ids, depths=depths):
            """Thought i's lens reading (before it is fed back), then its input."""
            with torch.no_grad():
                probs = torch.softmax(lm.head(state.hidden, normed=True).float(), -1)[0, ids].tolist()
            for p, d in zip(probs, depths):
                group = "unreachable" if d is None else "frontier" if d == i + 1 else "passed" if d <= i else "ahead"
                totals[i][group] += p
            if feed is not None:
                return feed(state)
            if project is None:
                return state.hidden
            with torch.no_grad():
                return project(state.hidden)

        # the start marker is in the prompt; the end marker is not fed (nothing reads past the thoughts)
        think(lm, lm.encode(torch.tensor([prompt])), thoughts, read_then_feed)
        used += 1
    per = [{k: v / max(1, used) for k, v in row.items()} for row in totals]
    return FrontierMass(per, used)


def plot_frontier(result: FrontierMass, path: Path) -> Path:
    from latentspace.core.plots import figure, save

    fig, ax = figure(6, 3.2)
    width = 0.2
    for j, group in enumerate(GROUPS):
        ax.bar([i + j * width for i in range(len(result.per_thought))], [row[group] for row in result.per_thought],
               width, label=group)
    ax.set_xticks([i + 1.5 * width for i in range(len(result.per_thought))],
                  [f"thought {i + 1}" for i in range(len(result.per_thought))])
    ax.set_ylabel("lens probability on graph nodes")
    ax.set_title(f"Where each continuous thought points (n={result.items})")
    ax.legend(fontsize=8)
    return save(fig, path)
