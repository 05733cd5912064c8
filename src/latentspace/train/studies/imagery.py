"""Look inside a run's latent visual thoughts (issue 41): what its slots hold, and whether answers need it.

For a run trained on vsp (`visual`, `visual-pause`, or any recipe with thought slots):

- **probe**: a linear read of the agent's cell after each move from the states before that move's slots
  (the states `visual` pulls towards the step's picture), fit on the run's training items and scored on
  its test items, beside the same probe fit on shuffled labels (what a probe reads from nothing);
- **nearest pictures** (`visual` only): each move's fed thoughts against the target encoder's codes of the
  same map with the agent on every cell — the cell whose picture is nearest is what the thought "shows";
- **replacement**: the answers again with every thought replaced by zeros, by noise of each thought's norm,
  by another item's thoughts (one with as many), and (`visual` only) by the oracle targets of the item's
  true pictures — what teacher forcing fed;
- **one step imagined** (`visual` only): during the oracle replacement, the state before each move's slots
  decoded to its nearest picture, as the fed thoughts are — whether the model imagines the next state when
  every earlier one is true. Against ``nearest`` (its own thoughts fed back) it tells a model that cannot
  imagine one move from one whose errors compound along the plan.

    report = imagery(Path("runs/table-vsp-laptop-vsp/s0/visual"), n=400)
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from latentspace.core.errors import LatentspaceError
from latentspace.tasks import Item, load_jsonl
from latentspace.tasks.vsp import MAX_SIZE, render
from latentspace.train.studies.evaluate_run import LoadedRun, load_run, run_items

REPLACEMENTS = ("zeros", "noise", "shuffled", "oracle")


@dataclass
class Thoughts:
    """Per item: the state before each slot ``[n, d]`` and the vector fed into it ``[n, d]``."""

    states: list[torch.Tensor]
    fed: list[torch.Tensor]
    rows: list[dict]  # the evaluation's answer rows


def record(loaded: LoadedRun, items: list[Item], batch_size: int = 64) -> Thoughts:
    """Answer ``items`` once, keeping every thought's preceding state and fed vector."""
    counts = [loaded.recipe.thoughts_at(ex, loaded.stage) for ex in loaded.encode(items)]
    states = [[] for _ in items]
    fed = [[] for _ in items]

    def observe(i, state, vectors, rows):
        for b, item in enumerate(rows):
            if i < counts[item]:
                states[item].append(state.hidden[b].detach().float().cpu())
                fed[item].append(vectors[b].detach().float().cpu())

    result = loaded.evaluate(items, batch_size, observe=observe)
    stack = lambda found, d: torch.stack(found) if found else torch.zeros(0, d)  # noqa: E731
    width = loaded.causal_lm.get_input_embeddings().embedding_dim
    return Thoughts([stack(s, width) for s in states], [stack(f, width) for f in fed], result.rows)


def slots_per_step(loaded: LoadedRun, items: list[Item]) -> int:
    example = loaded.encode(items[:1])[0]
    total = loaded.recipe.thoughts_at(example, loaded.stage)
    if total == 0 or total % len(example.steps):
        raise LatentspaceError(f"this run gives {total} thoughts for {len(example.steps)} steps: its thoughts are not "
                               "slots per step (train visual or visual-pause on vsp)")
    return total // len(example.steps)


def cell_label(cell) -> int:
    return int(cell[0]) * MAX_SIZE + int(cell[1])


def per_move(thoughts: list[torch.Tensor], items: list[Item], k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(features ``[moves, k·d]``: each move's k vectors side by side, labels: the agent's cell after it)."""
    features, labels = [], []
    for vectors, item in zip(thoughts, items):
        for m, cell in enumerate(item.meta["cells"]):
            features.append(vectors[m * k:(m + 1) * k].flatten())
            labels.append(cell_label(cell))
    return torch.stack(features), torch.tensor(labels)


def fit_probe(x: torch.Tensor, y: torch.Tensor, steps: int = 300, seed: int = 0) -> torch.nn.Linear:
    """Multinomial logistic regression on standardised features (Adam, full batch, light weight decay)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        probe = torch.nn.Linear(x.shape[1], MAX_SIZE * MAX_SIZE)
    optimizer = torch.optim.Adam(probe.parameters(), lr=1e-2, weight_decay=1e-4)
    for _ in range(steps):
        loss = torch.nn.functional.cross_entropy(probe(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return probe


def probe_accuracy(train: tuple, test: tuple, shuffled: bool = False, seed: int = 0) -> float:
    (x, y), (tx, ty) = train, test
    mean, scale = x.mean(0), x.std(0).clamp_min(1e-6)
    if shuffled:
        y = y[torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))]
    probe = fit_probe((x - mean) / scale, y, seed=seed)
    with torch.no_grad():
        return float((probe((tx - mean) / scale).argmax(1) == ty).float().mean())


def candidates(module, rows: list[str]) -> tuple[torch.Tensor, list[tuple[int, int]]]:
    """The goals of ``rows`` with the agent on each of its cells: ``[cells, K, d]`` and the cells."""
    cells = [(r, c) for r in range(len(rows)) for c in range(len(rows))]
    pictures = torch.stack([render(rows, cell) for cell in cells])
    with torch.no_grad():
        goals = module.goals(pictures[None], render(rows)[None])[0]
    return goals.reshape(len(cells), -1, goals.shape[-1]), cells


def nearest_cells(module, fed: list[torch.Tensor], items: list[Item], k: int) -> list[list[tuple[int, int]]]:
    """Per item and move: the cell whose picture's codes are nearest (summed cosine) to the move's thoughts."""
    decoded = []
    for vectors, item in zip(fed, items):
        goals, cells = candidates(module, item.meta["map"])
        moves = []
        for m in range(len(item.meta["cells"])):
            thought = vectors[m * k:(m + 1) * k].to(goals.dtype)  # [k, d]
            score = torch.nn.functional.cosine_similarity(goals, thought[None], dim=-1).sum(1)
            moves.append(cells[int(score.argmax())])
        decoded.append(moves)
    return decoded


def share_on_true_cell(decoded: list[list[tuple[int, int]]], items: list[Item]) -> float:
    """The share of moves decoded to the agent's true cell."""
    hits = [tuple(d) == tuple(t) for moves, item in zip(decoded, items) for d, t in zip(moves, item.meta["cells"])]
    return sum(hits) / max(1, len(hits))


def oracle_goals(loaded: LoadedRun, items: list[Item]) -> list[torch.Tensor]:
    examples = loaded.encode(items, need_states=True)
    with torch.no_grad():
        return [loaded.module.goals(torch.as_tensor(ex.states)[None], torch.as_tensor(ex.picture)[None])[0]
                for ex in examples]


def partners(counts: list[int], seed: int = 0) -> list[int]:
    """For each item, another item with the same number of thoughts (itself only when it is alone in that):
    within each count, a seeded shuffle of the items, each given the next one's thoughts."""
    rng, found = random.Random(seed), {}
    groups: dict[int, list[int]] = {}
    for i, count in enumerate(counts):
        groups.setdefault(count, []).append(i)
    for count in sorted(groups):
        members = groups[count]
        rng.shuffle(members)
        found.update({a: b for a, b in zip(members, members[1:] + members[:1])})
    return [found[i] for i in range(len(counts))]


def replaced(loaded: LoadedRun, items: list[Item], how: str, clean: Thoughts, seed: int = 0,
             batch_size: int = 64, states: list[list] | None = None) -> float:
    """Accuracy with every thought replaced ``how`` (one of `REPLACEMENTS`); ``states`` (one list per item), when
    given, collects the state before each of the item's thoughts under that replacement."""
    if how not in REPLACEMENTS:
        raise LatentspaceError(f"unknown replacement {how!r}; valid: {', '.join(REPLACEMENTS)}")
    generator = torch.Generator().manual_seed(seed)
    source = None
    if how == "shuffled":  # each item gets the clean thoughts of another item with as many
        source = [clean.fed[j] for j in partners([len(f) for f in clean.fed], seed)]
    elif how == "oracle":
        if getattr(loaded.module, "goals", None) is None:
            raise LatentspaceError(f"recipe {loaded.recipe.name} has no targets: the oracle replacement needs a "
                                   "visual run")
        source = oracle_goals(loaded, items)

    def edit(i, state, vectors, rows):
        if how == "zeros":
            return torch.zeros_like(vectors)
        if how == "noise":
            noise = torch.randn(vectors.shape, generator=generator).to(vectors)
            return noise / noise.norm(dim=-1, keepdim=True) * vectors.norm(dim=-1, keepdim=True)
        out = vectors.clone()
        for b, item in enumerate(rows):
            if i < len(source[item]):
                out[b] = source[item][i].to(vectors)
        return out

    def observe(i, state, vectors, rows):
        for b, item in enumerate(rows):
            if i < len(clean.fed[item]):
                states[item].append(state.hidden[b].detach().float().cpu())

    hooks = {"observe": observe} if states is not None else {}
    return loaded.evaluate(items, batch_size, edit=edit, **hooks).accuracy


@dataclass
class ImageryReport:
    run: str
    recipe: str
    n: int
    slots_per_step: int
    accuracy: float
    replacement: dict[str, float] = field(default_factory=dict)
    probe: float | None = None
    probe_shuffled: float | None = None
    nearest: float | None = None  # share of moves whose nearest picture puts the agent on its true cell
    nearest_teacher: float | None = None  # the same for the states before the slots, every earlier thought true
    example: dict = field(default_factory=dict)  # one item: its question, true and nearest cells per move

    def to_dict(self) -> dict:
        return asdict(self)


def imagery(run_dir: Path, n: int = 400, task: str | None = None, seed: int = 0, probe_items: int = 1000,
            batch_size: int = 64, progress=None) -> ImageryReport:
    """The probe, nearest pictures and replacement rows of ``run_dir`` on ``n`` items of its test split (or
    of ``task``, e.g. vsp-ood); the probe is fit on up to ``probe_items`` of its training items."""
    loaded = load_run(Path(run_dir))
    if loaded.task not in ("vsp", "vsp-ood"):
        raise LatentspaceError(f"{run_dir} was trained on {loaded.task}; imagery reads runs of a picture task (vsp)")
    say = progress or (lambda text: None)
    items = run_items(Path(run_dir), task, n, seed)
    k = slots_per_step(loaded, items)
    say("recording thoughts")
    clean = record(loaded, items, batch_size)
    visual = getattr(loaded.module, "goals", None) is not None
    report = ImageryReport(str(run_dir), loaded.recipe.name, len(items), k,
                           sum(r["correct"] for r in clean.rows) / max(1, len(items)))
    taught = [[] for _ in items]  # the states before each slot under the oracle replacement
    for how in REPLACEMENTS:
        if how == "oracle" and not visual:
            continue
        say(f"replacement: {how}")
        report.replacement[how] = replaced(loaded, items, how, clean, seed, batch_size,
                                           states=taught if how == "oracle" else None)
    say("probe")
    train_items = load_jsonl(Path(run_dir) / "data" / "train.jsonl")[:probe_items]
    fitted = record(loaded, train_items, batch_size)
    train_set, test_set = per_move(fitted.states, train_items, k), per_move(clean.states, items, k)
    report.probe = probe_accuracy(train_set, test_set, seed=seed)
    report.probe_shuffled = probe_accuracy(train_set, test_set, shuffled=True, seed=seed)
    if visual:
        say("nearest pictures")
        decoded = nearest_cells(loaded.module, clean.fed, items, k)
        report.nearest = share_on_true_cell(decoded, items)
        report.nearest_teacher = share_on_true_cell(nearest_cells(loaded.module, [torch.stack(t) for t in taught],
                                                                  items, k), items)
        first = items[0]
        report.example = {"question": first.question, "answer": first.answer, "map": first.meta["map"],
                          "true": [list(c) for c in first.meta["cells"]], "nearest": [list(c) for c in decoded[0]],
                          "reply": clean.rows[0]["text"]}
    return report


def plot_imagined(example: dict, path: Path) -> Path:
    """One question's true states (top) beside the pictures its thoughts are nearest to (bottom)."""
    from latentspace.core.plots import plt, save

    moves = example["question"].split()
    fig, axes = plt.subplots(2, len(moves) + 1, figsize=(1.6 * (len(moves) + 1), 3.6), squeeze=False)
    start = render(example["map"])
    for row, (name, cells) in enumerate((("true", example["true"]), ("imagined", example["nearest"]))):
        pictures = [start] + [render(example["map"], tuple(cell)) for cell in cells]
        for col, picture in enumerate(pictures):
            ax = axes[row][col]
            side = 4 * len(example["map"])  # the map's pixels: the padding is not worth showing
            ax.imshow(picture[:, :side, :side].permute(1, 2, 0).numpy(), interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title("start" if col == 0 else f"{moves[col - 1]} ({name})", fontsize=8)
    fig.suptitle(f"plan {example['question']} → {example['answer']} (model: {example['reply'].strip()})", fontsize=9)
    return save(fig, path)
