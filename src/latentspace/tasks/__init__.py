"""Task generators and loaders with answer extraction and checking (shared by reason, bench, train)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from latentspace.core.errors import LatentspaceError
from latentspace.tasks import arithmetic, mnns, multiplication, prontoqa, prosqa, prosqa_sym, vsp
from latentspace.tasks.base import Item, extract_marked, free_text, graded, normalise
from latentspace.tasks.jsonl import is_task_file, load_items, load_jsonl


@dataclass(frozen=True)
class TaskSpec:
    name: str
    generate: Callable[..., list[Item]]
    extract: Callable[[str], str | None]
    description: str
    symbolic: bool = False  # one whitespace-separated symbol per token (`train.vocab.symbol_tokenizer`)
    hop_filter: bool = False  # generate/convert take ``hops`` (a set of path lengths)
    # a task file read into this task's layout (`train eval --task FILE`): (path, seed, hops) -> items
    load_file: Callable[..., list[Item]] | None = None
    # the question's token ids as one training epoch sees them (prosqa-sym: its edges reshuffled)
    epoch_view: Callable[..., list[int]] | None = None
    vocabulary: tuple[str, ...] = ()  # symbols every tokenizer of the task has (CoT2 targets, unseen nodes)
    # a task with pictures (vsp): item -> its question's [3, H, W] image, the patch tokens a picture becomes
    # (`vision.PatchEncoder`), and item -> the pictures of its states after each step [steps, 3, H, W]
    # (what latent visual thoughts are pulled towards)
    picture: Callable[[Item], object] | None = None
    picture_tokens: int = 0
    states: Callable[[Item], object] | None = None

    def grade(self, text: str, item: Item) -> tuple[bool, str | None]:
        """(is the answer extracted from ``text`` the item's answer?, what was extracted)."""
        return graded(text, item.answer, self.extract)

    def check(self, text: str, item: Item) -> bool:
        """Is the answer extracted from ``text`` the item's answer?"""
        return self.grade(text, item)[0]


TASKS = {t.name: t for t in (
    TaskSpec("arithmetic", arithmetic.generate, arithmetic.extract, "one- and two-step word problems"),
    TaskSpec("prontoqa", prontoqa.generate, prontoqa.extract, "ProntoQA-like 5-hop true/false"),
    TaskSpec("prosqa", prosqa.generate, prosqa.extract, "ProsQA-like graph reachability (its vocabulary)"),
    TaskSpec("prosqa-small", partial(prosqa.generate, shape=prosqa.SMALL), prosqa.extract,
             "ProsQA-like with smaller graphs (8-12 nodes, 2-4 hops; the quick training profile's data)"),
    TaskSpec("multiplication", multiplication.generate, multiplication.extract, "k×k multiplication, iCoT format"),
    TaskSpec("mnns", mnns.generate, mnns.extract, "minimum non-negative sum of 4 signed digits (CoT2's task)",
             symbolic=True, load_file=mnns.load, vocabulary=mnns.VOCABULARY),
    TaskSpec("prosqa-sym", prosqa_sym.generate, prosqa_sym.extract,
             "ProsQA graphs, one token per node, nodes numbered as generated (the superposition papers' layout; "
             "--hops 3-4)",
             symbolic=True, hop_filter=True, load_file=lambda path, seed=0, hops=None: prosqa_sym.load(path, hops, seed),
             vocabulary=(*prosqa_sym.SYMBOLS, "|", "[Q]", "[R]"), epoch_view=prosqa_sym.epoch_view),
    TaskSpec("prosqa-sym-relabel", partial(prosqa_sym.generate, relabel=True), prosqa_sym.extract,
             "prosqa-sym with every item's nodes relabelled at random (no index-order shortcut; harder)",
             symbolic=True, hop_filter=True,
             load_file=lambda path, seed=0, hops=None: prosqa_sym.load(path, hops, seed, relabel=True),
             vocabulary=(*prosqa_sym.SYMBOLS, "|", "[Q]", "[R]"), epoch_view=prosqa_sym.epoch_view),
    TaskSpec("vsp", vsp.generate, vsp.extract,
             "visual spatial planning: a FrozenLake map as a picture and a plan of moves; A reaches the goal, "
             "B falls in a hole, C safe elsewhere (maps 3-5, plans of 2-6 moves)",
             symbolic=True, vocabulary=vsp.VOCABULARY, picture=vsp.picture, picture_tokens=vsp.PATCH_TOKENS,
             states=vsp.step_pictures, load_file=vsp.load),
    TaskSpec("vsp-read", vsp.reading, vsp.extract_reading,
             "map-reading questions about a vsp picture (at r2 c3 -> hole; where start -> r1 c0): the perception "
             "the vsp arms start from (--init)",
             symbolic=True, vocabulary=vsp.VOCABULARY, picture=vsp.picture, picture_tokens=vsp.PATCH_TOKENS),
    TaskSpec("vsp-ood", partial(vsp.generate, ood=True), vsp.extract,
             "vsp out of distribution: 6x6 maps or plans of 8 moves, never in vsp's training data",
             symbolic=True, vocabulary=vsp.VOCABULARY, picture=vsp.picture, picture_tokens=vsp.PATCH_TOKENS,
             states=vsp.step_pictures, load_file=vsp.load),
)}


def get_task(name: str) -> TaskSpec:
    if name not in TASKS:
        raise LatentspaceError(f"unknown task {name!r}; valid: {', '.join(TASKS)} (or a .jsonl file)")
    return TASKS[name]


__all__ = ["TASKS", "Item", "TaskSpec", "extract_marked", "free_text", "get_task", "graded", "is_task_file", "load_items",
           "load_jsonl", "normalise"]
