"""Why CoT stays near chance on symbolic ProsQA: does it follow the graph's edges? (issue 39)

For a CoT run on `prosqa-sym` this reads two things on test items:

- **greedy paths**: the path each generated chain writes, checked edge by edge against the
  question's graph (valid path, first step off an edge, ends at a candidate, correct);
- **teacher-forced steps**: at each step of the gold path, the probability the model gives the
  current node's children (any edge to follow), the gold next node, and whether its top token is a
  child at all — and where the rest goes: the two candidates, other nodes at the step's depth,
  deeper reachable nodes, nodes the root cannot reach, tokens that are not nodes.

A model that reads the graph puts most of its mass on the children even when it cannot tell which
child leads to the target; one that does not has learnt only which symbols tend to come next.

    .venv/bin/python benchmarks/diagnose_prosqa_cot.py runs/table-prosqa-sym-laptop-prosqa-15k/s0/cot --n 300

RUN may be a run in progress: `--weights checkpoint` (the last save) or `best` reads that folder.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch


def children(meta: dict) -> dict[str, set[str]]:
    names = meta["names"]
    out: dict[str, set[str]] = {}
    for u, v in meta["edge_list"]:
        out.setdefault(names[u], set()).add(names[v])
    return out


def reachable_from(meta: dict) -> set[str]:
    """The nodes reachable from the root (the root included)."""
    kids, seen = children(meta), {meta["names"][meta["root"]]}
    todo = list(seen)
    while todo:
        for child in kids.get(todo.pop(), ()):
            if child not in seen:
                seen.add(child)
                todo.append(child)
    return seen


def path_check(meta: dict, text: str) -> dict:
    """The generated chain (before `###`) checked against the graph."""
    kids = children(meta)
    names = meta["names"]
    nodes = [names[meta["root"]], *text.split("###")[0].split()]
    off = next((i for i, (a, b) in enumerate(zip(nodes, nodes[1:])) if b not in kids.get(a, ())), None)
    candidates = {names[meta["target"]], names[meta["neg_target"]]}
    return {"valid": off is None and len(nodes) > 1, "first_off": off,
            "ends_at_candidate": len(nodes) > 1 and nodes[-1] in candidates}


@torch.no_grad()
def forced_steps(loaded, items, examples) -> list[dict]:
    """Per gold step: mass on the current node's children, on the gold node, top token a child?"""
    tok = loaded.tokenizer
    rows = []
    for item, ex in zip(items, examples):
        ids = list(ex.question) + [t for step in ex.steps for t in step]
        logits = loaded.causal_lm(torch.tensor([ids])).logits[0]
        probs = logits.float().softmax(-1)
        kids = children(item.meta)
        ids_of = {name: tok.convert_tokens_to_ids(name) for name in item.meta["names"]}
        reachable = reachable_from(item.meta)
        at, node = len(ex.question) - 1, item.meta["names"][item.meta["root"]]
        for j, step in enumerate(ex.steps):
            child_ids = [tok.convert_tokens_to_ids(c) for c in sorted(kids.get(node, ()))]
            p = probs[at]
            mass = lambda ids: float(p[sorted(ids)].sum()) if ids else 0.0  # noqa: E731
            # where the rest goes: the two candidates, nodes at this step's depth that are not children,
            # the graph's other nodes — a model that skips the search puts its mass on the candidates
            candidates = {ids_of[item.meta["names"][item.meta[k]]] for k in ("target", "neg_target")}
            depth = {ids_of[v] for v in item.meta["frontier"][j]} if j < len(item.meta["frontier"]) else set()
            graph = {ids_of[v] for v in item.meta["names"]}
            rest = graph - set(child_ids)
            reached = {ids_of[v] for v in reachable}
            rows.append({"step": j, "children": mass(child_ids),
                         "gold": float(p[step[0]]), "top_is_child": int(p.argmax()) in child_ids,
                         "candidates_not_children": mass(candidates & rest),
                         "depth_not_children": mass((depth & rest) - candidates),
                         "other_reachable": mass((rest & reached) - candidates - depth),
                         "unreachable": mass(rest - reached - candidates - depth),
                         "not_a_node": 1.0 - mass(graph),
                         "n_children": len(child_ids)})
            at += len(step)
            node = item.steps[j]
    return rows


def main(argv: list[str] | None = None) -> int:
    from latentspace.train.studies.evaluate_run import load_run, run_items

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--weights", choices=("selected", "checkpoint", "best"), default="selected",
                        help="selected: what the finished run was tested with; checkpoint/best: that folder")
    args = parser.parse_args(argv)
    run = args.run
    loaded = load_run(run, weights=None if args.weights == "selected" else run / args.weights)
    items = run_items(run, None, args.n, 0)
    result = loaded.evaluate(items)
    checks = [path_check(item.meta, row["text"]) for item, row in zip(items, result.rows)]
    forced = forced_steps(loaded, items, loaded.encode(items))
    n = len(checks)
    summary = {"run": str(args.run), "weights": args.weights, "n": n, "accuracy": result.accuracy,
               "valid_paths": sum(c["valid"] for c in checks) / n,
               "first_step_off_edge": sum(c["first_off"] == 0 for c in checks) / n,
               "ends_at_candidate": sum(c["ends_at_candidate"] for c in checks) / n,
               "steps": {}}
    for j in sorted({r["step"] for r in forced}):
        at = [r for r in forced if r["step"] == j]
        summary["steps"][j] = {"mass_on_children": sum(r["children"] for r in at) / len(at),
                               "mass_on_gold": sum(r["gold"] for r in at) / len(at),
                               "top_is_child": sum(r["top_is_child"] for r in at) / len(at),
                               **{f"mass_on_{k}": sum(r[k] for r in at) / len(at) for k in
                                  ("candidates_not_children", "depth_not_children", "other_reachable", "unreachable",
                                   "not_a_node")},
                               "children": sum(r["n_children"] for r in at) / len(at), "n": len(at)}
    json.dump(summary, sys.stdout, indent=1)
    print()
    return 0


def cli(argv: list[str] | None = None) -> int:
    from latentspace.core.errors import LatentspaceError

    try:
        return main(argv)
    except LatentspaceError as err:  # a missing or damaged run: one line, exit 2
        print(f"error: {' '.join(str(err).split())[:300]}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(cli())
